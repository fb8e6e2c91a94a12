// Signed revocation lists: the set of certificate serials a fleet no longer trusts, with a
// version number so that a newer list replaces an older one and never the reverse (a replayed
// old list cannot un-revoke a device). Value types and pure functions; thread-compatible.
//
// Encoding (little-endian; the signature by the fleet root covers every byte before it):
//   "SRVL" | u8 format=1 | fleet_id[16] | u64 version | i64 issued_at | u32 count
//   | u64 serial * count (strictly increasing) | signature[64]
#pragma once

#include <cstdint>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "crypto/certificate.hpp"
#include "crypto/keys.hpp"

namespace starling::crypto {

inline constexpr std::size_t kRevocationMaxSerials = 100'000;
inline constexpr std::size_t kRevocationListMaxBytes = 4 + 1 + 16 + 8 + 8 + 4 +
                                                       8 * kRevocationMaxSerials + 64;

class RevocationList {
 public:
  // Signs a list. `serials` may be in any order; duplicates are removed.
  // kInvalidArgument for more than kRevocationMaxSerials serials or a version of 0.
  static Result<RevocationList> sign(const SigningKey& fleet_root, std::uint64_t version,
                                     std::int64_t issued_at, std::vector<std::uint64_t> serials);

  // Checks layout (kCorrupt/kTooLarge, before any allocation), fleet (kWrongFleet) and
  // signature (kBadSignature), then decodes.
  static Result<RevocationList> verify(ByteSpan bytes, const FleetPublicKey& fleet);

  const FleetId& fleet() const noexcept { return fleet_; }
  std::uint64_t version() const noexcept { return version_; }
  std::int64_t issued_at() const noexcept { return issued_at_; }
  const std::vector<std::uint64_t>& serials() const noexcept { return serials_; }
  bool contains(std::uint64_t serial) const;
  const Bytes& encoded() const noexcept { return encoded_; }

 private:
  FleetId fleet_;
  std::uint64_t version_ = 0;
  std::int64_t issued_at_ = 0;
  std::vector<std::uint64_t> serials_;  // sorted, unique
  Bytes encoded_;
};

// The revocation list an agent currently enforces. maybe_replace() accepts only a verified list
// of the same fleet with a strictly higher version; it returns kStale for an older or equal
// version and leaves the current list in place.
class RevocationState {
 public:
  explicit RevocationState(FleetId fleet) : fleet_(fleet) {}

  Status maybe_replace(RevocationList newer);
  // The list in force; nullptr before the first one arrives.
  const RevocationList* current() const noexcept { return has_list_ ? &list_ : nullptr; }
  bool is_revoked(std::uint64_t serial) const { return has_list_ && list_.contains(serial); }

 private:
  FleetId fleet_;
  bool has_list_ = false;
  RevocationList list_;
};

}  // namespace starling::crypto
