// World: node lifecycle (start, crash, pause and resume), the routing of network arrivals and
// timer firings to processes (or to the pause queue), and the per-node Context.
#include "sim/world.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace starling::sim {

namespace {

// Marks `node` as the one whose callback runs, for the duration of a scope; nests.
class RunningScope {
 public:
  RunningScope(NodeIndex& running, NodeIndex node) : running_(running), saved_(running) {
    running_ = node;
  }
  ~RunningScope() { running_ = saved_; }
  RunningScope(const RunningScope&) = delete;
  RunningScope& operator=(const RunningScope&) = delete;

 private:
  NodeIndex& running_;
  NodeIndex saved_;
};

}  // namespace

// An arrival or timer firing that happened while the node was paused.
struct World::Queued {
  bool is_timer = false;
  bool cancelled = false;  // a timer cancelled by an earlier item of the same resume
  NodeIndex from = 0;
  std::uint64_t timer_id = 0;
  std::uint64_t serial = 0;
  Bytes payload;
};

struct World::Node {
  Node(World& world, NodeIndex self, Rng rng) : context(world, self, rng) {}
  Context context;
  std::unique_ptr<Process> process;
  bool up = false;
  bool paused = false;
  std::uint32_t incarnation = 0;  // bumped by every crash; stale timers carry an older one
  Instant paused_until{};
  EventId resume_event;
  DriftClock clock;
  std::deque<Queued> queue;
};

Status WorldConfig::validate() const {
  if (node_count == 0 || node_count > std::numeric_limits<NodeIndex>::max() - 1) {
    return error(StatusCode::kInvalidArgument, "node_count must be within [1, 2^32 - 2]");
  }
  return network.validate();
}

World::World(WorldConfig config, ProcessFactory factory)
    : config_(std::move(config)),
      factory_(std::move(factory)),
      rng_(config_.seed),
      network_(scheduler_, trace_, std::max<std::size_t>(config_.node_count, 1), config_.network,
               rng_.fork()) {
  const Status status = config_.validate();
  STARLING_ASSERT(status.is_ok(), status.message().c_str());
  STARLING_ASSERT(static_cast<bool>(factory_), "World needs a process factory");
  nodes_.reserve(config_.node_count);
  for (std::size_t i = 0; i < config_.node_count; ++i) {
    const auto index = static_cast<NodeIndex>(i);
    nodes_.push_back(std::make_unique<Node>(*this, index, rng_.fork()));
    network_.set_node_up(index, false);
  }
  network_.set_delivery_handler([this](NodeIndex from, NodeIndex to, const Bytes& payload) {
    on_arrival(from, to, payload);
  });
}

World::~World() = default;

World::Node& World::node_at(NodeIndex node) const {
  STARLING_ASSERT(node < nodes_.size(), "node index out of range");
  return *nodes_[node];
}

void World::start(NodeIndex node) {
  Node& n = node_at(node);
  STARLING_ASSERT(!n.up, "start() of a node that is up");
  n.up = true;
  network_.set_node_up(node, true);
  trace_.record(TraceKind::kStart, now(), node, n.incarnation);
  n.process = factory_(node, n.context);
  STARLING_ASSERT(n.process != nullptr, "the process factory returned nullptr");
  RunningScope scope(running_, node);
  n.process->on_start();
}

void World::start_all() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]->up) start(static_cast<NodeIndex>(i));
  }
}

void World::crash(NodeIndex node) {
  Node& n = node_at(node);
  STARLING_ASSERT(n.up, "crash() of a node that is down");
  STARLING_ASSERT(running_ != node, "a node cannot crash itself from its own callback");
  trace_.record(TraceKind::kCrash, now(), node, n.incarnation);
  n.up = false;
  n.paused = false;
  scheduler_.cancel(n.resume_event);
  n.queue.clear();
  ++n.incarnation;
  network_.set_node_up(node, false);
  // Destroyed last, with the node already down: a destructor that sends or sets a timer
  // fails an assertion instead of acting from beyond the grave.
  std::unique_ptr<Process> doomed = std::move(n.process);
  doomed.reset();
}

void World::pause(NodeIndex node, Duration duration) {
  Node& n = node_at(node);
  STARLING_ASSERT(n.up, "pause() of a node that is down");
  STARLING_ASSERT(duration.count() >= 0, "negative pause");
  trace_.record(TraceKind::kPause, now(), node, static_cast<std::uint64_t>(duration.count()));
  const Instant until = now() + duration;
  if (n.paused && until <= n.paused_until) return;
  scheduler_.cancel(n.resume_event);
  n.paused = true;
  n.paused_until = until;
  n.resume_event = scheduler_.schedule_at(until, [this, node] { resume(node); });
}

