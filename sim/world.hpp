// World: simulated nodes on top of the Scheduler and the Network. Each node runs a Process,
// created by the harness's factory, that reacts to start, messages and timers and acts through
// its Context (send, timers on its own drifting clock, its own Rng). The World injects node
// faults: crash (the Process object is destroyed, its timers and the messages in flight to it
// are lost), start/restart (a new Process from the factory), pause (nothing runs for a while;
// arrivals and timers queue and are delivered in order at resume, like a SIGSTOP or a long GC
// pause) and clock drift. One seed drives everything: the Network and each node fork their
// Rng from it in a fixed order, so a run is a pure function of (seed, binary, harness), and
// the Trace fingerprints it. Knows nothing of protocols. Single-threaded: processes run inside
// scheduler events, one at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "base/bytes.hpp"
#include "base/rng.hpp"
#include "base/status.hpp"
#include "base/time.hpp"
#include "sim/drift_clock.hpp"
#include "sim/network.hpp"
#include "sim/scheduler.hpp"
#include "sim/trace.hpp"

namespace starling::sim {

class World;

// Names one timer a process set, for Context::cancel_timer. TimerId{} names none.
struct TimerId {
  EventId event;
  std::uint64_t serial = 0;  // unique per World; 0 for TimerId{}
  friend bool operator==(const TimerId&, const TimerId&) = default;
};

// A node's view of the world, handed to its Process by the factory. It outlives every Process
// of its node (a restarted node gets the same Context), so a Process may keep a reference.
class Context {
 public:
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  NodeIndex self() const noexcept { return self_; }
  std::size_t node_count() const noexcept;

  // The node's own clock: offset + (1 + drift_ppm * 1e-6) * virtual time, in whole
  // microseconds (rounded down). Monotonic while the drift is not changed.
  Instant local_now() const noexcept;

  // Sends `payload` to node `to` through the Network. REQUIRES: to < node_count().
  void send(NodeIndex to, Bytes payload);

  // Calls on_timer(timer_id) once the node's local clock has advanced by `local_delay` (a fast
  // clock fires early in virtual time, a slow one late). Timers are lost when the node
  // crashes. REQUIRES: local_delay >= 0.
  TimerId set_timer(Duration local_delay, std::uint64_t timer_id);

  // Cancels a timer of this node that has not fired; a no-op otherwise.
  void cancel_timer(TimerId id) noexcept;

  // The node's own Rng; it survives restarts (the stream continues).
  Rng& rng() noexcept { return rng_; }

  // Adds a harness-defined record to the run's trace (see Trace::user).
  void trace(std::uint64_t tag, ByteSpan data) noexcept;

 private:
  friend class World;
  Context(World& world, NodeIndex self, Rng rng) : world_(world), self_(self), rng_(rng) {}

  World& world_;
  NodeIndex self_;
  Rng rng_;
};

// The code a simulated node runs. Callbacks run inside scheduler events, one at a time; they
// act only through the Context. All state of a Process is volatile: crash() destroys it.
class Process {
 public:
  virtual ~Process() = default;
  // Called once, right after the factory created this Process (first start or restart).
  virtual void on_start() {}
  // A message from node `from` arrived.
  virtual void on_message(NodeIndex from, const Bytes& payload) = 0;
  // A timer set with Context::set_timer fired.
  virtual void on_timer(std::uint64_t timer_id) { (void)timer_id; }
};

// Creates the Process of node `self`; called at every start. Must not return nullptr.
using ProcessFactory = std::function<std::unique_ptr<Process>(NodeIndex self, Context& context)>;

struct WorldConfig {
  // The number of nodes, 0..node_count-1. No default: the scenario decides (0 is invalid).
  std::size_t node_count = 0;
  // The seed of the whole run. Printed by harnesses so that a failing run can be replayed.
  std::uint64_t seed = 0;
  // The network between the nodes (defaults: a fault-free LAN, see LinkConfig).
  NetworkConfig network;

