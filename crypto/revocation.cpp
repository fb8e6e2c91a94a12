// Revocation list signing, verification and replacement rules.
#include "crypto/revocation.hpp"

#include <algorithm>

namespace starling::crypto {

namespace {
constexpr std::array<std::uint8_t, 4> kMagic = {'S', 'R', 'V', 'L'};
constexpr std::uint8_t kFormat = 1;
constexpr std::size_t kFixedSize = 4 + 1 + FleetId::kSize + 8 + 8 + 4;
}  // namespace

Result<RevocationList> RevocationList::sign(const SigningKey& fleet_root, std::uint64_t version,
                                            std::int64_t issued_at,
                                            std::vector<std::uint64_t> serials) {
  std::sort(serials.begin(), serials.end());
  serials.erase(std::unique(serials.begin(), serials.end()), serials.end());
  if (serials.size() > kRevocationMaxSerials) {
    return error(StatusCode::kInvalidArgument,
                 "a revocation list holds at most " + std::to_string(kRevocationMaxSerials) +
                     " serials");
  }
  if (version == 0) return error(StatusCode::kInvalidArgument, "revocation list version must be >= 1");
  RevocationList list;
  list.fleet_ = fleet_id_of(fleet_root.public_key());
  list.version_ = version;
  list.issued_at_ = issued_at;
  list.serials_ = std::move(serials);
  ByteWriter w(list.encoded_);
  w.raw(kMagic);
  w.u8(kFormat);
  w.raw(list.fleet_.bytes);
  w.u64(list.version_);
  w.i64(list.issued_at_);
  w.u32(static_cast<std::uint32_t>(list.serials_.size()));
  for (std::uint64_t serial : list.serials_) w.u64(serial);
  w.raw(fleet_root.sign(list.encoded_).bytes);
  return list;
}

Result<RevocationList> RevocationList::verify(ByteSpan bytes, const FleetPublicKey& fleet) {
  if (bytes.size() > kRevocationListMaxBytes) {
    return error(StatusCode::kTooLarge, "revocation list of " + std::to_string(bytes.size()) +
                                            " bytes exceeds the limit");
  }
  ByteReader r(bytes);
  STARLING_ASSIGN_OR_RETURN(auto magic, r.fixed<4>());
  if (magic != kMagic) return error(StatusCode::kCorrupt, "not a starling revocation list (bad magic)");
  STARLING_ASSIGN_OR_RETURN(auto format, r.u8());
  if (format != kFormat) {
    return error(StatusCode::kCorrupt, "unsupported revocation list format " + std::to_string(format));
  }
  RevocationList list;
  STARLING_ASSIGN_OR_RETURN(list.fleet_.bytes, r.fixed<FleetId::kSize>());
  STARLING_ASSIGN_OR_RETURN(list.version_, r.u64());
  STARLING_ASSIGN_OR_RETURN(list.issued_at_, r.i64());
  STARLING_ASSIGN_OR_RETURN(auto count, r.u32());
  // Check the declared count against the limit and the actual size before allocating.
  if (count > kRevocationMaxSerials) {
    return error(StatusCode::kTooLarge, "revocation list declares " + std::to_string(count) +
                                            " serials; the limit is " +
                                            std::to_string(kRevocationMaxSerials));
  }
  if (bytes.size() != kFixedSize + 8 * std::size_t{count} + Signature::kSize) {
    return error(StatusCode::kCorrupt, "revocation list size does not match its serial count");
  }
  if (list.fleet_ != fleet.id()) {
    return error(StatusCode::kWrongFleet, "revocation list belongs to fleet " + list.fleet_.to_hex() +
                                              ", not " + fleet.id().to_hex());
  }
  Signature signature;
  std::copy(bytes.end() - Signature::kSize, bytes.end(), signature.bytes.begin());
  if (!verify_detached(fleet.key, bytes.first(bytes.size() - Signature::kSize), signature)) {
    return error(StatusCode::kBadSignature, "revocation list signature does not verify");
  }
  if (list.version_ == 0) return error(StatusCode::kCorrupt, "revocation list version 0");
  list.serials_.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    STARLING_ASSIGN_OR_RETURN(auto serial, r.u64());
    if (!list.serials_.empty() && serial <= list.serials_.back()) {
      return error(StatusCode::kCorrupt, "revocation list serials are not strictly increasing");
    }
    list.serials_.push_back(serial);
  }
  list.encoded_.assign(bytes.begin(), bytes.end());
  return list;
}

bool RevocationList::contains(std::uint64_t serial) const {
  return std::binary_search(serials_.begin(), serials_.end(), serial);
}

Status RevocationState::maybe_replace(RevocationList newer) {
  if (newer.fleet() != fleet_) {
    return error(StatusCode::kWrongFleet, "revocation list belongs to another fleet");
  }
  if (has_list_ && newer.version() <= list_.version()) {
    return error(StatusCode::kStale, "revocation list version " + std::to_string(newer.version()) +
                                         " is not newer than version " +
                                         std::to_string(list_.version()) + " in force");
  }
  list_ = std::move(newer);
  has_list_ = true;
  return Status::ok();
}

}  // namespace starling::crypto
