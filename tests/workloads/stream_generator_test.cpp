// The `stream` generator, validation and outputs (workloads/stream.hpp): random access equals a
// sequential pass, sequence numbers strictly increase with gaps at the configured rate, dirty
// records of every kind at the configured fraction, each dirty kind's verdict, and outputs
// that are byte-identical from run to run (pinned by a golden checksum).
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "base/rng.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"
#include "workloads/stream.hpp"

using namespace starling;
using namespace starling::workloads;

namespace {

// Bitwise equality of readings, so that NaN equals NaN.
bool same_reading(const std::optional<double>& a, const std::optional<double>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return std::memcmp(&*a, &*b, sizeof(double)) == 0;
}

bool same_record(const SensorRecord& a, const SensorRecord& b) {
  if (a.index != b.index || a.seq != b.seq || a.timestamp_ms != b.timestamp_ms ||
      a.readings.size() != b.readings.size()) {
    return false;
  }
  for (std::size_t c = 0; c < a.readings.size(); ++c) {
    if (!same_reading(a.readings[c], b.readings[c])) return false;
  }
  return true;
}

StreamParams params_of(std::uint64_t seed, std::uint64_t records, double dirty,
                       std::uint32_t channels = 4) {
  StreamParams p;
  p.seed = seed;
  p.records = records;
  p.dirty = dirty;
  p.channels = channels;
  return p;
}

SensorRecord clean_record(std::uint64_t seq) {
  SensorRecord r;
  r.seq = seq;
  r.timestamp_ms = 1'700'000'000'000;
  r.readings = {20.0, 21.5, 22.25};
  return r;
}

struct Tally {
  std::array<std::uint64_t, kBadReasonCount> bad{};
  std::uint64_t ok = 0;
  std::uint64_t gaps = 0;
  std::uint64_t skipped = 0;
  std::uint64_t anomalies = 0;
};

Tally tally(const StreamParams& params) {
  Tally t;
  std::optional<std::uint64_t> previous;
  for (std::uint64_t i = 0; i < params.records; ++i) {
    const SensorRecord r = generate(params, i);
    const Verdict v = validate_record(r, previous);
    if (v.ok) {
      ++t.ok;
      if (summarize(r).anomaly) ++t.anomalies;
    } else {
      ++t.bad[static_cast<std::size_t>(v.reason)];
    }
    if (v.skipped_seqs > 0) ++t.gaps;
    t.skipped += v.skipped_seqs;
    previous = r.seq;
  }
  return t;
}

}  // namespace

TEST_CASE("stream generator: random access equals a sequential pass") {
  const std::uint64_t seed = testing::test_seed();
  CAPTURE(seed);
  Rng rng(seed);
  for (double dirty : {0.0, 0.05, 0.5, 1.0}) {
    CAPTURE(dirty);
    const StreamParams params = params_of(rng.next_u64(), 3000, dirty, 1 + rng.uniform(16));
    std::vector<SensorRecord> pass;
    for (std::uint64_t i = 0; i < params.records; ++i) pass.push_back(generate(params, i));
    std::vector<std::uint64_t> order(params.records);
    for (std::uint64_t i = 0; i < order.size(); ++i) order[i] = i;
    rng.shuffle(order.begin(), order.end());
    for (std::uint64_t i : order) {
      CAPTURE(i);
      REQUIRE(same_record(generate(params, i), pass[i]));
      REQUIRE(stream_seq(params, i) == pass[i].seq);
      REQUIRE(pass[i].index == i);
      REQUIRE(pass[i].readings.size() == params.channels);
    }
  }
}

