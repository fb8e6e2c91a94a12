// Integration tests with real `starlingd` processes on 127.0.0.1 (sim/local/LocalSwarm): five
// agents join through one seed; kill -9 is seen as dead by all; a restart with the same data
// directory comes back alive at a higher incarnation through remembered peers although its seed
// is gone; SIGSTOP for 10 s makes a member suspect or dead and SIGCONT brings it back; SIGTERM
// leaves gracefully (`left`, exit 0); devices of another fleet and revoked devices cannot join
// and are counted; garbage and oversized frames do not hurt an agent. Every wait polls a
// condition with a deadline; the deadlines are generous (shared 2-core machines), the
// benchmarks measure the real times (scripts/bench.sh swarm).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "agent/runtime/control_client.hpp"
#include "base/rng.hpp"
#include "crypto/fleet.hpp"
#include "crypto/keys.hpp"
#include "sim/local/local_swarm.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"

namespace starling::local {
namespace {

using namespace std::chrono_literals;

constexpr auto kConverge = 20s;   // joins and status changes, on a loaded machine
constexpr auto kDetect = 20s;     // failure detection (the default profile needs ~2 s)

LocalSwarm make_swarm(const testing::TempDir& dir) {
  LocalSwarmOptions options;
  options.bin_dir = STARLING_BIN_DIR;
  options.root = dir.path();
  options.log_level = "debug";
  auto swarm = LocalSwarm::create(options);
  REQUIRE_OK(swarm);
  return std::move(*swarm);
}

// Adds and starts `n` nodes; node 0 is the seed of the others.
void start_nodes(LocalSwarm& swarm, std::size_t n, NodeOptions options = {}) {
  for (std::size_t i = 0; i < n; ++i) {
    auto index = swarm.add_node("n" + std::to_string(swarm.size()), options);
    REQUIRE_OK(index);
    std::vector<std::string> join;
    if (*index > 0) join.push_back(swarm.node(0).seed());
    REQUIRE_OK(swarm.start(*index, join));
  }
}

std::uint64_t alive_count(LocalSwarm& swarm, std::size_t i) {
  auto status = swarm.query(i, "status");
  if (!status) return 0;
  return status->at("members").value("alive", std::uint64_t{0});
}

// Whether every node in `observers` sees node `subject` in one of `statuses`.
bool all_see(LocalSwarm& swarm, const std::vector<std::size_t>& observers, std::size_t subject,
             const std::vector<std::string>& statuses) {
  for (std::size_t i : observers) {
    const std::string s = swarm.status_of(i, subject);
    if (std::find(statuses.begin(), statuses.end(), s) == statuses.end()) return false;
  }
  return true;
}

void wait_converged(LocalSwarm& swarm, const std::vector<std::size_t>& nodes) {
  const bool converged = LocalSwarm::wait_until(
      [&] {
        for (std::size_t i : nodes) {
          if (alive_count(swarm, i) != nodes.size()) return false;
        }
        return true;
      },
      kConverge);
  for (std::size_t i : nodes) INFO("node " << i << " sees " << alive_count(swarm, i) << " alive");
  REQUIRE(converged);
}

TEST_CASE("five agents join through one seed and see each other alive") {
  testing::TempDir dir;
  LocalSwarm swarm = make_swarm(dir);
  start_nodes(swarm, 5);
  wait_converged(swarm, {0, 1, 2, 3, 4});
  // Members carry the certificate's name and the advertised address.
  auto members = swarm.query(3, "members");
  REQUIRE_OK(members);
  REQUIRE(members->size() == 5);
  for (const auto& m : *members) {
    CHECK(m.at("status") == "alive");
    CHECK(m.at("name").get<std::string>().starts_with("n"));
    CHECK(m.at("addr").get<std::string>().starts_with("tcp://127.0.0.1:"));
  }
}

TEST_CASE("kill -9 is seen as dead by all and a restart rejoins through remembered peers") {
  testing::TempDir dir;
  LocalSwarm swarm = make_swarm(dir);
  start_nodes(swarm, 5);
  wait_converged(swarm, {0, 1, 2, 3, 4});
  const std::uint64_t before = swarm.incarnation_of(1, 4);
  REQUIRE(before > 0);
  // Peers are written to the store every 2 s: give node 4 time to remember them.
  REQUIRE(LocalSwarm::wait_until(
      [&] { return std::filesystem::file_size(swarm.node(4).data_dir / "state.db-wal") > 0 ||
                   std::filesystem::file_size(swarm.node(4).data_dir / "state.db") > 0; },
      5s));
  std::this_thread::sleep_for(2500ms);  // one remember period: the scenario, not a sync wait

  REQUIRE_OK(swarm.signal(4, SIGKILL));
  CHECK(LocalSwarm::wait_until([&] { return all_see(swarm, {0, 1, 2, 3}, 4, {"dead"}); },
                               kDetect));

  // The seed goes too (gracefully, so the others do not wait for its detection).
  REQUIRE_OK(swarm.signal(0, SIGTERM));
  auto exit_status = swarm.wait_exit(0, 10s);
  REQUIRE_OK(exit_status);
  CHECK(WIFEXITED(*exit_status));
  CHECK(WEXITSTATUS(*exit_status) == 0);
  CHECK(LocalSwarm::wait_until([&] { return all_see(swarm, {1, 2, 3}, 0, {"left"}); }, kDetect));

  // Restart node 4 with its old seed only: it must find the others through its store.
  REQUIRE_OK(swarm.start(4, {swarm.node(0).seed()}));
  CHECK(LocalSwarm::wait_until([&] { return all_see(swarm, {1, 2, 3}, 4, {"alive"}); },
                               kConverge));
  for (std::size_t i : {1, 2, 3}) CHECK(swarm.incarnation_of(i, 4) > before);
  CHECK(LocalSwarm::wait_until([&] { return alive_count(swarm, 4) == 4; }, kConverge));
}

TEST_CASE("SIGSTOP for 10 s makes a member suspect or dead and SIGCONT brings it back") {
  testing::TempDir dir;
  LocalSwarm swarm = make_swarm(dir);
  start_nodes(swarm, 5);
  wait_converged(swarm, {0, 1, 2, 3, 4});
  const auto stopped_at = std::chrono::steady_clock::now();
  REQUIRE_OK(swarm.signal(2, SIGSTOP));
  CHECK(LocalSwarm::wait_until(
      [&] { return all_see(swarm, {0, 1, 3, 4}, 2, {"suspect", "dead"}); }, 10s));
  // Hold the pause for its full 10 s (the scenario's length, not a synchronisation).
  std::this_thread::sleep_until(stopped_at + 10s);
  REQUIRE_OK(swarm.signal(2, SIGCONT));
  CHECK(LocalSwarm::wait_until([&] { return all_see(swarm, {0, 1, 3, 4}, 2, {"alive"}); },
                               kConverge));
  CHECK(LocalSwarm::wait_until([&] { return alive_count(swarm, 2) == 5; }, kConverge));
}

TEST_CASE("SIGTERM leaves gracefully: the others see left and the agent exits 0") {
  testing::TempDir dir;
  LocalSwarm swarm = make_swarm(dir);
  start_nodes(swarm, 3);
  wait_converged(swarm, {0, 1, 2});
  REQUIRE_OK(swarm.signal(2, SIGTERM));
  auto exit_status = swarm.wait_exit(2, 10s);
  REQUIRE_OK(exit_status);
  CHECK(WIFEXITED(*exit_status));
  CHECK(WEXITSTATUS(*exit_status) == 0);
  CHECK(LocalSwarm::wait_until([&] { return all_see(swarm, {0, 1}, 2, {"left"}); }, kDetect));
}

TEST_CASE("devices of another fleet and revoked devices cannot join and are counted") {
  testing::TempDir dir;
  LocalSwarm swarm = make_swarm(dir);
  // Another fleet, whose device will knock on the swarm's door.
  const std::filesystem::path other_fleet = dir.path() / "other-fleet";
  REQUIRE_OK(crypto::init_fleet(other_fleet, std::time(nullptr)));
  NodeOptions outsider_options;
  outsider_options.fleet_dir = other_fleet;
  auto outsider = swarm.add_node("outsider", outsider_options);
  REQUIRE_OK(outsider);
  auto revoked = swarm.add_node("revoked");
  REQUIRE_OK(revoked);
  REQUIRE_OK(swarm.revoke(*revoked));

  // The swarm enforces the revocation list.
  NodeOptions members;
  members.revocations = true;
  std::vector<std::size_t> nodes;
  for (int i = 0; i < 3; ++i) {
    auto index = swarm.add_node("m" + std::to_string(i), members);
    REQUIRE_OK(index);
    std::vector<std::string> join;
    if (!nodes.empty()) join.push_back(swarm.node(nodes[0]).seed());
    REQUIRE_OK(swarm.start(*index, join));
    nodes.push_back(*index);
  }
  wait_converged(swarm, nodes);

  REQUIRE_OK(swarm.start(*outsider, {swarm.node(nodes[0]).seed()}));
  REQUIRE_OK(swarm.start(*revoked, {swarm.node(nodes[0]).seed()}));
  auto refused = [&](const std::string& reason) {
    auto status = swarm.query(nodes[0], "status");
    if (!status) return std::uint64_t{0};
    return status->at("peers_refused").value(reason, std::uint64_t{0});
  };
  CHECK(LocalSwarm::wait_until([&] { return refused("wrong_fleet") >= 1; }, kConverge));
  CHECK(LocalSwarm::wait_until([&] { return refused("revoked") >= 1; }, kConverge));
  // Give a would-be join every chance (several join retries), then check nobody let them in.
  std::this_thread::sleep_for(3s);
  for (std::size_t i : nodes) {
    CHECK(swarm.status_of(i, *outsider).empty());
    CHECK(swarm.status_of(i, *revoked).empty());
    CHECK(alive_count(swarm, i) == 3);
  }
  CHECK(alive_count(swarm, *outsider) == 1);
  CHECK(alive_count(swarm, *revoked) == 1);
  CHECK(swarm.running(*outsider));
  CHECK(swarm.running(*revoked));
}

// A TCP socket connected to 127.0.0.1:port, or -1 when the connection is refused.
int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
  ::close(fd);
  return -1;
}

// Writes `bytes` to a raw TCP connection to 127.0.0.1:port and closes it.
void send_raw_tcp(std::uint16_t port, const Bytes& bytes) {
  const int fd = connect_loopback(port);
  if (fd >= 0) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;  // the agent closed the connection: fine
      sent += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }
}

