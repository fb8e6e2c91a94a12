// The fleet directory: what `starling fleet init` creates and the operator keeps offline.
//   fleet.key         the fleet root seed (mode 0600); signs certificates and revocation lists
//   fleet.pub         the fleet public key, given to every agent (--fleet-pub)
//   revocations.list  the current signed revocation list (armoured), version 1 when created
//   serials           one line per issued certificate: serial, node id, name, not_after
// Operations lock the directory (flock on fleet.key) so that two operators' commands cannot
// hand out the same serial. Not for use from protocol code: it reads the wall clock's time only
// through the `now_unix_s` arguments its callers pass.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "crypto/certificate.hpp"
#include "crypto/keys.hpp"
#include "crypto/revocation.hpp"

namespace starling::crypto {

inline constexpr std::string_view kCertificateLabel = "CERTIFICATE";
inline constexpr std::string_view kRevocationLabel = "REVOCATION LIST";

// Creates a fleet in `dir` (created with mode 0700 if missing). kAlreadyExists if it already
// holds a fleet key: a fleet key is never overwritten.
Result<FleetPublicKey> init_fleet(const std::filesystem::path& dir, std::int64_t now_unix_s);

// Reads a fleet public key file (fleet.pub), or the fleet.pub inside a fleet directory.
Result<FleetPublicKey> load_fleet_public(const std::filesystem::path& file_or_dir);

struct EnrollRequest {
  PublicKey device_key;
  std::string name;
  std::map<std::string, std::string> labels;
  std::int64_t valid_seconds = 365LL * 24 * 3600;
};

// Issues a certificate with the next serial, and records it in the serials file.
Result<Certificate> enroll_device(const std::filesystem::path& fleet_dir,
                                  const EnrollRequest& request, std::int64_t now_unix_s);

// Adds `serial` to the fleet's revocation list and writes version + 1. kNotFound for a serial
// the fleet never issued; kAlreadyExists if it is revoked already (the list is unchanged).
Result<RevocationList> revoke_serial(const std::filesystem::path& fleet_dir,
                                     std::uint64_t serial, std::int64_t now_unix_s);

// Reads an armoured certificate file and returns the binary certificate, not yet verified (see
// verify_certificate); reads an armoured revocation list file and verifies it against `fleet`.
Result<Bytes> read_certificate_file(const std::filesystem::path& path);
Result<RevocationList> read_revocation_file(const std::filesystem::path& path,
                                            const FleetPublicKey& fleet);

}  // namespace starling::crypto
