// Ledger rows and lines, FileLedger (POSIX), MemoryLedger and read_ledger().
#include "workloads/ledger.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "base/assert.hpp"

namespace starling::workloads {

namespace fs = std::filesystem;

namespace {

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<std::uint32_t, 256> kCrcTable = make_crc_table();

Status errno_status(std::string_view what, const fs::path& path, int err) {
  const StatusCode code = (err == ENOENT)                   ? StatusCode::kNotFound
                          : (err == EACCES || err == EPERM) ? StatusCode::kPermissionDenied
                                                            : StatusCode::kIoError;
  return error(code, std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

Status corrupt_line(std::string why) { return error(StatusCode::kCorrupt, std::move(why)); }

// "seq TAB status TAB result": what the crc covers.
std::string line_body(const LedgerRow& row) {
  std::string body = std::to_string(row.seq);
  body += row.ok ? "\tok\t" : "\tbad\t";
  body += row.result;
  return body;
}

std::string crc_hex(std::uint32_t crc) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(crc));
  return std::string(text, 8);
}

// Fsyncs a directory, so that an entry created in it survives a power loss.
Status sync_directory(const fs::path& dir) {
  const fs::path target = dir.empty() ? fs::path(".") : dir;
  const int fd = ::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open directory", target, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return errno_status("cannot sync directory", target, err);
  return Status::ok();
}

// kInvalidArgument unless `fd` is a regular file.
Status require_regular(int fd, const fs::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_status("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return error(StatusCode::kInvalidArgument, path.string() + " is not a regular file");
  }
  return Status::ok();
}

struct Scan {
  std::uint64_t file_bytes = 0;   // bytes read
  std::uint64_t valid_bytes = 0;  // up to the end of the last good line
  std::uint64_t rows = 0;
};

// Reads a ledger from the start, appending its rows to `rows` when given. Lines are at most
// kLedgerLineMaxBytes (longer ones are bad without being held), so memory stays bounded. The
// last line may be bad (torn: left out of valid_bytes); a bad line followed by anything is
// kCorrupt.
Result<Scan> scan_ledger(int fd, const fs::path& path, std::vector<LedgerRow>* rows) {
  Scan scan;
  std::string line;
  bool too_long = false;
  std::uint64_t line_number = 0;
  std::optional<std::string> bad_line;  // the reason of a bad complete line, while it is last
  std::array<char, 64 * 1024> buffer{};
  for (;;) {
    const ssize_t n =
        ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(scan.file_bytes));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status("cannot read", path, errno);
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      const char c = buffer[static_cast<std::size_t>(i)];
      if (c != '\n') {
        if (line.size() < kLedgerLineMaxBytes) {
          line.push_back(c);
        } else {
          too_long = true;
        }
        continue;
      }
      ++line_number;
      if (bad_line) return corrupt_line(path.string() + ": " + *bad_line);
      auto row = too_long ? Result<LedgerRow>(corrupt_line("line too long"))
                          : parse_ledger_line(line);
      if (row) {
        if (rows != nullptr) rows->push_back(std::move(row).value());
        ++scan.rows;
        scan.valid_bytes = scan.file_bytes + static_cast<std::uint64_t>(i) + 1;
      } else {
        bad_line = "line " + std::to_string(line_number) + ": " + row.status().message();
      }
      line.clear();
      too_long = false;
    }
    scan.file_bytes += static_cast<std::uint64_t>(n);
  }
  const bool tail = !line.empty() || too_long;  // an unterminated last line: torn
  if (bad_line && tail) return corrupt_line(path.string() + ": " + *bad_line);
  return scan;
}

bool is_result_char(char c) { return c >= 0x20 && c <= 0x7e; }

}  // namespace

