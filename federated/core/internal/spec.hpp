// Internal to federated/core: strict number parsing and shortest round-trip formatting for the
// "name[:param[:param]]" specifications of aggregators and codecs. Pure functions; thread-safe.
#pragma once

#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace starling::federated::internal {

// Splits "a:b:c" at every ':' ("a" -> {"a"}; "a:" -> {"a", ""}).
inline std::vector<std::string_view> split_spec(std::string_view spec) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = spec.find(':', start);
    if (colon == std::string_view::npos) {
      parts.push_back(spec.substr(start));
      return parts;
    }
    parts.push_back(spec.substr(start, colon - start));
    start = colon + 1;
  }
}

// A finite decimal number filling all of `text` (no sign other than '-', no spaces, no hex).
inline std::optional<double> parse_decimal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double value = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value,
                                         std::chars_format::general);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// A non-negative decimal integer that fits an int, filling all of `text`.
inline std::optional<int> parse_count(std::string_view text) {
  if (text.empty() || text.front() == '-' || text.front() == '+') return std::nullopt;
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The shortest decimal that parses back to exactly `value`.
inline std::string format_decimal(double value) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return "nan";
  return std::string(buffer, end);
}

}  // namespace starling::federated::internal
