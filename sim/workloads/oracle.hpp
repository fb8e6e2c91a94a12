// The membership oracle of the workloads scenario: what each simulated node's membership layer
// would tell its controller (set_peers), modelled from the faults the harness injects instead
// of running the real SWIM cores. A node learns that a peer became unreachable (crashed,
// paused, or cut off by a partition in either direction) after a detection delay drawn in
// [dead_delay_min, dead_delay_max] (0.5-3 s by default: the default membership profile detects
// a crash in about 1.5 s, its p99 in under 3 s), and that it is reachable again after
// [alive_delay_min, alive_delay_max] (a rejoin's push-pull sync). A change that is undone
// before its delay ran out is never seen, as with a short blip under SWIM's suspicion.
//
// Why an oracle and not sim/swarm's real membership: the sweeps run 10,000 seeds, and signed
// SWIM records plus their gossip would cost more than the consensus under test while adding
// nothing the controller can observe beyond "who is live, after what delay". What a peer
// advertises (the cluster it joined) reaches every observer at once, after a delay drawn like
// a rejoin's, as gossip of member metadata would (docs/ARCHITECTURE.md, "Workloads in the
// simulator", lists what the oracle leaves out).
//
// Single-threaded; transitions are events on the World's scheduler.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "base/rng.hpp"
#include "base/time.hpp"
#include "sim/network.hpp"
#include "sim/scheduler.hpp"

namespace starling::sim {

struct OracleOptions {
  Duration dead_delay_min = std::chrono::milliseconds(500);
  Duration dead_delay_max = std::chrono::seconds(3);
  Duration alive_delay_min = std::chrono::milliseconds(200);
  Duration alive_delay_max = std::chrono::milliseconds(1500);
};

class MembershipOracle {
 public:
  // Every node sees every other as live at the start (the swarm has formed).
  MembershipOracle(Scheduler& scheduler, std::size_t nodes, OracleOptions options, Rng rng);
  MembershipOracle(const MembershipOracle&) = delete;
  MembershipOracle& operator=(const MembershipOracle&) = delete;

  // Whether `observer` can reach `peer` right now (the harness's ground truth).
  using Reachable = std::function<bool(NodeIndex observer, NodeIndex peer)>;

  // Re-reads the ground truth after a fault changed it, and schedules the observers' views to
  // follow each change after its delay. O(nodes^2).
  void update(const Reachable& reachable);

  // Whether `observer` currently believes `peer` is live.
  bool sees(NodeIndex observer, NodeIndex peer) const {
    return believed_[index(observer, peer)] != 0;
  }
  // Bumped whenever the view of `observer` changes, or anything it would see changes
  // (advertise()), so that a node calls set_peers() only on change.
  std::uint64_t version(NodeIndex observer) const { return version_[observer]; }
  // Node `node` now advertises `cluster`: every observer sees it after a delay drawn in
  // [alive_delay_min, alive_delay_max].
  void advertise(NodeIndex node, std::uint64_t cluster);
  // The cluster `node` advertises as the observers see it (0: none yet).
  std::uint64_t advertised(NodeIndex node) const { return advertised_[node]; }
  std::size_t size() const noexcept { return nodes_; }
  // View changes applied so far (for reports).
  std::uint64_t transitions() const noexcept { return transitions_; }

 private:
  std::size_t index(NodeIndex observer, NodeIndex peer) const {
    return static_cast<std::size_t>(observer) * nodes_ + peer;
  }
  Duration draw(Duration low, Duration high);
  void settle(NodeIndex observer, NodeIndex peer, std::uint64_t generation, bool live);

  Scheduler& scheduler_;
  std::size_t nodes_;
  OracleOptions options_;
  Rng rng_;
  std::vector<std::uint8_t> believed_;     // what the observer sees
  std::vector<std::uint8_t> target_;       // the ground truth at the last update()
  std::vector<std::uint64_t> generation_;  // bumped on each change of target_
  std::vector<std::uint64_t> version_;
  std::vector<std::uint64_t> advertised_;
  std::uint64_t transitions_ = 0;
};

}  // namespace starling::sim
