// The membership oracle: delayed views of reachability.
#include "sim/workloads/oracle.hpp"

namespace starling::sim {

MembershipOracle::MembershipOracle(Scheduler& scheduler, std::size_t nodes, OracleOptions options,
                                   Rng rng)
    : scheduler_(scheduler),
      nodes_(nodes),
      options_(options),
      rng_(rng),
      believed_(nodes * nodes, 1),
      target_(nodes * nodes, 1),
      generation_(nodes * nodes, 0),
      version_(nodes, 0),
      advertised_(nodes, 0) {}

Duration MembershipOracle::draw(Duration low, Duration high) {
  if (high <= low) return low;
  const auto span = static_cast<std::uint64_t>((high - low).count()) + 1;
  return low + Duration(static_cast<Duration::rep>(rng_.uniform(span)));
}

void MembershipOracle::update(const Reachable& reachable) {
  for (NodeIndex observer = 0; observer < nodes_; ++observer) {
    for (NodeIndex peer = 0; peer < nodes_; ++peer) {
      if (peer == observer) continue;
      const std::size_t at = index(observer, peer);
      const bool live = reachable(observer, peer);
      if ((target_[at] != 0) == live) continue;
      target_[at] = live ? 1 : 0;
      const std::uint64_t generation = ++generation_[at];
      const Duration delay = live ? draw(options_.alive_delay_min, options_.alive_delay_max)
                                  : draw(options_.dead_delay_min, options_.dead_delay_max);
      scheduler_.schedule_after(delay, [this, observer, peer, generation, live] {
        settle(observer, peer, generation, live);
      });
    }
  }
}

void MembershipOracle::settle(NodeIndex observer, NodeIndex peer, std::uint64_t generation,
                              bool live) {
  const std::size_t at = index(observer, peer);
  if (generation_[at] != generation || (believed_[at] != 0) == live) return;
  believed_[at] = live ? 1 : 0;
  ++version_[observer];
  ++transitions_;
}

void MembershipOracle::advertise(NodeIndex node, std::uint64_t cluster) {
  const Duration delay = draw(options_.alive_delay_min, options_.alive_delay_max);
  scheduler_.schedule_after(delay, [this, node, cluster] {
    advertised_[node] = cluster;
    for (auto& v : version_) ++v;
  });
}

}  // namespace starling::sim
