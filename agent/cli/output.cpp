// Implementation of the CLI's output conventions.
#include "agent/cli/output.hpp"

#include <chrono>
#include <ctime>
#include <iostream>

namespace starling::cli {

int report_failure(const Status& status) {
  std::cerr << "starling: " << status.to_string() << "\n";
  return kExitFailure;
}

int report_usage(std::string_view message) {
  std::cerr << "starling: " << message << "\n";
  return kExitUsage;
}

void print_json(const nlohmann::json& document) { std::cout << document.dump(2) << "\n"; }

std::string format_utc(std::int64_t unix_s) {
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_s);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::int64_t now_unix_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace starling::cli
