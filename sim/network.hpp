// Network: a simulated datagram network between nodes 0..N-1 that carries opaque Bytes. Each
// message gets a seeded latency (base + uniform jitter, plus an occasional reordering delay),
// may be lost or duplicated, waits behind earlier messages on the sender's bandwidth-limited
// uplink, and is dropped when a partition or cut separates the two nodes (checked at send and
// again at arrival) or when the receiver is down or has crashed since the send. Arrivals are
// events on the Scheduler that call the delivery handler the harness registers. All randomness
// comes from the Network's own Rng, drawn in a fixed pattern per send (see send()), so a run is
// a pure function of the seed. Knows nothing of protocols. Single-threaded, like the Scheduler.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "base/bytes.hpp"
#include "base/rng.hpp"
#include "base/status.hpp"
#include "sim/scheduler.hpp"
#include "sim/trace.hpp"

namespace starling::sim {

// A simulated node's index, 0..node_count-1.
using NodeIndex = std::uint32_t;

// The behaviour of one directed link. The defaults model a healthy local network of edge
// devices and inject no faults: scenarios opt into loss, duplication and reordering explicitly,
// so that a protocol's unit-level simulation tests are not noisy by accident.
struct LinkConfig {
  // One-way latency floor: 1 ms, a LAN or Wi-Fi hop between devices on one site.
  std::int64_t latency_base_us = 1'000;
  // Extra latency, uniform in [0, jitter] per message: 1 ms, typical of Wi-Fi; it also lets
  // messages overtake each other, as on a real network.
  std::int64_t latency_jitter_us = 1'000;
  // Probability that a message is lost: 0 (opt in per scenario).
  double loss_probability = 0.0;
  // Probability that a message is delivered twice (the copy with its own latency): 0.
  double duplicate_probability = 0.0;
  // Probability that a message is held back by an extra delay, uniform in
  // [0, reorder_window_us], so that later messages overtake it: 0.
  double reorder_probability = 0.0;
  // The largest reordering delay: 10 ms, several base latencies, enough to reorder a burst.
  std::int64_t reorder_window_us = 10'000;

  // kInvalidArgument for negative times or probabilities outside [0, 1].
  Status validate() const;
};

// The network as a whole: the default link and the default uplink bandwidth of every node.
struct NetworkConfig {
  // The behaviour of every directed link without an override (Network::set_link).
  LinkConfig link;
  // Each node's uplink in bytes per second; 0 means unlimited (the default: most scenarios are
  // about latency and faults, and bandwidth makes a message's delay depend on its size).
  // Overridden per node with Network::set_uplink_bandwidth.
  std::uint64_t uplink_bytes_per_second = 0;

  Status validate() const;
};

enum class DropReason : std::uint8_t {
  kLoss = 1,       // random loss (LinkConfig::loss_probability)
  kPartition = 2,  // a partition or a cut link separates sender and receiver
  kNodeDown = 3,   // the receiver is down, or crashed while the message was in flight
};

// Counters since construction.
// Invariant: sent + duplicated == delivered + dropped_* + in flight (Network::in_flight()).
struct NetworkStats {
  std::uint64_t sent = 0;       // send() calls
  std::uint64_t delivered = 0;  // messages handed to the delivery handler
  std::uint64_t dropped_loss = 0;
  std::uint64_t dropped_partition = 0;
  std::uint64_t dropped_node_down = 0;
  std::uint64_t duplicated = 0;  // extra copies created
  std::uint64_t bytes_sent = 0;  // payload bytes of send() calls
  std::uint64_t bytes_delivered = 0;

  std::uint64_t dropped() const noexcept {
    return dropped_loss + dropped_partition + dropped_node_down;
  }
};

// The serialization delay of `size` bytes on an uplink of `bytes_per_second` (rounded up to a
// whole microsecond); zero for an unlimited (0) uplink.
Duration serialization_delay(std::size_t size, std::uint64_t bytes_per_second) noexcept;

class Network {
 public:
  using DeliveryHandler = std::function<void(NodeIndex from, NodeIndex to, const Bytes&)>;

