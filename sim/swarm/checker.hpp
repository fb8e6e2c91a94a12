// The membership checker: observes every simulated node from outside (their events and the
// faults the scenario injects) and measures what the swarm claims: how fast crashes are
// detected by every live node, whether healthy nodes are ever declared dead, and how long views
// take to agree after the last fault. It also records invariant violations.
// Incremental: each event costs O(1), each crash or restart O(n), so it can watch thousands of
// nodes. Single-threaded (it runs inside simulator events).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/membership/types.hpp"
#include "base/node_id.hpp"
#include "base/time.hpp"

namespace starling::sim {

using NodeIndex = std::uint32_t;

struct CheckerReport {
  std::vector<double> detect_s;       // per detected crash: until every live observer knew
  std::size_t crashes = 0;
  std::size_t undetected = 0;         // crashes some live observer never declared dead
  std::size_t false_positive_nodes = 0;
  std::size_t false_positive_declarations = 0;
  std::optional<double> converge_s;   // after the last fault, until all live views first agreed
  bool agreed_at_end = false;         // false while a transient suspicion is being refuted
  std::vector<std::string> violations;
  std::vector<std::string> false_positive_details;  // the first few, for diagnosis
};

class Checker {
 public:
  // `ids[i]` is node i's id. `partition_grace` is how long after a partition heals deaths
  // across it are still expected (a suspicion started before the heal may still run out).
  Checker(std::vector<NodeId> ids, Duration partition_grace);

  // Node `node` started a run announcing `incarnation` (its view knows only itself).
  void on_start(NodeIndex node, std::uint64_t incarnation, Instant now);
  void on_crash(NodeIndex node, Instant now);
  void on_event(NodeIndex observer, const membership::Event& event, Instant now);
  // A partition into two sides (side[i] is 0 or 1) began / healed.
  void on_partition(const std::vector<std::uint8_t>& side, Instant now);
  void on_heal(Instant now);
  // A fault that ends at `end` (a pause's resume, a heal): convergence counts from the last.
  void note_fault_end(Instant end);

  bool converged() const noexcept { return disagreements_ == 0; }
  std::uint64_t disagreements() const noexcept { return disagreements_; }
  // Closes the books at the end of the run (`end`), adding violations for what never happened
  // although the run left `settle` of time after the fault.
  CheckerReport finish(Instant end, Duration settle);

 private:
  enum View : std::uint8_t { kUnknown = 0, kAlive, kSuspect, kDead, kLeft };
  struct PendingCrash {
    Instant at;
    std::vector<std::uint8_t> waiting;  // per observer: 1 while it still sees the node live
    std::size_t remaining = 0;
  };

  View& view(NodeIndex observer, NodeIndex subject) { return views_[observer * n_ + subject]; }
  bool agrees(NodeIndex observer, NodeIndex subject) const;
  void set_view(NodeIndex observer, NodeIndex subject, View v, Instant now);
  void recount_column(NodeIndex subject);
  void recount_row(NodeIndex observer);
  void update_converged(Instant now);
  void observer_gone(NodeIndex observer, Instant now);
  bool separated(NodeIndex a, NodeIndex b, Instant now) const;

  std::size_t n_;
  std::unordered_map<NodeId, NodeIndex> index_of_;
  std::vector<View> views_;
  std::vector<std::uint8_t> up_;
  std::vector<std::uint64_t> run_incarnation_;
  std::vector<std::uint64_t> highest_incarnation_;
  std::vector<std::uint32_t> row_disagreements_;
  std::uint64_t disagreements_ = 0;
  std::map<NodeIndex, PendingCrash> pending_;
  std::vector<std::uint8_t> side_;
  bool partitioned_ = false;
  Instant healed_at_ = Instant::min();
  Duration partition_grace_;
  Instant last_fault_end_{};
  std::optional<Instant> converged_since_;
  // Intervals during which all live views agreed: [begin, end); the last may be open.
  std::vector<std::pair<Instant, Instant>> agreed_;
  std::vector<std::uint8_t> false_positive_;
  CheckerReport report_;
};

}  // namespace starling::sim
