// The `stream` owner's runner (StreamTask) and its checkpoint state codec.
#include "workloads/stream.hpp"

#include <string>
#include <utility>

namespace starling::workloads {

namespace {

constexpr std::uint8_t kStateVersion = 1;

Status corrupt(std::string why) {
  return error(StatusCode::kCorrupt, "stream checkpoint state: " + std::move(why));
}

// A counter from a checkpoint state: kCorrupt above kStreamRecordsMax, so sums never overflow.
Status read_counter(ByteReader& reader, std::uint64_t& out, std::string_view name) {
  auto value = reader.u64();
  if (!value) return corrupt("truncated at " + std::string(name));
  if (*value > kStreamRecordsMax) return corrupt(std::string(name) + " out of range");
  out = *value;
  return Status::ok();
}

}  // namespace

std::uint64_t StreamState::bad_total() const noexcept {
  std::uint64_t total = 0;
  for (std::uint64_t count : bad) total += count;
  return total;
}

Bytes encode_stream_state(const StreamState& state) {
  Bytes out;
  ByteWriter writer(out);
  writer.u8(kStateVersion);
  writer.u64(state.stream);
  writer.u64(state.ok);
  writer.u64(state.anomalies);
  writer.u8(static_cast<std::uint8_t>(kBadReasonCount));
  for (std::uint64_t count : state.bad) writer.u64(count);
  writer.u64(state.gaps);
  writer.u64(state.skipped_seqs);
  writer.u8(state.last_seq ? 1 : 0);
  if (state.last_seq) writer.u64(*state.last_seq);
  return out;
}

Result<StreamState> decode_stream_state(ByteSpan bytes) {
  ByteReader reader(bytes);
  StreamState state;
  auto version = reader.u8();
  if (!version) return corrupt("empty");
  if (*version != kStateVersion) return corrupt("unknown version " + std::to_string(*version));
  auto stream = reader.u64();
  if (!stream) return corrupt("truncated at stream");
  state.stream = *stream;
  STARLING_RETURN_IF_ERROR(read_counter(reader, state.ok, "ok"));
  STARLING_RETURN_IF_ERROR(read_counter(reader, state.anomalies, "anomalies"));
  auto reasons = reader.u8();
  if (!reasons) return corrupt("truncated at reason count");
  if (*reasons != kBadReasonCount) {
    return corrupt("reason count " + std::to_string(*reasons) + ", expected " +
                   std::to_string(kBadReasonCount));
  }
  for (std::uint64_t& count : state.bad) {
    STARLING_RETURN_IF_ERROR(read_counter(reader, count, "bad"));
  }
  STARLING_RETURN_IF_ERROR(read_counter(reader, state.gaps, "gaps"));
  auto skipped = reader.u64();
  if (!skipped) return corrupt("truncated at skipped_seqs");
  state.skipped_seqs = *skipped;
  auto has_last = reader.u8();
  if (!has_last) return corrupt("truncated at has_last_seq");
  if (*has_last > 1) return corrupt("has_last_seq is neither 0 nor 1");
  if (*has_last == 1) {
    auto last = reader.u64();
    if (!last) return corrupt("truncated at last_seq");
    state.last_seq = *last;
  }
  if (!reader.expect_end()) return corrupt("trailing bytes");
  if (state.anomalies > state.ok) return corrupt("more anomalies than ok records");
  if (state.processed() > kStreamRecordsMax) return corrupt("more records than a stream holds");
  if (state.gaps > state.processed()) return corrupt("more gaps than records");
  if (state.last_seq.has_value() != (state.processed() > 0)) {
    return corrupt("last_seq must be present exactly when records were processed");
  }
  return state;
}

Result<StreamTask> StreamTask::create(const StreamParams& params, LedgerSink& ledger,
                                      const std::optional<StreamCheckpoint>& resume) {
  STARLING_RETURN_IF_ERROR(validate_stream_params(params));
  StreamState state;
  state.stream = stream_fingerprint(params);
  if (!resume) return StreamTask(params, ledger, 0, state);
  auto decoded = decode_stream_state(resume->state);
  if (!decoded) return decoded.status();
  state = std::move(decoded).value();
  if (state.stream != stream_fingerprint(params)) {
    return corrupt("the checkpoint belongs to another stream (its params differ)");
  }
  const std::uint64_t position = resume->position;
  if (position > params.records) {
    return corrupt("position " + std::to_string(position) + " is beyond the stream's " +
                   std::to_string(params.records) + " records");
  }
  if (state.processed() != position) {
    return corrupt("counters add up to " + std::to_string(state.processed()) +
                   " records but the position is " + std::to_string(position));
  }
  if (position > 0 && *state.last_seq != stream_seq(params, position - 1)) {
    return corrupt("last_seq is not the seq of the record before the position");
  }
  return StreamTask(params, ledger, position, std::move(state));
}

Status StreamTask::process(std::uint64_t max_records) {
  STARLING_RETURN_IF_ERROR(failed_);
  const std::uint64_t end = params_.records - position_ < max_records
                                ? params_.records
                                : position_ + max_records;
  while (position_ < end) {
    const SensorRecord record = generate(params_, position_);
    const Verdict verdict = validate_record(record, state_.last_seq);
    const Status appended = ledger_->append(stream_output(record, verdict));
    if (!appended) {
      failed_ = appended;
      return appended;
    }
    if (verdict.ok) {
      ++state_.ok;
      if (summarize(record).anomaly) ++state_.anomalies;
    } else {
      ++state_.bad[static_cast<std::size_t>(verdict.reason)];
    }
    if (verdict.skipped_seqs > 0) {
      ++state_.gaps;
      state_.skipped_seqs += verdict.skipped_seqs;
    }
    if (verdict.ok || verdict.reason != BadReason::kSeqNotIncreasing) state_.last_seq = record.seq;
    ++position_;
  }
  return Status::ok();
}

bool StreamTask::checkpoint_due() const noexcept {
  if (!failed_) return false;
  const std::uint64_t since = position_ - checkpoint_position_;
  return since >= params_.checkpoint_every || (done() && since > 0);
}

Result<StreamCheckpoint> StreamTask::take_checkpoint() {
  STARLING_RETURN_IF_ERROR(failed_);
  const Status synced = ledger_->sync();
  if (!synced) {
    failed_ = synced;
    return synced;
  }
  checkpoint_position_ = position_;
  return StreamCheckpoint{position_, encode_stream_state(state_)};
}

}  // namespace starling::workloads
