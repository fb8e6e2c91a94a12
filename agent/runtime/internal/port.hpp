// Parsing TCP port numbers in endpoint strings, shared by the control and metrics listeners.
// Private to starling::runtime. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace starling::runtime::internal {

// The port in `text` (decimal digits only, 0..65535), or nullopt.
inline std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

inline bool is_port(std::string_view text) { return parse_port(text).has_value(); }

}  // namespace starling::runtime::internal
