// DriftClock: the affine map between virtual time and a simulated node's local clock,
// local = offset + (1 + drift_ppm * 1e-6) * virtual, computed exactly in integers (rounded
// down to whole microseconds) so that it is the same on every platform. A value type; no
// threading concerns.
#pragma once

#include <cstdint>

#include "base/assert.hpp"
#include "base/time.hpp"

namespace starling::sim {

struct DriftClock {
  // Parts per million the clock runs fast (positive) or slow (negative).
  // Invariant: -1'000'000 < drift_ppm < 1'000'000, so local time moves forward.
  std::int64_t drift_ppm = 0;
  // Local time at virtual time zero.
  Duration offset{0};

  static constexpr std::int64_t kPpmLimit = 1'000'000;

  // The local time at virtual time `virtual_time`: offset + floor(v * (1e6 + ppm) / 1e6).
  // REQUIRES: virtual_time >= Instant{}.
  Instant local(Instant virtual_time) const noexcept;

  // The earliest virtual time, not before Instant{}, at which local() reaches `local_time`.
  Instant virtual_at(Instant local_time) const noexcept;
};

}  // namespace starling::sim
