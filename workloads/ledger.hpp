// Ledgers: where a `stream` owner writes one output row per record, keyed by the record's
// sequence number, and the outside checker that proves the union of every owner's ledger holds
// every record of the stream exactly once by key.
//
// The ledger is the workload's output port (STYLE.md habit 9): `LedgerSink` is the contract,
// `FileLedger` the real append-only file in the owner's data directory, and `MemoryLedger` the
// double for the deterministic simulator, which models a power loss with crash(). Processing is
// at-least-once (an owner that dies after writing rows but before its checkpoint committed has
// those records redone by its successor, into the successor's ledger) and outputs are
// idempotent (a row is a function of the record alone), so duplicates across ledgers are
// allowed and must be identical; check_ledgers() verifies exactly that.
//
// File format, one line per row, printable ASCII:
//   <seq decimal> TAB <"ok" | "bad"> TAB <result> TAB <crc32 of everything before this TAB,
//   8 lower-case hex digits> LF
// A crash can tear only the last line of an append-only file: readers skip a last line that is
// unterminated or fails its check, and FileLedger::open() truncates it before appending again.
// A bad line followed by any other line is not a torn write: it is reported as kCorrupt.
//
// Threading: none inside. A sink is used by one owner thread at a time; read_ledger() and
// check_ledgers() are pure functions of their inputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.hpp"

namespace starling::workloads {

struct StreamParams;  // workloads/stream.hpp

// A result is 1..kLedgerResultMaxLength printable ASCII characters other than TAB, so that a
// line is bounded (readers refuse longer lines without allocating for them).
inline constexpr std::size_t kLedgerResultMaxLength = 200;
// The longest line without its LF: seq, status, result, crc and three TABs.
inline constexpr std::size_t kLedgerLineMaxBytes = 20 + 1 + 3 + 1 + kLedgerResultMaxLength + 1 + 8;

// One output row. The key is `seq`; `ok` false means the record was set aside as bad and
// `result` names the reason.
struct LedgerRow {
  std::uint64_t seq = 0;
  bool ok = false;
  std::string result;

  friend bool operator==(const LedgerRow&, const LedgerRow&) = default;
};

// kInvalidArgument unless row.result is 1..kLedgerResultMaxLength printable non-TAB characters.
Status validate_row(const LedgerRow& row);

// The line of `row`, LF included. REQUIRES: validate_row(row) is ok (asserted).
std::string format_ledger_line(const LedgerRow& row);

// Parses one line without its LF: exactly four TAB-separated fields, a canonical decimal seq
// (no sign, no leading zero), "ok" or "bad", a valid result and a matching crc32. kCorrupt with
// the reason otherwise.
Result<LedgerRow> parse_ledger_line(std::string_view line);

// The standard CRC-32 (IEEE 802.3, reflected, as zlib's crc32()).
std::uint32_t crc32(std::string_view bytes) noexcept;

// Where an owner keeps its ledger of one replica: DATA_DIR/ledgers/<workload>.<replica>.ledger.
// Workload names are [A-Za-z0-9._-] (consensus/workloads.hpp), so the name is a safe file name.
std::filesystem::path ledger_path(const std::filesystem::path& data_dir,
                                  std::string_view workload, std::uint32_t replica);

// The output port of a StreamTask.
//
// Contract: append() adds a row that may be lost until the next successful sync(); sync()
// returns only when every row appended before it is durable (survives a crash or a power loss).
// A failed append() or sync() leaves the sink failed: every later call returns the same error
// (after a failed fsync() the kernel may have dropped the unwritten pages and cleared the
// error, so retrying could report success for lost rows). The owner then drops the task and
// the sink and resumes from the last committed checkpoint with a fresh sink.
class LedgerSink {
 public:
  virtual ~LedgerSink() = default;
  // kInvalidArgument for a row validate_row() refuses (nothing is appended), else ok or the
  // sink's error.
  virtual Status append(const LedgerRow& row) = 0;
  virtual Status sync() = 0;
};

// The append-only ledger file. Rows are buffered in memory (up to kFileLedgerBufferBytes) and
// written by sync() or when the buffer fills, so a power loss loses at most the rows since the
// last sync(). Errors (EIO, ENOSPC, EFBIG, permissions) come back as Status, never as
// exceptions or aborts: kPermissionDenied for EACCES/EPERM, kNotFound for ENOENT, kIoError
// otherwise. Move-only. Destruction closes the file and drops rows not yet written, as a crash
// would: only sync() promises anything.
class FileLedger final : public LedgerSink {
 public:
  static constexpr std::size_t kFileLedgerBufferBytes = 64 * 1024;

