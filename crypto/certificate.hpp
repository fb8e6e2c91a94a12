// Fleet trust: device certificates signed by a fleet root key, and their verification.
// Pure functions over bytes plus a caller-supplied time, so the simulator and tests control
// the clock. Thread-safe.
//
// Encoding (all integers little-endian; the signature covers every byte before it):
//   "SCRT" | u8 format=1 | fleet_id[16] | u32 body_length | body | signature[64]
//   body = device_key[32] | str16 name | u16 label_count | (str16 key, str16 value)*
//          | i64 issued_at | i64 not_after | u64 serial
// The fleet id sits outside the body so that a certificate from another fleet is reported as
// such (kWrongFleet) before its signature is checked; the body is decoded only after the
// signature verified. Labels are sorted by key with no duplicates, so each certificate has
// exactly one encoding.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/status.hpp"
#include "crypto/keys.hpp"

namespace starling::crypto {

class RevocationList;

// Limits enforced on issue and on decode, before anything is allocated.
inline constexpr std::size_t kCertificateMaxBytes = 8 * 1024;
inline constexpr std::size_t kNameMaxLength = 64;
inline constexpr std::size_t kLabelMaxCount = 32;
inline constexpr std::size_t kLabelKeyMaxLength = 63;
inline constexpr std::size_t kLabelValueMaxLength = 255;

// Devices' clocks drift (many edge devices have no RTC battery): a certificate is accepted this
// long before its issued_at. Expiry (not_after) gets no allowance.
inline constexpr std::int64_t kClockSkewAllowance_s = 300;

// The fleet's public trust anchor: what every agent is configured with.
struct FleetPublicKey {
  PublicKey key;
  FleetId id() const { return fleet_id_of(key); }
};

struct CertificateBody {
  PublicKey device_key;
  std::string name;                           // [A-Za-z0-9._-], 1..64 characters
  std::map<std::string, std::string> labels;  // keys [a-z0-9._/-]; values printable ASCII
  std::int64_t issued_at = 0;                 // Unix seconds
  std::int64_t not_after = 0;                 // Unix seconds, exclusive; > issued_at
  std::uint64_t serial = 0;                   // >= 1, unique within the fleet
};

struct Certificate {
  FleetId fleet;
  CertificateBody body;
  Bytes encoded;  // the exact signed bytes, signature included

  NodeId node_id() const { return node_id_of(body.device_key); }
};

// Checks names and labels against the rules above, and that the encoded certificate fits in
// kCertificateMaxBytes; kInvalidArgument naming the bad field.
Status validate_certificate_body(const CertificateBody& body);

// Signs `body` with the fleet root key. kInvalidArgument if the body does not validate.
Result<Certificate> issue_certificate(const SigningKey& fleet_root, const CertificateBody& body);

// Decodes a certificate WITHOUT checking its signature: for display only (`starling cert show`).
Result<Certificate> decode_certificate_unverified(ByteSpan bytes);

// Full verification, in this order: layout (kCorrupt/kTooLarge), fleet (kWrongFleet),
// signature (kBadSignature), body (kCorrupt), validity window at `now_unix_s` (kExpired, also
// for not-yet-valid beyond kClockSkewAllowance_s), revocation by serial in `revocations` when given (kRevoked).
Result<Certificate> verify_certificate(ByteSpan bytes, const FleetPublicKey& fleet,
                                       std::int64_t now_unix_s,
                                       const RevocationList* revocations = nullptr);

}  // namespace starling::crypto
