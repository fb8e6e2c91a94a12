// The `stream` kind: parameters, the random-access generator, validation and outputs.
#include "workloads/stream.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "base/assert.hpp"
#include "base/rng.hpp"

namespace starling::workloads {

namespace {

// --- Parameters.

constexpr std::string_view kKnownParams = "seed, records, rate, checkpoint_every, channels, dirty";

Status bad_param(std::string_view workload, std::string_view key, std::string_view value,
                 std::string_view expected) {
  return error(StatusCode::kInvalidArgument,
               "workload " + std::string(workload) + ": param " + std::string(key) + ": expected " +
                   std::string(expected) + ", got \"" + std::string(value) + "\"");
}

// A plain decimal integer in [low, high]: digits only, the whole value.
std::optional<std::uint64_t> parse_integer(std::string_view text, std::uint64_t low,
                                           std::uint64_t high) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < low || value > high) return std::nullopt;
  return value;
}

std::optional<double> parse_fraction(std::string_view text) {
  if (text.empty() || !((text.front() >= '0' && text.front() <= '9') || text.front() == '.')) {
    return std::nullopt;
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (!(value >= 0.0 && value <= 1.0)) return std::nullopt;  // NaN fails too
  return value;
}

// Applies one key to `out`; kInvalidArgument naming it when unknown or out of range.
Status apply_param(std::string_view workload, const std::string& key, const std::string& value,
                   StreamParams& out) {
  auto integer = [&](std::uint64_t low, std::uint64_t high, std::uint64_t& field) -> Status {
    auto parsed = parse_integer(value, low, high);
    if (!parsed) {
      return bad_param(workload, key, value,
                       "an integer in [" + std::to_string(low) + ", " + std::to_string(high) + "]");
    }
    field = *parsed;
    return Status::ok();
  };
  std::uint64_t wide = 0;
  if (key == "seed") return integer(0, UINT64_MAX, out.seed);
  if (key == "records") return integer(1, kStreamRecordsMax, out.records);
  if (key == "checkpoint_every") return integer(1, kStreamRecordsMax, out.checkpoint_every);
  if (key == "rate") {
    STARLING_RETURN_IF_ERROR(integer(1, kStreamRateMax, wide));
    out.rate_per_second = static_cast<std::uint32_t>(wide);
    return Status::ok();
  }
  if (key == "channels") {
    STARLING_RETURN_IF_ERROR(integer(1, kStreamChannelsMax, wide));
    out.channels = static_cast<std::uint32_t>(wide);
    return Status::ok();
  }
  if (key == "dirty") {
    auto parsed = parse_fraction(value);
    if (!parsed) return bad_param(workload, key, value, "a fraction in [0, 1]");
    out.dirty = *parsed;
    return Status::ok();
  }
  return error(StatusCode::kInvalidArgument, "workload " + std::string(workload) +
                                                 ": unknown param " + key + " (known: " +
                                                 std::string(kKnownParams) + ")");
}

// --- Hashing: every random choice is a pure function of (seed, tag, n).

enum : std::uint64_t {
  kTagGapJitter = 1,
  kTagGapOffset = 2,
  kTagRecord = 3,
  kTagChannel = 4,
  kTagClock = 5,
};

constexpr std::uint64_t mix64(std::uint64_t z) noexcept {  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr std::uint64_t stream_hash(std::uint64_t seed, std::uint64_t tag,
                                    std::uint64_t n) noexcept {
  return mix64(mix64(seed + tag * 0x9e3779b97f4a7c15ULL) ^ (n * 0xd1b54a32d192ed03ULL));
}

// --- Sequence numbers (see stream_seq() in the header).

constexpr std::uint64_t kGapBlockRecords = 256;
constexpr int kSkipFractionBits = 16;

// Mean skipped numbers per block, 64 * dirty (a quarter of the dirty rate per record), in
// 1/65536ths: exact integer arithmetic from here on, so C(b) is monotonic.
std::uint64_t skips_per_block_fixed(const StreamParams& params) noexcept {
  return static_cast<std::uint64_t>(std::llround(params.dirty * 64.0 * 65536.0));
}

// C(b): numbers skipped before block b.
std::uint64_t skipped_before_block(const StreamParams& params, std::uint64_t skips_fixed,
                                   std::uint64_t block) noexcept {
  const std::uint64_t base = (block * skips_fixed) >> kSkipFractionBits;
  if (block == 0) return base;
  const std::uint64_t jitter_max = skips_fixed >> kSkipFractionBits;  // floor(m)
  return base + stream_hash(params.seed, kTagGapJitter, block) % (jitter_max + 1);
}

// --- Readings: a per-channel level with a triangle-wave drift and noise, in thousandths.

constexpr std::int64_t kDriftAmplitudeMilli = 5000;
constexpr std::int64_t kNoiseMilli = 500;
// An overheating event: one channel of about 1% of records reads 85.000 .. 120.000, plausible
// (the record is ok) and above kAnomalyThreshold (its output flags an anomaly).
constexpr std::int64_t kSpikeLowMilli = 85000;
constexpr std::int64_t kSpikeHighMilli = 120000;
constexpr double kSpikeProbability = 0.01;

struct ChannelProfile {
  std::int64_t level_milli;    // 20.000 .. 55.000
  std::uint64_t period_seqs;   // drift period, 500 .. 1499 sequence numbers
  std::uint64_t phase_seqs;
};

ChannelProfile channel_profile(std::uint64_t seed, std::uint32_t channel) noexcept {
  const std::uint64_t h = stream_hash(seed, kTagChannel, channel);
  ChannelProfile profile{};
  profile.level_milli = 20000 + static_cast<std::int64_t>(h % 35001);
  profile.period_seqs = 500 + (h >> 20) % 1000;
  profile.phase_seqs = (h >> 40) % profile.period_seqs;
  return profile;
}

// A triangle wave of period `period` and amplitude `amplitude`, in [-amplitude, amplitude].
std::int64_t triangle(std::uint64_t x, std::uint64_t period, std::int64_t amplitude) noexcept {
  const auto t = static_cast<std::int64_t>(x % period);
  const std::int64_t v = 4 * amplitude * t / static_cast<std::int64_t>(period);  // 0 .. 4A
  return v < 2 * amplitude ? v - amplitude : 3 * amplitude - v;
}

std::int64_t start_time_ms(std::uint64_t seed) noexcept {
  constexpr std::int64_t kEarliestMs = 1'600'000'000'000;  // September 2020
  constexpr std::uint64_t kSpanMs = 5ULL * 365 * 24 * 3600 * 1000;
  return kEarliestMs + static_cast<std::int64_t>(stream_hash(seed, kTagClock, 0) % kSpanMs);
}

// Makes a clean record dirty in the way `kind` (0..3) and `variant` (0..3) say.
void make_dirty(SensorRecord& record, std::uint64_t kind, std::uint64_t channel,
                std::uint64_t variant) {
  switch (kind) {
    case 0:  // a null reading; sometimes a whole empty frame
      if (variant == 0) {
        for (auto& reading : record.readings) reading.reset();
      } else {
        record.readings[channel].reset();
      }
      break;
    case 1:
      record.readings[channel] = variant == 0 ? -kAbsurdReading : kAbsurdReading;
      break;
    case 2:
      record.readings[channel] = variant % 3 == 0   ? std::nan("")
                                 : variant % 3 == 1 ? HUGE_VAL
                                                    : -HUGE_VAL;
      break;
    default:
      record.timestamp_ms.reset();
      break;
  }
}

// --- Output formatting.

std::string format_milli(std::int64_t milli) {
  const std::uint64_t magnitude =
      milli < 0 ? 0 - static_cast<std::uint64_t>(milli) : static_cast<std::uint64_t>(milli);
  char text[32];
  std::snprintf(text, sizeof text, "%s%llu.%03llu", milli < 0 ? "-" : "",
                static_cast<unsigned long long>(magnitude / 1000),
                static_cast<unsigned long long>(magnitude % 1000));
  return text;
}

// sum / count rounded half away from zero. REQUIRES: count > 0.
std::int64_t rounded_mean(std::int64_t sum, std::int64_t count) noexcept {
  const std::int64_t magnitude = sum < 0 ? -sum : sum;
  const std::int64_t q = (2 * magnitude + count) / (2 * count);
  return sum < 0 ? -q : q;
}

}  // namespace

// --- Parameters.

std::uint64_t default_stream_seed(std::string_view workload_name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a offset basis
  for (char c : workload_name) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;  // FNV prime
  }
  return h;
}