// GET `path` from 127.0.0.1:port over HTTP/1.0; the whole response.
std::string http_get(std::uint16_t port, const std::string& path) {
  std::string response;
  const int fd = connect_loopback(port);
  if (fd >= 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n = 0;
      while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) {
        response.append(buffer, static_cast<std::size_t>(n));
      }
    }
    ::close(fd);
  }
  return response;
}

TEST_CASE("an agent serves Prometheus metrics on loopback") {
  testing::TempDir dir;
  LocalSwarmOptions options;
  options.bin_dir = STARLING_BIN_DIR;
  options.root = dir.path();
  options.metrics = true;
  auto created = LocalSwarm::create(options);
  REQUIRE_OK(created);
  LocalSwarm& swarm = *created;
  start_nodes(swarm, 2);
  wait_converged(swarm, {0, 1});
  std::string text;
  CHECK(LocalSwarm::wait_until(
      [&] {
        text = http_get(swarm.node(1).metrics_port, "/metrics");
        return text.find("starling_probe_rtt_seconds_count") != std::string::npos &&
               text.find("starling_probe_rtt_seconds_count 0") == std::string::npos;
      },
      kConverge));
  INFO(text);
  CHECK(text.rfind("HTTP/1.", 0) == 0);
  CHECK(text.find("text/plain; version=0.0.4") != std::string::npos);
  CHECK(text.find("starling_members{status=\"alive\"} 2") != std::string::npos);
  CHECK(text.find("starling_messages_sent_total{type=\"ping\"}") != std::string::npos);
  CHECK(text.find("starling_bytes_received_total{type=\"ack\"}") != std::string::npos);
  CHECK(text.find("starling_event_loop_lag_seconds_bucket") != std::string::npos);
  CHECK(text.find("starling_transport_dropped_total{reason=\"queue_full\"}") != std::string::npos);
}

