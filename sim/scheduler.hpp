// Scheduler: the discrete-event core of the simulator. It owns virtual time (an Instant that
// starts at Instant{} and only moves forward) and a queue of events ordered by (time, insertion
// sequence number), so that events due at the same instant run in the order they were
// scheduled and a run is a pure function of its inputs. The queue is a 4-ary heap of small
// entries with the callables kept in a slot table beside it; cancellation is lazy (the slot is
// freed at once, its heap entry skipped when it surfaces, and the heap compacted when stale
// entries dominate). Single-threaded: every call, including those made from inside events,
// happens on the thread that runs the scheduler.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/time.hpp"
#include "sim/callback.hpp"

namespace starling::sim {

// Names one scheduled event, for cancel(). The default value names no event.
// Invariant: a sequence number is never reused, so a stale id never cancels another event.
struct EventId {
  std::uint64_t sequence = 0;
  std::uint32_t slot = 0;
  friend bool operator==(const EventId&, const EventId&) = default;
};

class Scheduler {
 public:
  Scheduler() = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // The current virtual time: the time of the event running now, or of the last one run, or
  // the limit of the last run_until(), whichever is latest.
  Instant now() const noexcept { return now_; }

  // Schedules `fn` to run at `at`. Events at equal times run in scheduling order.
  // REQUIRES: at >= now(); fn is not empty.
  EventId schedule_at(Instant at, Callback fn);

  // Schedules `fn` to run `delay` after now(). REQUIRES: delay >= 0.
  EventId schedule_after(Duration delay, Callback fn) {
    STARLING_ASSERT(delay.count() >= 0, "negative delay");
    return schedule_at(now_ + delay, std::move(fn));
  }

  // Cancels a pending event and destroys its callable now. A no-op for an event that already
  // ran, was cancelled, or for EventId{}. Returns whether a pending event was cancelled.
  bool cancel(EventId id) noexcept;

  // True while `id` names an event that has neither run nor been cancelled.
  bool is_pending(EventId id) const noexcept;

  // Runs the next pending event, advancing now() to its time. Returns false (and does
  // nothing) when no event is pending.
  bool step();

  // Runs every event due at or before `limit`, including those scheduled meanwhile, then sets
  // now() to `limit` if it is later. REQUIRES: limit >= now().
  void run_until(Instant limit);

  // run_until(now() + duration). REQUIRES: duration >= 0.
  void run_for(Duration duration) { run_until(now_ + duration); }

  // Runs events until none is pending or `max_events` have run; returns how many ran.
  std::uint64_t run_all(std::uint64_t max_events = UINT64_MAX);

  // The time of the next pending event, if any.
  std::optional<Instant> next_event_time();

  // Events scheduled and neither run nor cancelled.
  std::size_t pending() const noexcept { return live_; }

  // Events run since construction (cancelled ones are not counted).
  std::uint64_t events_processed() const noexcept { return processed_; }

 private:
  struct HeapEntry {
    std::int64_t time_us;
    std::uint64_t sequence;
    std::uint32_t slot;
  };
  struct Slot {
    Callback fn;
    std::uint64_t sequence = 0;  // 0 while the slot is free
  };

  bool is_live(const HeapEntry& entry) const noexcept {
    return slots_[entry.slot].sequence == entry.sequence;
  }
  void drop_stale_top() noexcept;
  void compact_if_stale() noexcept;
  void free_slot(std::uint32_t slot) noexcept;
  void heap_push(const HeapEntry& entry);
  void heap_pop() noexcept;

  Instant now_{};
  std::uint64_t next_sequence_ = 1;
  std::uint64_t processed_ = 0;
  std::size_t live_ = 0;
  std::size_t stale_ = 0;  // heap entries whose event was cancelled
  std::vector<HeapEntry> heap_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
};

}  // namespace starling::sim
