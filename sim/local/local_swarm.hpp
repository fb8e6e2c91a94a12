// LocalSwarm: real `starlingd` processes on 127.0.0.1, for integration tests, benchmarks and
// (issue 7) `starling-sim up`. It creates a throwaway fleet under a root directory, enrols
// devices (keys, certificates), starts and signals agent processes, and queries them over their
// control API. Every process it started is killed (SIGKILL) when the LocalSwarm is destroyed,
// so a failing test leaves no orphans.
// Single-threaded: one LocalSwarm per thread; nothing here is thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.hpp"

namespace starling::local {

struct LocalSwarmOptions {
  // Where starlingd is (the build's bin/ directory).
  std::filesystem::path bin_dir;
  // Working directory: fleet/ and one node-NAME/ data directory per node. Must exist.
  std::filesystem::path root;
  std::string profile = "default";
  std::string log_level = "info";
  // Give every agent a metrics listener on 127.0.0.1 (a free port each).
  bool metrics = false;
};

struct NodeOptions {
  std::map<std::string, std::string> labels;
  // Pass the fleet's revocation list (fleet/revocations.list) to the agent.
  bool revocations = false;
  // Enrol in this other fleet directory instead of the swarm's (an "unenrolled" device).
  std::optional<std::filesystem::path> fleet_dir;
  // More starlingd flags (federated learning settings, say).
  std::vector<std::string> extra_args;
};

struct Node {
  std::string name;
  std::filesystem::path data_dir;
  std::string public_key_hex;  // Ed25519
  std::uint64_t serial = 0;    // certificate serial
  NodeOptions options;
  pid_t pid = -1;              // -1 when not running
  std::string address;         // tcp://127.0.0.1:PORT once started (kept across restarts)
  std::string control;         // ipc://DATA_DIR/control.sock
  std::uint16_t metrics_port = 0;

  // "KEY@tcp://127.0.0.1:PORT", the form --join takes.
  std::string seed() const { return public_key_hex + "@" + address; }
};

class LocalSwarm {
 public:
  // Creates root/fleet with a new fleet key.
  static Result<LocalSwarm> create(LocalSwarmOptions options);
  LocalSwarm(LocalSwarm&&) noexcept = default;
  LocalSwarm& operator=(LocalSwarm&&) noexcept = default;
  ~LocalSwarm();  // SIGKILLs every running agent and reaps it

  // Creates a node's data directory, identity and certificate; returns its index. Not started.
  Result<std::size_t> add_node(const std::string& name, NodeOptions options = {});
  // Revokes node i's certificate in the swarm's fleet (fleet/revocations.list).
  Status revoke(std::size_t i);

  // Starts node i's agent joining through `join` (seed strings) and waits until its control
  // API answers (at most `timeout`). The first start binds port 0 and records the port the
  // agent chose; restarts bind the same port again.
  Status start(std::size_t i, const std::vector<std::string>& join,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends `signal` to node i (SIGKILL, SIGTERM, SIGSTOP, SIGCONT).
  Status signal(std::size_t i, int signal_number);
  // Waits for node i's process to exit; returns its exit status (as waitpid reports it) or
  // kUnavailable after `timeout`.
  Result<int> wait_exit(std::size_t i, std::chrono::milliseconds timeout);
  // Whether node i's process is still running (reaps it if it exited).
  bool running(std::size_t i);

  // One control request ({"cmd": cmd}) to node i; the "result" of its reply.
  Result<nlohmann::json> query(std::size_t i, const std::string& cmd,
                               std::chrono::milliseconds timeout = std::chrono::seconds(2));
  // Node i's view of node j's status ("alive", "suspect", "dead", "left"), or "" if unknown.
  std::string status_of(std::size_t i, std::size_t j);
  // Node i's view of node j's incarnation (0 if unknown).
  std::uint64_t incarnation_of(std::size_t i, std::size_t j);

  // Polls `condition` every `every` until it holds or `timeout` passes; returns whether it held.
  static bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                         std::chrono::milliseconds every = std::chrono::milliseconds(50));

  // For `starling-sim up` (issue 7): fixed ports and agents left running on purpose.
  // Makes node i's first start bind 127.0.0.1:`port` instead of a free port.
  // REQUIRES: node i was never started.
  Status set_port(std::size_t i, std::uint16_t port);
  // Forgets every running agent without stopping it: the destructor then leaves them running
  // and whoever called this owns their process ids (node(i).pid, read before the call).
  void release() noexcept;

  const Node& node(std::size_t i) const { return nodes_.at(i); }
  std::size_t size() const { return nodes_.size(); }
  std::string node_id_hex(std::size_t i) const;
  const std::filesystem::path& root() const { return options_.root; }
  std::filesystem::path fleet_dir() const { return fleet_dir_path(); }

 private:
  std::filesystem::path fleet_dir_path() const;
  explicit LocalSwarm(LocalSwarmOptions options) : options_(std::move(options)) {}
  void kill_all() noexcept;

  LocalSwarmOptions options_;
  std::vector<Node> nodes_;
};

// A free TCP port on 127.0.0.1 (bound and released: racy in principle, fine for tests).
Result<std::uint16_t> free_loopback_port();

}  // namespace starling::local
