// Implementation of LocalSwarm: fleet and enrolment through crypto/ directly (no CLI processes),
// agents through fork + exec with their output in DATA_DIR/starlingd.log.
#include "sim/local/local_swarm.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <thread>

#include "agent/runtime/control_client.hpp"
#include "crypto/armor.hpp"
#include "crypto/fleet.hpp"
#include "crypto/files.hpp"
#include "crypto/identity.hpp"

namespace starling::local {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::uint16_t> free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return error(StatusCode::kIoError, "socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return error(StatusCode::kIoError, "cannot bind a loopback port");
  }
  ::close(fd);
  return static_cast<std::uint16_t>(ntohs(addr.sin_port));
}

Result<LocalSwarm> LocalSwarm::create(LocalSwarmOptions options) {
  STARLING_RETURN_IF_ERROR(crypto::ensure_sodium());
  if (!std::filesystem::is_directory(options.root)) {
    return error(StatusCode::kNotFound, "no directory " + options.root.string());
  }
  const std::filesystem::path starlingd = options.bin_dir / "starlingd";
  if (::access(starlingd.c_str(), X_OK) != 0) {
    return error(StatusCode::kNotFound, "no executable " + starlingd.string());
  }
  auto fleet = crypto::init_fleet(options.root / "fleet", unix_now());
  if (!fleet) return fleet.status();
  return LocalSwarm(std::move(options));
}

LocalSwarm::~LocalSwarm() { kill_all(); }

void LocalSwarm::kill_all() noexcept {
  for (Node& node : nodes_) {
    if (node.pid <= 0) continue;
    ::kill(node.pid, SIGKILL);
    ::waitpid(node.pid, nullptr, 0);
    node.pid = -1;
  }
}

Result<std::size_t> LocalSwarm::add_node(const std::string& name, NodeOptions options) {
  Node node;
  node.name = name;
  node.options = options;
  node.data_dir = options_.root / ("node-" + name);
  STARLING_ASSIGN_OR_RETURN(crypto::Identity identity,
                            crypto::Identity::load_or_create(node.data_dir));
  node.public_key_hex = identity.public_key().to_hex();
  const std::filesystem::path fleet_dir = options.fleet_dir.value_or(fleet_dir_path());
  crypto::EnrollRequest request;
  request.device_key = identity.public_key();
  request.name = name;
  request.labels = options.labels;
  STARLING_ASSIGN_OR_RETURN(crypto::Certificate cert,
                            crypto::enroll_device(fleet_dir, request, unix_now()));
  node.serial = cert.body.serial;
  STARLING_RETURN_IF_ERROR(crypto::write_file_atomic(
      node.data_dir / "device.cert", crypto::armor(crypto::kCertificateLabel, cert.encoded), 0644,
      /*overwrite=*/true));
  node.control = "ipc://" + (node.data_dir / "control.sock").string();
  nodes_.push_back(std::move(node));
  return nodes_.size() - 1;
}

std::filesystem::path LocalSwarm::fleet_dir_path() const { return options_.root / "fleet"; }

Status LocalSwarm::revoke(std::size_t i) {
  auto list = crypto::revoke_serial(fleet_dir_path(), nodes_.at(i).serial, unix_now());
  return list ? Status() : list.status();
}

