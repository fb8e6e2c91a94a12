// The built-in workload kind `stream` (issue 5): a deterministic, seeded sensor stream that the
// owner of each replica processes record by record, validating each record, writing one output
// row per record to its ledger (workloads/ledger.hpp) and committing a checkpoint every K
// records through the workload table (consensus/workloads.hpp). A new owner resumes from the
// last committed checkpoint. Processing is at-least-once and outputs are idempotent, so after
// any sequence of failures the union of the owners' ledgers holds every record exactly once by
// key (check_ledgers()).
//
// The stream is a pure function of its parameters with random access: generate(params, i) is
// record number i, computed from (seed, i) by hashing, never by iterating, so a new owner
// starts at its checkpoint position in O(1) and the checker recomputes any record. It models a
// multivariate sensor: sequence numbers that strictly increase but sometimes skip (gaps),
// millisecond timestamps, and `channels` readings of a temperature-like signal (about 15-60
// with drift and noise; about 1% of records overheat on one channel, 85-120, which is valid
// and flagged as an anomaly in the output), with a fraction `dirty` of bad records: a null
// reading, an absurd value (+-9999.99), a non-finite value (NaN, +-inf), or a missing
// timestamp. Generation uses base's Rng and integer arithmetic (no libm), so a seed gives the
// same stream on every platform and standard library; clean readings are exact thousandths.
//
// No clock and no I/O here except through the LedgerSink port: the shell decides how many
// records to process when (about `rate` per second), proposes the checkpoints StreamTask
// takes, and passes the committed one to the next owner. Single-threaded; value types.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "workloads/ledger.hpp"

namespace starling::workloads {

// The workload kind name in a WorkloadSpec.
inline constexpr std::string_view kStreamKind = "stream";

// --- Parameters.

inline constexpr std::uint64_t kStreamRecordsMax = 1'000'000'000;
inline constexpr std::uint32_t kStreamRateMax = 1'000'000;
inline constexpr std::uint32_t kStreamChannelsMax = 16;

// The params of a `stream` WorkloadSpec, with their defaults and why.
struct StreamParams {
  // Param `seed`: the stream's identity. Default: default_stream_seed(workload name), so that
  // two workloads with default params still process different streams.
  std::uint64_t seed = 0;
  // Param `records`, 1..kStreamRecordsMax: the stream's length. 20000 records at the default
  // rate last 40 s: long enough to kill an owner mid-stream in a demo, short enough to finish.
  std::uint64_t records = 20000;
  // Param `rate`, 1..kStreamRateMax records per second: the shell's pacing (not used here).
  // 500/s is well within a gateway's budget and makes a checkpoint every 0.2 s at K = 100.
  std::uint32_t rate_per_second = 500;
  // Param `checkpoint_every` (K), 1..kStreamRecordsMax records: the most work a failover
  // redoes. 100 keeps the table's log traffic at rate / K = 5 checkpoints per second.
  std::uint64_t checkpoint_every = 100;
  // Param `channels`, 1..kStreamChannelsMax: readings per record.
  std::uint32_t channels = 4;
  // Param `dirty`, 0..1: the fraction of bad records; the stream also skips about dirty / 4
  // sequence numbers per record (gaps). 5% exercises every path without drowning the output.
  double dirty = 0.05;