TEST_CASE("garbage bytes and oversized frames do not hurt an agent") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed " << seed);
  Rng rng(seed);
  testing::TempDir dir;
  LocalSwarm swarm = make_swarm(dir);
  start_nodes(swarm, 2);
  wait_converged(swarm, {0, 1});
  const std::string& address = swarm.node(0).address;
  const auto port = static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));

  // Raw TCP garbage: not even a ZMTP greeting.
  for (int round = 0; round < 20; ++round) {
    Bytes garbage(static_cast<std::size_t>(rng.uniform_range(1, 70'000)));
    for (auto& b : garbage) b = static_cast<std::uint8_t>(rng.uniform_range(0, 255));
    send_raw_tcp(port, garbage);
  }

  // A CurveZMQ client with a key no fleet enrolled: garbage, forged envelopes and a frame above
  // ZMQ_MAXMSGSIZE.
  zmq::context_t context;
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  char client_public[41], client_secret[41], server_public[41];
  REQUIRE(zmq_curve_keypair(client_public, client_secret) == 0);
  crypto::PublicKey server_identity;
  const auto identity_bytes = from_hex(swarm.node(0).public_key_hex);
  REQUIRE(identity_bytes);
  std::copy(identity_bytes->begin(), identity_bytes->end(), server_identity.bytes.begin());
  const auto server_key = crypto::curve_public_of(server_identity);
  REQUIRE_OK(server_key);
  REQUIRE(zmq_z85_encode(server_public, server_key->data(), 32) != nullptr);
  dealer.set(zmq::sockopt::curve_serverkey, std::string(server_public, 40));
  dealer.set(zmq::sockopt::curve_publickey, std::string(client_public, 40));
  dealer.set(zmq::sockopt::curve_secretkey, std::string(client_secret, 40));
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(address);
  for (int i = 0; i < 200; ++i) {
    Bytes garbage(static_cast<std::size_t>(rng.uniform_range(0, 300)));
    for (auto& b : garbage) b = static_cast<std::uint8_t>(rng.uniform_range(0, 255));
    if (!garbage.empty() && rng.uniform_range(0, 1) == 1) garbage[0] = 1;  // a plausible version
    dealer.send(zmq::buffer(garbage.data(), garbage.size()), zmq::send_flags::dontwait);
  }
  Bytes huge(6 * 1024 * 1024, 0x01);
  dealer.send(zmq::buffer(huge.data(), huge.size()), zmq::send_flags::dontwait);

  // The agent counted the garbage it could read and is still a healthy member.
  CHECK(LocalSwarm::wait_until(
      [&] {
        auto status = swarm.query(0, "status");
        if (!status) return false;
        std::uint64_t total = 0;
        for (const auto& [reason, count] : status->at("rejected").items()) {
          total += count.get<std::uint64_t>();
        }
        return total > 0;
      },
      kConverge));
  CHECK(swarm.running(0));
  std::this_thread::sleep_for(2s);  // a few probe rounds after the flood
  CHECK(swarm.status_of(1, 0) == "alive");
  CHECK(swarm.status_of(0, 1) == "alive");
}

}  // namespace
}  // namespace starling::local

