// The simulated network: config validation, the per-send pipeline (uplink, random draws,
// partition and loss checks, arrival events) and the fault controls.
#include "sim/network.hpp"

#include <algorithm>

namespace starling::sim {

namespace {

__extension__ typedef unsigned __int128 Uint128;  // GCC/Clang builtin, as in base/rng.cpp

constexpr std::uint64_t kMicrosPerSecond = 1'000'000;

bool is_probability(double p) noexcept { return p >= 0.0 && p <= 1.0; }

std::uint64_t link_key(NodeIndex from, NodeIndex to) noexcept {
  return static_cast<std::uint64_t>(from) | (static_cast<std::uint64_t>(to) << 32);
}

}  // namespace

Status LinkConfig::validate() const {
  if (latency_base_us < 0 || latency_jitter_us < 0 || reorder_window_us < 0) {
    return error(StatusCode::kInvalidArgument, "link latencies and windows must be >= 0 us");
  }
  if (!is_probability(loss_probability) || !is_probability(duplicate_probability) ||
      !is_probability(reorder_probability)) {
    return error(StatusCode::kInvalidArgument, "link probabilities must be within [0, 1]");
  }
  return Status::ok();
}

Status NetworkConfig::validate() const { return link.validate().with_context("network link"); }

Duration serialization_delay(std::size_t size, std::uint64_t bytes_per_second) noexcept {
  if (bytes_per_second == 0 || size == 0) return Duration(0);
  const Uint128 numerator = static_cast<Uint128>(size) * kMicrosPerSecond;
  const Uint128 micros = (numerator + bytes_per_second - 1) / bytes_per_second;
  return Duration(static_cast<std::int64_t>(micros));
}

Network::Network(Scheduler& scheduler, Trace& trace, std::size_t node_count, NetworkConfig config,
                 Rng rng)
    : scheduler_(scheduler), trace_(trace), config_(config), rng_(rng), nodes_(node_count) {
  const Status status = config_.validate();
  STARLING_ASSERT(status.is_ok(), status.message().c_str());
  STARLING_ASSERT(node_count > 0 && node_count <= UINT32_MAX, "node_count out of range");
  for (NodeState& node : nodes_) node.uplink_bytes_per_second = config_.uplink_bytes_per_second;
}

void Network::send(NodeIndex from, NodeIndex to, Bytes payload) {
  check_node(from);
  check_node(to);
  STARLING_ASSERT(nodes_[from].up, "a down node cannot send");
  ++stats_.sent;
  stats_.bytes_sent += payload.size();
  const LinkConfig& config = link(from, to);
  const Instant departed = charge_uplink(from, payload.size());
  const bool lost = rng_.chance(config.loss_probability);
  const bool duplicated = rng_.chance(config.duplicate_probability);
  const CopyDraws draws[2] = {draw_copy(config), draw_copy(config)};
  if (!connected(from, to)) return drop(from, to, DropReason::kPartition, payload.size());
  if (lost) return drop(from, to, DropReason::kLoss, payload.size());
  Instant arrivals[2];
  for (int i = 0; i < 2; ++i) {
    const std::uint64_t extra_us = draws[i].reordered ? draws[i].reorder_us : 0;
    const auto delay_us =
        static_cast<std::uint64_t>(config.latency_base_us) + draws[i].jitter_us + extra_us;
    arrivals[i] = departed + Duration(static_cast<std::int64_t>(delay_us));
  }
  if (!duplicated) return schedule_arrival(from, to, arrivals[0], std::move(payload));
  ++stats_.duplicated;
  Bytes copy = payload;
  schedule_arrival(from, to, arrivals[0], std::move(payload));
  schedule_arrival(from, to, arrivals[1], std::move(copy));
}

Instant Network::charge_uplink(NodeIndex from, std::size_t size) {
  NodeState& node = nodes_[from];
  const Instant now = scheduler_.now();
  if (node.uplink_bytes_per_second == 0) return now;
  const Instant start = std::max(now, node.uplink_free_at);
  node.uplink_free_at = start + serialization_delay(size, node.uplink_bytes_per_second);
  return node.uplink_free_at;
}

Network::CopyDraws Network::draw_copy(const LinkConfig& config) {
  CopyDraws draws{};
  draws.jitter_us = rng_.uniform(static_cast<std::uint64_t>(config.latency_jitter_us) + 1);
  draws.reordered = rng_.chance(config.reorder_probability);
  draws.reorder_us = rng_.uniform(static_cast<std::uint64_t>(config.reorder_window_us) + 1);
  return draws;
}

void Network::schedule_arrival(NodeIndex from, NodeIndex to, Instant at, Bytes payload) {
  ++in_flight_;
  const std::uint32_t down_count = nodes_[to].down_count;
  // 48 bytes of captures: stored inline in the Callback, no allocation per message.
  scheduler_.schedule_at(at, [this, from, to, down_count, payload = std::move(payload)] {
    arrive(from, to, down_count, payload);
  });
}

void Network::arrive(NodeIndex from, NodeIndex to, std::uint32_t down_count, const Bytes& payload) {
  --in_flight_;
  const NodeState& receiver = nodes_[to];
  if (!receiver.up || receiver.down_count != down_count) {
    return drop(from, to, DropReason::kNodeDown, payload.size());
  }
  if (!connected(from, to)) return drop(from, to, DropReason::kPartition, payload.size());
  STARLING_ASSERT(static_cast<bool>(handler_), "no delivery handler set on the Network");
  ++stats_.delivered;
  stats_.bytes_delivered += payload.size();
  trace_.record(TraceKind::kDeliver, scheduler_.now(), link_key(from, to), hash_bytes(payload),
                payload.size());
  handler_(from, to, payload);
}

void Network::drop(NodeIndex from, NodeIndex to, DropReason reason, std::size_t size) {
  switch (reason) {
    case DropReason::kLoss:
      ++stats_.dropped_loss;
      break;
    case DropReason::kPartition:
      ++stats_.dropped_partition;
      break;
    case DropReason::kNodeDown:
      ++stats_.dropped_node_down;
      break;
  }
  trace_.record(TraceKind::kDrop, scheduler_.now(), link_key(from, to),
                static_cast<std::uint64_t>(reason), size);
}

void Network::set_link(NodeIndex from, NodeIndex to, LinkConfig config) {
  check_node(from);
  check_node(to);
  const Status status = config.validate();
  STARLING_ASSERT(status.is_ok(), status.message().c_str());
  links_[{from, to}] = config;
}

void Network::clear_link(NodeIndex from, NodeIndex to) { links_.erase({from, to}); }

const LinkConfig& Network::link(NodeIndex from, NodeIndex to) const noexcept {
  if (links_.empty()) return config_.link;
  const auto it = links_.find({from, to});
  return it == links_.end() ? config_.link : it->second;
}

void Network::set_uplink_bandwidth(NodeIndex node, std::uint64_t bytes_per_second) {
  check_node(node);
  nodes_[node].uplink_bytes_per_second = bytes_per_second;
}

void Network::partition(const std::vector<std::vector<NodeIndex>>& groups) {
  heal();
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (const NodeIndex node : groups[g]) {
      check_node(node);
      STARLING_ASSERT(nodes_[node].group == 0, "a node is listed twice in partition()");
      nodes_[node].group = static_cast<std::uint32_t>(g + 1);
    }
  }
}

void Network::heal() noexcept {
  for (NodeState& node : nodes_) node.group = 0;
}

void Network::cut(NodeIndex a, NodeIndex b) {
  cut_one_way(a, b);
  cut_one_way(b, a);
}

void Network::cut_one_way(NodeIndex from, NodeIndex to) {
  check_node(from);
  check_node(to);
  cuts_.insert({from, to});
}

void Network::restore(NodeIndex a, NodeIndex b) {
  restore_one_way(a, b);
  restore_one_way(b, a);
}

void Network::restore_one_way(NodeIndex from, NodeIndex to) { cuts_.erase({from, to}); }

bool Network::connected(NodeIndex from, NodeIndex to) const noexcept {
  if (nodes_[from].group != nodes_[to].group) return false;
  return cuts_.empty() || !cuts_.contains({from, to});
}

void Network::set_node_up(NodeIndex node, bool up) {
  check_node(node);
  NodeState& state = nodes_[node];
  if (state.up && !up) ++state.down_count;
  state.up = up;
}

void Network::check_node(NodeIndex node) const {
  STARLING_ASSERT(node < nodes_.size(), "node index out of range");
}

}  // namespace starling::sim
