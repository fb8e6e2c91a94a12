// The configuration of `starlingd`: command-line flags, an optional TOML file (--config) and
// defaults, merged into one validated DaemonConfig. Every setting has a flag and a TOML key of
// the same name ("--data-dir" is "data_dir"); a flag wins over the file, the file over the
// default. A list or table given by flags (--join, --label) replaces the file's whole list or
// table. The documented example, with every key and its default, is packaging/agent.toml.
//
// Contracts: parse_config reads the --config file and the environment it is given, nothing
// else (it checks no other file exists: the daemon reports missing certificates and keys when
// it loads them). Every error is a Status with kInvalidArgument (kNotFound for a missing
// --config file) and a message of ONE line naming the flag or the key and where it came from:
//   flag --bind: expected tcp://HOST:PORT, got "foo:1"
//   config key 'bind' at /etc/starling/agent.toml:3: expected tcp://HOST:PORT, got "foo:1"
// Unknown flags, unknown TOML keys and TOML syntax errors (file:line:column) are errors too,
// so a typo is never ignored silently. No exception leaves this API.
// Value types and pure functions; no threading concerns (except Environment::process()).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "base/time.hpp"

namespace starling::daemon {

// The effective configuration of one agent. parse_config fills every defaulted field, so the
// daemon never recomputes a default; only `name` (certificate) and `advertise` (port 0) may be
// left empty for the daemon to fill in, as documented below.
struct DaemonConfig {
  // This device's name, 1..64 characters of [A-Za-z0-9._-]. Empty: the name in the device's
  // certificate (the daemon reads it from there).
  std::string name;
  // The agent's data directory (identity, state.db, control socket). Default: the first path of
  // $STATE_DIRECTORY (set by systemd's StateDirectory=), else $XDG_STATE_HOME/starling, else
  // $HOME/.local/state/starling. Relative paths are relative to the daemon's working directory.
  std::string data_dir;
  // Where the transport listens: tcp://HOST:PORT with HOST an IPv4 literal, an IPv6 literal in
  // brackets ("[fd00::1]"), or a wildcard ("*", "0.0.0.0", "[::]"); PORT 1..65535, or 0 for any
  // free port. Loopback by default: nothing is exposed unless the operator binds an address.
  std::string bind = "tcp://127.0.0.1:7946";
  // The tcp://HOST:PORT peers use to reach this agent (HOST an IP literal or a DNS name, not a
  // wildcard; PORT 1..65535). Default: bind. Required when bind's host is a wildcard. Left
  // empty only when bind's port is 0: the daemon then advertises the port it actually bound.
  std::string advertise;
  // Seeds to join through, each "KEY@tcp://HOST:PORT" where KEY is the seed's Ed25519 public
  // key in 64 hex digits (the "public_key" of `starling keygen --json`, or the second line of
  // the seed's DATA_DIR/identity.pub), stored in lower case. Empty: wait to be joined.
  std::vector<std::string> join;
  // The control API endpoint, "ipc://PATH" or tcp on a loopback address (see
  // runtime::validate_control_endpoint). Default: runtime::default_control_endpoint(data_dir).
  std::string control;
  // The Prometheus metrics listener, "127.0.0.1:PORT" (any 127.0.0.0/8 address) or
  // "[::1]:PORT" (loopback only; port 0 = any free port). Empty: no metrics listener.
  std::string metrics;
  // The fleet's public key file (from `starling fleet init`). Default: DATA_DIR/fleet.pub.
  std::string fleet_pub;
  // This device's certificate (from `starling enroll`). Default: DATA_DIR/device.cert.
  std::string cert;
  // A signed revocation list file (from `starling revoke`). Empty: none.
  std::string revocations;
  // The membership timing profile (membership::Config::from_profile).
  std::string profile = "default";
  // Labels this agent gossips as member metadata (membership::validate_metadata limits).
  std::map<std::string, std::string> labels;
  // trace, debug, info, warn, error or off.
  std::string log_level = "info";
  // text or json.
  std::string log_format = "text";
  // How long a graceful leave may take before the daemon exits anyway: 0s..60s.
  Duration leave_timeout = std::chrono::seconds(2);

