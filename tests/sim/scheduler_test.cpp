// Tests for the Scheduler and its Callback: ordering by (time, insertion), cancellation
// (including heap compaction after many cancellations), run_until limits and the inline
// storage of small callables.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/rng.hpp"
#include "sim/scheduler.hpp"
#include "tests/common/test_support.hpp"

namespace starling::sim {
namespace {

Instant at_us(std::int64_t us) { return Instant(Duration(us)); }

TEST_CASE("a new scheduler is at time zero with nothing to run") {
  Scheduler scheduler;
  CHECK(scheduler.now() == Instant{});
  CHECK(scheduler.pending() == 0);
  CHECK_FALSE(scheduler.step());
  CHECK_FALSE(scheduler.next_event_time().has_value());
  CHECK(scheduler.events_processed() == 0);
}

TEST_CASE("events run in time order and ties run in scheduling order") {
  Scheduler scheduler;
  std::vector<std::string> order;
  auto note = [&order](std::string name) { return [&order, name] { order.push_back(name); }; };
  scheduler.schedule_at(at_us(30), note("c"));
  scheduler.schedule_at(at_us(10), note("a1"));
  scheduler.schedule_at(at_us(20), note("b"));
  scheduler.schedule_at(at_us(10), note("a2"));
  scheduler.schedule_at(at_us(10), note("a3"));
  CHECK(scheduler.pending() == 5);
  CHECK(scheduler.next_event_time() == at_us(10));
  CHECK(scheduler.run_all() == 5);
  CHECK(order == std::vector<std::string>{"a1", "a2", "a3", "b", "c"});
  CHECK(scheduler.now() == at_us(30));
  CHECK(scheduler.events_processed() == 5);
}

TEST_CASE("an event scheduled for the current time runs after those already due then") {
  Scheduler scheduler;
  std::vector<int> order;
  scheduler.schedule_at(at_us(5), [&] {
    order.push_back(1);
    scheduler.schedule_after(Duration(0), [&] { order.push_back(3); });
  });
  scheduler.schedule_at(at_us(5), [&] { order.push_back(2); });
  scheduler.run_all();
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("schedule_after is relative to the time of the running event") {
  Scheduler scheduler;
  Instant fired{};
  scheduler.schedule_at(at_us(100), [&] {
    scheduler.schedule_after(Duration(50), [&] { fired = scheduler.now(); });
  });
  scheduler.run_all();
  CHECK(fired == at_us(150));
}

TEST_CASE("a cancelled event does not run and its id goes stale") {
  Scheduler scheduler;
  int ran = 0;
  const EventId keep = scheduler.schedule_at(at_us(10), [&] { ran += 1; });
  const EventId drop = scheduler.schedule_at(at_us(10), [&] { ran += 100; });
  CHECK(scheduler.is_pending(drop));
  CHECK(scheduler.cancel(drop));
  CHECK_FALSE(scheduler.is_pending(drop));
  CHECK_FALSE(scheduler.cancel(drop));       // twice
  CHECK_FALSE(scheduler.cancel(EventId{}));  // no event
  CHECK(scheduler.pending() == 1);
  scheduler.run_all();
  CHECK(ran == 1);
  CHECK_FALSE(scheduler.cancel(keep));  // already ran
  CHECK(scheduler.events_processed() == 1);
}

TEST_CASE("a stale id does not cancel the event that reuses its slot") {
  Scheduler scheduler;
  int ran = 0;
  const EventId first = scheduler.schedule_at(at_us(1), [&] { ran += 1; });
  scheduler.run_all();
  const EventId second = scheduler.schedule_at(at_us(2), [&] { ran += 10; });
  CHECK(second.slot == first.slot);
  CHECK_FALSE(scheduler.cancel(first));
  scheduler.run_all();
  CHECK(ran == 11);
}

TEST_CASE("cancel destroys the captures at once") {
  Scheduler scheduler;
  auto token = std::make_shared<int>(7);
  const EventId id = scheduler.schedule_at(at_us(1), [token] { (void)token; });
  CHECK(token.use_count() == 2);
  scheduler.cancel(id);
  CHECK(token.use_count() == 1);
}

TEST_CASE("an event may cancel another event due at the same time") {
  Scheduler scheduler;
  int ran = 0;
  EventId victim;
  scheduler.schedule_at(at_us(3), [&] { scheduler.cancel(victim); });
  victim = scheduler.schedule_at(at_us(3), [&] { ++ran; });
  scheduler.run_all();
  CHECK(ran == 0);
}

TEST_CASE("run_until runs events due at the limit but not later and moves now to the limit") {
  Scheduler scheduler;
  std::vector<std::int64_t> times;
  for (std::int64_t t : {5, 10, 11, 20}) {
    scheduler.schedule_at(at_us(t),
                          [&] { times.push_back(scheduler.now().time_since_epoch().count()); });
  }
  scheduler.schedule_at(at_us(8), [&] {  // scheduled meanwhile, inside the window
    scheduler.schedule_at(at_us(9), [&] { times.push_back(9); });
  });
  scheduler.run_until(at_us(10));
  CHECK(times == std::vector<std::int64_t>{5, 9, 10});
  CHECK(scheduler.now() == at_us(10));
  scheduler.run_for(Duration(5));
  CHECK(scheduler.now() == at_us(15));
  CHECK(times.back() == 11);
  CHECK(scheduler.pending() == 1);
  scheduler.run_until(at_us(100));
  CHECK(scheduler.now() == at_us(100));
  CHECK(scheduler.pending() == 0);
}

TEST_CASE("after many random cancellations the survivors run in time then sequence order") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed);
  Scheduler scheduler;
  struct Planned {
    std::int64_t time_us;
    int index;
  };
  std::vector<Planned> survivors;
  std::vector<int> ran;
  std::vector<EventId> ids;
  constexpr int kEvents = 40'000;  // enough cancellations to trigger compaction
  for (int i = 0; i < kEvents; ++i) {
    const auto time_us = static_cast<std::int64_t>(rng.uniform(1'000));
    ids.push_back(scheduler.schedule_at(at_us(time_us), [&ran, i] { ran.push_back(i); }));
    survivors.push_back({time_us, i});
  }
  std::vector<bool> cancelled(kEvents, false);
  for (int i = 0; i < kEvents; ++i) {
    if (rng.chance(0.8))
      cancelled[static_cast<std::size_t>(i)] = scheduler.cancel(ids[static_cast<std::size_t>(i)]);
  }
  std::erase_if(survivors,
                [&](const Planned& p) { return cancelled[static_cast<std::size_t>(p.index)]; });
  std::stable_sort(survivors.begin(), survivors.end(),
                   [](const Planned& a, const Planned& b) { return a.time_us < b.time_us; });
  CHECK(scheduler.pending() == survivors.size());
  scheduler.run_all();
  REQUIRE(ran.size() == survivors.size());
  bool in_order = true;
  for (std::size_t i = 0; i < ran.size(); ++i) in_order = in_order && ran[i] == survivors[i].index;
  CHECK(in_order);
}

TEST_CASE("a long self-rescheduling run processes every event") {
  Scheduler scheduler;
  std::uint64_t left = 1'000'000;
  struct Tick {
    Scheduler* scheduler;
    std::uint64_t* left;
    std::int64_t period_us;
    void operator()() const {
      if (*left == 0) return;
      --*left;
      scheduler->schedule_after(Duration(period_us), *this);
    }
  };
  for (std::int64_t i = 0; i < 1'000; ++i)
    scheduler.schedule_at(at_us(i), Tick{&scheduler, &left, 1'000 + i});
  scheduler.run_all();
  CHECK(left == 0);
  CHECK(scheduler.events_processed() == 1'000'000 + 1'000);
}

TEST_CASE("Callback stores small callables inline and boxes large ones") {
  struct Small {
    void* a;
    std::uint64_t b;
    std::vector<std::uint8_t> payload;
    void operator()() {}
  };
  struct Large {
    char bytes[64];
    void operator()() {}
  };
  static_assert(Callback::stored_inline<Small>());
  static_assert(!Callback::stored_inline<Large>());
  int calls = 0;
  Callback small([&calls, payload = std::vector<std::uint8_t>(3)] {
    calls += static_cast<int>(payload.size());
  });
  Callback large([&calls, big = Large{}] {
    (void)big;
    calls += 100;
  });
  Callback moved = std::move(large);
  CHECK_FALSE(static_cast<bool>(large));  // NOLINT: testing the moved-from state
  small();
  moved();
  CHECK(calls == 103);
  auto owned = std::make_unique<int>(5);  // move-only captures are fine
  Callback move_only([owned = std::move(owned), &calls] { calls += *owned; });
  move_only();
  CHECK(calls == 108);
}

}  // namespace
}  // namespace starling::sim
