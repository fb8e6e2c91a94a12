// The Scheduler's heap and slot table. The heap holds 24-byte entries (time, sequence, slot)
// so that sifting moves no callables; a slot holds the callable and the sequence number of the
// event that owns it, which is how a heap entry recognises that its event was cancelled.
#include "sim/scheduler.hpp"

#include <algorithm>
#include <limits>

namespace starling::sim {

namespace {

// Heap order: the entry that runs first, the earliest (time, sequence), is at the root.
struct RunsLater {
  template <typename Entry>
  bool operator()(const Entry& a, const Entry& b) const noexcept {
    if (a.time_us != b.time_us) return a.time_us > b.time_us;
    return a.sequence > b.sequence;
  }
};

// A 4-ary heap: half the depth of a binary one, and the four children of a node share one or
// two cache lines, which matters once the heap outgrows the cache (about 10^5 events).
constexpr std::size_t kArity = 4;

// Compaction threshold: below it, stale entries cost less than a rebuild.
constexpr std::size_t kCompactMinStale = 4096;

}  // namespace

EventId Scheduler::schedule_at(Instant at, Callback fn) {
  STARLING_ASSERT(at >= now_, "scheduling an event in the past");
  STARLING_ASSERT(static_cast<bool>(fn), "scheduling an empty callback");
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    STARLING_ASSERT(slots_.size() < std::numeric_limits<std::uint32_t>::max(),
                    "too many pending events");
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  const std::uint64_t sequence = next_sequence_++;
  slots_[slot].fn = std::move(fn);
  slots_[slot].sequence = sequence;
  heap_push(HeapEntry{at.time_since_epoch().count(), sequence, slot});
  ++live_;
  return EventId{sequence, slot};
}

bool Scheduler::is_pending(EventId id) const noexcept {
  return id.sequence != 0 && id.slot < slots_.size() && slots_[id.slot].sequence == id.sequence;
}

bool Scheduler::cancel(EventId id) noexcept {
  if (!is_pending(id)) return false;
  Callback doomed = std::move(slots_[id.slot].fn);
  free_slot(id.slot);
  --live_;
  ++stale_;
  compact_if_stale();
  return true;  // `doomed` dies here, after the tables are consistent again
}

bool Scheduler::step() {
  drop_stale_top();
  if (heap_.empty()) return false;
  const HeapEntry top = heap_.front();
  heap_pop();
  // Move the callable out first: it may schedule events, which can grow slots_.
  Callback fn = std::move(slots_[top.slot].fn);
  free_slot(top.slot);
  --live_;
  ++processed_;
  now_ = Instant(Duration(top.time_us));
  fn();
  return true;
}

void Scheduler::run_until(Instant limit) {
  STARLING_ASSERT(limit >= now_, "run_until() into the past");
  const std::int64_t limit_us = limit.time_since_epoch().count();
  for (;;) {
    drop_stale_top();
    if (heap_.empty() || heap_.front().time_us > limit_us) break;
    step();
  }
  if (now_ < limit) now_ = limit;
}

std::uint64_t Scheduler::run_all(std::uint64_t max_events) {
  std::uint64_t ran = 0;
  while (ran < max_events && step()) ++ran;
  return ran;
}

std::optional<Instant> Scheduler::next_event_time() {
  drop_stale_top();
  if (heap_.empty()) return std::nullopt;
  return Instant(Duration(heap_.front().time_us));
}

void Scheduler::drop_stale_top() noexcept {
  while (!heap_.empty() && !is_live(heap_.front())) {
    heap_pop();
    --stale_;
  }
}

void Scheduler::compact_if_stale() noexcept {
  if (stale_ < kCompactMinStale || stale_ * 2 < heap_.size()) return;
  std::vector<HeapEntry> live;
  live.reserve(heap_.size() - stale_);
  for (const HeapEntry& entry : heap_) {
    if (is_live(entry)) live.push_back(entry);
  }
  heap_.clear();
  for (const HeapEntry& entry : live) heap_push(entry);
  stale_ = 0;
}

void Scheduler::free_slot(std::uint32_t slot) noexcept {
  slots_[slot].sequence = 0;
  free_slots_.push_back(slot);
}

void Scheduler::heap_push(const HeapEntry& entry) {
  // Sift the hole up from the new leaf; parents move down into it.
  std::size_t hole = heap_.size();
  heap_.push_back(entry);
  while (hole > 0) {
    const std::size_t parent = (hole - 1) / kArity;
    if (!RunsLater{}(heap_[parent], entry)) break;
    heap_[hole] = heap_[parent];
    hole = parent;
  }
  heap_[hole] = entry;
}

void Scheduler::heap_pop() noexcept {
  // Move the last leaf into the root's hole, sifting it down past the earliest child.
  const HeapEntry last = heap_.back();
  heap_.pop_back();
  const std::size_t size = heap_.size();
  if (size == 0) return;
  std::size_t hole = 0;
  for (;;) {
    const std::size_t first = hole * kArity + 1;
    if (first >= size) break;
    const std::size_t end = std::min(first + kArity, size);
    std::size_t best = first;
    for (std::size_t child = first + 1; child < end; ++child) {
      if (RunsLater{}(heap_[best], heap_[child])) best = child;
    }
    if (!RunsLater{}(last, heap_[best])) break;
    heap_[hole] = heap_[best];
    hole = best;
  }
  heap_[hole] = last;
}

}  // namespace starling::sim
