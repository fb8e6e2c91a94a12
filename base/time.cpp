// Duration parsing and formatting.
#include "base/time.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace starling {

Result<Duration> parse_duration(std::string_view text) {
  std::size_t unit_at = 0;
  while (unit_at < text.size() &&
         ((text[unit_at] >= '0' && text[unit_at] <= '9') || text[unit_at] == '.')) {
    ++unit_at;
  }
  const std::string_view number = text.substr(0, unit_at);
  const std::string_view unit = text.substr(unit_at);
  auto bad = [&](std::string why) {
    return error(StatusCode::kInvalidArgument,
                 "invalid duration '" + std::string(text) + "': " + why);
  };
  if (number.empty()) return bad("expected a number followed by a unit, e.g. 250ms or 10s");
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size()) return bad("not a number");
  double micros_per_unit = 0;
  if (unit == "us") micros_per_unit = 1;
  else if (unit == "ms") micros_per_unit = 1e3;
  else if (unit == "s") micros_per_unit = 1e6;
  else if (unit == "m") micros_per_unit = 60e6;
  else if (unit == "h") micros_per_unit = 3600e6;
  else return bad("unit must be one of us, ms, s, m, h");
  const double micros = value * micros_per_unit;
  if (!std::isfinite(micros) || micros > 9.0e18) return bad("out of range");
  return Duration(static_cast<std::int64_t>(std::llround(micros)));
}

std::string format_duration(Duration d) {
  const std::int64_t us = d.count();
  char buffer[48];
  if (us % 1000 != 0) {
    std::snprintf(buffer, sizeof buffer, "%lldus", static_cast<long long>(us));
  } else if (us % 1000000 != 0) {
    std::snprintf(buffer, sizeof buffer, "%lldms", static_cast<long long>(us / 1000));
  } else {
    std::snprintf(buffer, sizeof buffer, "%llds", static_cast<long long>(us / 1000000));
  }
  return buffer;
}

}  // namespace starling
