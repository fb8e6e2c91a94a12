// Tests for the World: a ping-pong scenario end to end, crash and restart (volatile state,
// timers and in-flight messages lost), pause (arrivals and timers queued and delivered in
// order at resume), clock drift (local clocks and timer firing times, as tables), and the
// trace hash as a fingerprint of a seeded run.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sim/drift_clock.hpp"
#include "sim/world.hpp"
#include "tests/common/test_support.hpp"

namespace starling::sim {
namespace {

Instant at_us(std::int64_t us) { return Instant(Duration(us)); }
Instant at_ms(std::int64_t ms) { return Instant(std::chrono::milliseconds(ms)); }

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string text_of(const Bytes& b) { return std::string(b.begin(), b.end()); }

// "a | b | c", so that a failed comparison prints the events.
std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : " | ") + item;
  return out;
}

// What every test process reports, kept outside the processes so that it survives crashes.
struct Log {
  std::vector<std::string> events;  // "node:event" in the order they happened
  int starts = 0;
  int destroyed = 0;
};

NetworkConfig fixed_latency(std::int64_t us) {
  NetworkConfig config;
  config.link.latency_base_us = us;
  config.link.latency_jitter_us = 0;
  return config;
}

// Node 0 pings node 1 `rounds` times; node 1 answers each ping with a pong.
class PingPong final : public Process {
 public:
  PingPong(Context& context, Log& log, int rounds)
      : context_(context), log_(log), rounds_(rounds) {}
  void on_start() override {
    ++log_.starts;
    if (context_.self() == 0) context_.send(1, text("ping 1"));
  }
  void on_message(NodeIndex from, const Bytes& payload) override {
    const std::string body = text_of(payload);
    log_.events.push_back(std::to_string(context_.self()) + ":" + body);
    const int n = std::stoi(body.substr(5));
    if (body.starts_with("ping")) {
      context_.send(from, text("pong " + std::to_string(n)));
    } else if (n < rounds_) {
      context_.send(from, text("ping " + std::to_string(n + 1)));
    }
  }

 private:
  Context& context_;
  Log& log_;
  int rounds_;
};

