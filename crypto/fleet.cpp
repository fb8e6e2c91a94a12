// Fleet directory operations for the operator's CLI.
#include "crypto/fleet.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <charconv>
#include <sstream>

#include "crypto/armor.hpp"
#include "crypto/files.hpp"

namespace starling::crypto {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kKeyFile = "fleet.key";
constexpr std::string_view kPublicFile = "fleet.pub";
constexpr std::string_view kRevocationFile = "revocations.list";
constexpr std::string_view kSerialsFile = "serials";

// Holds an exclusive flock on the fleet key for the lifetime of the object.
class FleetLock {
 public:
  static Result<FleetLock> acquire(const fs::path& dir) {
    const fs::path key = dir / kKeyFile;
    const int fd = ::open(key.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return error(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
                   "no fleet in " + dir.string() + " (" + key.string() +
                       " missing; create one with: starling fleet init --out " + dir.string() + ")");
    }
    if (::flock(fd, LOCK_EX) != 0) {
      ::close(fd);
      return error(StatusCode::kIoError, "cannot lock " + key.string());
    }
    return FleetLock(fd);
  }
  FleetLock(FleetLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FleetLock& operator=(FleetLock&&) = delete;
  ~FleetLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }

 private:
  explicit FleetLock(int fd) : fd_(fd) {}
  int fd_;
};

Result<SigningKey> load_fleet_key(const fs::path& dir) {
  auto seed = read_seed_file(dir / kKeyFile, "fleet");
  if (!seed) return seed.status();
  auto key = SigningKey::from_seed(std::span<const std::uint8_t, 32>(*seed));
  wipe_memory(seed->data(), seed->size());
  return key;
}


// Parses the serials file: "SERIAL NODE_ID NAME NOT_AFTER" lines. Returns the highest serial.
Result<std::uint64_t> highest_serial(const fs::path& dir) {
  auto text = read_file(dir / kSerialsFile, 64 * 1024 * 1024);
  if (!text) {
    if (text.status().code() == StatusCode::kNotFound) return std::uint64_t{0};
    return text.status();
  }
  std::uint64_t highest = 0;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::uint64_t serial = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), serial);
    if (ec != std::errc() || (end != line.data() + line.size() && *end != ' ')) {
      return error(StatusCode::kCorrupt, (dir / kSerialsFile).string() + ": bad line '" + line + "'");
    }
    highest = std::max(highest, serial);
  }
  return highest;
}

Status append_serial(const fs::path& dir, const Certificate& cert) {
  auto existing = read_file(dir / kSerialsFile, 64 * 1024 * 1024);
  std::string text;
  if (existing) {
    text = std::move(existing).value();
  } else if (existing.status().code() == StatusCode::kNotFound) {
    text = "# serial node_id name not_after (written by starling enroll)\n";
  } else {
    return existing.status();
  }
  text += std::to_string(cert.body.serial) + " " + cert.node_id().to_hex() + " " + cert.body.name +
          " " + std::to_string(cert.body.not_after) + "\n";
  return write_file_atomic(dir / kSerialsFile, text, 0644, /*overwrite=*/true);
}

}  // namespace

Result<FleetPublicKey> init_fleet(const fs::path& dir, std::int64_t now_unix_s) {
  std::error_code ec;
  if (fs::exists(dir / kKeyFile, ec)) {
    return error(StatusCode::kAlreadyExists, (dir / kKeyFile).string() +
                                                 " already exists; a fleet key is never replaced");
  }
  STARLING_RETURN_IF_ERROR(ensure_private_directory(dir));
  auto key = SigningKey::generate();
  if (!key) return key.status();
  STARLING_RETURN_IF_ERROR(write_seed_file(dir / kKeyFile, "fleet", key->seed().span()));
  STARLING_RETURN_IF_ERROR(
      write_public_key_file(dir / kPublicFile, "fleet", key->public_key(), /*overwrite=*/true));
  auto list = RevocationList::sign(*key, 1, now_unix_s, {});
  if (!list) return list.status();
  STARLING_RETURN_IF_ERROR(write_file_atomic(
      dir / kRevocationFile, armor(kRevocationLabel, list->encoded()), 0644, true));
  return FleetPublicKey{key->public_key()};
}

