// doctest helpers for Status and Result<T>: StatusCode prints by name in failed assertions, and
// CHECK_CODE / REQUIRE_CODE compare the code of a Status or Result while reporting the full
// status (code and message) when they fail. Header-only; needs starling::base, which every
// suite links. No threading concerns.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "base/status.hpp"

namespace doctest {
template <>
struct StringMaker<starling::StatusCode> {
  static String convert(starling::StatusCode code) {
    return String(std::string(starling::status_code_name(code)).c_str());
  }
};
}  // namespace doctest

namespace starling::testing {

inline Status status_of(const Status& status) { return status; }
template <typename T>
Status status_of(const Result<T>& result) {
  return result.status();
}

}  // namespace starling::testing

// Checks that `expr` (a Status or a Result) carries `expected_code`; a failure prints the
// whole status, message included.
#define CHECK_CODE(expr, expected_code)                                       \
  do {                                                                        \
    const ::starling::Status check_code_status_ =                             \
        ::starling::testing::status_of(expr);                                 \
    INFO("status: ", check_code_status_.to_string());                         \
    CHECK(check_code_status_.code() == (expected_code));                      \
  } while (false)

#define REQUIRE_CODE(expr, expected_code)                                     \
  do {                                                                        \
    const ::starling::Status require_code_status_ =                           \
        ::starling::testing::status_of(expr);                                 \
    INFO("status: ", require_code_status_.to_string());                       \
    REQUIRE(require_code_status_.code() == (expected_code));                  \
  } while (false)

// Requires `expr` (a Status or a Result) to be ok, printing the error otherwise.
#define REQUIRE_OK(expr) REQUIRE_CODE(expr, ::starling::StatusCode::kOk)
#define CHECK_OK(expr) CHECK_CODE(expr, ::starling::StatusCode::kOk)
