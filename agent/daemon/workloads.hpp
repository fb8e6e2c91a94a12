// Consensus and workloads inside the agent: the shell around consensus::Controller (the Raft
// core, the replicated workload table, the scheduler and the owner's leases, shared with the
// simulator) and the runners of the workloads this device holds (the built-in kind `stream`).
//
// What this shell adds to the controller (consensus/controller.hpp has the contract):
//  - durability: every controller output's durable part is written to the agent's SQLite store
//    (runtime::Store::save_consensus, one transaction, synchronous=FULL) BEFORE its messages are
//    sent and before any runner acts on it; a failed write stops the agent (the core would
//    otherwise acknowledge what it did not persist);
//  - transport: frames travel in envelopes of type wire::kConsensusTypeFirst (32) to the
//    members' transport addresses, through the agent's Send callback;
//  - time: Instants of the agent's monotonic clock; one Asio timer at the controller's next
//    deadline, and a runner timer every 20 ms while this device holds replicas;
//  - runners: for each replica the controller lets this node run (W8), a StreamTask writing to
//    DATA_DIR/ledgers/WORKLOAD.REPLICA.ledger, paced at the stream's rate, checkpointing every
//    K records (the ledger is fsynced first) through the controller.
// Threading: everything on the agent's loop thread; nothing here is thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "agent/daemon/config.hpp"
#include "agent/runtime/control.hpp"
#include "agent/runtime/metrics.hpp"
#include "agent/runtime/store.hpp"
#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/status.hpp"
#include "consensus/controller.hpp"

namespace starling::daemon {

class WorkloadShell {
 public:
  // Sends a controller frame to a member (the agent wraps it in an envelope).
  using Send = std::function<void(const NodeId& to, const Bytes& frame)>;
  // The cluster this node is in changed (0 -> id): the agent publishes it as metadata "raft".
  using Publish = std::function<void(std::uint64_t cluster)>;
  // The name of a member from its certificate ("" when unknown).
  using NameOf = std::function<std::string(const NodeId&)>;
  // The consensus state could not be persisted: the agent must stop.
  using Fatal = std::function<void(const std::string& why)>;

  // Loads the consensus state from `store` (kCorrupt naming the file when it is damaged).
  // `labels` are this node's (certificate and config) as the scheduler sees them. `store`
  // outlives the shell.
  static Result<std::unique_ptr<WorkloadShell>> open(
      boost::asio::io_context& io, const DaemonConfig& config, runtime::Store& store,
      const NodeId& self, std::map<std::string, std::string> labels, Send send, Publish publish,
      NameOf name_of, Fatal fatal);
  ~WorkloadShell();
  WorkloadShell(const WorkloadShell&) = delete;
  WorkloadShell& operator=(const WorkloadShell&) = delete;

  // The live members (alive or suspect), this node excluded, with what they advertise.
  void set_peers(std::vector<consensus::PeerView> peers);
  // A frame from an authenticated member.
  void on_frame(const NodeId& from, ByteSpan frame);
  // Graceful leave: releases held replicas and hands leadership on.
  void leave();

  // Control API views and requests.
  std::vector<runtime::WorkloadView> workloads() const;
  runtime::LeaderView leader() const;
  Result<std::uint64_t> add(const runtime::WorkloadRequest& request);
  Result<std::uint64_t> remove(const std::string& name);
  // For `starling status`: the known leader ("" when none) and the term; nullopt before the
  // node is in a cluster.
  std::optional<std::pair<std::string, std::uint64_t>> leader_and_term() const;
  // The consensus and workload metrics, added to the agent's.
  void metrics(runtime::MetricsText& out) const;

 private:
  struct State;
  explicit WorkloadShell(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace starling::daemon
