// The `stream` owner's runner (StreamTask) and its checkpoint state: the state codec and its
// hostile input, processing and checkpoints, resuming, ledger failures, and the property of
// the issue: after any sequence of owners that crash, lose checkpoints and hand over, the union
// of their ledgers holds every record exactly once by key. A canary (a ledger whose sync() lies)
// must make that check fail.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/rng.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"
#include "workloads/stream.hpp"

using namespace starling;
using namespace starling::workloads;

namespace {

StreamParams params_of(std::uint64_t seed, std::uint64_t records, std::uint64_t every,
                       double dirty = 0.1) {
  StreamParams p;
  p.seed = seed;
  p.records = records;
  p.checkpoint_every = every;
  p.dirty = dirty;
  return p;
}

StreamState sample_state() {
  StreamState s;
  s.stream = 0x0123456789abcdefULL;
  s.ok = 900;
  s.anomalies = 7;
  s.bad = {10, 20, 30, 40, 0};
  s.gaps = 12;
  s.skipped_seqs = 33;
  s.last_seq = 1032;
  return s;
}

// The state after processing the whole stream in one go.
StreamState straight_run(const StreamParams& params) {
  MemoryLedger ledger;
  auto task = StreamTask::create(params, ledger, std::nullopt);
  REQUIRE_OK(task);
  REQUIRE_OK(task->process(params.records));
  return task->state();
}

// A canary sink: acknowledges sync() without making anything durable.
class LyingLedger final : public LedgerSink {
 public:
  explicit LyingLedger(MemoryLedger& inner) : inner_(inner) {}
  Status append(const LedgerRow& row) override { return inner_.append(row); }
  Status sync() override { return Status::ok(); }

 private:
  MemoryLedger& inner_;
};

struct OwnersRun {
  StreamParams params;
  LedgerReport report;
  std::optional<StreamCheckpoint> committed;
  std::uint64_t owners = 0;
  std::uint64_t crashes = 0;
};

// A random sequence of owners of one replica over four nodes (each with its own disk: a
// MemoryLedger that survives the node's crashes). Each owner resumes from the committed
// checkpoint, processes random amounts, takes a checkpoint whenever one is due and has it
// committed or lost (the proposal may not commit), and ends by crashing (unsynced rows and any
// uncommitted checkpoint are lost), by losing its replica (possibly after processing a little
// more as a zombie whose checkpoints the table refuses, W2), or by finishing.
OwnersRun run_owners(std::uint64_t seed, bool lying_sync) {
  Rng rng(seed);
  OwnersRun run;
  run.params = params_of(rng.next_u64(), 1 + rng.uniform(1500), 1 + rng.uniform(60),
                         rng.uniform(4) == 0 ? 0.0 : 0.3 * rng.next_double());
  run.params.channels = static_cast<std::uint32_t>(1 + rng.uniform(4));
  const std::uint64_t every = run.params.checkpoint_every;
  std::vector<MemoryLedger> disks(4);
  auto finished = [&] { return run.committed && run.committed->position == run.params.records; };
  while (!finished()) {
    REQUIRE(run.owners < 100000);
    ++run.owners;
    MemoryLedger& disk = disks[rng.uniform(disks.size())];
    LyingLedger liar(disk);
    LedgerSink& sink = lying_sync ? static_cast<LedgerSink&>(liar) : disk;
    auto task = StreamTask::create(run.params, sink, run.committed);
    REQUIRE_OK(task);
    for (;;) {
      REQUIRE_OK(task->process(1 + rng.uniform(2 * every)));
      if (task->checkpoint_due() || (task->done() && !finished())) {
        auto checkpoint = task->take_checkpoint();
        REQUIRE_OK(checkpoint);
        if (rng.chance(0.8)) {
          const std::uint64_t before = run.committed ? run.committed->position : 0;
          REQUIRE(checkpoint->position >= before);  // W3 holds without the table's help
          run.committed = std::move(checkpoint).value();
        }
      }
      const double fate = rng.next_double();
      if (fate < 0.12) {
        disk.crash();
        ++run.crashes;
        break;
      }
      if (fate < 0.2) {
        if (rng.chance(0.5)) REQUIRE_OK(task->process(rng.uniform(every + 1)));  // a zombie
        break;
      }
      if (finished()) break;
    }
  }
  std::vector<LedgerRow> all;
  for (const MemoryLedger& d : disks) all.insert(all.end(), d.rows().begin(), d.rows().end());
  run.report = check_ledgers(run.params, all);
  return run;
}

}  // namespace

