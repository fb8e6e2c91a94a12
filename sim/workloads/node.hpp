// A simulated node of the workloads scenario: the real consensus::Controller (Raft core,
// workload table, scheduler, owner leases) driven by simulator events on the node's own
// drifting clock, with a durable store that survives crashes and `stream` runners that write
// to in-memory ledgers. Controller frames travel as real bytes over the simulated network.
//
// The node follows the controller's contract for every Output: (1) write its durable part to
// the NodeDisk in one step (the simulated write is synchronous and atomic, so a crash always
// sees either all of an Output or none of it), (2) send its messages, (3) only then act on the
// queries: start, pace and stop the replica runners. A runner processes records only while
// may_run() holds at the moment it processes them, syncs its ledger before proposing a
// checkpoint (StreamTask::take_checkpoint), and is dropped as soon as may_run() turns false.
//
// Single-threaded: all callbacks run inside World events.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "consensus/controller.hpp"
#include "sim/workloads/checker.hpp"
#include "sim/workloads/oracle.hpp"
#include "sim/world.hpp"
#include "workloads/ledger.hpp"
#include "workloads/stream.hpp"

namespace starling::sim {

// What one node persisted: its controller's durable state, rewritten from every Output.
struct NodeDisk {
  consensus::ControllerDurable durable;
  std::uint64_t starts = 0;  // process starts, for unique Renew nonces (nonce_base)

  // Step 1 of the controller's contract for `output`.
  void write(const consensus::ControllerOutput& output);
};

// Identifies one ledger: a fresh one per (workload, replica, epoch, owner, owner's process).
struct LedgerKey {
  std::string workload;
  std::uint32_t replica = 0;
  std::uint64_t epoch = 0;
  NodeIndex node = 0;
  std::uint64_t start = 0;  // NodeDisk::starts of the owner's process
  friend auto operator<=>(const LedgerKey&, const LedgerKey&) = default;
};

// What every node of a scenario shares: the outside world of the processes.
struct WorkloadShared {
  consensus::ControllerOptions options;
  std::vector<NodeId> ids;
  std::map<NodeId, NodeIndex> index_of;
  std::vector<NodeDisk> disks;
  // The "disk" ledgers: they survive crashes (MemoryLedger::crash() drops unsynced rows).
  std::map<LedgerKey, workloads::MemoryLedger> ledgers;
  Duration runner_interval = std::chrono::milliseconds(100);
  // set_peers() at least this often even when the view did not change.
  Duration peers_refresh = std::chrono::seconds(1);
  World* world = nullptr;
  MembershipOracle* oracle = nullptr;
  WorkloadChecker* checker = nullptr;
  // Counters.
  std::uint64_t leader_changes = 0;  // kRoleChanged to leader, all nodes
  std::uint64_t unknown_destinations = 0;
  std::uint64_t records_processed = 0;
  std::uint64_t checkpoints_proposed = 0;
  std::uint64_t runner_starts = 0;
  // Timers armed after the controller ran whose next_deadline() was already past.
  std::uint64_t timer_spins = 0;
};

class WorkloadNode final : public Process {
 public:
  WorkloadNode(Context& context, WorkloadShared& shared);
  ~WorkloadNode() override;

  void on_start() override;
  void on_message(NodeIndex from, const Bytes& payload) override;
  void on_timer(std::uint64_t timer_id) override;

  // An operator's proposal made at this node (the scenario adds workloads this way).
  Result<std::uint64_t> submit(const consensus::Command& command);
  // Null when the durable state did not validate (reported as a violation).
  const consensus::Controller* controller() const { return controller_.get(); }
  // Replicas this process runs now (a live StreamTask), in (workload, replica) order.
  std::vector<ReplicaKey> running() const;

 private:
  struct Runner {
    std::uint64_t epoch = 0;
    workloads::MemoryLedger* ledger = nullptr;  // in WorkloadShared::ledgers
    std::optional<workloads::StreamTask> task;
    Instant paced_to{};               // local time up to which records were allowed
    std::uint64_t budget_micro = 0;   // fractional records, in millionths
    Instant last_checkpoint = Instant::min();
  };

  Instant now() const { return context_.local_now(); }
  void after_input();
  void persist_and_send(consensus::ControllerOutput output);
  void refresh_peers(bool force);
  void run_replicas();
  void start_runner(const consensus::HeldReplica& held, const consensus::WorkloadState& state);
  void step_runner(const ReplicaKey& key, Runner& runner);
  void arm_timer();

  Context& context_;
  WorkloadShared& shared_;
  std::unique_ptr<consensus::Controller> controller_;
  std::map<ReplicaKey, Runner> runners_;
  std::uint64_t peers_version_ = UINT64_MAX;
  std::uint64_t peers_cluster_hash_ = 0;
  Instant peers_sent_at_ = Instant::min();
  Instant next_periodic_{};
  TimerId timer_;
  Instant timer_at_ = Instant::max();
  bool in_timer_ = false;  // after_input() runs for a tick()
  std::uint64_t timer_generation_ = 0;
};

// The `stream` params every workload of the scenario gets (spec.params).
std::map<std::string, std::string> stream_spec_params(std::uint64_t records,
                                                      std::uint32_t rate_per_second,
                                                      std::uint64_t checkpoint_every);

}  // namespace starling::sim
