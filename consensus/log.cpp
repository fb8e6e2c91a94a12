// The in-memory log: lookups, appends, truncation, compaction and batching.
#include "consensus/log.hpp"

#include <algorithm>

#include "base/assert.hpp"

namespace starling::consensus {

Log::Log(std::uint64_t index, std::uint64_t term) : offset_(index), offset_term_(term) {}

void Log::reset(std::uint64_t index, std::uint64_t term) {
  offset_ = index;
  offset_term_ = term;
  entries_.clear();
}

std::uint64_t Log::last_term() const noexcept {
  return entries_.empty() ? offset_term_ : entries_.back().term;
}

std::optional<std::uint64_t> Log::term(std::uint64_t index) const noexcept {
  if (index == offset_) return offset_term_;
  if (index < offset_ || index > last_index()) return std::nullopt;
  return entries_[index - offset_ - 1].term;
}

bool Log::matches(std::uint64_t index, std::uint64_t term) const noexcept {
  const auto found = this->term(index);
  return found.has_value() && *found == term;
}

const Entry& Log::at(std::uint64_t index) const {
  STARLING_ASSERT(index > offset_ && index <= last_index(), "Log::at() out of range");
  return entries_[index - offset_ - 1];
}

void Log::append(Entry entry) {
  STARLING_ASSERT(entry.index == last_index() + 1, "Log::append() leaves a gap");
  STARLING_ASSERT(entry.term >= last_term(), "Log::append() with a decreasing term");
  entries_.push_back(std::move(entry));
}

void Log::truncate_from(std::uint64_t index) {
  STARLING_ASSERT(index > offset_, "Log::truncate_from() into the compacted prefix");
  if (index > last_index()) return;
  entries_.resize(index - offset_ - 1);
}

void Log::compact_to(std::uint64_t index) {
  STARLING_ASSERT(index >= offset_ && index <= last_index(), "Log::compact_to() out of range");
  if (index == offset_) return;
  offset_term_ = at(index).term;
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<long>(index - offset_));
  offset_ = index;
}

std::vector<Entry> Log::slice(std::uint64_t lo, std::uint64_t hi, std::size_t max_entries,
                              std::size_t max_bytes) const {
  STARLING_ASSERT(lo >= first_index() && lo <= hi && hi <= last_index() + 1,
                  "Log::slice() out of range");
  std::vector<Entry> out;
  std::size_t bytes = 0;
  for (std::uint64_t i = lo; i < hi && out.size() < max_entries; ++i) {
    const Entry& entry = at(i);
    if (!out.empty() && bytes + entry_size(entry) > max_bytes) break;
    bytes += entry_size(entry);
    out.push_back(entry);
  }
  return out;
}

std::uint64_t Log::find_conflict_by_term(std::uint64_t index, std::uint64_t term) const noexcept {
  index = std::min(index, last_index());
  while (index > offset_ && entries_[index - offset_ - 1].term > term) --index;
  return index;
}

}  // namespace starling::consensus