TEST_CASE("stream state: encode and decode round trip") {
  const StreamState state = sample_state();
  const Bytes bytes = encode_stream_state(state);
  CHECK(bytes.size() == 91);
  auto decoded = decode_stream_state(bytes);
  REQUIRE_OK(decoded);
  CHECK(*decoded == state);

  StreamState empty;
  empty.stream = 5;
  const Bytes empty_bytes = encode_stream_state(empty);
  CHECK(empty_bytes.size() == 83);
  auto empty_decoded = decode_stream_state(empty_bytes);
  REQUIRE_OK(empty_decoded);
  CHECK(*empty_decoded == empty);
}

TEST_CASE("stream state: every truncation and every invalid field is corrupt") {
  const Bytes bytes = encode_stream_state(sample_state());
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    CAPTURE(length);
    CHECK_CODE(decode_stream_state(ByteSpan(bytes.data(), length)), StatusCode::kCorrupt);
  }
  Bytes longer = bytes;
  longer.push_back(0);
  CHECK_CODE(decode_stream_state(longer), StatusCode::kCorrupt);

  auto with = [&](std::size_t at, std::uint8_t value) {
    Bytes b = bytes;
    b.at(at) = value;
    return decode_stream_state(b);
  };
  CHECK_CODE(with(0, 2), StatusCode::kCorrupt);     // version
  CHECK_CODE(with(25, 4), StatusCode::kCorrupt);    // reason count
  CHECK_CODE(with(82, 2), StatusCode::kCorrupt);    // has_last_seq
  CHECK_CODE(with(16, 0xff), StatusCode::kCorrupt);  // ok far above kStreamRecordsMax

  StreamState state = sample_state();
  state.anomalies = state.ok + 1;
  CHECK_CODE(decode_stream_state(encode_stream_state(state)), StatusCode::kCorrupt);
  state = sample_state();
  state.last_seq.reset();
  CHECK_CODE(decode_stream_state(encode_stream_state(state)), StatusCode::kCorrupt);
  state = StreamState{};
  state.last_seq = 0;
  CHECK_CODE(decode_stream_state(encode_stream_state(state)), StatusCode::kCorrupt);
  state = sample_state();
  state.gaps = state.processed() + 1;
  CHECK_CODE(decode_stream_state(encode_stream_state(state)), StatusCode::kCorrupt);
  state = sample_state();
  state.ok = kStreamRecordsMax;
  CHECK_CODE(decode_stream_state(encode_stream_state(state)), StatusCode::kCorrupt);
}

TEST_CASE("stream state: random and mutated bytes never crash and decode canonically") {
  const std::uint64_t seed = testing::test_seed();
  CAPTURE(seed);
  Rng rng(seed);
  const Bytes valid = encode_stream_state(sample_state());
  std::uint64_t accepted = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    Bytes bytes;
    if (trial % 2 == 0) {
      bytes.resize(rng.uniform(100));
      for (auto& b : bytes) b = static_cast<std::uint8_t>(rng.uniform(256));
    } else {
      bytes = valid;
      const std::uint64_t flips = 1 + rng.uniform(3);
      for (std::uint64_t f = 0; f < flips; ++f) {
        bytes[rng.uniform(bytes.size())] ^= static_cast<std::uint8_t>(1 + rng.uniform(255));
      }
    }
    auto decoded = decode_stream_state(bytes);
    if (decoded) {
      ++accepted;
      REQUIRE(encode_stream_state(*decoded) == bytes);  // exactly one encoding per state
    } else {
      REQUIRE(decoded.status().code() == StatusCode::kCorrupt);
    }
  }
  CHECK(accepted > 0);  // some mutations (of skipped_seqs, last_seq) are valid states
}