  friend bool operator==(const StreamParams&, const StreamParams&) = default;
};

// FNV-1a (64 bits) of the workload name: a fixed, byte-order-independent function, so that a
// stream's default seed never changes between versions or machines.
std::uint64_t default_stream_seed(std::string_view workload_name) noexcept;

// kInvalidArgument naming the first field out of its range above.
Status validate_stream_params(const StreamParams& params);

// Parses a spec's params: every key optional (defaults above), unknown keys refused. Integers
// are plain decimal; `dirty` is a decimal fraction ("0.05", "5e-2"). kInvalidArgument naming
// the key for an unknown key or a bad value.
Result<StreamParams> parse_stream_params(std::string_view workload_name,
                                         const std::map<std::string, std::string>& params);

// What the CLI and the leader run before proposing an AddWorkload of kind `stream`.
Status validate_stream_spec(std::string_view workload_name,
                            const std::map<std::string, std::string>& params);

// A 64-bit identity of the stream's content (seed, records, channels, dirty): equal for equal
// streams. Checkpoint states carry it, so a checkpoint of another stream is refused.
std::uint64_t stream_fingerprint(const StreamParams& params) noexcept;

// --- The generator.

// The sensor's sampling period: timestamp_ms is about seq * kSamplePeriodMs after a
// seed-derived start, plus up to kTimestampJitterMs of jitter (so timestamps increase too).
inline constexpr std::int64_t kSamplePeriodMs = 100;
inline constexpr std::int64_t kTimestampJitterMs = 20;
// Absurd values the sensor reports when it malfunctions.
inline constexpr double kAbsurdReading = 9999.99;

struct SensorRecord {
  std::uint64_t index = 0;  // position in the stream, 0..records-1
  std::uint64_t seq = 0;    // the sensor's sequence number: the ledger key
  std::optional<std::int64_t> timestamp_ms;         // missing on some dirty records
  std::vector<std::optional<double>> readings;      // `channels` of them; null on some dirty ones
};

// The sequence number of record `index`. Strictly increasing in `index`, O(1). Gaps: records
// come in blocks of 256; block b is preceded by C(b) skipped numbers in all, where
// C(b) = floor(b * m) + j(b), m = 64 * dirty the mean skips per block (in 1/65536ths, exact
// integers) and j(b) a hashed jitter in 0..floor(m) (j(0) = 0); the C(b+1) - C(b) >= 0 numbers
// skipped within block b form one gap before a hashed offset of the block.
// REQUIRES: index < params.records (asserted), valid params.
std::uint64_t stream_seq(const StreamParams& params, std::uint64_t index);

// Record number `index`, a pure function of (params, index).
// REQUIRES: index < params.records (asserted), valid params.
SensorRecord generate(const StreamParams& params, std::uint64_t index);

// --- Validation and output.

// Why a record was set aside. The numeric values are the order of the counters in a checkpoint
// state: append only.
enum class BadReason : std::uint8_t {
  kNullReading = 0,       // a reading is missing, or the record has none
  kNonFinite = 1,         // NaN or an infinity
  kAbsurdValue = 2,       // outside the physically plausible [kPlausibleMin, kPlausibleMax]
  kMissingTimestamp = 3,  // no timestamp
  kSeqNotIncreasing = 4,  // seq at or below the previous one (a replay; never generated)
};
inline constexpr std::size_t kBadReasonCount = 5;
inline constexpr double kPlausibleMin = -50.0;
inline constexpr double kPlausibleMax = 150.0;
// An ok record whose highest reading reaches this is flagged as an anomaly in its output.
inline constexpr double kAnomalyThreshold = 80.0;

// "null_reading", "non_finite", "absurd_value", "missing_timestamp", "seq_not_increasing".
std::string_view bad_reason_name(BadReason reason) noexcept;

struct Verdict {
  bool ok = true;
  BadReason reason = BadReason::kNullReading;  // meaningful when !ok
  // Sequence numbers skipped between the previous record and this one: a gap is an event to
  // count, not a bad record. 0 without a previous record or when seq does not increase.
  std::uint64_t skipped_seqs = 0;
};

// Checks a record against the previous record's seq (none for the first record). Checks in
// order: seq increasing, then each reading in channel order (null, non-finite, plausible),
// then the timestamp; the first failure is the reason. Total: never throws, any input.
Verdict validate_record(const SensorRecord& record,
                        std::optional<std::uint64_t> previous_seq) noexcept;

// The summary of an ok record, in thousandths: readings rounded to thousandths, their mean
// rounded half away from zero, their maximum, and whether that maximum reaches
// kAnomalyThreshold. Integer arithmetic, so it is the same everywhere.
// Meant for records validate_record() found ok; total for any other record (a null,
// non-finite or implausible reading counts as 0 there, so the summary is meaningless).
struct RecordSummary {
  std::int64_t mean_milli = 0;
  std::int64_t max_milli = 0;
  bool anomaly = false;
};
RecordSummary summarize(const SensorRecord& record);

// The ledger row of a validated record. For an ok record, a summary at exact thousandths
// (summarize()), so it is byte-identical everywhere: "mean=37.412 max=41.003 anomaly=0". For a
// bad record, the reason's name. It depends on the record and its verdict only, never on who
// processed it or when (for a generated stream the verdict is a function of the record too):
// reprocessing is idempotent.
LedgerRow stream_output(const SensorRecord& record, const Verdict& verdict);

// The output of record `index` as any owner writes it (generate, validate, stream_output).
// REQUIRES: index < params.records, valid params.
LedgerRow expected_output(const StreamParams& params, std::uint64_t index);

// --- Checkpoint state.

// The counters of a replica's progress, carried in its checkpoints so that a new owner
// continues them. Invariant (of a decoded state): last_seq is set iff processed() > 0.
struct StreamState {
  std::uint64_t stream = 0;      // stream_fingerprint() of the params
  std::uint64_t ok = 0;          // records with an ok verdict
  std::uint64_t anomalies = 0;   // ok records flagged as anomalies
  std::array<std::uint64_t, kBadReasonCount> bad{};  // set-aside records, by BadReason
  std::uint64_t gaps = 0;           // records preceded by skipped sequence numbers
  std::uint64_t skipped_seqs = 0;   // sequence numbers skipped in all
  // The seq of the last record processed, against which the next one is validated (a
  // seq_not_increasing record leaves it unchanged).
  std::optional<std::uint64_t> last_seq;