Status validate_stream_params(const StreamParams& params) {
  auto bad = [](std::string what) { return error(StatusCode::kInvalidArgument, std::move(what)); };
  if (params.records < 1 || params.records > kStreamRecordsMax) {
    return bad("records must be in [1, " + std::to_string(kStreamRecordsMax) + "]");
  }
  if (params.rate_per_second < 1 || params.rate_per_second > kStreamRateMax) {
    return bad("rate must be in [1, " + std::to_string(kStreamRateMax) + "]");
  }
  if (params.checkpoint_every < 1 || params.checkpoint_every > kStreamRecordsMax) {
    return bad("checkpoint_every must be in [1, " + std::to_string(kStreamRecordsMax) + "]");
  }
  if (params.channels < 1 || params.channels > kStreamChannelsMax) {
    return bad("channels must be in [1, " + std::to_string(kStreamChannelsMax) + "]");
  }
  if (!(params.dirty >= 0.0 && params.dirty <= 1.0)) return bad("dirty must be in [0, 1]");
  return Status::ok();
}

Result<StreamParams> parse_stream_params(std::string_view workload_name,
                                         const std::map<std::string, std::string>& params) {
  StreamParams out;
  out.seed = default_stream_seed(workload_name);
  for (const auto& [key, value] : params) {
    STARLING_RETURN_IF_ERROR(apply_param(workload_name, key, value, out));
  }
  STARLING_RETURN_IF_ERROR(validate_stream_params(out));
  return out;
}