Result<FleetPublicKey> load_fleet_public(const fs::path& file_or_dir) {
  std::error_code ec;
  const fs::path file =
      fs::is_directory(file_or_dir, ec) ? file_or_dir / kPublicFile : file_or_dir;
  auto key = read_public_key_file(file, "fleet");
  if (!key) return key.status();
  return FleetPublicKey{*key};
}

Result<Certificate> enroll_device(const fs::path& fleet_dir, const EnrollRequest& request,
                                  std::int64_t now_unix_s) {
  if (request.valid_seconds <= 0) {
    return error(StatusCode::kInvalidArgument, "validity must be positive");
  }
  STARLING_ASSIGN_OR_RETURN(FleetLock lock, FleetLock::acquire(fleet_dir));
  STARLING_ASSIGN_OR_RETURN(SigningKey key, load_fleet_key(fleet_dir));
  STARLING_ASSIGN_OR_RETURN(std::uint64_t highest, highest_serial(fleet_dir));
  CertificateBody body;
  body.device_key = request.device_key;
  body.name = request.name;
  body.labels = request.labels;
  body.issued_at = now_unix_s;
  body.not_after = now_unix_s + request.valid_seconds;
  body.serial = highest + 1;
  STARLING_ASSIGN_OR_RETURN(Certificate cert, issue_certificate(key, body));
  STARLING_RETURN_IF_ERROR(append_serial(fleet_dir, cert));
  return cert;
}

Result<RevocationList> revoke_serial(const fs::path& fleet_dir, std::uint64_t serial,
                                     std::int64_t now_unix_s) {
  STARLING_ASSIGN_OR_RETURN(FleetLock lock, FleetLock::acquire(fleet_dir));
  STARLING_ASSIGN_OR_RETURN(SigningKey key, load_fleet_key(fleet_dir));
  STARLING_ASSIGN_OR_RETURN(std::uint64_t highest, highest_serial(fleet_dir));
  if (serial == 0 || serial > highest) {
    return error(StatusCode::kNotFound, "serial " + std::to_string(serial) +
                                            " was never issued by this fleet (highest is " +
                                            std::to_string(highest) + ")");
  }
  const FleetPublicKey fleet{key.public_key()};
  STARLING_ASSIGN_OR_RETURN(RevocationList current,
                            read_revocation_file(fleet_dir / kRevocationFile, fleet));
  if (current.contains(serial)) {
    return error(StatusCode::kAlreadyExists, "serial " + std::to_string(serial) +
                                                 " is already revoked (list version " +
                                                 std::to_string(current.version()) + ")");
  }
  std::vector<std::uint64_t> serials = current.serials();
  serials.push_back(serial);
  STARLING_ASSIGN_OR_RETURN(
      RevocationList next,
      RevocationList::sign(key, current.version() + 1, now_unix_s, std::move(serials)));
  STARLING_RETURN_IF_ERROR(write_file_atomic(fleet_dir / kRevocationFile,
                                             armor(kRevocationLabel, next.encoded()), 0644, true));
  return next;
}

Result<Bytes> read_certificate_file(const fs::path& path) {
  auto text = read_file(path, 4 * kCertificateMaxBytes);
  if (!text) return text.status();
  auto bytes = dearmor(kCertificateLabel, *text, kCertificateMaxBytes);
  if (!bytes) return bytes.status().with_context(path.string());
  return bytes;
}

Result<RevocationList> read_revocation_file(const fs::path& path, const FleetPublicKey& fleet) {
  auto text = read_file(path, 2 * kRevocationListMaxBytes);
  if (!text) return text.status();
  auto bytes = dearmor(kRevocationLabel, *text, kRevocationListMaxBytes);
  if (!bytes) return bytes.status().with_context(path.string());
  auto list = RevocationList::verify(*bytes, fleet);
  if (!list) return list.status().with_context(path.string());
  return list;
}

}  // namespace starling::crypto