TEST_CASE("stream task: processes every record in order into the ledger") {
  const StreamParams params = params_of(7, 1050, 100, 0.2);
  MemoryLedger ledger;
  auto task = StreamTask::create(params, ledger, std::nullopt);
  REQUIRE_OK(task);
  CHECK(task->position() == 0);
  CHECK_FALSE(task->checkpoint_due());
  REQUIRE_OK(task->process(0));
  CHECK(ledger.rows().empty());
  REQUIRE_OK(task->process(99));
  CHECK_FALSE(task->checkpoint_due());
  REQUIRE_OK(task->process(1));
  CHECK(task->checkpoint_due());
  auto checkpoint = task->take_checkpoint();
  REQUIRE_OK(checkpoint);
  CHECK(checkpoint->position == 100);
  CHECK(ledger.durable_rows() == 100);  // synced before the checkpoint was returned
  CHECK(task->checkpoint_position() == 100);
  CHECK_FALSE(task->checkpoint_due());

  REQUIRE_OK(task->process(UINT64_MAX));  // clamps at the end
  CHECK(task->done());
  CHECK(task->position() == 1050);
  CHECK(task->checkpoint_due());  // the end is not checkpointed yet
  checkpoint = task->take_checkpoint();
  REQUIRE_OK(checkpoint);
  CHECK(checkpoint->position == 1050);
  CHECK_FALSE(task->checkpoint_due());
  REQUIRE_OK(task->process(10));
  CHECK(task->position() == 1050);

  REQUIRE(ledger.rows().size() == 1050);
  for (std::uint64_t i = 0; i < params.records; ++i) {
    CAPTURE(i);
    REQUIRE(ledger.rows()[i] == expected_output(params, i));
  }
  const StreamState& state = task->state();
  CHECK(state.processed() == 1050);
  CHECK(state.bad_total() > 0);
  CHECK(state.gaps > 0);
  CHECK(state.last_seq == stream_seq(params, 1049));
  CHECK(state.stream == stream_fingerprint(params));
  auto decoded = decode_stream_state(checkpoint->state);
  REQUIRE_OK(decoded);
  CHECK(*decoded == state);
  CHECK(check_ledgers(params, ledger.rows()).complete());
}

TEST_CASE("stream task: a resumed task continues the counters") {
  const StreamParams params = params_of(11, 777, 50, 0.3);
  MemoryLedger first_disk;
  auto first = StreamTask::create(params, first_disk, std::nullopt);
  REQUIRE_OK(first);
  REQUIRE_OK(first->process(333));
  auto checkpoint = first->take_checkpoint();
  REQUIRE_OK(checkpoint);
  REQUIRE_OK(first->process(100));  // lost with the first owner

  MemoryLedger second_disk;
  auto second = StreamTask::create(params, second_disk, *checkpoint);
  REQUIRE_OK(second);
  CHECK(second->position() == 333);
  CHECK(second->checkpoint_position() == 333);
  CHECK(second->state() == *decode_stream_state(checkpoint->state));
  REQUIRE_OK(second->process(params.records));
  CHECK(second->state() == straight_run(params));
  CHECK(second_disk.rows().front() == expected_output(params, 333));

  // Resuming at the end: nothing to do, nothing due.
  auto end = second->take_checkpoint();
  REQUIRE_OK(end);
  MemoryLedger third_disk;
  auto third = StreamTask::create(params, third_disk, *end);
  REQUIRE_OK(third);
  CHECK(third->done());
  CHECK_FALSE(third->checkpoint_due());
}

