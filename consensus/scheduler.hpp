// The scheduler: what the leader proposes when membership (or the table) changes. A pure
// function of the applied workload table, the live members (with their labels and capacity) and
// a few durations; no clock, no randomness, no I/O. Its output is the list of Assign commands
// to propose, each with the next epoch of its replica and the lease terms of rule W8.
//
// Placement is weighted rendezvous (highest random weight) hashing (Schindelhauer and
// Schomaker, "Weighted distributed hash tables", 2005): for workload w every eligible node n
// scores -capacity(n) / ln(u(n, w)), u(n, w) a uniform in (0, 1) hashed from the node id and
// the workload name (rendezvous_uniform()), and the workload's desired nodes are the
// `replicas` best scores. A node then wins a one-replica workload with probability
// capacity / total capacity of the eligible nodes (W6), and a change of membership moves only
// the replicas it must (W5). Eligible: live, capacity above zero, and labels holding every
// required label (W6). Replicas of a workload are on distinct nodes (W4).
//
// Which replicas move (W5): a replica whose owner is zero, not live, not eligible, or holds an
// earlier replica of the same workload is reassigned; with `rebalance` (the default) so is a
// replica whose live eligible owner is no longer among the workload's desired nodes while a
// desired node holds none of its replicas (so a node that joins takes over only the replicas
// it now wins: its share of the total capacity). Every other owner keeps its replica. Free
// replicas go to the best-scoring eligible nodes that hold no replica of the workload, in
// replica order. A replica that finds no such node keeps its owner (possibly dead: nobody
// runs it) and is reported in `unschedulable`.
//
// THE CALLER'S CONTRACT: schedule from the table as applied, and propose again only once the
// previous proposals were applied (or lost with leadership); an Assign computed from an older
// table is refused by the table (W1, W4) and rescheduled at the next call. Rules W4-W9 of
// consensus/DESIGN.md; tests in tests/consensus/scheduler_test.cpp.
//
// Scores use std::log, whose last bit may differ between C libraries: only the leader computes
// a schedule and every node applies the committed Assigns, so that cannot split the table (a
// mixed-version fleet may at worst move a replica whose two best scores nearly tie).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/node_id.hpp"
#include "base/time.hpp"
#include "consensus/workloads.hpp"

namespace starling::consensus {

// A member the shell considers live (membership says alive, or suspect and not yet dead).
struct Member {
  NodeId id;                                  // not zero; unique in the input
  std::map<std::string, std::string> labels;  // from its certificate and metadata
  std::uint32_t capacity = 1;                 // relative weight; 0: runs no workloads
};

struct SchedulerOptions {
  // Also move replicas off live eligible owners that are no longer among the desired nodes
  // (W5). Off: only replicas without a live eligible owner move.
  bool rebalance = true;
  // The lease of new assignments (W8): an owner runs a replica until `lease` after it sent
  // the latest renewal it applied, and renews about every lease / 3.
  Duration lease = std::chrono::seconds(1);
  // Bound on how far any node's clock rate may be from real time (W8): 5% is far above crystal
  // drift (< 100 ppm) and covers virtual machines and the simulator's drift faults.
  double clock_rate_error = 0.05;
};

struct SchedulerInput {
  std::vector<Member> members;  // the live members; any order
  // For each node, how long it has been, on the leader's clock, since the later of (a) this
  // leader's election and (b) its last proposal of a Renew from that node (W8). A previous
  // owner missing here counts as zero: its successor waits the whole handoff_wait().
  std::map<NodeId, Duration> quiet_for;
  SchedulerOptions options;
};

// A workload some replicas of which found no eligible live node.
struct Unschedulable {
  std::string workload;
  std::vector<std::uint32_t> replicas;  // the replicas left without a live eligible owner
  std::size_t eligible = 0;             // eligible live nodes (fewer than spec.replicas)
};

struct Schedule {
  // The Assign commands to propose, in (workload, replica) order; each is valid
  // (validate_command) and carries the replica's epoch + 1.
  std::vector<Assignment> assigns;
  std::vector<Unschedulable> unschedulable;  // in workload order
  std::size_t moved_for_rebalance = 0;       // assigns that took a replica from a live owner
};

// The Assign commands that bring `table` to the placement described above for `input`.
// REQUIRES: member ids non-zero and unique, 0 <= options.clock_rate_error < 0.5, options.lease
// within kLeaseMin..kLeaseMax (asserted: the shell builds these).
Schedule schedule(const WorkloadTable& table, const SchedulerInput& input);

// The workload's rendezvous ranking of `members`: the eligible ones, best score first (ties,
// which need equal hashes, by node id). Exposed for tests, the simulator's checker and the CLI.
std::vector<NodeId> rank_nodes(const WorkloadSpec& spec, const std::vector<Member>& members);

// u(node, workload) in (0, 1): the 64-bit hash h = mix(mix(fingerprint64(workload) ^ w0) ^ w1),
// with w0, w1 the node id's two big-endian 64-bit halves and mix one splitmix64 step
// (base/rng.hpp), mapped to ((h >> 11) + 0.5) / 2^53. Fixed forever: changing it moves
// replicas on every upgrade.
double rendezvous_uniform(const NodeId& node, std::string_view workload) noexcept;

// -capacity / ln(rendezvous_uniform(node, workload)); 0 for capacity 0.
double rendezvous_score(const NodeId& node, std::string_view workload,
                        std::uint32_t capacity) noexcept;

// Whether `labels` hold every pair of `required`.
bool labels_match(const std::map<std::string, std::string>& required,
                  const std::map<std::string, std::string>& labels);

}  // namespace starling::consensus