namespace starling::local {
namespace {

// The number of `type` events node i has recorded (about anyone).
std::size_t count_events(LocalSwarm& swarm, std::size_t i, const std::string& type) {
  nlohmann::json request = {{"v", 1}, {"cmd", "events"}, {"since", 0}};
  auto reply = runtime::control_request(swarm.node(i).control, request, std::chrono::seconds(2));
  if (!reply) return 0;
  auto result = runtime::control_result(*reply);
  if (!result) return 0;
  std::size_t n = 0;
  for (const auto& e : result->at("events")) n += e.value("type", "") == type ? 1 : 0;
  return n;
}

TEST_CASE("three agents train a model together while heartbeats keep their schedule") {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: Fashion-MNIST is not installed (dataset-fashion-mnist)");
    return;
  }
  testing::TempDir dir;
  LocalSwarm swarm = make_swarm(dir);
  constexpr int kNodes = 3;
  for (int i = 0; i < kNodes; ++i) {
    NodeOptions options;
    // The cnn trains for seconds per round on these shares: long enough that a training
    // thread blocking the event loop would get agents suspected (suspicion lasts 0.8 s).
    options.extra_args = {"--model", "cnn", "--data-shard",
                          "iid:" + std::to_string(i) + "/" + std::to_string(kNodes),
                          "--rounds", "2", "--round-deadline", "60s"};
    auto index = swarm.add_node("learner" + std::to_string(i), options);
    REQUIRE_OK(index);
    std::vector<std::string> join;
    if (i > 0) join.push_back(swarm.node(0).seed());
    REQUIRE_OK(swarm.start(*index, join));
  }
  wait_converged(swarm, {0, 1, 2});
  auto model_of = [&](std::size_t i) { return swarm.query(i, "model"); };
  const bool trained = LocalSwarm::wait_until(
      [&] {
        for (std::size_t i = 0; i < kNodes; ++i) {
          auto m = model_of(i);
          if (!m || m->value("round", 0) < 2 || m->at("accuracy").is_null()) return false;
        }
        return true;
      },
      std::chrono::seconds(240), std::chrono::milliseconds(250));
  for (std::size_t i = 0; i < kNodes; ++i) {
    auto m = model_of(i);
    if (m) INFO("node " << i << ": " << m->dump());
  }
  REQUIRE(trained);
  for (std::size_t i = 0; i < kNodes; ++i) {
    auto m = model_of(i);
    REQUIRE_OK(m);
    CHECK(m->at("state") == "finished");
    CHECK(m->at("updates_accepted").get<std::uint64_t>() == 2 * (kNodes - 1));
    CHECK(m->at("accuracy").get<double>() > 0.7);  // 2 rounds of a cnn on 20k rows each
    CHECK(m->at("updates_rejected").empty());
    // The agents' status and metadata carry the round.
    auto status = swarm.query(i, "status");
    REQUIRE_OK(status);
    CHECK(status->value("round", 0) == 2);
    // Heartbeats kept their schedule while the worker trained: nobody was even suspected.
    CHECK(count_events(swarm, i, "suspect") == 0);
  }
  // Peers see the published round in the members' metadata (spread by gossip).
  CHECK(LocalSwarm::wait_until(
      [&] {
        auto members = swarm.query(1, "members");
        if (!members) return false;
        for (const auto& member : *members) {
          if (member.at("meta").value("fl.round", std::string()) != "2") return false;
        }
        return true;
      },
      kConverge));
}

}  // namespace
}  // namespace starling::local