  // Opens `path` for appending, creating it (and its parent directory, one level) when missing;
  // a new file's directory entry is synced before open() returns, so the file itself survives a
  // power loss. An existing file is scanned: a torn last line is truncated away (and the
  // truncation synced), a bad line anywhere else gives kCorrupt (the caller moves the file aside
  // and opens a fresh one; its rows are still readable up to the bad line by a person).
  // kInvalidArgument when `path` is not a regular file.
  static Result<FileLedger> open(const std::filesystem::path& path);

  FileLedger(FileLedger&& other) noexcept;
  FileLedger& operator=(FileLedger&& other) noexcept;
  FileLedger(const FileLedger&) = delete;
  FileLedger& operator=(const FileLedger&) = delete;
  ~FileLedger() override;

  Status append(const LedgerRow& row) override;
  // Writes the buffer and fdatasync()s the file.
  Status sync() override;

  const std::filesystem::path& path() const noexcept { return path_; }
  // Rows in the file when it was opened, and bytes of a torn tail open() removed.
  std::uint64_t rows_at_open() const noexcept { return rows_at_open_; }
  std::uint64_t truncated_bytes() const noexcept { return truncated_bytes_; }

 private:
  FileLedger(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  Status write_buffer();
  void close_file() noexcept;

  std::filesystem::path path_;
  int fd_ = -1;
  std::string buffer_;
  Status failed_;  // ok until the first error, then that error forever
  std::uint64_t rows_at_open_ = 0;
  std::uint64_t truncated_bytes_ = 0;
};

// The in-memory double for the simulator and tests. Rows appended since the last sync() are
// volatile: crash() drops them, as a power loss would, and leaves the rest. inject_error()
// makes every later append() and sync() fail with the given status until clear_error().
class MemoryLedger final : public LedgerSink {
 public:
  Status append(const LedgerRow& row) override;
  Status sync() override;

  // Drops every row appended after the last successful sync(), and clears an injected error
  // (the "machine" restarts).
  void crash();
  void inject_error(Status status);
  void clear_error() { error_.reset(); }

  // Every row held, durable or not, in append order.
  const std::vector<LedgerRow>& rows() const noexcept { return rows_; }
  // How many of rows() are durable (a prefix).
  std::size_t durable_rows() const noexcept { return durable_; }
  std::uint64_t syncs() const noexcept { return syncs_; }

 private:
  std::vector<LedgerRow> rows_;
  std::size_t durable_ = 0;
  std::uint64_t syncs_ = 0;
  std::optional<Status> error_;
};

// The rows of a ledger file, in file order, skipping a torn last line (unterminated, or failing
// its check). kCorrupt naming the line for a bad line that is not the last one, kNotFound when
// the file does not exist, kInvalidArgument when it is not a regular file.
Result<std::vector<LedgerRow>> read_ledger(const std::filesystem::path& path);

// What check_ledgers() found. "Key" is a sequence number of the stream.
struct LedgerReport {
  static constexpr std::size_t kExamplesMax = 8;

  std::uint64_t expected = 0;     // records in the stream (params.records)
  std::uint64_t present = 0;      // stream keys with at least one row
  std::uint64_t missing = 0;      // stream keys without a row
  std::uint64_t conflicting = 0;  // stream keys with a row that differs from the record's output
  std::uint64_t unknown = 0;      // rows whose seq is not a key of the stream
  std::uint64_t duplicates = 0;   // rows beyond the first per key (allowed: at-least-once)
  std::uint64_t rows = 0;         // rows examined
  // The first few keys of each kind, in increasing order, for the error message.
  std::vector<std::uint64_t> first_missing;
  std::vector<std::uint64_t> first_conflicting;
  std::vector<std::uint64_t> first_unknown;

  // Every record present exactly once by key with its one correct output, and nothing else.
  bool complete() const noexcept { return missing == 0 && conflicting == 0 && unknown == 0; }
  // One line: "complete: 20000 of 20000 keys present, 143 duplicate rows", or what is wrong
  // ("incomplete: ...; 2 missing (17, 4096)").
  std::string summary() const;
};

// The outside checker. `rows` is the union of any number of ledgers of one stream (order does
// not matter). For every record index 0..records-1 the record's seq must appear at least once,
// and every row with that seq must equal the record's output (stream_output(): idempotence);
// rows with any other seq are unknown. The expected outputs are recomputed from the generator,
// so a row the owners agree on but got wrong counts as conflicting too. O(rows log rows +
// records) time; REQUIRES: validate_stream_params(params) is ok.
LedgerReport check_ledgers(const StreamParams& params, std::span<const LedgerRow> rows);

}  // namespace starling::workloads