  // A network of `node_count` nodes, all up and connected. `trace` must outlive the Network.
  // REQUIRES: config.validate() is ok; node_count > 0.
  Network(Scheduler& scheduler, Trace& trace, std::size_t node_count, NetworkConfig config,
          Rng rng);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // Registers the one function that receives arriving messages, replacing any earlier one.
  // It runs inside a scheduler event at the arrival time. REQUIRES: set before a message
  // arrives.
  void set_delivery_handler(DeliveryHandler handler) { handler_ = std::move(handler); }

  // Sends `payload` from `from` to `to` (to == from is allowed). The sender's uplink is
  // charged even if the message is then dropped. Each call draws exactly eight values from the
  // Rng in the same order whatever the outcome (loss, duplication, then jitter, reorder chance
  // and reorder delay for each of the two possible copies), so changing one probability does
  // not shift the other draws. REQUIRES: from and to < node_count().
  void send(NodeIndex from, NodeIndex to, Bytes payload);

  // Overrides the behaviour of the directed link from -> to. REQUIRES: link.validate() is ok.
  void set_link(NodeIndex from, NodeIndex to, LinkConfig link);
  // Returns the link from -> to to the default NetworkConfig::link.
  void clear_link(NodeIndex from, NodeIndex to);
  // The behaviour of from -> to: its override or the default.
  const LinkConfig& link(NodeIndex from, NodeIndex to) const noexcept;

  // Sets one node's uplink bandwidth in bytes per second (0: unlimited). Messages already
  // queued on the uplink keep their departure times.
  void set_uplink_bandwidth(NodeIndex node, std::uint64_t bytes_per_second);

  // Splits the nodes into groups; messages between different groups are dropped. Nodes not
  // listed form one more group together. Replaces any earlier partition; cuts stay.
  // REQUIRES: each listed node is < node_count() and listed once.
  void partition(const std::vector<std::vector<NodeIndex>>& groups);
  // Removes the partition (cut links stay cut until restored).
  void heal() noexcept;
  // Cuts the link between a and b in both directions / only from -> to.
  void cut(NodeIndex a, NodeIndex b);
  void cut_one_way(NodeIndex from, NodeIndex to);
  // Restores the link between a and b in both directions / only from -> to.
  void restore(NodeIndex a, NodeIndex b);
  void restore_one_way(NodeIndex from, NodeIndex to);
  // Restores every cut link.
  void restore_all() noexcept { cuts_.clear(); }
  // True when neither a partition nor a cut stops messages from -> to.
  bool connected(NodeIndex from, NodeIndex to) const noexcept;

  // Marks a node up or down. Taking a node down drops every message in flight to it (when it
  // arrives); messages sent to it after that arrive if it is up again by then.
  void set_node_up(NodeIndex node, bool up);
  bool is_node_up(NodeIndex node) const noexcept { return nodes_[node].up; }

  std::size_t node_count() const noexcept { return nodes_.size(); }
  const NetworkConfig& config() const noexcept { return config_; }
  const NetworkStats& stats() const noexcept { return stats_; }
  // Message copies scheduled to arrive and not yet arrived.
  std::uint64_t in_flight() const noexcept { return in_flight_; }

 private:
  struct NodeState {
    bool up = true;
    std::uint32_t down_count = 0;  // bumped on every transition to down
    std::uint32_t group = 0;       // partition group; 0 for unlisted nodes
    std::uint64_t uplink_bytes_per_second = 0;
    Instant uplink_free_at{};
  };
  struct CopyDraws {
    std::uint64_t jitter_us;
    bool reordered;
    std::uint64_t reorder_us;
  };

  Instant charge_uplink(NodeIndex from, std::size_t size);
  CopyDraws draw_copy(const LinkConfig& link);
  void schedule_arrival(NodeIndex from, NodeIndex to, Instant at, Bytes payload);
  void arrive(NodeIndex from, NodeIndex to, std::uint32_t down_count, const Bytes& payload);
  void drop(NodeIndex from, NodeIndex to, DropReason reason, std::size_t size);
  void check_node(NodeIndex node) const;

  Scheduler& scheduler_;
  Trace& trace_;
  NetworkConfig config_;
  Rng rng_;
  DeliveryHandler handler_;
  std::vector<NodeState> nodes_;
  std::map<std::pair<NodeIndex, NodeIndex>, LinkConfig> links_;  // overrides only
  std::set<std::pair<NodeIndex, NodeIndex>> cuts_;               // directed
  NetworkStats stats_;
  std::uint64_t in_flight_ = 0;
};

}  // namespace starling::sim