void World::resume(NodeIndex node) {
  Node& n = node_at(node);
  n.paused = false;
  n.resume_event = EventId{};
  trace_.record(TraceKind::kResume, now(), node, n.queue.size());
  const std::uint32_t incarnation = n.incarnation;
  // A callback may pause the node again (or, through the harness, crash it): stop then.
  while (!n.queue.empty() && n.up && !n.paused && n.incarnation == incarnation) {
    Queued item = std::move(n.queue.front());
    n.queue.pop_front();
    if (!item.cancelled) deliver(n, item);
  }
}

void World::on_arrival(NodeIndex from, NodeIndex to, const Bytes& payload) {
  Node& n = node_at(to);
  STARLING_ASSERT(n.up, "the network delivered to a down node");
  Queued item{false, false, from, 0, 0, {}};
  if (n.paused) {
    item.payload = payload;
    n.queue.push_back(std::move(item));
    return;
  }
  RunningScope scope(running_, to);
  n.process->on_message(from, payload);
}

void World::fire_timer(NodeIndex node, std::uint32_t incarnation, std::uint64_t timer_id,
                       std::uint64_t serial) {
  Node& n = node_at(node);
  if (!n.up || n.incarnation != incarnation) return;  // set by a process that crashed since
  Queued item{true, false, 0, timer_id, serial, {}};
  if (n.paused) {
    n.queue.push_back(std::move(item));
    return;
  }
  deliver(n, item);
}

void World::deliver(Node& n, Queued& item) {
  const NodeIndex node = n.context.self();
  RunningScope scope(running_, node);
  if (item.is_timer) {
    trace_.record(TraceKind::kTimer, now(), node, item.timer_id);
    n.process->on_timer(item.timer_id);
  } else {
    n.process->on_message(item.from, item.payload);
  }
}

TimerId World::set_timer(NodeIndex node, Duration local_delay, std::uint64_t timer_id) {
  Node& n = node_at(node);
  STARLING_ASSERT(n.up, "set_timer() on a node that is down");
  STARLING_ASSERT(local_delay.count() >= 0, "negative timer delay");
  const Instant target_local = n.clock.local(now()) + local_delay;
  const Instant at = std::max(now(), n.clock.virtual_at(target_local));
  const std::uint64_t serial = next_timer_serial_++;
  const std::uint32_t incarnation = n.incarnation;
  const EventId event = scheduler_.schedule_at(at, [this, node, incarnation, timer_id, serial] {
    fire_timer(node, incarnation, timer_id, serial);
  });
  return TimerId{event, serial};
}

void World::cancel_timer(NodeIndex node, TimerId id) noexcept {
  if (id.serial == 0) return;
  if (scheduler_.cancel(id.event)) return;
  // It may have fired during a pause and wait in the queue of the resume that is running.
  for (Queued& item : nodes_[node]->queue) {
    if (item.is_timer && item.serial == id.serial) item.cancelled = true;
  }
}

void World::set_drift(NodeIndex node, std::int64_t drift_ppm, Duration offset) {
  STARLING_ASSERT(drift_ppm > -DriftClock::kPpmLimit && drift_ppm < DriftClock::kPpmLimit,
                  "drift_ppm out of range");
  Node& n = node_at(node);
  n.clock = DriftClock{drift_ppm, offset};
  trace_.record(TraceKind::kDrift, now(), node, static_cast<std::uint64_t>(drift_ppm),
                static_cast<std::uint64_t>(offset.count()));
}

DriftClock World::drift(NodeIndex node) const { return node_at(node).clock; }
bool World::is_up(NodeIndex node) const { return node_at(node).up; }
bool World::is_paused(NodeIndex node) const { return node_at(node).paused; }
Process* World::process(NodeIndex node) const { return node_at(node).process.get(); }
Instant World::local_now(NodeIndex node) const { return node_at(node).clock.local(now()); }

std::size_t Context::node_count() const noexcept { return world_.node_count(); }
Instant Context::local_now() const noexcept { return world_.local_now(self_); }

void Context::send(NodeIndex to, Bytes payload) {
  STARLING_ASSERT(world_.is_up(self_), "send() from a node that is down");
  world_.network_.send(self_, to, std::move(payload));
}

TimerId Context::set_timer(Duration local_delay, std::uint64_t timer_id) {
  return world_.set_timer(self_, local_delay, timer_id);
}

void Context::cancel_timer(TimerId id) noexcept { world_.cancel_timer(self_, id); }

void Context::trace(std::uint64_t tag, ByteSpan data) noexcept { world_.trace(tag, data); }

}  // namespace starling::sim
