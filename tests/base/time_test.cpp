// Tests for parse_duration, format_duration, Ticks and to_seconds.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "base/rng.hpp"
#include "base/time.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"

namespace starling {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

Duration parsed(std::string_view text) {
  auto result = parse_duration(text);
  INFO("parsing '", std::string(text), "': ", result.status().to_string());
  REQUIRE(result.is_ok());
  return *result;
}

TEST_CASE("parse_duration understands every unit") {
  CHECK(parsed("40us") == microseconds(40));
  CHECK(parsed("250ms") == milliseconds(250));
  CHECK(parsed("10s") == seconds(10));
  CHECK(parsed("10m") == minutes(10));
  CHECK(parsed("2h") == hours(2));
  CHECK(parsed("0s") == Duration::zero());
  CHECK(parsed("0us") == Duration::zero());
}

TEST_CASE("parse_duration accepts fractions and rounds to microseconds") {
  CHECK(parsed("1.5s") == milliseconds(1500));
  CHECK(parsed("0.5ms") == microseconds(500));
  CHECK(parsed("0.25h") == minutes(15));
  CHECK(parsed("1.5us") == microseconds(2));  // rounds half away from zero
  CHECK(parsed("0.0000001s") == Duration::zero());
  CHECK(parsed("007s") == seconds(7));
}

TEST_CASE("parse_duration rejects a bare number") {
  for (const char* text : {"600", "0", "1.5", "250"}) {
    CAPTURE(text);
    auto result = parse_duration(text);
    CHECK_CODE(result, StatusCode::kInvalidArgument);
    CHECK(result.status().message().find(text) != std::string::npos);  // names the input
  }
}

TEST_CASE("parse_duration rejects unknown units and malformed numbers") {
  for (const char* text :
       {"10x", "10sec", "10 s", "10S", "10MS", "10ms ", " 10ms", "10d", "10ns", "10mss", "s",
        "ms", "", "-5s", "+5s", "1.2.3s", ".s", "1e3s", "1,5s", "0x10s", "infs", "nans"}) {
    CAPTURE(text);
    CHECK_CODE(parse_duration(text), StatusCode::kInvalidArgument);
  }
}

TEST_CASE("parse_duration rejects values out of range") {
  CHECK_CODE(parse_duration("99999999999h"), StatusCode::kInvalidArgument);
  CHECK_CODE(parse_duration(std::string(400, '9') + "s"), StatusCode::kInvalidArgument);
  CHECK(parsed("1000000h") == hours(1000000));
}

TEST_CASE("format_duration picks the largest exact unit of s or ms or us") {
  CHECK(format_duration(seconds(10)) == "10s");
  CHECK(format_duration(milliseconds(1500)) == "1500ms");
  CHECK(format_duration(microseconds(40)) == "40us");
  CHECK(format_duration(Duration::zero()) == "0s");
  CHECK(format_duration(seconds(1) + microseconds(1)) == "1000001us");
  CHECK(format_duration(milliseconds(250)) == "250ms");
  CHECK(format_duration(minutes(10)) == "600s");
  CHECK(format_duration(hours(2)) == "7200s");
}

TEST_CASE("format_duration output parses back to the same duration") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  for (int i = 0; i < 2000; ++i) {
    // Mix exact seconds, exact milliseconds and arbitrary microseconds.
    const std::int64_t base = rng.uniform_range(0, 10'000'000);
    const std::int64_t scale = std::int64_t{1} << (rng.uniform(3) * 10);  // 1, 1024, 2^20
    const Duration d(base * scale);
    const std::string text = format_duration(d);
    CAPTURE(text);
    CHECK(parsed(text) == d);
  }
}

TEST_CASE("Ticks add and subtract and compare") {
  Ticks a{3};
  const Ticks b{5};
  CHECK(a + b == Ticks{8});
  CHECK(b - a == Ticks{2});
  CHECK(a < b);
  a += b;
  CHECK(a == Ticks{8});
  CHECK(a > b);
  CHECK(Ticks{} == Ticks{0});
}

TEST_CASE("to_seconds converts microseconds") {
  CHECK(to_seconds(milliseconds(1500)) == doctest::Approx(1.5));
  CHECK(to_seconds(microseconds(1)) == doctest::Approx(1e-6));
  const Instant start{};
  const Instant later = start + seconds(2);
  CHECK(to_seconds(later - start) == doctest::Approx(2.0));
}

}  // namespace
}  // namespace starling