Status LocalSwarm::start(std::size_t i, const std::vector<std::string>& join,
                         std::chrono::milliseconds timeout) {
  Node& node = nodes_.at(i);
  if (node.pid > 0 && running(i)) {
    return error(StatusCode::kAlreadyExists, "node " + node.name + " is running");
  }
  std::vector<std::string> args = {
      (options_.bin_dir / "starlingd").string(),
      "--data-dir", node.data_dir.string(),
      "--bind", node.address.empty() ? "tcp://127.0.0.1:0" : node.address,
      "--fleet-pub", (node.options.fleet_dir.value_or(fleet_dir_path()) / "fleet.pub").string(),
      "--control", node.control,
      "--profile", options_.profile,
      "--log-level", options_.log_level,
  };
  for (const std::string& seed : join) {
    args.push_back("--join");
    args.push_back(seed);
  }
  if (node.options.revocations) {
    args.push_back("--revocations");
    args.push_back((fleet_dir_path() / "revocations.list").string());
  }
  if (options_.metrics) {
    if (node.metrics_port == 0) {
      STARLING_ASSIGN_OR_RETURN(node.metrics_port, free_loopback_port());
    }
    args.push_back("--metrics");
    args.push_back("127.0.0.1:" + std::to_string(node.metrics_port));
  }
  args.insert(args.end(), node.options.extra_args.begin(), node.options.extra_args.end());
  const std::filesystem::path log = node.data_dir / "starlingd.log";
  const pid_t pid = ::fork();
  if (pid < 0) return error(StatusCode::kInternal, "fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  node.pid = pid;
  // Ready when the control API answers; the status tells the address actually bound.
  std::string address;
  const bool ready = wait_until(
      [&] {
        if (!running(i)) return true;  // exited: reported below
        auto status = query(i, "status", std::chrono::milliseconds(200));
        if (!status) return false;
        address = status->value("addr", std::string());
        return true;
      },
      timeout, std::chrono::milliseconds(20));
  if (!running(i)) {
    return error(StatusCode::kUnavailable,
                 "starlingd for " + node.name + " exited at start; see " + log.string());
  }
  if (!ready || address.empty()) {
    return error(StatusCode::kUnavailable,
                 "starlingd for " + node.name + " did not answer within " +
                     std::to_string(timeout.count()) + " ms; see " + log.string());
  }
  node.address = address;
  return Status();
}

Status LocalSwarm::signal(std::size_t i, int signal_number) {
  Node& node = nodes_.at(i);
  if (node.pid <= 0) return error(StatusCode::kNotFound, "node " + node.name + " is not running");
  if (::kill(node.pid, signal_number) != 0) {
    return error(StatusCode::kInternal, "kill(" + std::to_string(node.pid) + ") failed");
  }
  if (signal_number == SIGKILL) {
    ::waitpid(node.pid, nullptr, 0);
    node.pid = -1;
  }
  return Status();
}

Result<int> LocalSwarm::wait_exit(std::size_t i, std::chrono::milliseconds timeout) {
  Node& node = nodes_.at(i);
  if (node.pid <= 0) return error(StatusCode::kNotFound, "node " + node.name + " is not running");
  int status = 0;
  const bool exited = wait_until(
      [&] {
        const pid_t r = ::waitpid(node.pid, &status, WNOHANG);
        return r == node.pid;
      },
      timeout, std::chrono::milliseconds(10));
  if (!exited) return error(StatusCode::kUnavailable, "node " + node.name + " is still running");
  node.pid = -1;
  return status;
}

bool LocalSwarm::running(std::size_t i) {
  Node& node = nodes_.at(i);
  if (node.pid <= 0) return false;
  const pid_t r = ::waitpid(node.pid, nullptr, WNOHANG);
  if (r == node.pid) {
    node.pid = -1;
    return false;
  }
  return true;
}

Result<nlohmann::json> LocalSwarm::query(std::size_t i, const std::string& cmd,
                                         std::chrono::milliseconds timeout) {
  nlohmann::json request = {{"v", 1}, {"cmd", cmd}};
  STARLING_ASSIGN_OR_RETURN(nlohmann::json reply,
                            runtime::control_request(nodes_.at(i).control, request, timeout));
  return runtime::control_result(reply);
}

std::string LocalSwarm::node_id_hex(std::size_t i) const {
  auto bytes = from_hex(nodes_.at(i).public_key_hex);
  crypto::PublicKey key;
  std::copy(bytes->begin(), bytes->end(), key.bytes.begin());
  return crypto::node_id_of(key).to_hex();
}

std::string LocalSwarm::status_of(std::size_t i, std::size_t j) {
  auto members = query(i, "members");
  if (!members || !members->is_array()) return "";
  const std::string id = node_id_hex(j);
  for (const auto& m : *members) {
    if (m.value("id", std::string()) == id) return m.value("status", std::string());
  }
  return "";
}

std::uint64_t LocalSwarm::incarnation_of(std::size_t i, std::size_t j) {
  auto members = query(i, "members");
  if (!members || !members->is_array()) return 0;
  const std::string id = node_id_hex(j);
  for (const auto& m : *members) {
    if (m.value("id", std::string()) == id) return m.value("incarnation", std::uint64_t{0});
  }
  return 0;
}

// --- For `starling-sim up` (issue 7) ---

Status LocalSwarm::set_port(std::size_t i, std::uint16_t port) {
  Node& node = nodes_.at(i);
  if (node.pid > 0 || !node.address.empty()) {
    return error(StatusCode::kAlreadyExists, "node " + node.name + " was started already");
  }
  if (port == 0) return error(StatusCode::kInvalidArgument, "port 0: leave it unset instead");
  node.address = "tcp://127.0.0.1:" + std::to_string(port);
  return Status();
}

void LocalSwarm::release() noexcept {
  for (Node& node : nodes_) node.pid = -1;
}

bool LocalSwarm::wait_until(const std::function<bool()>& condition,
                            std::chrono::milliseconds timeout, std::chrono::milliseconds every) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace starling::local