TEST_CASE("stream generator: sequence numbers strictly increase and timestamps follow") {
  const std::uint64_t seed = testing::test_seed();
  CAPTURE(seed);
  Rng rng(seed);
  for (double dirty : {0.0, 0.01, 0.05, 0.3, 1.0}) {
    CAPTURE(dirty);
    const StreamParams params = params_of(rng.next_u64(), 20000, dirty);
    std::optional<std::int64_t> last_time;
    for (std::uint64_t i = 0; i < params.records; ++i) {
      const SensorRecord r = generate(params, i);
      if (i > 0) REQUIRE(r.seq > stream_seq(params, i - 1));
      if (dirty == 0.0) REQUIRE(r.seq == i);  // a clean stream has no gaps
      if (r.timestamp_ms) {
        if (last_time) REQUIRE(*r.timestamp_ms > *last_time);
        last_time = r.timestamp_ms;
      }
    }
  }
}

TEST_CASE("stream generator: dirty records of every kind and gaps at the configured rates") {
  const std::uint64_t base_seed = testing::test_seed();
  for (std::uint64_t k = 0; k < 4; ++k) {
    const std::uint64_t seed = base_seed + k;
    CAPTURE(seed);
    const StreamParams params = params_of(seed, 20000, 0.05);
    const Tally t = tally(params);
    const std::uint64_t bad = params.records - t.ok;
    CHECK(bad >= 800);  // 5% of 20000 is 1000
    CHECK(bad <= 1200);
    // Each of the four generated kinds is about a quarter of the dirty records.
    for (std::size_t reason = 0; reason < 4; ++reason) {
      CAPTURE(reason);
      CHECK(t.bad[reason] >= 150);
      CHECK(t.bad[reason] <= 350);
    }
    CHECK(t.bad[static_cast<std::size_t>(BadReason::kSeqNotIncreasing)] == 0);
    // About dirty / 4 skipped numbers per record (250 here), in gaps of varying length.
    CHECK(t.skipped >= 200);
    CHECK(t.skipped <= 300);
    CHECK(t.gaps >= 40);
    CHECK(t.gaps < t.skipped);
    CHECK(t.anomalies >= 120);  // about 1% of the ok records
    CHECK(t.anomalies <= 260);
  }
  const Tally clean = tally(params_of(base_seed, 5000, 0.0));
  CHECK(clean.ok == 5000);
  CHECK(clean.skipped == 0);
  const Tally dirty = tally(params_of(base_seed, 5000, 1.0));
  CHECK(dirty.ok == 0);
}

TEST_CASE("stream generator: clean readings are plausible exact thousandths") {
  const std::uint64_t seed = testing::test_seed();
  CAPTURE(seed);
  const StreamParams params = params_of(seed, 5000, 0.0, 16);
  for (std::uint64_t i = 0; i < params.records; ++i) {
    const SensorRecord r = generate(params, i);
    REQUIRE(r.timestamp_ms.has_value());
    for (const auto& reading : r.readings) {
      REQUIRE(reading.has_value());
      REQUIRE(*reading >= 14.5);
      REQUIRE(*reading <= 120.0);
      const double milli = std::round(*reading * 1000.0);
      REQUIRE(*reading == milli / 1000.0);
    }
  }
}

TEST_CASE("stream generator: outputs are pinned by a golden checksum") {
  // The stream is part of every running workload's identity: a new owner on a newer version
  // must produce the same rows as the old one. A change here breaks resumes and ledgers.
  const StreamParams params = params_of(42, 2000, 0.2, 3);
  std::string all;
  for (std::uint64_t i = 0; i < params.records; ++i) {
    all += format_ledger_line(expected_output(params, i));
  }
  CHECK(crc32(all) == 1868999468u);
  CHECK(format_ledger_line(expected_output(params, 0)) ==
        "0\tok\tmean=29.656 max=40.299 anomaly=0\td6bb93a0\n");
}