  // kInvalidArgument for zero nodes or an invalid network config.
  Status validate() const;
};

class World {
 public:
  // A world of down nodes at virtual time 0; call start() or start_all().
  // REQUIRES: config.validate() is ok; factory is not empty.
  World(WorldConfig config, ProcessFactory factory);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Starts a down node: a new Process from the factory, then its on_start(). Used for the
  // first start and for restarts after crash(). REQUIRES: !is_up(node).
  void start(NodeIndex node);
  void restart(NodeIndex node) { start(node); }
  // Starts every down node, in index order.
  void start_all();

  // Destroys the node's Process; its pending timers, queued items and the messages in flight
  // to it are dropped. Durable state, if any, is the harness's to keep outside the Process.
  // REQUIRES: is_up(node); not called from inside that node's own callbacks.
  void crash(NodeIndex node);

  // Freezes the node for `duration` of virtual time; pausing a paused node extends the pause
  // to whichever ends later. Arrivals and timer firings meanwhile are queued and delivered, in
  // the order they happened, when it resumes. REQUIRES: is_up(node); duration >= 0.
  void pause(NodeIndex node, Duration duration);

  // Sets the node's clock to local = offset + (1 + drift_ppm * 1e-6) * virtual time (see
  // DriftClock). Takes effect at once, so the local clock may jump; timers already set keep
  // their virtual times. Survives crashes (it models the device, not the process).
  // REQUIRES: -1'000'000 < drift_ppm < 1'000'000.
  void set_drift(NodeIndex node, std::int64_t drift_ppm, Duration offset);
  DriftClock drift(NodeIndex node) const;

  bool is_up(NodeIndex node) const;
  bool is_paused(NodeIndex node) const;
  // The node's Process, or nullptr while it is down. For checking invariants from outside.
  Process* process(NodeIndex node) const;
  // The node's local clock now (see set_drift).
  Instant local_now(NodeIndex node) const;

  // Adds a harness-defined record to the trace (see Trace::user).
  void trace(std::uint64_t tag, ByteSpan data) noexcept { trace_.user(now(), tag, data); }
  std::uint64_t trace_hash() const noexcept { return trace_.hash(); }
  const Trace& trace_log() const noexcept { return trace_; }

  Instant now() const noexcept { return scheduler_.now(); }
  void run_until(Instant limit) { scheduler_.run_until(limit); }
  void run_for(Duration duration) { scheduler_.run_for(duration); }

  std::size_t node_count() const noexcept { return nodes_.size(); }
  const WorldConfig& config() const noexcept { return config_; }
  Scheduler& scheduler() noexcept { return scheduler_; }
  Network& network() noexcept { return network_; }
  // The root Rng, after the Network and the nodes forked theirs from it: for the harness's
  // own choices (which node to crash, when), so that they too follow the seed.
  Rng& rng() noexcept { return rng_; }

 private:
  friend class Context;
  static constexpr NodeIndex kNoNode = UINT32_MAX;
  struct Queued;
  struct Node;

  Node& node_at(NodeIndex node) const;
  void on_arrival(NodeIndex from, NodeIndex to, const Bytes& payload);
  void fire_timer(NodeIndex node, std::uint32_t incarnation, std::uint64_t timer_id,
                  std::uint64_t serial);
  void resume(NodeIndex node);
  void deliver(Node& node, Queued& item);
  TimerId set_timer(NodeIndex node, Duration local_delay, std::uint64_t timer_id);
  void cancel_timer(NodeIndex node, TimerId id) noexcept;

  WorldConfig config_;
  ProcessFactory factory_;
  Scheduler scheduler_;
  Trace trace_;
  Rng rng_;
  Network network_;
  std::vector<std::unique_ptr<Node>> nodes_;  // stable addresses: processes hold Context&
  std::uint64_t next_timer_serial_ = 1;
  NodeIndex running_ = kNoNode;  // the node whose callback is running, if any
};

}  // namespace starling::sim
