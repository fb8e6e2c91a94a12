// The agent's control API, server side: a ZeroMQ ROUTER socket on a local endpoint (ipc, or tcp
// on a loopback address only) that answers versioned JSON requests from the `starling` CLI
// with data read from a ControlSource the owner supplies (the daemon's view of the swarm, or a
// fake in tests). The wire protocol is in docs/PROTOCOL.md, section "Control API".
// Threading contract: a ControlServer is single-threaded. It owns its own ZeroMQ context,
// separate from the Transport's, and does nothing until its owner calls poll_once() on the
// thread that opened it; the owner may watch fd() (ZMQ_FD, edge-triggered) to know when to
// call it. No exception leaves this API: ZeroMQ and JSON errors are caught here and become a
// Status or an error reply; a malformed request never crashes the agent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"

namespace starling::runtime {

// The protocol version this build speaks; requests with another "v" get a bad_version reply.
inline constexpr int kControlProtocolVersion = 1;

// A member as the agent sees it, in the plain form the control API sends.
struct MemberView {
  std::string id;      // 32 lower-case hex digits
  std::string name;    // from the member's certificate
  std::string addr;    // the member's advertised transport address
  std::string status;  // "alive", "suspect", "dead" or "left"
  std::uint64_t incarnation = 0;
  std::map<std::string, std::string> meta;  // labels and other metadata
  std::int64_t last_change_unix_ms = 0;     // when this agent last changed the member's status
};

// How many members the agent counts in each status.
struct MemberCounts {
  std::uint64_t alive = 0;
  std::uint64_t suspect = 0;
  std::uint64_t dead = 0;
  std::uint64_t left = 0;
};

// The agent's own view of itself. Later issues add leader, term, round and accuracy.
struct StatusView {
  std::string id;  // 32 lower-case hex digits
  std::string name;
  std::uint64_t uptime_s = 0;
  MemberCounts members;
  std::string addr;         // the address this agent advertises
  std::uint64_t incarnation = 0;
  // Peers this agent refused, by the verdict on their certificate ("wrong_fleet", "revoked",
  // "expired", "bad_signature", ...): what an operator checks when a device cannot join.
  std::map<std::string, std::uint64_t> peers_refused;
  // Messages and records dropped, by reason (wire decoding, admission, certificates, record
  // signatures); the same counts as the starling_rejected_total metric.
  std::map<std::string, std::uint64_t> rejected;
  // Traffic since start: envelope bytes and messages the agent sent and received.
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  // Federated learning, when the agent runs it: the last round and its test accuracy.
  std::optional<std::uint64_t> round;
  std::optional<double> accuracy;
  // Consensus, when the agent is in a cluster: the leader it knows ("" when none) and the term.
  std::optional<std::string> leader;
  std::optional<std::uint64_t> term;
};

// One replica of a workload (`starling workloads`).
struct WorkloadView {
  std::string name;
  std::string kind;
  std::uint32_t replicas = 1;
  std::uint32_t replica = 0;
  std::string owner;       // 32 hex digits, "" when nobody holds the replica
  std::string owner_name;  // from the owner's certificate, when known
  std::uint64_t epoch = 0;
  // "unassigned", "assigned" (held by another node, as far as this agent knows), or, on the
  // owner itself: "starting", "waiting" (for a lease), "running", "releasing", "done".
  std::string state;
  std::uint64_t progress = 0;  // the last committed checkpoint's position
  std::optional<std::uint64_t> total;  // records in the stream, when the kind says
  std::map<std::string, std::uint64_t> counters;  // kind-specific (ok, bad, gaps, ...)
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> params;
};

// The consensus cluster as this agent sees it (`starling leader`).
struct LeaderView {
  std::string cluster;  // 16 hex digits, "" before the agent joined a cluster
  std::string leader;   // 32 hex digits, "" when no leader is known
  std::string leader_name;
  std::string role;     // this agent's role: follower, candidate, leader, pre_candidate
  std::uint64_t term = 0;
  std::vector<std::string> voters;
  std::uint64_t learners = 0;
  std::uint64_t commit_index = 0;
  std::uint64_t applied_index = 0;
};

// `starling workload add`: a workload spec as the operator gave it.
struct WorkloadRequest {
  std::string name;
  std::string kind;
  std::uint32_t replicas = 1;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> params;
};

// The agent's federated learning (`starling model`).
struct ModelView {
  std::string model;
  std::string state;  // loading, training, waiting, finished, or "failed: why"
  std::uint64_t round = 0;  // the last round completed
  std::optional<double> accuracy;  // of the last evaluated round, on the device's test data
  std::optional<double> loss;
  std::uint64_t params = 0;
  std::uint64_t samples = 0;  // training rows on this device
  std::uint64_t bytes_per_round = 0;  // sealed update bytes sent per round, all peers
  std::uint64_t updates_accepted = 0;
  std::map<std::string, std::uint64_t> updates_rejected;  // reason -> count
  std::string codec;
  std::string aggregator;
  std::uint64_t peers = 0;
  // Training speed of the last round on the worker: rows * epochs / seconds of train().
  std::optional<double> train_images_per_s;
  // The most recent evaluated rounds, oldest first (at most kModelHistoryMax), so that a
  // client polling now and then misses none.
  struct RoundEval {
    std::uint64_t round = 0;
    double accuracy = 0;
    double loss = 0;
  };
  std::vector<RoundEval> history;
  // The fault this agent injects (starlingd --byzantine, testing only); "" for an honest one.
  std::string byzantine;
};
inline constexpr std::size_t kModelHistoryMax = 64;

// One membership event. `seq` numbers events from 1, increasing by one per event, so that a
// client can ask for what it has not seen yet.
struct EventView {
  std::uint64_t seq = 0;
  std::string type;  // "joined", "suspect", "alive", "dead", "left", "metadata_changed"
  std::string node;  // 32 lower-case hex digits
  std::uint64_t incarnation = 0;
  std::int64_t unix_ms = 0;
};

// The port through which the server reads the agent's state. Called only from poll_once(), on
// the owner's thread. An exception thrown by an implementation becomes an "internal" error
// reply (it is a bug, but one that must not take the agent down).
class ControlSource {
 public:
  virtual ~ControlSource() = default;
  // Every known member, in a stable order (by id).
  virtual std::vector<MemberView> members() = 0;
  virtual StatusView status() = 0;
  // The retained events with seq > `seq`, oldest first, at most `max` of them.
  virtual std::vector<EventView> events_since(std::uint64_t seq, std::size_t max) = 0;
  // Federated learning; nullopt when the agent runs none (the reply is a not_available error).
  virtual std::optional<ModelView> model() { return std::nullopt; }
  // Workloads and consensus; nullopt when the agent runs no consensus (not_available).
  virtual std::optional<std::vector<WorkloadView>> workloads() { return std::nullopt; }
  virtual std::optional<LeaderView> leader() { return std::nullopt; }
  // Proposes adding (removing) a workload; the reply names the request, and the table shows
  // the workload once the entry commits. Errors become error replies named by their code.
  virtual Result<std::uint64_t> add_workload(const WorkloadRequest&) {
    return Status{StatusCode::kUnavailable, "this agent runs no consensus"};
  }
  virtual Result<std::uint64_t> remove_workload(const std::string&) {
    return Status{StatusCode::kUnavailable, "this agent runs no consensus"};
  }
};

struct ControlServerConfig {
  // Where to listen: "ipc://PATH" or "tcp://HOST:PORT" with a loopback HOST (see
  // validate_control_endpoint). The control API has no authentication of its own: access is
  // what the socket file's permissions or the loopback interface allow.
  std::string endpoint;
  // Requests above this get a too_large reply. A request is a few dozen bytes; 64 KiB leaves
  // room for future commands with arguments while bounding what a client can make us parse.
  std::size_t request_bytes_max = 64 * 1024;
  // ZMQ_MAXMSGSIZE: frames above this make ZeroMQ drop the connection without a reply. Set
  // well above request_bytes_max so that a merely oversize request still gets an answer.
  std::size_t frame_bytes_max = 1024 * 1024;
  // Events per "events" reply: bounds the reply (about 150 bytes each); clients page with
  // "since".
  std::size_t events_per_reply_max = 1000;
  // Requests handled per poll_once() call, so that a flooding client cannot starve the loop.
  std::size_t batch_max = 64;

