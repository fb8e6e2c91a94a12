// Ledgers (workloads/ledger.hpp): the line format and its checks, FileLedger round trips,
// torn-tail recovery at every byte of the last line, I/O errors as Status (a file size limit in
// a child process stands in for a full disk), MemoryLedger's crash semantics, and the checker,
// including that it does catch missing, conflicting and unknown rows.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "base/rng.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"
#include "workloads/stream.hpp"

using namespace starling;
using namespace starling::workloads;
namespace fs = std::filesystem;

namespace {

LedgerRow row_of(std::uint64_t seq) {
  return LedgerRow{seq, seq % 3 != 0, seq % 3 != 0 ? "mean=" + std::to_string(seq) + ".000"
                                                    : std::string("null_reading")};
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// A line with a correct crc over an arbitrary body, to test the field checks one by one.
std::string line_with_crc(const std::string& body) {
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08x", static_cast<unsigned>(crc32(body)));
  return body + "\t" + crc;
}

// Writes rows 0..count-1 to a new ledger at `path` and syncs.
void write_ledger(const fs::path& path, std::uint64_t count) {
  auto ledger = FileLedger::open(path);
  REQUIRE_OK(ledger);
  for (std::uint64_t seq = 0; seq < count; ++seq) REQUIRE_OK(ledger->append(row_of(seq)));
  REQUIRE_OK(ledger->sync());
}

std::vector<LedgerRow> rows_upto(std::uint64_t count) {
  std::vector<LedgerRow> rows;
  for (std::uint64_t seq = 0; seq < count; ++seq) rows.push_back(row_of(seq));
  return rows;
}

StreamParams small_stream() {
  StreamParams params;
  params.seed = 99;
  params.records = 3000;
  params.dirty = 0.2;
  return params;
}

std::vector<LedgerRow> all_outputs(const StreamParams& params) {
  std::vector<LedgerRow> rows;
  for (std::uint64_t i = 0; i < params.records; ++i) rows.push_back(expected_output(params, i));
  return rows;
}

}  // namespace

TEST_CASE("ledger line: crc32 is the standard one") {
  CHECK(crc32("123456789") == 0xcbf43926U);
  CHECK(crc32("") == 0U);
}

TEST_CASE("ledger line: format and parse round trip") {
  const LedgerRow row{42, true, "mean=1.000 max=1.000 anomaly=0"};
  const std::string line = format_ledger_line(row);
  CHECK(line == line_with_crc("42\tok\tmean=1.000 max=1.000 anomaly=0") + "\n");
  auto parsed = parse_ledger_line(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE_OK(parsed);
  CHECK(*parsed == row);
  const LedgerRow bad{UINT64_MAX, false, "absurd_value"};
  const std::string bad_line = format_ledger_line(bad);
  auto bad_parsed = parse_ledger_line(std::string_view(bad_line).substr(0, bad_line.size() - 1));
  REQUIRE_OK(bad_parsed);
  CHECK(*bad_parsed == bad);
}

TEST_CASE("ledger line: every malformed field is refused") {
  const std::vector<std::string> bad = {
      "",
      "42\tok\tresult",                               // no crc field
      line_with_crc("42\tok\tresult") + "0",          // crc one digit too long
      "42\tok\tresult\t00000000",                     // wrong crc
      line_with_crc("042\tok\tresult"),               // leading zero
      line_with_crc("-1\tok\tresult"),                // sign
      line_with_crc("+1\tok\tresult"),
      line_with_crc("\tok\tresult"),                  // empty seq
      line_with_crc("18446744073709551616\tok\tx"),   // seq overflows
      line_with_crc("4a\tok\tresult"),
      line_with_crc("42\tOK\tresult"),                // status
      line_with_crc("42\tok\t"),                      // empty result
      line_with_crc("42\tok"),                        // three fields
      line_with_crc("42\tok\tre\tsult"),              // five fields
      line_with_crc("42\tok\tr\x01sult"),             // control character
      line_with_crc("42\tok\t" + std::string(kLedgerResultMaxLength + 1, 'x')),
  };
  for (const std::string& line : bad) {
    CAPTURE(line);
    CHECK_CODE(parse_ledger_line(line), StatusCode::kCorrupt);
  }
  CHECK_OK(parse_ledger_line(line_with_crc("0\tbad\tx")));
  // The crc is lower-case hex, one encoding per row.
  std::string upper = line_with_crc("10\tok\tabc");
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK_CODE(parse_ledger_line(upper), StatusCode::kCorrupt);
}

TEST_CASE("ledger: rows with an invalid result are refused without being appended") {
  MemoryLedger memory;
  CHECK_CODE(memory.append(LedgerRow{1, true, ""}), StatusCode::kInvalidArgument);
  CHECK_CODE(memory.append(LedgerRow{1, true, "a\tb"}), StatusCode::kInvalidArgument);
  CHECK_CODE(memory.append(LedgerRow{1, true, "a\nb"}), StatusCode::kInvalidArgument);
  CHECK_CODE(memory.append(LedgerRow{1, true, std::string(kLedgerResultMaxLength + 1, 'x')}),
             StatusCode::kInvalidArgument);
  CHECK(memory.rows().empty());
  CHECK_OK(memory.append(LedgerRow{1, true, std::string(kLedgerResultMaxLength, 'x')}));
  CHECK(format_ledger_line(LedgerRow{UINT64_MAX, false, std::string(kLedgerResultMaxLength, 'x')})
            .size() <= kLedgerLineMaxBytes + 1);
}

TEST_CASE("ledger: the path of a replica's ledger in the data directory") {
  CHECK(ledger_path("/var/lib/starling", "line-3.temps", 2) ==
        fs::path("/var/lib/starling/ledgers/line-3.temps.2.ledger"));
}

TEST_CASE("file ledger: round trip and reopening appends") {
  testing::TempDir dir;
  const fs::path path = ledger_path(dir.path(), "w", 0);
  {
    auto ledger = FileLedger::open(path);  // creates ledgers/
    REQUIRE_OK(ledger);
    CHECK(ledger->rows_at_open() == 0);
    for (std::uint64_t seq = 0; seq < 50; ++seq) REQUIRE_OK(ledger->append(row_of(seq)));
    REQUIRE_OK(ledger->sync());
  }
  auto reopened = FileLedger::open(path);
  REQUIRE_OK(reopened);
  CHECK(reopened->rows_at_open() == 50);
  CHECK(reopened->truncated_bytes() == 0);
  for (std::uint64_t seq = 50; seq < 60; ++seq) REQUIRE_OK(reopened->append(row_of(seq)));
  REQUIRE_OK(reopened->sync());
  FileLedger moved = std::move(reopened).value();  // a moved ledger keeps working
  REQUIRE_OK(moved.append(row_of(60)));
  REQUIRE_OK(moved.sync());
  auto rows = read_ledger(path);
  REQUIRE_OK(rows);
  CHECK(*rows == rows_upto(61));
}

TEST_CASE("file ledger: more rows than the buffer holds") {
  testing::TempDir dir;
  const fs::path path = dir / "big.ledger";
  const std::uint64_t count = 2 * FileLedger::kFileLedgerBufferBytes / 20;
  write_ledger(path, count);
  auto rows = read_ledger(path);
  REQUIRE_OK(rows);
  CHECK(*rows == rows_upto(count));
}

TEST_CASE("file ledger: a torn last line is skipped and truncated at every byte offset") {
  testing::TempDir dir;
  const fs::path original = dir / "original.ledger";
  write_ledger(original, 5);
  const std::string bytes = read_bytes(original);
  const std::size_t last_line = bytes.rfind('\n', bytes.size() - 2) + 1;
  const fs::path path = dir / "torn.ledger";
  for (std::size_t cut = last_line; cut <= bytes.size(); ++cut) {
    CAPTURE(cut);
    write_bytes(path, bytes.substr(0, cut));
    const std::uint64_t kept = cut == bytes.size() ? 5 : 4;
    auto rows = read_ledger(path);
    REQUIRE_OK(rows);
    CHECK(*rows == rows_upto(kept));
    {
      auto ledger = FileLedger::open(path);
      REQUIRE_OK(ledger);
      CHECK(ledger->rows_at_open() == kept);
      CHECK(ledger->truncated_bytes() == (kept == 5 ? 0 : cut - last_line));
      for (std::uint64_t seq = kept; seq < 6; ++seq) REQUIRE_OK(ledger->append(row_of(seq)));
      REQUIRE_OK(ledger->sync());
    }
    auto healed = read_ledger(path);
    REQUIRE_OK(healed);
    CHECK(*healed == rows_upto(6));
  }
}

TEST_CASE("file ledger: a damaged last line is torn, a damaged middle line is corrupt") {
  testing::TempDir dir;
  const fs::path path = dir / "l.ledger";
  write_ledger(path, 5);
  const std::string bytes = read_bytes(path);

  std::string last = bytes;
  last[last.size() - 3] ^= 0x01;  // inside the crc of the last line; its LF stays
  write_bytes(path, last);
  auto rows = read_ledger(path);
  REQUIRE_OK(rows);
  CHECK(*rows == rows_upto(4));

  write_bytes(path, bytes + std::string(4096, '\0'));  // zeros after a power loss
  rows = read_ledger(path);
  REQUIRE_OK(rows);
  CHECK(*rows == rows_upto(5));
  write_bytes(path, bytes + std::string(3 * kLedgerLineMaxBytes, 'x'));  // an overlong tail
  rows = read_ledger(path);
  REQUIRE_OK(rows);
  CHECK(*rows == rows_upto(5));

  std::string middle = bytes;
  middle[bytes.find('\n') + 1] = 'x';  // the first character of line 2
  write_bytes(path, middle);
  auto corrupt = read_ledger(path);
  CHECK_CODE(corrupt, StatusCode::kCorrupt);
  CHECK(corrupt.status().message().find("line 2") != std::string::npos);
  CHECK_CODE(FileLedger::open(path), StatusCode::kCorrupt);

  write_bytes(path, bytes.substr(0, bytes.find('\n') + 1) + std::string(2000, 'x') + "\n" +
                        bytes.substr(bytes.find('\n') + 1));
  CHECK_CODE(read_ledger(path), StatusCode::kCorrupt);  // an overlong middle line
  write_bytes(path, last + "partial");  // a bad complete line, then a torn one
  CHECK_CODE(read_ledger(path), StatusCode::kCorrupt);
}

TEST_CASE("file ledger: errors opening and reading are statuses") {
  testing::TempDir dir;
  CHECK_CODE(read_ledger(dir / "absent.ledger"), StatusCode::kNotFound);
  CHECK_CODE(read_ledger(dir.path()), StatusCode::kInvalidArgument);
  CHECK_FALSE(FileLedger::open(dir.path()).is_ok());
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);  // must not hang
  CHECK_CODE(read_ledger(dir / "fifo"), StatusCode::kInvalidArgument);
  CHECK_CODE(FileLedger::open(dir / "fifo"), StatusCode::kInvalidArgument);
  write_bytes(dir / "file", "x");
  CHECK_CODE(FileLedger::open(dir / "file" / "w.0.ledger"), StatusCode::kIoError);
  if (::geteuid() != 0) {  // root ignores permissions
    const fs::path locked = dir / "locked";
    fs::create_directory(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    CHECK_CODE(FileLedger::open(locked / "w.0.ledger"), StatusCode::kPermissionDenied);
    fs::permissions(locked, fs::perms::owner_all);
  }
}

TEST_CASE("file ledger: a full disk fails writes with a status and the ledger stays failed") {
  // A file size limit (RLIMIT_FSIZE, EFBIG) stands in for ENOSPC; it is set in a child process
  // so that the rest of the suite is unaffected. The child reports by its exit code.
  testing::TempDir dir;
  const fs::path path = dir / "full.ledger";
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const struct rlimit limit {4096, 4096};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(10);
    auto ledger = FileLedger::open(path);
    if (!ledger) ::_exit(11);
    Status failure;
    for (std::uint64_t seq = 0; seq < 10000 && failure.is_ok(); ++seq) {
      failure = ledger->append(row_of(seq));
      if (failure.is_ok() && seq % 10 == 9) failure = ledger->sync();
    }
    if (failure.code() != StatusCode::kIoError) ::_exit(12);
    if (failure.message().find("cannot write") == std::string::npos) ::_exit(13);
    if (!(ledger->append(row_of(0)) == failure) || !(ledger->sync() == failure)) ::_exit(14);
    ::_exit(0);
  }
  int wstatus = 0;
  REQUIRE(::waitpid(child, &wstatus, 0) == child);
  REQUIRE(WIFEXITED(wstatus));
  CHECK(WEXITSTATUS(wstatus) == 0);
  // What reached the disk is readable: whole rows, and a torn last line that is skipped.
  auto rows = read_ledger(path);
  REQUIRE_OK(rows);
  CHECK(rows->size() > 100);
  CHECK(*rows == rows_upto(rows->size()));
  auto reopened = FileLedger::open(path);
  REQUIRE_OK(reopened);
  CHECK(reopened->rows_at_open() == rows->size());
}

TEST_CASE("memory ledger: a crash drops exactly the rows appended since the last sync") {
  MemoryLedger ledger;
  for (std::uint64_t seq = 0; seq < 3; ++seq) REQUIRE_OK(ledger.append(row_of(seq)));
  REQUIRE_OK(ledger.sync());
  for (std::uint64_t seq = 3; seq < 5; ++seq) REQUIRE_OK(ledger.append(row_of(seq)));
  CHECK(ledger.rows().size() == 5);
  CHECK(ledger.durable_rows() == 3);
  ledger.crash();
  CHECK(ledger.rows() == rows_upto(3));
  ledger.crash();  // nothing more to lose
  CHECK(ledger.rows() == rows_upto(3));
  REQUIRE_OK(ledger.append(row_of(3)));
  REQUIRE_OK(ledger.sync());
  CHECK(ledger.durable_rows() == 4);
  CHECK(ledger.syncs() == 2);

  const Status disk_error = error(StatusCode::kIoError, "injected");
  ledger.inject_error(disk_error);
  CHECK(ledger.append(row_of(4)) == disk_error);
  CHECK(ledger.sync() == disk_error);
  CHECK(ledger.rows().size() == 4);
  ledger.crash();  // the machine restarts: the error is gone
  CHECK_OK(ledger.append(row_of(4)));
}

TEST_CASE("check ledgers: complete with duplicates in any order") {
  const StreamParams params = small_stream();
  std::vector<LedgerRow> rows = all_outputs(params);
  LedgerReport report = check_ledgers(params, rows);
  CHECK(report.complete());
  CHECK(report.expected == params.records);
  CHECK(report.present == params.records);
  CHECK(report.duplicates == 0);
  CHECK(report.summary().starts_with("complete: 3000 of 3000 keys present"));

  const std::uint64_t seed = testing::test_seed();
  CAPTURE(seed);
  Rng rng(seed);
  std::vector<LedgerRow> twice = rows;
  for (std::uint64_t i = 0; i < 500; ++i) twice.push_back(rows[rng.uniform(rows.size())]);
  rng.shuffle(twice.begin(), twice.end());
  report = check_ledgers(params, twice);
  CHECK(report.complete());
  CHECK(report.duplicates == 500);
  CHECK(report.rows == 3500);
}

TEST_CASE("check ledgers: the canary rows make the checker fail") {
  const StreamParams params = small_stream();
  const std::vector<LedgerRow> rows = all_outputs(params);

  std::vector<LedgerRow> missing = rows;
  missing.erase(missing.begin() + 1234);
  LedgerReport report = check_ledgers(params, missing);
  CHECK_FALSE(report.complete());
  CHECK(report.missing == 1);
  CHECK(report.first_missing == std::vector<std::uint64_t>{rows[1234].seq});
  CHECK(report.summary().find("1 missing (" + std::to_string(rows[1234].seq) + ")") !=
        std::string::npos);
  CHECK(check_ledgers(params, {}).missing == params.records);

  std::vector<LedgerRow> conflicting = rows;
  conflicting.push_back(rows[10]);
  conflicting.back().result = "mean=0.000 max=0.000 anomaly=0";  // a second, different output
  conflicting[20].ok = !conflicting[20].ok;                       // one wrong output
  report = check_ledgers(params, conflicting);
  CHECK_FALSE(report.complete());
  CHECK(report.missing == 0);
  CHECK(report.conflicting == 2);
  CHECK(report.first_conflicting == std::vector<std::uint64_t>{rows[10].seq, rows[20].seq});

  // Rows whose seq is no key: one in a gap of the stream, one past its end.
  std::vector<LedgerRow> unknown = rows;
  std::uint64_t in_gap = 0;
  for (std::size_t i = 1; i < rows.size() && in_gap == 0; ++i) {
    if (rows[i].seq > rows[i - 1].seq + 1) in_gap = rows[i - 1].seq + 1;
  }
  REQUIRE(in_gap != 0);
  unknown.push_back(LedgerRow{in_gap, false, "null_reading"});
  unknown.push_back(LedgerRow{rows.back().seq + 1, false, "null_reading"});
  report = check_ledgers(params, unknown);
  CHECK_FALSE(report.complete());
  CHECK(report.unknown == 2);
  CHECK(report.first_unknown == std::vector<std::uint64_t>{in_gap, rows.back().seq + 1});
}
