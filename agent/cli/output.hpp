// Output conventions of the `starling` CLI: results on stdout (a table or text for people, one
// JSON document with --json), errors as one line on stderr, and the exit codes
//   0 success, 1 failure (bad input, failed verification, unreachable agent), 2 usage error.
// Single-threaded; used only by the CLI's command handlers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.hpp"

namespace starling::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Prints "starling: <status code>: <message>" to stderr and returns kExitFailure.
int report_failure(const Status& status);

// Prints "starling: <message>" to stderr and returns kExitUsage.
int report_usage(std::string_view message);

// Prints `document` as pretty JSON on stdout.
void print_json(const nlohmann::json& document);

// "2026-11-21T22:16:39Z" for a Unix time in seconds.
std::string format_utc(std::int64_t unix_s);

// The wall clock's Unix time in seconds (the CLI is a shell, not a protocol core).
std::int64_t now_unix_s();

}  // namespace starling::cli