TEST_CASE("stream task: a checkpoint that does not match the stream is refused") {
  const StreamParams params = params_of(3, 500, 50);
  MemoryLedger disk;
  auto task = StreamTask::create(params, disk, std::nullopt);
  REQUIRE_OK(task);
  REQUIRE_OK(task->process(120));
  auto checkpoint = task->take_checkpoint();
  REQUIRE_OK(checkpoint);

  StreamParams other = params;
  other.seed = 4;
  CHECK_CODE(StreamTask::create(other, disk, *checkpoint), StatusCode::kCorrupt);
  StreamCheckpoint moved = *checkpoint;
  moved.position = 119;
  CHECK_CODE(StreamTask::create(params, disk, moved), StatusCode::kCorrupt);
  moved.position = 501;
  CHECK_CODE(StreamTask::create(params, disk, moved), StatusCode::kCorrupt);
  StreamState state = *decode_stream_state(checkpoint->state);
  *state.last_seq += 1;
  CHECK_CODE(StreamTask::create(params, disk, StreamCheckpoint{120, encode_stream_state(state)}),
             StatusCode::kCorrupt);
  CHECK_CODE(StreamTask::create(params, disk, StreamCheckpoint{120, Bytes{1, 2, 3}}),
             StatusCode::kCorrupt);
  CHECK_CODE(StreamTask::create(params, disk, StreamCheckpoint{0, Bytes{}}), StatusCode::kCorrupt);
  StreamParams invalid = params;
  invalid.channels = 0;
  CHECK_CODE(StreamTask::create(invalid, disk, std::nullopt), StatusCode::kInvalidArgument);
  // Rate and checkpoint spacing may differ: they do not change the stream.
  StreamParams paced = params;
  paced.rate_per_second = 1;
  paced.checkpoint_every = 7;
  CHECK_OK(StreamTask::create(paced, disk, *checkpoint));
}

TEST_CASE("stream task: a ledger error stops the task for good") {
  const StreamParams params = params_of(5, 300, 20);
  MemoryLedger disk;
  auto task = StreamTask::create(params, disk, std::nullopt);
  REQUIRE_OK(task);
  REQUIRE_OK(task->process(30));
  const Status disk_error = error(StatusCode::kIoError, "injected: no space left on device");
  disk.inject_error(disk_error);
  CHECK(task->process(10) == disk_error);
  CHECK(task->position() == 30);  // the record whose row failed is not counted
  CHECK(task->state().processed() == 30);
  disk.clear_error();
  CHECK(task->process(10) == disk_error);
  CHECK(task->take_checkpoint().status() == disk_error);
  CHECK_FALSE(task->checkpoint_due());

  MemoryLedger other_disk;
  auto syncing = StreamTask::create(params, other_disk, std::nullopt);
  REQUIRE_OK(syncing);
  REQUIRE_OK(syncing->process(25));
  other_disk.inject_error(disk_error);
  CHECK(syncing->take_checkpoint().status() == disk_error);
  CHECK(syncing->checkpoint_position() == 0);
}

TEST_CASE("stream task: any sequence of failing owners leaves every record exactly once") {
  const std::uint64_t base_seed = testing::test_seed();
  std::uint64_t owners = 0;
  std::uint64_t crashes = 0;
  std::uint64_t duplicates = 0;
  for (std::uint64_t k = 0; k < 200; ++k) {
    const std::uint64_t seed = base_seed + k;
    INFO("seed ", seed, " (replay the suite with STARLING_TEST_SEED=", base_seed, ")");
    const OwnersRun run = run_owners(seed, false);
    INFO(run.report.summary());
    REQUIRE(run.report.complete());
    REQUIRE(run.report.missing == 0);
    REQUIRE(run.report.conflicting == 0);
    REQUIRE(run.report.unknown == 0);
    auto final_state = decode_stream_state(run.committed->state);
    REQUIRE_OK(final_state);
    REQUIRE(*final_state == straight_run(run.params));
    owners += run.owners;
    crashes += run.crashes;
    duplicates += run.report.duplicates;
  }
  // The runs did exercise failover: many owners, crashes and redone records.
  CHECK(owners > 1000);
  CHECK(crashes > 500);
  CHECK(duplicates > 5000);
}

TEST_CASE("stream task: canary: a ledger whose sync lies makes the check fail") {
  const std::uint64_t base_seed = testing::test_seed();
  CAPTURE(base_seed);
  std::uint64_t caught = 0;
  for (std::uint64_t k = 0; k < 50; ++k) {
    if (!run_owners(base_seed + k, true).report.complete()) ++caught;
  }
  CHECK(caught > 20);
}
