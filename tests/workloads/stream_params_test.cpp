// The `stream` kind's params (workloads/stream.hpp): defaults, every key, every bad value, the
// default seed and the stream fingerprint.
#include <doctest/doctest.h>

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "tests/common/status_doctest.hpp"
#include "workloads/stream.hpp"

using namespace starling;
using namespace starling::workloads;

namespace {

using Params = std::map<std::string, std::string>;

}  // namespace

TEST_CASE("stream params: defaults") {
  auto parsed = parse_stream_params("line-3.temps", {});
  REQUIRE_OK(parsed);
  CHECK(parsed->seed == default_stream_seed("line-3.temps"));
  CHECK(parsed->records == 20000);
  CHECK(parsed->rate_per_second == 500);
  CHECK(parsed->checkpoint_every == 100);
  CHECK(parsed->channels == 4);
  CHECK(parsed->dirty == 0.05);
  CHECK_OK(validate_stream_params(StreamParams{}));
  CHECK_OK(validate_stream_spec("line-3.temps", {}));
}

TEST_CASE("stream params: the default seed is FNV-1a of the workload name") {
  // Published FNV-1a 64 test vectors: the seed must never change between versions.
  CHECK(default_stream_seed("") == 0xcbf29ce484222325ULL);
  CHECK(default_stream_seed("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(default_stream_seed("foobar") == 0x85944171f73967e8ULL);
  CHECK(default_stream_seed("w1") != default_stream_seed("w2"));
}

TEST_CASE("stream params: every key") {
  auto parsed = parse_stream_params("w", {{"seed", "18446744073709551615"},
                                          {"records", "1000000000"},
                                          {"rate", "1000000"},
                                          {"checkpoint_every", "1"},
                                          {"channels", "16"},
                                          {"dirty", "1"}});
  REQUIRE_OK(parsed);
  CHECK(parsed->seed == UINT64_MAX);
  CHECK(parsed->records == kStreamRecordsMax);
  CHECK(parsed->rate_per_second == kStreamRateMax);
  CHECK(parsed->checkpoint_every == 1);
  CHECK(parsed->channels == 16);
  CHECK(parsed->dirty == 1.0);

  auto low = parse_stream_params("w", {{"seed", "0"}, {"records", "1"}, {"rate", "1"},
                                       {"channels", "1"}, {"dirty", "0"}});
  REQUIRE_OK(low);
  CHECK(low->seed == 0);
  CHECK(low->records == 1);
  CHECK(low->dirty == 0.0);
  auto fraction = parse_stream_params("w", {{"dirty", "5e-2"}});
  REQUIRE_OK(fraction);
  CHECK(fraction->dirty == 0.05);
  auto leading_dot = parse_stream_params("w", {{"dirty", ".25"}});
  REQUIRE_OK(leading_dot);
  CHECK(leading_dot->dirty == 0.25);
}

TEST_CASE("stream params: every bad value is refused naming its key") {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"seed", ""}, {"seed", "-1"}, {"seed", "18446744073709551616"}, {"seed", "0x10"},
      {"seed", " 1"}, {"records", "0"}, {"records", "1000000001"}, {"records", "+5"},
      {"records", "5 "}, {"records", "1e3"}, {"records", "abc"}, {"records", "2.5"},
      {"rate", "0"}, {"rate", "1000001"}, {"rate", "-500"}, {"checkpoint_every", "0"},
      {"checkpoint_every", "1000000001"}, {"channels", "0"}, {"channels", "17"},
      {"channels", "four"}, {"dirty", "-0.1"}, {"dirty", "1.5"}, {"dirty", "nan"},
      {"dirty", "inf"}, {"dirty", ""}, {"dirty", "0.5x"}, {"dirty", "+0.5"}, {"dirty", "1e400"},
  };
  for (const auto& [key, value] : bad) {
    CAPTURE(key);
    CAPTURE(value);
    auto parsed = parse_stream_params("w", {{key, value}});
    CHECK_CODE(parsed, StatusCode::kInvalidArgument);
    CHECK(parsed.status().message().find("param " + key) != std::string::npos);
    CHECK_CODE(validate_stream_spec("w", {{key, value}}), StatusCode::kInvalidArgument);
  }
}

TEST_CASE("stream params: unknown keys are refused") {
  auto parsed = parse_stream_params("w", {{"records", "10"}, {"speed", "3"}});
  CHECK_CODE(parsed, StatusCode::kInvalidArgument);
  CHECK(parsed.status().message().find("unknown param speed") != std::string::npos);
}

TEST_CASE("stream params: validate refuses every field out of range") {
  std::vector<StreamParams> bad(8);
  bad[0].records = 0;
  bad[1].records = kStreamRecordsMax + 1;
  bad[2].rate_per_second = 0;
  bad[3].checkpoint_every = 0;
  bad[4].channels = 0;
  bad[5].channels = kStreamChannelsMax + 1;
  bad[6].dirty = -0.01;
  bad[7].dirty = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t i = 0; i < bad.size(); ++i) {
    CAPTURE(i);
    CHECK_CODE(validate_stream_params(bad[i]), StatusCode::kInvalidArgument);
  }
}

TEST_CASE("stream params: the fingerprint covers exactly the stream's content") {
  const StreamParams base;
  auto with = [&](auto change) {
    StreamParams p = base;
    change(p);
    return stream_fingerprint(p);
  };
  const std::uint64_t f = stream_fingerprint(base);
  CHECK(with([](StreamParams& p) { p.seed = 1; }) != f);
  CHECK(with([](StreamParams& p) { p.records = 19999; }) != f);
  CHECK(with([](StreamParams& p) { p.channels = 3; }) != f);
  CHECK(with([](StreamParams& p) { p.dirty = 0.06; }) != f);
  // Pacing and checkpoint spacing do not change which records the stream holds.
  CHECK(with([](StreamParams& p) { p.rate_per_second = 7; }) == f);
  CHECK(with([](StreamParams& p) { p.checkpoint_every = 7; }) == f);
}
