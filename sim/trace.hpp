// Trace: a running 64-bit fingerprint of a simulation run, to show that two runs with the same
// seed did the same thing and to find the first event where two runs diverge. Each record is a
// kind, the virtual time, and three 64-bit fields, folded into the hash with a multiply-mix of
// our own (portable: no std::hash, whose values differ between standard libraries); payloads
// enter as hash_bytes() of their exact bytes. Not a cryptographic hash. A value type with no
// threading concerns; one Trace per run, fed by the Network, the World and the harness.
//
// What goes in (kind: fields a, b, c), all at the virtual time of the record:
//   kDeliver: from | to << 32, hash_bytes(payload), payload size   (network hands a message over)
//   kDrop:    from | to << 32, DropReason, payload size            (network drops a message)
//   kStart:   node, incarnation                                     (process created, on_start)
//   kCrash:   node, incarnation                                     (process destroyed)
//   kPause:   node, pause length in us;   kResume: node, queued items delivered at resume
//   kDrift:   node, drift in ppm, clock offset in us
//   kTimer:   node, timer_id                                        (on_timer runs)
//   kUser:    tag, hash_bytes(data), data size                      (World::trace / Context::trace)
#pragma once

#include <cstdint>

#include "base/bytes.hpp"
#include "base/time.hpp"

namespace starling::sim {

enum class TraceKind : std::uint64_t {
  kDeliver = 1,
  kDrop = 2,
  kStart = 3,
  kCrash = 4,
  kPause = 5,
  kResume = 6,
  kDrift = 7,
  kTimer = 8,
  kUser = 9,
};

// A 64-bit hash of `bytes`, the same on every platform (bytes are read little-endian).
std::uint64_t hash_bytes(ByteSpan bytes) noexcept;

class Trace {
 public:
  // The hash of a run that recorded nothing.
  static constexpr std::uint64_t kInitialHash = 0x5374726c696e6721ULL;  // "Strling!"

  // Folds one record into the running hash.
  void record(TraceKind kind, Instant at, std::uint64_t a, std::uint64_t b = 0,
              std::uint64_t c = 0) noexcept;

  // A harness-defined state transition: `tag` names it, `data` is its exact bytes.
  void user(Instant at, std::uint64_t tag, ByteSpan data) noexcept {
    record(TraceKind::kUser, at, tag, hash_bytes(data), data.size());
  }

  std::uint64_t hash() const noexcept { return hash_; }

  // Records folded in so far; with the hash, it locates the first divergence of two runs
  // (bisect on the record count, printing the hash after each record).
  std::uint64_t records() const noexcept { return records_; }

 private:
  std::uint64_t hash_ = kInitialHash;
  std::uint64_t records_ = 0;
};

}  // namespace starling::sim