std::uint32_t crc32(std::string_view bytes) noexcept {
  std::uint32_t crc = 0xffffffffU;
  for (char c : bytes) crc = kCrcTable[(crc ^ static_cast<std::uint8_t>(c)) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffU;
}

Status validate_row(const LedgerRow& row) {
  if (row.result.empty() || row.result.size() > kLedgerResultMaxLength) {
    return error(StatusCode::kInvalidArgument,
                 "ledger result must be 1.." + std::to_string(kLedgerResultMaxLength) +
                     " characters, got " + std::to_string(row.result.size()));
  }
  for (char c : row.result) {
    if (!is_result_char(c)) {
      return error(StatusCode::kInvalidArgument,
                   "ledger result holds a character that is not printable ASCII (or a TAB)");
    }
  }
  return Status::ok();
}

std::string format_ledger_line(const LedgerRow& row) {
  STARLING_ASSERT(validate_row(row).is_ok(), "format_ledger_line() of an invalid row");
  std::string line = line_body(row);
  line += '\t';
  line += crc_hex(crc32(line_body(row)));
  line += '\n';
  return line;
}

Result<LedgerRow> parse_ledger_line(std::string_view line) {
  const std::size_t crc_tab = line.rfind('\t');
  if (crc_tab == std::string_view::npos) return corrupt_line("no TAB-separated fields");
  const std::string_view body = line.substr(0, crc_tab);
  const std::string_view crc_text = line.substr(crc_tab + 1);
  if (crc_text != crc_hex(crc32(body))) return corrupt_line("crc32 does not match");
  const std::size_t first = body.find('\t');
  const std::size_t second = first == std::string_view::npos ? first : body.find('\t', first + 1);
  if (second == std::string_view::npos) return corrupt_line("expected four fields");
  const std::string_view seq_text = body.substr(0, first);
  const std::string_view status = body.substr(first + 1, second - first - 1);
  LedgerRow row;
  row.result = std::string(body.substr(second + 1));
  if (seq_text.empty() || (seq_text.size() > 1 && seq_text[0] == '0') || seq_text[0] < '0' ||
      seq_text[0] > '9') {
    return corrupt_line("seq is not a canonical decimal number");
  }
  const char* const seq_end = seq_text.data() + seq_text.size();
  const auto [end, ec] = std::from_chars(seq_text.data(), seq_end, row.seq);
  if (ec != std::errc() || end != seq_end) {
    return corrupt_line("seq is not a canonical decimal number");
  }
  if (status != "ok" && status != "bad") return corrupt_line("status is neither ok nor bad");
  row.ok = status == "ok";
  if (!validate_row(row)) return corrupt_line("bad result field");
  return row;
}

fs::path ledger_path(const fs::path& data_dir, std::string_view workload, std::uint32_t replica) {
  return data_dir / "ledgers" /
         (std::string(workload) + "." + std::to_string(replica) + ".ledger");
}

// --- FileLedger.

Result<FileLedger> FileLedger::open(const fs::path& path) {
  const fs::path parent = path.parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
      return errno_status("cannot create directory", parent, errno);
    }
    STARLING_RETURN_IF_ERROR(sync_directory(parent.parent_path()));
  }
  bool created = true;
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  }
  if (fd < 0) return errno_status("cannot open", path, errno);
  FileLedger ledger(path, fd);  // closes the file on every early return below
  STARLING_RETURN_IF_ERROR(require_regular(fd, path));
  if (created) STARLING_RETURN_IF_ERROR(sync_directory(parent));
  auto scan = scan_ledger(fd, path, nullptr);
  if (!scan) return scan.status();
  if (scan->valid_bytes < scan->file_bytes) {
    if (::ftruncate(fd, static_cast<off_t>(scan->valid_bytes)) != 0) {
      return errno_status("cannot truncate the torn tail of", path, errno);
    }
    if (::fdatasync(fd) != 0) return errno_status("cannot sync", path, errno);
  }
  ledger.rows_at_open_ = scan->rows;
  ledger.truncated_bytes_ = scan->file_bytes - scan->valid_bytes;
  return ledger;
}

FileLedger::FileLedger(FileLedger&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      failed_(std::move(other.failed_)),
      rows_at_open_(other.rows_at_open_),
      truncated_bytes_(other.truncated_bytes_) {}

FileLedger& FileLedger::operator=(FileLedger&& other) noexcept {
  if (this != &other) {
    close_file();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    failed_ = std::move(other.failed_);
    rows_at_open_ = other.rows_at_open_;
    truncated_bytes_ = other.truncated_bytes_;
  }
  return *this;
}

FileLedger::~FileLedger() { close_file(); }

void FileLedger::close_file() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status FileLedger::append(const LedgerRow& row) {
  STARLING_RETURN_IF_ERROR(failed_);
  STARLING_RETURN_IF_ERROR(validate_row(row));
  buffer_ += format_ledger_line(row);
  if (buffer_.size() >= kFileLedgerBufferBytes) return write_buffer();
  return Status::ok();
}

Status FileLedger::sync() {
  STARLING_RETURN_IF_ERROR(failed_);
  STARLING_RETURN_IF_ERROR(write_buffer());
  if (::fdatasync(fd_) != 0) {
    failed_ = errno_status("cannot sync", path_, errno);
    return failed_;
  }
  return Status::ok();
}

Status FileLedger::write_buffer() {
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failed_ = errno_status("cannot write", path_, errno);
      return failed_;
    }
    done += static_cast<std::size_t>(n);
  }
  buffer_.clear();
  return Status::ok();
}

// --- MemoryLedger.

Status MemoryLedger::append(const LedgerRow& row) {
  if (error_) return *error_;
  STARLING_RETURN_IF_ERROR(validate_row(row));
  rows_.push_back(row);
  return Status::ok();
}

Status MemoryLedger::sync() {
  if (error_) return *error_;
  durable_ = rows_.size();
  ++syncs_;
  return Status::ok();
}

void MemoryLedger::crash() {
  rows_.resize(durable_);
  error_.reset();
}

void MemoryLedger::inject_error(Status status) {
  STARLING_ASSERT(!status.is_ok(), "inject_error() needs an error");
  error_ = std::move(status);
}

// --- Reading.

Result<std::vector<LedgerRow>> read_ledger(const fs::path& path) {
  // O_NONBLOCK: opening a FIFO must not hang before require_regular() refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open", path, errno);
  std::vector<LedgerRow> rows;
  Status status = require_regular(fd, path);
  if (status) status = scan_ledger(fd, path, &rows).status();
  ::close(fd);
  if (!status) return status;
  return rows;
}

}  // namespace starling::workloads