  // kInvalidArgument naming the field when a value is out of range or the endpoint is not
  // acceptable (validate_control_endpoint). ControlServer::open runs it.
  Status validate() const;
};

// Ok for "ipc://PATH" (non-empty path) and for "tcp://HOST:PORT" when HOST is a loopback
// address (127.0.0.0/8, [::1] or "localhost"); kInvalidArgument with a message saying why
// otherwise, because the control API must never be reachable from the network.
Status validate_control_endpoint(std::string_view endpoint);

// "ipc://DATA_DIR/control.sock", the daemon's default control endpoint.
std::string default_control_endpoint(const std::string& data_dir);

// Answers one request (the bytes of a JSON document) from `source` and returns the reply
// document's bytes; never throws. Exposed so that the protocol can be tested without sockets.
std::string handle_control_request(std::string_view request, ControlSource& source,
                                   const ControlServerConfig& config);

// Counters since open().
struct ControlServerCounters {
  std::uint64_t requests = 0;        // requests answered, successfully or with an error reply
  std::uint64_t error_replies = 0;   // of which error replies
  std::uint64_t dropped = 0;         // messages with a bad envelope, or replies that failed
};

class ControlServer {
 public:
  // Creates a ZeroMQ context of its own and binds a ROUTER on config.endpoint. Errors: the
  // config's validate(); kUnavailable when the address is in use; kInvalidArgument or
  // kInternal for other bind failures (a missing ipc directory, for one).
  // REQUIRES: `source` outlives the server.
  static Result<ControlServer> open(const ControlServerConfig& config, ControlSource& source);

  ControlServer(ControlServer&&) noexcept;
  ControlServer& operator=(ControlServer&&) noexcept;
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  // Closes the socket (linger 0: unsent replies are discarded) and the context.
  ~ControlServer();

  // The bound endpoint (ZMQ_LAST_ENDPOINT), with the actual port when the config asked for 0.
  const std::string& endpoint() const;
  // The socket's ZMQ_FD. It signals edge-triggered: after it becomes readable, call poll_once()
  // until it returns less than batch_max, or the next request may wait for another edge.
  int fd() const;
  // Handles the messages waiting now, at most batch_max of them, without blocking: answers
  // each request (an error reply for a bad one) and drops messages with a bad envelope.
  // Returns how many messages it handled.
  std::size_t poll_once();
  const ControlServerCounters& counters() const;

 private:
  struct State;  // defined in control.cpp
  explicit ControlServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace starling::runtime
