// POSIX implementation of the careful file helpers.
#include "crypto/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "crypto/keys.hpp"

namespace starling::crypto {

namespace fs = std::filesystem;

namespace {

Status errno_status(std::string_view what, const fs::path& path, int err) {
  const StatusCode code = (err == ENOENT)                   ? StatusCode::kNotFound
                          : (err == EACCES || err == EPERM) ? StatusCode::kPermissionDenied
                                                            : StatusCode::kIoError;
  return error(code, std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

constexpr std::string_view kSeedMagic = "starling-ed25519-seed-v1 ";
constexpr std::string_view kPublicMagic = "starling-ed25519-public-v1 ";

// Parses "MAGIC KIND\n<64 hex>\n" into 32 bytes; kCorrupt naming `path` otherwise.
Result<std::array<std::uint8_t, 32>> parse_key_text(const fs::path& path, std::string_view text,
                                                    std::string_view magic, std::string_view kind) {
  const std::string head = std::string(magic) + std::string(kind) + "\n";
  auto bad = [&](std::string why) {
    return error(StatusCode::kCorrupt, path.string() + ": " + why + " (expected a line '" +
                                           head.substr(0, head.size() - 1) +
                                           "' and a line of 64 hex digits)");
  };
  if (text.size() != head.size() + 65 || text.substr(0, head.size()) != head || text.back() != '\n') {
    return bad("not a starling " + std::string(kind) + " key file");
  }
  auto decoded = from_hex(text.substr(head.size(), 64));
  if (!decoded) return bad("key is not 64 hex digits");
  std::array<std::uint8_t, 32> out{};
  std::copy(decoded->begin(), decoded->end(), out.begin());
  wipe_memory(decoded->data(), decoded->size());
  return out;
}

}  // namespace

Result<std::string> read_file(const fs::path& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return errno_status("cannot stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return error(StatusCode::kInvalidArgument, path.string() + " is not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return error(StatusCode::kTooLarge, path.string() + " is " + std::to_string(st.st_size) +
                                            " bytes; the limit is " + std::to_string(max_bytes));
  }
  std::string contents(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::read(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return errno_status("cannot read", path, err);
    }
    if (n == 0) break;  // the file shrank while we read it: keep what is there
    done += static_cast<std::size_t>(n);
  }
  contents.resize(done);
  ::close(fd);
  return contents;
}

Result<std::string> read_secret_file(const fs::path& path, std::size_t max_bytes) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return errno_status("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return error(StatusCode::kPermissionDenied,
                 path.string() + " is not a regular file (symlinks are refused for secrets)");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    return error(StatusCode::kPermissionDenied,
                 path.string() + " has mode " + mode +
                     "; a secret key must not be readable by group or others (chmod 600 " +
                     path.string() + ")");
  }
  return read_file(path, max_bytes);
}

Status ensure_private_directory(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return Status::ok();
  if (fs::exists(dir, ec)) {
    return error(StatusCode::kInvalidArgument, dir.string() + " exists and is not a directory");
  }
  if (dir.has_parent_path() && !dir.parent_path().empty()) {
    fs::create_directories(dir.parent_path(), ec);
    if (ec) return error(StatusCode::kIoError, "cannot create " + dir.parent_path().string() +
                                                   ": " + ec.message());
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return errno_status("cannot create directory", dir, errno);
  }
  return Status::ok();
}

Status write_file_atomic(const fs::path& path, std::string_view contents, unsigned mode,
                         bool overwrite) {
  std::error_code ec;
  if (!overwrite && fs::exists(path, ec)) {
    return error(StatusCode::kAlreadyExists, path.string() + " already exists; not overwriting");
  }
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string temp_name = ".";
  temp_name += path.filename().string();
  temp_name += ".XXXXXX";
  std::string temp_template = (dir / temp_name).string();
  const int fd = ::mkstemp(temp_template.data());
  if (fd < 0) return errno_status("cannot create a temporary file in", dir, errno);
  const fs::path temp(temp_template);
  auto fail = [&](std::string_view what) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return errno_status(what, path, err);
  };
  if (::fchmod(fd, mode) != 0) return fail("cannot set mode of");
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return errno_status("cannot close", path, err);
  }
  if (!overwrite) {
    // link() fails if the target appeared meanwhile, so no concurrent writer is clobbered.
    if (::link(temp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      ::unlink(temp.c_str());
      if (err == EEXIST) {
        return error(StatusCode::kAlreadyExists, path.string() + " already exists; not overwriting");
      }
      return errno_status("cannot create", path, err);
    }
    ::unlink(temp.c_str());
  } else if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return errno_status("cannot rename into", path, err);
  }
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    const int rc = ::fsync(dir_fd);
    ::close(dir_fd);
    if (rc != 0) return errno_status("cannot sync directory", dir, errno);
  }
  return Status::ok();
}

Status write_seed_file(const fs::path& path, std::string_view kind,
                       std::span<const std::uint8_t, 32> seed) {
  std::string text(kSeedMagic);
  text += kind;
  text += '\n';
  text += to_hex(seed);
  text += '\n';
  Status status = write_file_atomic(path, text, 0600, /*overwrite=*/false);
  wipe_memory(text.data(), text.size());
  return status;
}

Result<std::array<std::uint8_t, 32>> read_seed_file(const fs::path& path, std::string_view kind) {
  auto text = read_secret_file(path, 4096);
  if (!text) return text.status();
  auto seed = parse_key_text(path, *text, kSeedMagic, kind);
  wipe_memory(text->data(), text->size());
  return seed;
}

Status write_public_key_file(const fs::path& path, std::string_view kind, const PublicKey& key,
                             bool overwrite) {
  std::string text(kPublicMagic);
  text += kind;
  text += '\n';
  text += key.to_hex();
  text += '\n';
  return write_file_atomic(path, text, 0644, overwrite);
}

Result<PublicKey> read_public_key_file(const fs::path& path, std::string_view kind) {
  auto text = read_file(path, 4096);
  if (!text) return text.status();
  auto raw = parse_key_text(path, *text, kPublicMagic, kind);
  if (!raw) return raw.status();
  PublicKey key;
  key.bytes = *raw;
  return key;
}

}  // namespace starling::crypto