  // Federated learning (issue 6): off while `model` is empty.
  struct Learning {
    std::string model;                 // mlp, cnn or anomaly; "" = no federated learning
    // Where the device's training data comes from: "fashion-mnist" (Debian's
    // dataset-fashion-mnist, for demos and tests: the device takes its share, see data_shard)
    // or a directory of the device's own data (federated/data/device_data.hpp).
    std::string data = "fashion-mnist";
    // For fashion-mnist: PARTITION:I/N, this device's share I (0-based) of N of the training
    // set split by PARTITION (iid, dirichlet:ALPHA, shards:K); "" = the whole training set.
    std::string data_shard;
    std::uint64_t rounds = 0;          // 0 = train until stopped
    std::size_t local_epochs = 1;
    double learning_rate = 0.01;
    std::size_t batch_size = 32;
    std::string codec = "float32";     // float32, float16, int8, topk[:FRACTION]
    std::string aggregator = "fedavg"; // fedavg, median, trimmed-mean[:BETA], krum[:F], ...
    std::size_t fanout = 16;           // peers each update goes to
    double quorum = 1.0;               // fraction of expected updates that ends a round
    Duration round_deadline = std::chrono::seconds(30);
    int train_threads = 1;             // libtorch intra-op threads of the training worker
    std::string mode = "sync";         // sync (rounds, quorum) or async (gossip learning)
    double norm_bound = 0;             // reject peer updates above this L2 norm; 0 = none
    double norm_filter = 0;            // leave out updates above this x the median norm; 0 = off
    // TESTING ONLY (fault injection): "" (honest) or a federated::ByzantineKind name; the
    // agent then sends corrupted updates, as a compromised device would, so that test fleets
    // (`starling-sim up --byzantine`) exercise the robust aggregators against real agents.
    std::string byzantine;
    friend bool operator==(const Learning&, const Learning&) = default;
  };
  Learning learning;

  // Consensus and workloads (issue 5): the Raft cluster that replicates the workload table.
  struct Consensus {
    bool enabled = true;
    std::size_t voters = 5;            // 1, 3, 5 or 7
    std::size_t bootstrap_expect = 3;  // 1, 3, 5 or 7, at most voters
    std::uint32_t capacity = 1;        // placement weight; 0 = this device runs no workloads
    Duration lease = std::chrono::seconds(1);
    // Raft's election timeout is drawn from [election_timeout, 2 x election_timeout). 500 ms
    // with 100 ms heartbeats elects a new leader in about 0.6 s after a leader dies on a LAN,
    // and still rides out four lost heartbeats in a row.
    Duration election_timeout = std::chrono::milliseconds(500);
    Duration heartbeat_interval = std::chrono::milliseconds(100);
    friend bool operator==(const Consensus&, const Consensus&) = default;
  };
  Consensus consensus;
  // The --config file this was read from; empty when none. Not a TOML key.
  std::string config_file;

  friend bool operator==(const DaemonConfig&, const DaemonConfig&) = default;
};

// A device's share of a partitioned data set, "PARTITION:I/N" (DaemonConfig::Learning::data_shard).
struct DataShard {
  std::string partition;  // iid, dirichlet:ALPHA or shards:K (federated::parse_partition)
  std::size_t index = 0;  // 0 <= index < count
  std::size_t count = 1;  // 1..1000
};
// kInvalidArgument saying what is wrong with `text`.
Result<DataShard> parse_data_shard(std::string_view text);

// getenv-like access to the environment, injectable so that tests are hermetic. An empty
// value counts as unset (as the XDG specification says). An empty `lookup` means no variables.
struct Environment {
  std::function<std::optional<std::string>(std::string_view name)> lookup;

  std::optional<std::string> get(std::string_view name) const;

  // The process environment (::getenv): not safe against concurrent setenv().
  static Environment process();
  // Exactly these variables.
  static Environment from_map(std::map<std::string, std::string> variables);
};

// What the daemon should do after parsing its command line.
struct ParseOutcome {
  enum Kind {
    kRun,          // start the agent with `config`
    kHelp,         // print `text` (the --help output) to stdout and exit 0
    kVersion,      // print `text` ("starlingd VERSION") to stdout and exit 0
    kCheckConfig,  // --check-config: `config` is valid; print `text` (to_toml) and exit 0
  };
  Kind kind = kRun;
  DaemonConfig config;  // filled for kRun and kCheckConfig
  std::string text;     // for kHelp, kVersion and kCheckConfig, ends with a newline
};

// Parses argv (argv[0] is the program name and is skipped), reads the --config file when given,
// applies defaults (from `env` for data_dir) and validates every setting, first error first.
// --help and --version win over every other flag and need no valid configuration. Errors:
// kInvalidArgument for a usage error (unknown flag, missing value, a single-valued flag given
// twice: the message starts with "command line: ") or an invalid or missing value, a bad TOML
// file (syntax, unknown key, wrong type); kNotFound when the --config file does not exist;
// kIoError when it cannot be read.
Result<ParseOutcome> parse_config(int argc, const char* const* argv, const Environment& env);

// The configuration as a TOML document, every key set to its effective value (config_file is
// not a key and is left out): parse_config with --config on it gives back an equal config.
std::string to_toml(const DaemonConfig& config);

}  // namespace starling::daemon
