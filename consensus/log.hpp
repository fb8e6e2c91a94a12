// The in-memory Raft log of one node: the entries after an offset (the last entry compacted
// away, whose index and term are still known), with the lookups replication needs. The core
// owns one; persistence is the shell's job (Ready::entries). Value type; single-threaded.
// Invariant: entries are contiguous from offset() + 1 and their terms never decrease.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "consensus/types.hpp"

namespace starling::consensus {

class Log {
 public:
  // An empty log whose last compacted entry is (index, term); (0, 0) for a new node.
  explicit Log(std::uint64_t index = 0, std::uint64_t term = 0);

  // Drops every entry and restarts after (index, term): a snapshot replaced the log.
  void reset(std::uint64_t index, std::uint64_t term);

  std::uint64_t offset() const noexcept { return offset_; }
  std::uint64_t first_index() const noexcept { return offset_ + 1; }
  std::uint64_t last_index() const noexcept { return offset_ + entries_.size(); }
  std::uint64_t last_term() const noexcept;
  bool empty() const noexcept { return entries_.empty(); }

  // The term of the entry at `index`: known for offset() <= index <= last_index(), nullopt
  // below (compacted) or above (absent).
  std::optional<std::uint64_t> term(std::uint64_t index) const noexcept;
  // Whether the entry at `index` has term `term` (index 0, term 0 always matches).
  bool matches(std::uint64_t index, std::uint64_t term) const noexcept;
  // REQUIRES: first_index() <= index <= last_index().
  const Entry& at(std::uint64_t index) const;

  // Appends one entry. REQUIRES: entry.index == last_index() + 1 and its term is not below
  // last_term().
  void append(Entry entry);
  // Removes the entries at `index` and after. REQUIRES: index > offset().
  void truncate_from(std::uint64_t index);
  // Drops the entries at and below `index`. REQUIRES: offset() <= index <= last_index().
  void compact_to(std::uint64_t index);

  // Entries [lo, hi) up to `max_entries` and `max_bytes` (entry_size()), always at least one
  // entry when lo < hi. REQUIRES: first_index() <= lo <= hi <= last_index() + 1.
  std::vector<Entry> slice(std::uint64_t lo, std::uint64_t hi, std::size_t max_entries,
                           std::size_t max_bytes) const;

  // The largest index <= `index` whose term is <= `term`, stopping at offset() (fast
  // backtracking, C13): no entry between the result and `index` can match a log whose entry at
  // `index` has term `term` or lower. An index above last_index() is clamped to it; one below
  // offset() is returned unchanged (the terms there are no longer known).
  std::uint64_t find_conflict_by_term(std::uint64_t index, std::uint64_t term) const noexcept;

 private:
  std::uint64_t offset_;
  std::uint64_t offset_term_;
  std::vector<Entry> entries_;
};

}  // namespace starling::consensus
