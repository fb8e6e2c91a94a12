// DriftClock arithmetic in 128-bit integers: v * (1e6 + ppm) stays exact for any Instant.
#include "sim/drift_clock.hpp"

namespace starling::sim {

namespace {
__extension__ typedef __int128 Int128;  // GCC/Clang builtin, as in base/rng.cpp
constexpr std::int64_t kMillion = 1'000'000;
}  // namespace

Instant DriftClock::local(Instant virtual_time) const noexcept {
  const std::int64_t v = virtual_time.time_since_epoch().count();
  STARLING_ASSERT(v >= 0, "virtual time before zero");
  STARLING_ASSERT(drift_ppm > -kPpmLimit && drift_ppm < kPpmLimit, "drift out of range");
  const Int128 scaled = static_cast<Int128>(v) * (kMillion + drift_ppm) / kMillion;
  return Instant(offset + Duration(static_cast<std::int64_t>(scaled)));
}

Instant DriftClock::virtual_at(Instant local_time) const noexcept {
  STARLING_ASSERT(drift_ppm > -kPpmLimit && drift_ppm < kPpmLimit, "drift out of range");
  // floor(v * rate / 1e6) >= target  <=>  v * rate >= target * 1e6  <=>  v >= ceil(...).
  const std::int64_t target = (local_time.time_since_epoch() - offset).count();
  if (target <= 0) return Instant{};
  const Int128 rate = kMillion + drift_ppm;
  const Int128 v = (static_cast<Int128>(target) * kMillion + rate - 1) / rate;
  return Instant(Duration(static_cast<std::int64_t>(v)));
}

}  // namespace starling::sim