TEST_CASE("stream validation: each dirty kind") {
  SensorRecord r = clean_record(10);
  Verdict v = validate_record(r, std::nullopt);
  CHECK(v.ok);
  CHECK(v.skipped_seqs == 0);

  auto reason_of = [](const SensorRecord& record) {
    const Verdict verdict = validate_record(record, 9);
    CHECK_FALSE(verdict.ok);
    return verdict.reason;
  };
  r = clean_record(10);
  r.readings[1].reset();
  CHECK(reason_of(r) == BadReason::kNullReading);
  r = clean_record(10);
  r.readings.clear();
  CHECK(reason_of(r) == BadReason::kNullReading);
  for (double value : {std::numeric_limits<double>::quiet_NaN(),
                       std::numeric_limits<double>::infinity(),
                       -std::numeric_limits<double>::infinity()}) {
    r = clean_record(10);
    r.readings[2] = value;
    CHECK(reason_of(r) == BadReason::kNonFinite);
  }
  for (double value : {kAbsurdReading, -kAbsurdReading, 150.001, -50.001, 1e308}) {
    CAPTURE(value);
    r = clean_record(10);
    r.readings[0] = value;
    CHECK(reason_of(r) == BadReason::kAbsurdValue);
  }
  r = clean_record(10);
  r.readings[0] = kPlausibleMax;
  r.readings[1] = kPlausibleMin;
  CHECK(validate_record(r, 9).ok);
  r = clean_record(10);
  r.timestamp_ms.reset();
  CHECK(reason_of(r) == BadReason::kMissingTimestamp);
  r = clean_record(9);
  CHECK(reason_of(r) == BadReason::kSeqNotIncreasing);
  r = clean_record(3);
  CHECK(reason_of(r) == BadReason::kSeqNotIncreasing);
}

TEST_CASE("stream validation: a gap is counted and is not a bad record") {
  const Verdict v = validate_record(clean_record(14), 10);
  CHECK(v.ok);
  CHECK(v.skipped_seqs == 3);
  SensorRecord bad = clean_record(20);
  bad.timestamp_ms.reset();
  const Verdict b = validate_record(bad, 14);
  CHECK_FALSE(b.ok);
  CHECK(b.skipped_seqs == 5);
  CHECK(validate_record(clean_record(UINT64_MAX), 0).skipped_seqs == UINT64_MAX - 1);
}

TEST_CASE("stream validation: the first failure in check order is the reason") {
  SensorRecord r = clean_record(5);
  r.timestamp_ms.reset();
  r.readings[0] = kAbsurdReading;
  r.readings[1].reset();
  CHECK(validate_record(r, std::nullopt).reason == BadReason::kAbsurdValue);
  CHECK(validate_record(r, 5).reason == BadReason::kSeqNotIncreasing);
}

TEST_CASE("stream output: fixed-precision summaries and reasons") {
  const SensorRecord r = clean_record(7);
  LedgerRow row = stream_output(r, validate_record(r, std::nullopt));
  CHECK(row.seq == 7);
  CHECK(row.ok);
  CHECK(row.result == "mean=21.250 max=22.250 anomaly=0");

  SensorRecord negative = clean_record(8);
  negative.readings = {-0.001, -0.002};  // mean -0.0015 rounds away from zero
  CHECK(stream_output(negative, validate_record(negative, 7)).result ==
        "mean=-0.002 max=-0.001 anomaly=0");
  SensorRecord hot = clean_record(9);
  hot.readings = {kAnomalyThreshold, 20.0};
  CHECK(stream_output(hot, validate_record(hot, 8)).result == "mean=50.000 max=80.000 anomaly=1");
  hot.readings = {79.999};
  CHECK(stream_output(hot, validate_record(hot, 8)).result == "mean=79.999 max=79.999 anomaly=0");

  SensorRecord bad = clean_record(10);
  bad.readings[0].reset();
  row = stream_output(bad, validate_record(bad, 9));
  CHECK_FALSE(row.ok);
  CHECK(row.result == "null_reading");
  CHECK_OK(validate_row(row));
}

TEST_CASE("stream output: every bad reason has a name") {
  for (std::size_t i = 0; i < kBadReasonCount; ++i) {
    const std::string_view name = bad_reason_name(static_cast<BadReason>(i));
    CHECK(name != "unknown");
    CHECK_OK(validate_row(LedgerRow{1, false, std::string(name)}));
  }
}
