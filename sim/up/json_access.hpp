// Typed reads of JSON that may be missing or of another type (agents' replies, report files):
// each returns nullopt or a default instead of throwing, so that a surprising document is
// ignored where it is read. Header-only; pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace starling::up {

// j[key] when j is an object holding it, else a null document (a static one: no allocation).
inline const nlohmann::json& member(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

inline std::optional<double> number_of(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = member(j, key);
  if (!v.is_number()) return std::nullopt;
  return v.get<double>();
}

inline std::optional<std::uint64_t> count_of(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = member(j, key);
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(v.get<std::int64_t>());
  }
  return std::nullopt;
}

inline std::string text_of(const nlohmann::json& j, const char* key,
                           const std::string& fallback = "") {
  const nlohmann::json& v = member(j, key);
  return v.is_string() ? v.get<std::string>() : fallback;
}

// A string field holding a number ("0.8123" in member metadata).
inline std::optional<double> number_in_text(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = member(j, key);
  if (!v.is_string()) return std::nullopt;
  try {
    std::size_t used = 0;
    const std::string s = v.get<std::string>();
    const double d = std::stod(s, &used);
    if (used != s.size()) return std::nullopt;
    return d;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace starling::up