Status validate_stream_spec(std::string_view workload_name,
                            const std::map<std::string, std::string>& params) {
  return parse_stream_params(workload_name, params).status();
}

std::uint64_t stream_fingerprint(const StreamParams& params) noexcept {
  std::uint64_t dirty_bits = 0;
  static_assert(sizeof dirty_bits == sizeof params.dirty);
  std::memcpy(&dirty_bits, &params.dirty, sizeof dirty_bits);
  std::uint64_t h = mix64(params.seed ^ 0x73747265616d3031ULL);  // "stream01"
  h = mix64(h ^ params.records);
  h = mix64(h ^ params.channels);
  return mix64(h ^ dirty_bits);
}

// --- The generator.

std::uint64_t stream_seq(const StreamParams& params, std::uint64_t index) {
  STARLING_ASSERT(index < params.records, "stream_seq() past the end of the stream");
  const std::uint64_t skips_fixed = skips_per_block_fixed(params);
  const std::uint64_t block = index / kGapBlockRecords;
  const std::uint64_t offset = index % kGapBlockRecords;
  const std::uint64_t before = skipped_before_block(params, skips_fixed, block);
  const std::uint64_t gap = skipped_before_block(params, skips_fixed, block + 1) - before;
  const std::uint64_t gap_offset =
      stream_hash(params.seed, kTagGapOffset, block) % kGapBlockRecords;
  return index + before + (offset >= gap_offset ? gap : 0);
}

SensorRecord generate(const StreamParams& params, std::uint64_t index) {
  STARLING_ASSERT(index < params.records, "generate() past the end of the stream");
  SensorRecord record;
  record.index = index;
  record.seq = stream_seq(params, index);
  // Every draw happens for every record, in this order, whatever the outcome.
  Rng rng(stream_hash(params.seed, kTagRecord, index));
  const bool dirty = rng.chance(params.dirty);
  const std::uint64_t kind = rng.uniform(4);
  const std::uint64_t channel = rng.uniform(params.channels);
  const std::uint64_t variant = rng.uniform(4);
  const bool spike = rng.chance(kSpikeProbability);
  const std::uint64_t spike_channel = rng.uniform(params.channels);
  const std::int64_t spike_milli = rng.uniform_range(kSpikeLowMilli, kSpikeHighMilli);
  const auto jitter = static_cast<std::int64_t>(rng.uniform(kTimestampJitterMs));

  record.timestamp_ms =
      start_time_ms(params.seed) + static_cast<std::int64_t>(record.seq) * kSamplePeriodMs + jitter;
  record.readings.resize(params.channels);
  for (std::uint32_t c = 0; c < params.channels; ++c) {
    const ChannelProfile profile = channel_profile(params.seed, c);
    std::int64_t milli = profile.level_milli +
                         triangle(record.seq + profile.phase_seqs, profile.period_seqs,
                                  kDriftAmplitudeMilli) +
                         rng.uniform_range(-kNoiseMilli, kNoiseMilli);
    if (spike && c == spike_channel) milli = spike_milli;
    record.readings[c] = static_cast<double>(milli) / 1000.0;
  }
  if (dirty) make_dirty(record, kind, channel, variant);
  return record;
}