TEST_CASE("ping-pong: two processes exchange messages end to end") {
  Log log;
  WorldConfig config{2, testing::test_seed(), fixed_latency(1'000)};
  World world(config, [&log](NodeIndex, Context& context) {
    return std::make_unique<PingPong>(context, log, 3);
  });
  CHECK_FALSE(world.is_up(0));
  world.start_all();
  CHECK(world.is_up(0));
  CHECK(world.is_up(1));
  world.run_until(at_ms(100));
  CHECK(log.starts == 2);
  CHECK(joined(log.events) == "1:ping 1 | 0:pong 1 | 1:ping 2 | 0:pong 2 | 1:ping 3 | 0:pong 3");
  CHECK(world.network().stats().delivered == 6);
  CHECK(world.scheduler().events_processed() == 6);
  CHECK(world.now() == at_ms(100));
}

// Records messages and timers; sets the timers listed at start.
class Recorder final : public Process {
 public:
  Recorder(Context& context, Log& log, std::vector<std::pair<Duration, std::uint64_t>> timers)
      : context_(context), log_(log), timers_(std::move(timers)) {}
  ~Recorder() override { ++log_.destroyed; }
  void on_start() override {
    ++log_.starts;
    for (const auto& [delay, id] : timers_) ids_.push_back(context_.set_timer(delay, id));
  }
  void on_message(NodeIndex from, const Bytes& payload) override {
    note("msg " + std::to_string(from) + " " + text_of(payload));
    if (text_of(payload) == "cancel") context_.cancel_timer(ids_.at(0));
  }
  void on_timer(std::uint64_t timer_id) override { note("timer " + std::to_string(timer_id)); }

 private:
  void note(const std::string& what) {
    log_.events.push_back(std::to_string(context_.self()) + "@" +
                          std::to_string(context_.local_now().time_since_epoch().count()) + " " +
                          what);
  }
  Context& context_;
  Log& log_;
  std::vector<std::pair<Duration, std::uint64_t>> timers_;
  std::vector<TimerId> ids_;
};

// A world whose node 1 records everything and sets the given timers; node 0 only sends.
struct RecorderWorld {
  explicit RecorderWorld(std::vector<std::pair<Duration, std::uint64_t>> timers,
                         std::int64_t latency_us = 1'000)
      : world(WorldConfig{2, testing::test_seed(), fixed_latency(latency_us)},
              [this, timers](NodeIndex self, Context& context) {
                return std::make_unique<Recorder>(
                    context, log,
                    self == 1 ? timers : std::vector<std::pair<Duration, std::uint64_t>>{});
              }) {}
  // Sends from node 0 at virtual time `at`.
  void send_at(Instant at, const std::string& body) {
    world.scheduler().schedule_at(at, [this, body] { world.network().send(0, 1, text(body)); });
  }
  Log log;
  World world;
};

TEST_CASE("crash destroys the process and drops its timers and the messages in flight to it") {
  RecorderWorld r({{std::chrono::milliseconds(10), 7}});
  r.world.start_all();
  r.send_at(at_us(0), "early");  // in flight across the crash: lost
  r.world.scheduler().schedule_at(at_us(500), [&] { r.world.crash(1); });
  r.world.scheduler().schedule_at(at_us(800), [&] { r.world.restart(1); });
  r.send_at(at_us(900), "late");  // sent after the restart: delivered
  r.world.run_until(at_ms(50));
  CHECK(r.log.destroyed == 1);
  CHECK(r.log.starts == 3);
  // The first incarnation's timer (due at 10 ms) is gone; the second one's fires at 10.8 ms.
  CHECK(joined(r.log.events) == "1@1900 msg 0 late | 1@10800 timer 7");
  CHECK(r.world.network().stats().dropped_node_down == 1);
  CHECK(r.world.is_up(1));
  CHECK(r.world.process(1) != nullptr);
  r.world.crash(1);
  CHECK(r.world.process(1) == nullptr);
  CHECK_FALSE(r.world.is_up(1));
}

TEST_CASE("a paused node queues arrivals and timers and delivers them in order at resume") {
  RecorderWorld r({{std::chrono::milliseconds(3), 1}, {std::chrono::milliseconds(6), 2}});
  r.world.start_all();
  r.world.scheduler().schedule_at(at_ms(1),
                                  [&] { r.world.pause(1, std::chrono::milliseconds(9)); });
  r.send_at(at_ms(1), "a");       // arrives at 2 ms
  r.send_at(at_ms(4), "b");       // arrives at 5 ms
  r.send_at(at_ms(7), "c");       // arrives at 8 ms
  r.send_at(at_ms(10), "after");  // arrives at 11 ms, after the resume at 10 ms
  r.world.run_until(at_ms(5));
  CHECK(r.world.is_paused(1));
  CHECK(r.log.events.empty());
  r.world.run_until(at_ms(20));
  CHECK_FALSE(r.world.is_paused(1));
  CHECK(joined(r.log.events) ==
        "1@10000 msg 0 a | 1@10000 timer 1 | 1@10000 msg 0 b | 1@10000 timer 2 | 1@10000 msg 0 c | "
        "1@11000 msg 0 after");
}

TEST_CASE("pausing a paused node extends the pause to the later end") {
  RecorderWorld r({{std::chrono::milliseconds(3), 1}});
  r.world.start_all();
  r.world.pause(1, std::chrono::milliseconds(5));
  r.world.scheduler().schedule_at(at_ms(2),
                                  [&] { r.world.pause(1, std::chrono::milliseconds(1)); });
  r.world.scheduler().schedule_at(at_ms(4),
                                  [&] { r.world.pause(1, std::chrono::milliseconds(4)); });
  r.world.run_until(at_ms(7));
  CHECK(r.world.is_paused(1));
  r.world.run_until(at_ms(8));
  CHECK_FALSE(r.world.is_paused(1));
  CHECK(joined(r.log.events) == "1@8000 timer 1");
}

TEST_CASE("a timer cancelled by an earlier item of the same resume does not fire") {
  RecorderWorld r({{std::chrono::milliseconds(5), 1}});
  r.world.start_all();
  r.world.pause(1, std::chrono::milliseconds(10));
  r.send_at(at_ms(1), "cancel");  // queued before the timer fires at 5 ms
  r.world.run_until(at_ms(20));
  CHECK(joined(r.log.events) == "1@10000 msg 0 cancel");
}

TEST_CASE("a crash while paused discards the queue") {
  RecorderWorld r({{std::chrono::milliseconds(2), 1}});
  r.world.start_all();
  r.world.pause(1, std::chrono::milliseconds(10));
  r.send_at(at_ms(1), "lost");
  r.world.scheduler().schedule_at(at_ms(5), [&] { r.world.crash(1); });
  r.world.run_until(at_ms(20));
  CHECK(r.log.events.empty());
  CHECK_FALSE(r.world.is_paused(1));
}

TEST_CASE("DriftClock maps virtual time to local time and back") {
  struct Row {
    std::int64_t ppm;
    std::int64_t offset_us;
    std::int64_t virtual_us;
    std::int64_t local_us;
  };
  const Row rows[] = {
      {0, 0, 1'234, 1'234},
      {0, 500, 1'234, 1'734},
      {100, 0, 1'000'000, 1'000'100},  // 100 ppm fast: +100 us per second
      {-100, 0, 1'000'000, 999'900},   // 100 ppm slow
      {100, 0, 9'999, 9'999},          // 0.9999 us of drift rounds down
      {100, 0, 10'000, 10'001},
      {-250, -1'000, 2'000'000, 1'998'500},    // a clock behind and slow
      {500'000, 0, 600'000'000, 900'000'000},  // absurd drifts still compute exactly
  };
  for (const Row& row : rows) {
    INFO("ppm " << row.ppm << " offset " << row.offset_us << " virtual " << row.virtual_us);
    const DriftClock clock{row.ppm, Duration(row.offset_us)};
    CHECK(clock.local(at_us(row.virtual_us)).time_since_epoch().count() == row.local_us);
    // virtual_at() gives the earliest virtual time whose local time reaches local_us.
    const Instant v = clock.virtual_at(at_us(row.local_us));
    CHECK(clock.local(v) >= at_us(row.local_us));
    if (v > Instant{}) CHECK(clock.local(v - Duration(1)) < at_us(row.local_us));
  }
}

TEST_CASE("drift makes local timers fire at the transformed virtual times") {
  struct Row {
    std::int64_t ppm;
    std::int64_t offset_us;
    std::int64_t delay_us;
    std::int64_t expected_virtual_us;
  };
  const Row rows[] = {
      {0, 0, 1'000'000, 1'000'000},
      {0, 12'345, 1'000'000, 1'000'000},  // an offset does not change durations
      {100, 0, 1'000'000, 999'901},       // a fast clock fires early: 1e6 / 1.0001, rounded up
      {-100, 0, 1'000'000, 1'000'101},    // a slow clock fires late: 1e6 / 0.9999
      {1'000, 0, 5'000'000, 4'995'005},
      {-20'000, 0, 100'000, 102'041},
      {100, 0, 0, 0},  // zero delay: now
  };
  for (const Row& row : rows) {
    INFO("ppm " << row.ppm << " offset " << row.offset_us << " delay " << row.delay_us);
    std::vector<Instant> fired;
    struct Timed final : Process {
      Timed(Context& c, std::vector<Instant>& out, World*& w, Duration d)
          : context(c), fired(out), world(w), delay(d) {}
      void on_start() override { context.set_timer(delay, 1); }
      void on_message(NodeIndex, const Bytes&) override {}
      void on_timer(std::uint64_t) override { fired.push_back(world->now()); }
      Context& context;
      std::vector<Instant>& fired;
      World*& world;
      Duration delay;
    };
    World* self = nullptr;
    World world(WorldConfig{1, testing::test_seed(), NetworkConfig{}}, [&](NodeIndex, Context& c) {
      return std::make_unique<Timed>(c, fired, self, Duration(row.delay_us));
    });
    self = &world;
    world.set_drift(0, row.ppm, Duration(row.offset_us));
    world.start(0);
    world.run_until(at_us(10'000'000));
    REQUIRE(fired.size() == 1);
    CHECK(fired[0] == at_us(row.expected_virtual_us));
    const DriftClock clock = world.drift(0);
    CHECK(clock.local(fired[0]) - clock.local(Instant{}) >= Duration(row.delay_us));
  }
}

// Gossips random numbers to random peers on a timer: a run that exercises every source of
// randomness (network and per-node Rngs) and most of the trace record kinds.
class Gossip final : public Process {
 public:
  explicit Gossip(Context& context) : context_(context) {}
  void on_start() override { context_.set_timer(Duration(context_.rng().uniform(5'000)), 0); }
  void on_message(NodeIndex from, const Bytes& payload) override {
    sum_ += payload.at(0) + from;
    context_.trace(42, payload);
  }
  void on_timer(std::uint64_t) override {
    const auto to = static_cast<NodeIndex>(context_.rng().uniform(context_.node_count()));
    context_.send(to, Bytes{static_cast<std::uint8_t>(context_.rng().uniform(256))});
    context_.set_timer(std::chrono::milliseconds(10), 0);
  }

 private:
  Context& context_;
  std::uint64_t sum_ = 0;
};

std::uint64_t gossip_run(std::uint64_t seed) {
  NetworkConfig network;
  network.link.loss_probability = 0.05;
  network.link.duplicate_probability = 0.05;
  network.link.reorder_probability = 0.05;
  World world(WorldConfig{20, seed, network},
              [](NodeIndex, Context& c) { return std::make_unique<Gossip>(c); });
  world.set_drift(3, 150, Duration(777));
  world.start_all();
  world.run_until(at_ms(200));
  world.crash(5);
  world.pause(6, std::chrono::milliseconds(50));
  world.network().partition({{0, 1, 2, 3, 4}});
  world.run_until(at_ms(400));
  world.restart(5);
  world.network().heal();
  world.run_until(at_ms(600));
  CHECK(world.network().stats().delivered > 500);
  return world.trace_hash();
}

TEST_CASE("the trace hash is the same for the same seed and differs for another seed") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  const std::uint64_t first = gossip_run(seed);
  CHECK(first == gossip_run(seed));
  CHECK(first != gossip_run(seed + 1));
  CHECK(first != Trace::kInitialHash);
}

TEST_CASE("the trace records harness transitions and lifecycle changes") {
  auto run = [](bool extra_trace, bool extra_pause) {
    Log log;
    World world(WorldConfig{2, 1, NetworkConfig{}}, [&log](NodeIndex, Context& c) {
      return std::make_unique<Recorder>(c, log, std::vector<std::pair<Duration, std::uint64_t>>{});
    });
    world.start_all();
    if (extra_trace) world.trace(1, as_bytes("term 2"));
    if (extra_pause) world.pause(0, Duration(0));
    world.run_for(std::chrono::milliseconds(1));
    return world.trace_hash();
  };
  CHECK(run(false, false) == run(false, false));
  CHECK(run(true, false) != run(false, false));
  CHECK(run(false, true) != run(false, false));
}

}  // namespace
}  // namespace starling::sim
