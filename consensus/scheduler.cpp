// Weighted rendezvous placement of workload replicas and the Assign commands that reach it.
#include "consensus/scheduler.hpp"

#include <algorithm>
#include <cmath>

#include "base/bytes.hpp"
#include "base/rng.hpp"

namespace starling::consensus {

namespace {

std::uint64_t mix(std::uint64_t v) noexcept {
  std::uint64_t state = v;
  return splitmix64(state);
}

// The node id's bytes [8*half, 8*half + 8) as a big-endian integer.
std::uint64_t id_word(const NodeId& node, int half) noexcept {
  std::uint64_t w = 0;
  for (int i = 0; i < 8; ++i) w = (w << 8) | node.raw()[static_cast<std::size_t>(8 * half + i)];
  return w;
}

double uniform_from(std::uint64_t workload_hash, const NodeId& node) noexcept {
  const std::uint64_t h = mix(mix(workload_hash ^ id_word(node, 0)) ^ id_word(node, 1));
  return (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;
}

double score_from(double u, std::uint32_t capacity) noexcept {
  if (capacity == 0) return 0.0;
  return -static_cast<double>(capacity) / std::log(u);
}

struct Scored {
  double score;
  std::uint32_t index;  // into the members, which are sorted by id
};

// Best score first; equal scores (equal hashes) by node id.
bool better(const Scored& a, const Scored& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.index < b.index;
}

// The eligible members of `spec` with their scores, in member order.
void score_eligible(const WorkloadSpec& spec, const std::vector<Member>& members,
                    std::vector<Scored>& out) {
  out.clear();
  const std::uint64_t workload_hash = fingerprint64(as_bytes(spec.name));
  for (std::size_t i = 0; i < members.size(); ++i) {
    const Member& member = members[i];
    if (member.capacity == 0 || !labels_match(spec.required_labels, member.labels)) continue;
    out.push_back({score_from(uniform_from(workload_hash, member.id), member.capacity),
                   static_cast<std::uint32_t>(i)});
  }
}

std::vector<Member> sorted_members(const std::vector<Member>& input) {
  std::vector<Member> members = input;
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.id < b.id; });
  for (std::size_t i = 0; i < members.size(); ++i) {
    STARLING_ASSERT(!members[i].id.is_zero(), "scheduler member with a zero id");
    STARLING_ASSERT(i == 0 || members[i - 1].id != members[i].id, "scheduler member twice");
  }
  return members;
}

}  // namespace

double rendezvous_uniform(const NodeId& node, std::string_view workload) noexcept {
  return uniform_from(fingerprint64(as_bytes(workload)), node);
}

double rendezvous_score(const NodeId& node, std::string_view workload,
                        std::uint32_t capacity) noexcept {
  return score_from(rendezvous_uniform(node, workload), capacity);
}

bool labels_match(const std::map<std::string, std::string>& required,
                  const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : required) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

std::vector<NodeId> rank_nodes(const WorkloadSpec& spec, const std::vector<Member>& input) {
  const std::vector<Member> members = sorted_members(input);
  std::vector<Scored> scored;
  score_eligible(spec, members, scored);
  std::sort(scored.begin(), scored.end(), better);
  std::vector<NodeId> out;
  out.reserve(scored.size());
  for (const Scored& s : scored) out.push_back(members[s.index].id);
  return out;
}

Schedule schedule(const WorkloadTable& table, const SchedulerInput& input) {
  const SchedulerOptions& options = input.options;
  STARLING_ASSERT(options.clock_rate_error >= 0.0 && options.clock_rate_error < 0.5,
                  "clock rate error must be in [0, 0.5)");
  STARLING_ASSERT(options.lease >= kLeaseMin && options.lease <= kLeaseMax,
                  "scheduler lease out of range");
  const std::vector<Member> members = sorted_members(input.members);
  constexpr std::uint32_t kNone = UINT32_MAX;
  auto index_of = [&](const NodeId& id) -> std::uint32_t {
    auto it = std::lower_bound(members.begin(), members.end(), id,
                               [](const Member& m, const NodeId& key) { return m.id < key; });
    if (it == members.end() || it->id != id) return kNone;
    return static_cast<std::uint32_t>(it - members.begin());
  };
  // Per member, reset after each workload: 1 eligible, 2 also among the desired nodes.
  std::vector<std::uint8_t> mark(members.size(), 0);
  std::vector<Scored> scored;

  Schedule out;
  for (const auto& [name, workload] : table.workloads()) {
    const std::size_t k = workload.replicas.size();
    score_eligible(workload.spec, members, scored);
    // Candidates are needed down to the best 2k: at most k nodes are held below.
    const std::size_t ranked = std::min(scored.size(), 2 * k);
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(ranked),
                      scored.end(), better);
    for (std::size_t i = 0; i < scored.size(); ++i) mark[scored[i].index] = i < k ? 2 : 1;

    // Which owners keep their replica (W5): live and eligible, the first replica of the
    // workload they hold, and (when rebalancing) among the desired nodes (the best k).
    std::vector<std::uint32_t> held;  // member indexes, at most k
    auto is_held = [&](std::uint32_t index) {
      return std::find(held.begin(), held.end(), index) != held.end();
    };
    std::vector<bool> keep(k, false);
    std::vector<bool> rebalanced(k, false);
    for (std::size_t r = 0; r < k; ++r) {
      const std::uint32_t owner = index_of(workload.replicas[r].node);
      if (owner == kNone || mark[owner] == 0 || is_held(owner)) continue;
      // An owner outside the desired nodes stays reserved: its replica moves to a desired
      // node, and keeps it should none be free (which cannot happen: as many desired nodes are
      // free as replicas lack a desired owner).
      held.push_back(owner);
      if (options.rebalance && mark[owner] != 2) {
        rebalanced[r] = true;
        continue;
      }
      keep[r] = true;
    }
    for (const Scored& s : scored) mark[s.index] = 0;

    // Free replicas take the best-scoring eligible nodes that hold none, in replica order (W4).
    std::size_t next = 0;
    Unschedulable missing{name, {}, scored.size()};
    for (std::size_t r = 0; r < k; ++r) {
      if (keep[r]) continue;
      const ReplicaState& replica = workload.replicas[r];
      while (next < ranked && is_held(scored[next].index)) ++next;
      if (next == ranked || replica.epoch >= kEpochMax) {
        if (!rebalanced[r]) missing.replicas.push_back(static_cast<std::uint32_t>(r));
        continue;
      }
      Assignment assign;
      assign.workload = name;
      assign.replica = static_cast<std::uint32_t>(r);
      assign.node = members[scored[next].index].id;
      assign.epoch = replica.epoch + 1;  // W1
      assign.lease = options.lease;
      // W8: the previous owner may hold its lease until handoff_wait after the last renewal
      // it can have sent; the leader has been quiet for `elapsed` of that already.
      if (!replica.node.is_zero()) {
        const Duration wait = handoff_wait(replica.lease, options.clock_rate_error);
        auto quiet = input.quiet_for.find(replica.node);
        const Duration elapsed = quiet == input.quiet_for.end() ? Duration{0} : quiet->second;
        assign.start_delay = std::clamp(wait - elapsed, Duration{0}, kStartDelayMax);
      }
      held.push_back(scored[next].index);
      if (rebalanced[r]) ++out.moved_for_rebalance;
      out.assigns.push_back(std::move(assign));
    }
    if (!missing.replicas.empty()) out.unschedulable.push_back(std::move(missing));
  }
  return out;
}

}  // namespace starling::consensus