// --- Validation and output.

std::string_view bad_reason_name(BadReason reason) noexcept {
  switch (reason) {
    case BadReason::kNullReading: return "null_reading";
    case BadReason::kNonFinite: return "non_finite";
    case BadReason::kAbsurdValue: return "absurd_value";
    case BadReason::kMissingTimestamp: return "missing_timestamp";
    case BadReason::kSeqNotIncreasing: return "seq_not_increasing";
  }
  return "unknown";
}

Verdict validate_record(const SensorRecord& record,
                        std::optional<std::uint64_t> previous_seq) noexcept {
  auto bad = [](BadReason reason, std::uint64_t skipped) {
    return Verdict{false, reason, skipped};
  };
  if (previous_seq && record.seq <= *previous_seq) return bad(BadReason::kSeqNotIncreasing, 0);
  const std::uint64_t skipped = previous_seq ? record.seq - *previous_seq - 1 : 0;
  if (record.readings.empty()) return bad(BadReason::kNullReading, skipped);
  for (const auto& reading : record.readings) {
    if (!reading) return bad(BadReason::kNullReading, skipped);
    if (!std::isfinite(*reading)) return bad(BadReason::kNonFinite, skipped);
    if (*reading < kPlausibleMin || *reading > kPlausibleMax) {
      return bad(BadReason::kAbsurdValue, skipped);
    }
  }
  if (!record.timestamp_ms) return bad(BadReason::kMissingTimestamp, skipped);
  return Verdict{true, BadReason::kNullReading, skipped};
}

RecordSummary summarize(const SensorRecord& record) {
  RecordSummary summary;
  if (record.readings.empty()) return summary;
  // An ok record's readings are finite and within the plausible range, so the thousandths fit
  // easily in 64 bits; anything else is clamped rather than left to llround's overflow.
  std::int64_t sum = 0;
  std::int64_t max = INT64_MIN;
  for (const auto& reading : record.readings) {
    double value = reading.value_or(0.0);
    if (!(value >= kPlausibleMin && value <= kPlausibleMax)) value = 0.0;
    const std::int64_t milli = std::llround(value * 1000.0);
    sum += milli;
    max = std::max(max, milli);
  }
  summary.mean_milli = rounded_mean(sum, static_cast<std::int64_t>(record.readings.size()));
  summary.max_milli = max;
  summary.anomaly = max >= std::llround(kAnomalyThreshold * 1000.0);
  return summary;
}

LedgerRow stream_output(const SensorRecord& record, const Verdict& verdict) {
  LedgerRow row;
  row.seq = record.seq;
  row.ok = verdict.ok;
  if (!verdict.ok) {
    row.result = std::string(bad_reason_name(verdict.reason));
    return row;
  }
  const RecordSummary summary = summarize(record);
  row.result = "mean=" + format_milli(summary.mean_milli) + " max=" +
               format_milli(summary.max_milli) + " anomaly=" + (summary.anomaly ? "1" : "0");
  return row;
}

LedgerRow expected_output(const StreamParams& params, std::uint64_t index) {
  const SensorRecord record = generate(params, index);
  const std::optional<std::uint64_t> previous =
      index == 0 ? std::nullopt : std::optional<std::uint64_t>(stream_seq(params, index - 1));
  return stream_output(record, validate_record(record, previous));
}

}  // namespace starling::workloads
