// The outside checker of the workloads scenario: it looks at every simulated node's controller
// after each of the node's events (never from inside the protocol) and at the durable ledgers,
// and records violations instead of asserting, so that a canary can require them.
//
//  C1   at most one leader per term (role and term of every core, every event);
//  C4   a new leader holds every entry known committed in an earlier term;
//  C5   a committed entry never changes: the first (term, data hash) seen at an index, on any
//       node, is what every node holds there at or below its commit index, for the whole run
//       (restarts re-read the durable log, so lost or rewritten committed entries show up);
//  W7   the workload tables of all nodes are byte-identical at equal applied indexes, pass
//       check_invariants(), and only one cluster is ever founded;
//  W1/W3 on every node, as applied, a replica's epoch and checkpoint position never decrease;
//  W8   no two nodes hold a valid lease for one replica at the same real (virtual) time. A
//       node's lease interval opens at the first event where may_run() is true and closes at
//       the first event where it is false (or at a crash), but never later than the real time
//       at which its clock reaches the lease end the controller reported (HeldReplica::
//       lease_until, converted with the node's drift): a paused or partitioned owner whose
//       lease ran out is not counted as holding it. The canary testing_skip_lease_check keeps
//       may_run() true past the lease, which this check must report;
//  liveness: once the faults stop (the quiet period), every replica is run by some node
//       without interruption from `quiet_start + bound` to the end, and a leader exists.
// Two more checks live where their inputs are and report here: availability during the faults
// (WorkloadScenario: connected nodes holding a quorum of the voters elect a leader within a
// bound) and a controller deadline still past right after tick() (WorkloadNode: a shell would
// spin). Gaps between the lease intervals of a replica are the report's failovers (another
// node resumed it) and lease gaps (the same node did, after a late renewal).
//
// Single-threaded; called from inside scheduler events.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/node_id.hpp"
#include "base/time.hpp"
#include "consensus/controller.hpp"
#include "sim/drift_clock.hpp"
#include "sim/network.hpp"

namespace starling::sim {

using ReplicaKey = std::pair<std::string, std::uint32_t>;

// A node's valid-lease interval for one replica under one epoch, in real (virtual) time.
struct LeaseInterval {
  NodeIndex node = 0;
  std::uint64_t epoch = 0;
  Instant start{};
  Instant end{};             // meaningful once closed
  Instant last_true{};       // the last event at which may_run() was true
  Instant lease_end = Instant::max();  // real time of the last reported lease end
  bool open = true;
};

// Committed commands by type (each committed index counted once).
struct CommittedCounts {
  std::uint64_t adds = 0;
  std::uint64_t assigns = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t releases = 0;
  std::uint64_t renews = 0;
  std::uint64_t other = 0;  // no-ops, configuration changes, removals
};

class WorkloadChecker {
 public:
  explicit WorkloadChecker(std::vector<NodeId> ids);

  // A new process of `node` started: its per-process baselines (commit, applied index,
  // epochs, positions) start over from what it restores.
  void on_start(NodeIndex node);
  // After every event of an up node. `clock` maps its local time to real time.
  void observe(NodeIndex node, const consensus::Controller& controller, Instant real_now,
               Instant local_now, const DriftClock& clock);
  // The node crashed at `real_now`: its open lease intervals end.
  void on_crash(NodeIndex node, Instant real_now);
  // Liveness: whether some up node leads; called by the scenario at chosen times.
  void expect_leader(bool found, Instant real_now, const std::string& when);
  // Closes every open interval at `real_now` and checks that each of `replicas` was run
  // without interruption over [live_from, real_now] (no check when live_from >= real_now).
  void finish(Instant real_now, Instant live_from, const std::vector<ReplicaKey>& replicas);

  // A violation found by the scenario itself (ledgers, durable state).
  void report(std::string violation);

  // The node that holds a valid lease on the replica at `real_now` (an open interval whose
  // lease has not run out), if any.
  std::optional<NodeIndex> runner_of(const ReplicaKey& replica, Instant real_now) const;
  const std::vector<std::string>& violations() const noexcept { return violations_; }
  std::uint64_t violation_count() const noexcept { return violation_count_; }
  const std::map<std::uint64_t, NodeIndex>& leaders() const noexcept { return leaders_; }
  std::uint64_t max_commit() const noexcept { return max_commit_; }
  const CommittedCounts& committed() const noexcept { return counts_; }
  // Gaps between the lease intervals of a replica (seconds, known after finish()): failovers
  // when another node resumes it, lease gaps when the same node does (a renewal was late);
  // and each replica's first start.
  const std::vector<double>& failovers_s() const noexcept { return failovers_s_; }
  const std::vector<double>& lease_gaps_s() const noexcept { return lease_gaps_s_; }
  const std::vector<double>& first_run_s() const noexcept { return first_run_s_; }
  std::uint64_t intervals() const noexcept { return interval_count_; }
  const std::map<ReplicaKey, std::vector<LeaseInterval>>& lease_intervals() const noexcept {
    return intervals_;
  }

 private:
  struct Committed {
    std::uint64_t term = 0;
    std::uint64_t hash = 0;
    std::uint64_t known_in_term = 0;
  };
  // Per process (reset by on_start).
  struct Process {
    std::uint64_t commit = 0;
    std::uint64_t checked = 0;  // committed entries checked up to here
    std::uint64_t applied = 0;
    std::uint64_t last_leader_term = 0;
    std::map<ReplicaKey, std::pair<std::uint64_t, std::uint64_t>> progress;  // epoch, position
  };

  void check_raft(NodeIndex node, const consensus::Core& core);
  void check_leader(NodeIndex node, const consensus::Core& core);
  void record_committed(NodeIndex node, std::uint64_t index, std::uint64_t term,
                        const consensus::Entry& entry, std::uint64_t now_term);
  void check_table(NodeIndex node, const consensus::Controller& controller);
  void check_leases(NodeIndex node, const consensus::Controller& controller, Instant real_now,
                    Instant local_now, const DriftClock& clock);
  void close(const ReplicaKey& key, LeaseInterval& interval, Instant real_now);
  void check_overlap(const ReplicaKey& key, const LeaseInterval& closed, Instant real_now);
  void check_coverage(const ReplicaKey& key, Instant real_now, Instant live_from);
  std::string name(NodeIndex node) const;

  std::vector<NodeId> ids_;
  std::vector<Process> processes_;
  std::map<std::uint64_t, NodeIndex> leaders_;  // term -> leader
  std::map<std::uint64_t, Committed> committed_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::uint64_t> tables_;  // cluster, index
  std::set<std::uint64_t> clusters_;
  std::map<ReplicaKey, std::vector<LeaseInterval>> intervals_;
  std::set<ReplicaKey> overlap_reported_;
  CommittedCounts counts_;
  std::uint64_t max_commit_ = 0;
  std::uint64_t interval_count_ = 0;
  std::vector<double> failovers_s_;
  std::vector<double> lease_gaps_s_;
  std::vector<double> first_run_s_;
  std::vector<std::string> violations_;
  std::uint64_t violation_count_ = 0;
};

}  // namespace starling::sim
