// What the libFuzzer targets and the corpus generator share: the fixed keys (deterministic
// simulation keys, so the checked-in seeds verify against them), the fixed clock, the limits,
// and FUZZ_CHECK for the properties the targets assert. The keys are built once per process on
// first use (function-local statics); libFuzzer runs each target on one thread.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "base/bytes.hpp"
#include "crypto/certificate.hpp"
#include "crypto/identity.hpp"
#include "crypto/keys.hpp"
#include "crypto/revocation.hpp"
#include "crypto/signed_record.hpp"

namespace starling::fuzz {

// The seed of every simulation key below. Index 0 is the fleet root; 1.. are devices.
inline constexpr std::uint64_t kKeySeed = 1;
// The fixed "now" of certificate checks: 2023-11-14T22:13:20Z.
inline constexpr std::int64_t kNow_s = 1'700'000'000;
// The payload limit records are opened with (a typical per-kind limit, far below the ceiling).
inline constexpr std::size_t kRecordMaxPayload = 64 * 1024;
// Authors 0..kAuthorCount-1 are in the key directory; author 0's key is the "fixed key".
inline constexpr std::size_t kAuthorCount = 3;
// The serials on the fixed revocation list (certificates with them verify as kRevoked).
inline constexpr std::array<std::uint64_t, 3> kRevokedSerials = {7, 42, 1'000'000};
// Where the fleet id sits in certificates and revocation lists (after magic and format).
inline constexpr std::size_t kFleetIdOffset = 4 + 1;

// Aborts (so libFuzzer records the input as a crash) when a property of the decoders fails.
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (false)

inline const crypto::SigningKey& fleet_root() {
  static const crypto::SigningKey key = crypto::SigningKey::for_simulation(kKeySeed, 0);
  return key;
}

inline const crypto::FleetPublicKey& fleet_key() {
  static const crypto::FleetPublicKey key{fleet_root().public_key()};
  return key;
}

// Device identity `index` (0-based): Identity::for_simulation(kKeySeed, 1 + index).
inline const crypto::Identity& author(std::size_t index) {
  static const std::vector<crypto::Identity> authors = [] {
    std::vector<crypto::Identity> out;
    for (std::size_t i = 0; i < kAuthorCount + 1; ++i) {
      out.push_back(crypto::Identity::for_simulation(kKeySeed, 1 + i));
    }
    return out;
  }();
  return authors.at(index);
}

// An identity that is NOT in the key directory (records by it open as kNotFound).
inline const crypto::Identity& unknown_author() { return author(kAuthorCount); }

// The directory of authors 0..kAuthorCount-1, searched linearly (three entries).
class FixedKeyDirectory final : public crypto::KeyDirectory {
 public:
  const crypto::PublicKey* find_key(const NodeId& id) const override {
    for (std::size_t i = 0; i < kAuthorCount; ++i) {
      if (author(i).node_id() == id) return &author(i).public_key();
    }
    return nullptr;
  }
  // The identity behind `id`, or nullptr.
  const crypto::Identity* find_identity(const NodeId& id) const {
    for (std::size_t i = 0; i < kAuthorCount; ++i) {
      if (author(i).node_id() == id) return &author(i);
    }
    return nullptr;
  }
};

// The fleet's revocation list, version 3, revoking kRevokedSerials.
inline const crypto::RevocationList& revocations() {
  static const crypto::RevocationList list = [] {
    auto signed_list = crypto::RevocationList::sign(
        fleet_root(), 3, kNow_s - 3600,
        std::vector<std::uint64_t>(kRevokedSerials.begin(), kRevokedSerials.end()));
    FUZZ_CHECK(signed_list.is_ok());
    return std::move(signed_list).value();
  }();
  return list;
}

// A copy of `bytes` whose trailing 64-byte signature is replaced by `key`'s signature over the
// bytes before it, so the fuzzer also reaches the code that runs after a signature verified.
// REQUIRES: bytes.size() >= crypto::Signature::kSize.
inline Bytes resigned(ByteSpan bytes, const crypto::SigningKey& key) {
  Bytes out(bytes.begin(), bytes.end());
  const std::size_t signed_size = out.size() - crypto::Signature::kSize;
  const crypto::Signature signature = key.sign(ByteSpan(out).first(signed_size));
  std::copy(signature.bytes.begin(), signature.bytes.end(),
            out.begin() + static_cast<std::ptrdiff_t>(signed_size));
  return out;
}

}  // namespace starling::fuzz
