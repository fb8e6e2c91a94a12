// Tests for Status, Result<T>, status_code_name and the STARLING_RETURN_IF_ERROR /
// STARLING_ASSIGN_OR_RETURN macros.
#include <doctest/doctest.h>

#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "base/status.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling {
namespace {

TEST_CASE("a default Status is ok") {
  const Status status;
  CHECK(status.is_ok());
  CHECK(static_cast<bool>(status));
  CHECK(status.code() == StatusCode::kOk);
  CHECK(status.message().empty());
  CHECK(status.to_string() == "ok");
  CHECK(Status::ok() == status);
}

TEST_CASE("every status code has its stable lower_snake_case name") {
  const std::pair<StatusCode, std::string_view> expected[] = {
      {StatusCode::kOk, "ok"},
      {StatusCode::kInvalidArgument, "invalid_argument"},
      {StatusCode::kNotFound, "not_found"},
      {StatusCode::kAlreadyExists, "already_exists"},
      {StatusCode::kPermissionDenied, "permission_denied"},
      {StatusCode::kCorrupt, "corrupt"},
      {StatusCode::kTooLarge, "too_large"},
      {StatusCode::kBadSignature, "bad_signature"},
      {StatusCode::kWrongFleet, "wrong_fleet"},
      {StatusCode::kExpired, "expired"},
      {StatusCode::kRevoked, "revoked"},
      {StatusCode::kReplay, "replay"},
      {StatusCode::kStale, "stale"},
      {StatusCode::kUnavailable, "unavailable"},
      {StatusCode::kIoError, "io_error"},
      {StatusCode::kInternal, "internal"},
  };
  std::set<std::string_view> names;
  for (const auto& [code, name] : expected) {
    CAPTURE(name);
    CHECK(status_code_name(code) == name);
    names.insert(status_code_name(code));
  }
  CHECK(names.size() == std::size(expected));  // no two codes share a name
  // The table above covers the codes 0..kInternal without gaps.
  CHECK(static_cast<int>(StatusCode::kInternal) + 1 == static_cast<int>(std::size(expected)));
  CHECK(status_code_name(static_cast<StatusCode>(999)) == "unknown");
}

TEST_CASE("an error Status carries its code and message") {
  const Status status = error(StatusCode::kBadSignature, "certificate signature does not verify");
  CHECK_FALSE(status.is_ok());
  CHECK_FALSE(static_cast<bool>(status));
  CHECK(status.code() == StatusCode::kBadSignature);
  CHECK(status.message() == "certificate signature does not verify");
  CHECK(status.to_string() == "bad_signature: certificate signature does not verify");
  CHECK(Status(StatusCode::kStale, "").to_string() == "stale");
}

TEST_CASE("Status equality compares code and message") {
  CHECK(error(StatusCode::kCorrupt, "x") == error(StatusCode::kCorrupt, "x"));
  CHECK_FALSE(error(StatusCode::kCorrupt, "x") == error(StatusCode::kCorrupt, "y"));
  CHECK_FALSE(error(StatusCode::kCorrupt, "x") == error(StatusCode::kTooLarge, "x"));
  CHECK_FALSE(error(StatusCode::kCorrupt, "") == Status::ok());
}

TEST_CASE("with_context prefixes the message and keeps the code") {
  const Status status = error(StatusCode::kCorrupt, "bad magic");
  const Status wrapped = status.with_context("/etc/starling/device.cert");
  CHECK(wrapped.code() == StatusCode::kCorrupt);
  CHECK(wrapped.message() == "/etc/starling/device.cert: bad magic");
  CHECK(wrapped.to_string() == "corrupt: /etc/starling/device.cert: bad magic");
  CHECK(status.message() == "bad magic");  // the original is untouched
  CHECK(wrapped.with_context("outer").message() == "outer: /etc/starling/device.cert: bad magic");

  const Status ok = Status::ok().with_context("ignored");
  CHECK(ok.is_ok());
  CHECK(ok.message().empty());
}

TEST_CASE("Result holds a value or an error") {
  Result<std::string> value = std::string("hello");
  REQUIRE(value.is_ok());
  CHECK(static_cast<bool>(value));
  CHECK(*value == "hello");
  CHECK(value->size() == 5);
  CHECK(value.status().is_ok());
  value.value() += "!";
  CHECK(value.value() == "hello!");
  const std::string moved = std::move(value).value();
  CHECK(moved == "hello!");

  const Result<std::string> failed = error(StatusCode::kNotFound, "no such key");
  CHECK_FALSE(failed.is_ok());
  CHECK_FALSE(static_cast<bool>(failed));
  CHECK(failed.status() == error(StatusCode::kNotFound, "no such key"));
}

TEST_CASE("Result holds move-only values") {
  Result<std::unique_ptr<int>> result = std::make_unique<int>(7);
  REQUIRE(result.is_ok());
  std::unique_ptr<int> owned = std::move(result).value();
  REQUIRE(owned != nullptr);
  CHECK(*owned == 7);
}

// Helpers for the macro tests. `calls` counts evaluations, to show that each macro evaluates
// its expression exactly once and that nothing after a failure runs.
Result<int> parse_positive(int x, int& calls) {
  ++calls;
  if (x <= 0) return error(StatusCode::kInvalidArgument, "not positive: " + std::to_string(x));
  return x;
}

Status require_positive(int x, int& calls) {
  ++calls;
  if (x <= 0) return error(StatusCode::kInvalidArgument, "not positive: " + std::to_string(x));
  return Status::ok();
}

Status both_positive(int a, int b, int& calls) {
  STARLING_RETURN_IF_ERROR(require_positive(a, calls));
  STARLING_RETURN_IF_ERROR(require_positive(b, calls));
  return Status::ok();
}

Result<int> sum_of_positives(int a, int b, int& calls) {
  STARLING_ASSIGN_OR_RETURN(int first, parse_positive(a, calls));
  STARLING_ASSIGN_OR_RETURN(const int second, parse_positive(b, calls));
  return first + second;
}

Result<int> assign_to_existing(int a, int& calls) {
  int out = -1;
  STARLING_ASSIGN_OR_RETURN(out, parse_positive(a, calls));
  return out * 10;
}

Result<std::unique_ptr<int>> make_owned(int x) {
  if (x < 0) return error(StatusCode::kInvalidArgument, "negative");
  return std::make_unique<int>(x);
}

Result<int> unwrap_owned(int x) {
  STARLING_ASSIGN_OR_RETURN(std::unique_ptr<int> owned, make_owned(x));
  return *owned + 1;
}

TEST_CASE("STARLING_RETURN_IF_ERROR returns the first error and stops") {
  int calls = 0;
  CHECK(both_positive(1, 2, calls).is_ok());
  CHECK(calls == 2);

  calls = 0;
  const Status first_bad = both_positive(-1, 2, calls);
  CHECK(first_bad == error(StatusCode::kInvalidArgument, "not positive: -1"));
  CHECK(calls == 1);  // the second check never ran

  calls = 0;
  const Status second_bad = both_positive(1, 0, calls);
  CHECK(second_bad == error(StatusCode::kInvalidArgument, "not positive: 0"));
  CHECK(calls == 2);
}

TEST_CASE("STARLING_ASSIGN_OR_RETURN assigns the value or returns the status") {
  int calls = 0;
  auto sum = sum_of_positives(3, 4, calls);
  REQUIRE_OK(sum);
  CHECK(*sum == 7);
  CHECK(calls == 2);

  calls = 0;
  auto first_bad = sum_of_positives(-3, 4, calls);
  CHECK(first_bad.status() == error(StatusCode::kInvalidArgument, "not positive: -3"));
  CHECK(calls == 1);

  calls = 0;
  auto second_bad = sum_of_positives(3, -4, calls);
  CHECK(second_bad.status() == error(StatusCode::kInvalidArgument, "not positive: -4"));
  CHECK(calls == 2);

  calls = 0;
  auto existing = assign_to_existing(5, calls);
  REQUIRE_OK(existing);
  CHECK(*existing == 50);
  CHECK_CODE(assign_to_existing(0, calls), StatusCode::kInvalidArgument);

  auto owned = unwrap_owned(41);
  REQUIRE_OK(owned);
  CHECK(*owned == 42);
  CHECK_CODE(unwrap_owned(-1), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace starling