  std::uint64_t bad_total() const noexcept;
  std::uint64_t processed() const noexcept { return ok + bad_total(); }

  friend bool operator==(const StreamState&, const StreamState&) = default;
};

// Layout (little-endian, ByteWriter): u8 version (1) | u64 stream | u64 ok | u64 anomalies
// | u8 reason count (kBadReasonCount) | u64 bad[count] | u64 gaps | u64 skipped_seqs
// | u8 has_last_seq (0 or 1) | [u64 last_seq]. At most 91 bytes, far below the table's
// kCheckpointStateMaxBytes.
Bytes encode_stream_state(const StreamState& state);
// Bounded and total: kCorrupt (with the reason) for anything but exactly one valid encoding,
// including counters above kStreamRecordsMax and the invariant above. Never allocates more
// than the result.
Result<StreamState> decode_stream_state(ByteSpan bytes);

// --- The owner's runner.

// What an owner proposes as its replica's Checkpoint (position and state; the shell adds the
// workload, replica and epoch), and what a new owner resumes from.
struct StreamCheckpoint {
  std::uint64_t position = 0;  // every record before it is durably in the owner's ledger
  Bytes state;                 // encode_stream_state()

  friend bool operator==(const StreamCheckpoint&, const StreamCheckpoint&) = default;
};

// Runs one replica of a stream for one owner, without a clock: the shell calls process() with
// the number of records its pacing allows, takes a checkpoint whenever checkpoint_due() and
// proposes it, and drops the task when it loses the replica. Records are processed in index
// order; every record, bad ones included, gets a row.
//
// Invariant: position() == state().processed(), and every record below the position of a
// checkpoint this task returned was appended before a successful sync() of the ledger.
// After any error from the ledger, the task is failed: every later process() and
// take_checkpoint() returns that error; the owner starts over from the last committed
// checkpoint with a fresh ledger sink.
class StreamTask {
 public:
  // A task starting at `resume` (the replica's last committed checkpoint) or at the beginning.
  // `ledger` is borrowed and must outlive the task. kInvalidArgument for invalid params;
  // kCorrupt when the checkpoint's state does not decode or does not match the stream (another
  // stream's fingerprint, a position beyond the end or unequal to the counters, a last_seq that
  // is not the seq of the record before the position).
  static Result<StreamTask> create(const StreamParams& params, LedgerSink& ledger,
                                   const std::optional<StreamCheckpoint>& resume);

  // Processes records [position, min(position + max_records, records)): validates each and
  // appends its row. On a ledger error the position stays at the record whose row failed.
  Status process(std::uint64_t max_records);

  std::uint64_t position() const noexcept { return position_; }
  std::uint64_t records() const noexcept { return params_.records; }
  bool done() const noexcept { return position_ == params_.records; }
  const StreamState& state() const noexcept { return state_; }
  const StreamParams& params() const noexcept { return params_; }
  // The position of the last checkpoint taken (or resumed from).
  std::uint64_t checkpoint_position() const noexcept { return checkpoint_position_; }

  // True when checkpoint_every records were processed since the last checkpoint taken, or the
  // stream is finished and its end not yet checkpointed.
  bool checkpoint_due() const noexcept;
  // Syncs the ledger FIRST, so that every record before the returned position is durable
  // before the checkpoint can be proposed, then returns {position, encoded state}. Taking one
  // when none is due is allowed (a graceful handoff checkpoints wherever it is).
  Result<StreamCheckpoint> take_checkpoint();

 private:
  StreamTask(const StreamParams& params, LedgerSink& ledger, std::uint64_t position,
             StreamState state)
      : params_(params), ledger_(&ledger), position_(position),
        checkpoint_position_(position), state_(std::move(state)) {}

  StreamParams params_;
  LedgerSink* ledger_;  // borrowed
  std::uint64_t position_;
  std::uint64_t checkpoint_position_;
  StreamState state_;
  Status failed_;  // ok until the ledger fails, then that error forever
};

}  // namespace starling::workloads
