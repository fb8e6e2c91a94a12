// Time as protocol cores see it. Cores never read a clock: the agent passes the monotonic
// time of its event loop, the simulator its virtual time. Both are an Instant on SwarmClock,
// a clock that has no now() on purpose, so that code cannot read it by accident.
// Ticks are the unit of Raft-style cores (one tick = one call to tick()).
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.hpp"

namespace starling {

using Duration = std::chrono::microseconds;

// A tag clock for Instants. Deliberately without now(): see the file comment.
struct SwarmClock {
  using duration = Duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<SwarmClock, Duration>;
  static constexpr bool is_steady = true;
};

using Instant = SwarmClock::time_point;

// A count of core ticks; a strong type so that ticks and milliseconds are not mixed up.
struct Ticks {
  std::int64_t count = 0;
  friend auto operator<=>(const Ticks&, const Ticks&) = default;
  Ticks& operator+=(Ticks other) noexcept { count += other.count; return *this; }
  friend Ticks operator+(Ticks a, Ticks b) noexcept { return Ticks{a.count + b.count}; }
  friend Ticks operator-(Ticks a, Ticks b) noexcept { return Ticks{a.count - b.count}; }
};

// Parses "250ms", "1.5s", "10m", "2h", "40us" into a Duration. A bare number is rejected:
// the unit is required, so that "--duration 600" cannot mean the wrong thing.
Result<Duration> parse_duration(std::string_view text);

// Formats a Duration in seconds, milliseconds or microseconds, the largest that keeps it exact:
// "600s", "1500ms", "40us" (minutes and hours are printed as seconds).
std::string format_duration(Duration d);

// Seconds as a double, for reports.
inline double to_seconds(Duration d) noexcept {
  return std::chrono::duration<double>(d).count();
}

}  // namespace starling
