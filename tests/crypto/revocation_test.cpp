// Tests for signed revocation lists and the replacement rules of RevocationState.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "base/bytes.hpp"
#include "crypto/revocation.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling::crypto {
namespace {

constexpr std::int64_t kNow = 1'700'000'000;

// Offsets: "SRVL" | format | fleet_id[16] | u64 version | i64 issued_at | u32 count | serials.
constexpr std::size_t kFleetAt = 5;
constexpr std::size_t kVersionAt = kFleetAt + FleetId::kSize;
constexpr std::size_t kCountAt = kVersionAt + 8 + 8;
constexpr std::size_t kSerialsAt = kCountAt + 4;

const SigningKey& fleet_root() {
  static const SigningKey key = SigningKey::for_simulation(2000, 0);
  return key;
}
const SigningKey& other_root() {
  static const SigningKey key = SigningKey::for_simulation(2000, 1);
  return key;
}
FleetPublicKey fleet() { return FleetPublicKey{fleet_root().public_key()}; }

RevocationList signed_list(std::uint64_t version, std::vector<std::uint64_t> serials,
                           const SigningKey& root = fleet_root()) {
  auto list = RevocationList::sign(root, version, kNow, std::move(serials));
  REQUIRE_OK(list);
  return std::move(list).value();
}

// Signs raw fields with the fleet root, for lists RevocationList::sign would refuse.
Bytes forge(std::uint64_t version, const std::vector<std::uint64_t>& serials) {
  Bytes out = {'S', 'R', 'V', 'L', 1};
  ByteWriter w(out);
  w.raw(fleet().id().bytes);
  w.u64(version);
  w.i64(kNow);
  w.u32(static_cast<std::uint32_t>(serials.size()));
  for (std::uint64_t serial : serials) w.u64(serial);
  w.raw(fleet_root().sign(out).bytes);
  return out;
}

TEST_CASE("sign and verify round trip") {
  const RevocationList list = signed_list(3, {9, 3, 5, 3});
  CHECK(list.serials() == std::vector<std::uint64_t>{3, 5, 9});  // sorted, unique
  CHECK(list.version() == 3);
  CHECK(list.issued_at() == kNow);
  CHECK(list.fleet() == fleet().id());
  CHECK(list.encoded().size() == kSerialsAt + 3 * 8 + Signature::kSize);

  auto verified = RevocationList::verify(list.encoded(), fleet());
  REQUIRE_OK(verified);
  CHECK(verified->serials() == list.serials());
  CHECK(verified->version() == 3);
  CHECK(verified->issued_at() == kNow);
  CHECK(verified->fleet() == fleet().id());
  CHECK(verified->encoded() == list.encoded());
  CHECK(verified->contains(3));
  CHECK(verified->contains(9));
  CHECK_FALSE(verified->contains(4));
  CHECK_FALSE(verified->contains(0));

  const RevocationList empty = signed_list(1, {});
  auto empty_verified = RevocationList::verify(empty.encoded(), fleet());
  REQUIRE_OK(empty_verified);
  CHECK(empty_verified->serials().empty());
}

TEST_CASE("sign refuses version 0 and too many serials") {
  CHECK_CODE(RevocationList::sign(fleet_root(), 0, kNow, {}), StatusCode::kInvalidArgument);
  std::vector<std::uint64_t> serials(kRevocationMaxSerials + 1);
  for (std::size_t i = 0; i < serials.size(); ++i) serials[i] = i + 1;
  CHECK_CODE(RevocationList::sign(fleet_root(), 1, kNow, serials), StatusCode::kInvalidArgument);
  serials.pop_back();
  const RevocationList full = signed_list(1, serials);
  CHECK(full.encoded().size() == kRevocationListMaxBytes);
  CHECK_OK(RevocationList::verify(full.encoded(), fleet()));
}

TEST_CASE("flipping any single byte makes verification fail") {
  const RevocationList list = signed_list(4, {2, 7});
  const Bytes& encoded = list.encoded();
  const std::size_t signature_at = encoded.size() - Signature::kSize;
  for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
    for (std::size_t i = 0; i < encoded.size(); ++i) {
      CAPTURE(i);
      CAPTURE(static_cast<int>(mask));
      Bytes tampered = encoded;
      tampered[i] ^= mask;
      auto result = RevocationList::verify(tampered, fleet());
      CHECK_FALSE(result.is_ok());
      if (i < kFleetAt) {
        CHECK_CODE(result, StatusCode::kCorrupt);
      } else if (i < kVersionAt) {
        CHECK_CODE(result, StatusCode::kWrongFleet);
      } else if (i < kCountAt) {
        CHECK_CODE(result, StatusCode::kBadSignature);  // version, issued_at
      } else if (i < kSerialsAt) {
        const StatusCode code = result.status().code();
        CHECK((code == StatusCode::kCorrupt || code == StatusCode::kTooLarge));
      } else {
        CHECK(i < signature_at + Signature::kSize);
        CHECK_CODE(result, StatusCode::kBadSignature);  // serials, signature
      }
    }
  }
}

TEST_CASE("a list of another fleet is kWrongFleet") {
  const RevocationList foreign = signed_list(2, {1}, other_root());
  CHECK_CODE(RevocationList::verify(foreign.encoded(), fleet()), StatusCode::kWrongFleet);
  CHECK_OK(RevocationList::verify(foreign.encoded(), FleetPublicKey{other_root().public_key()}));
  // Our fleet id pasted in: the id matches, the signature does not.
  Bytes forged = foreign.encoded();
  const FleetId ours = fleet().id();
  std::copy(ours.bytes.begin(), ours.bytes.end(), forged.begin() + kFleetAt);
  CHECK_CODE(RevocationList::verify(forged, fleet()), StatusCode::kBadSignature);
}

TEST_CASE("a huge declared count is refused before allocating") {
  const RevocationList list = signed_list(2, {1, 2});
  for (std::uint32_t count : {0xffffffffu, 0x80000000u,
                              static_cast<std::uint32_t>(kRevocationMaxSerials) + 1}) {
    CAPTURE(count);
    Bytes patched = list.encoded();
    for (int b = 0; b < 4; ++b) patched[kCountAt + b] = static_cast<std::uint8_t>(count >> 8 * b);
    const StatusCode code = RevocationList::verify(patched, fleet()).status().code();
    CHECK((code == StatusCode::kTooLarge || code == StatusCode::kCorrupt));
  }
  // At the limit but with a small buffer: the size does not match.
  Bytes patched = list.encoded();
  const auto at_limit = static_cast<std::uint32_t>(kRevocationMaxSerials);
  for (int b = 0; b < 4; ++b) patched[kCountAt + b] = static_cast<std::uint8_t>(at_limit >> 8 * b);
  CHECK_CODE(RevocationList::verify(patched, fleet()), StatusCode::kCorrupt);
}

TEST_CASE("truncations and trailing bytes and oversized input are refused") {
  const RevocationList list = signed_list(2, {5, 6, 7});
  for (std::size_t length = 0; length < list.encoded().size(); ++length) {
    CAPTURE(length);
    CHECK_CODE(RevocationList::verify(ByteSpan(list.encoded()).first(length), fleet()),
               StatusCode::kCorrupt);
  }
  Bytes extended = list.encoded();
  extended.push_back(0);
  CHECK_CODE(RevocationList::verify(extended, fleet()), StatusCode::kCorrupt);
  Bytes oversized = list.encoded();
  oversized.resize(kRevocationListMaxBytes + 1);
  CHECK_CODE(RevocationList::verify(oversized, fleet()), StatusCode::kTooLarge);
}

TEST_CASE("signed lists that break the layout rules are kCorrupt") {
  CHECK_OK(RevocationList::verify(forge(1, {1, 2}), fleet()));
  CHECK_CODE(RevocationList::verify(forge(1, {2, 1}), fleet()), StatusCode::kCorrupt);
  CHECK_CODE(RevocationList::verify(forge(1, {2, 2}), fleet()), StatusCode::kCorrupt);
  CHECK_CODE(RevocationList::verify(forge(0, {1}), fleet()), StatusCode::kCorrupt);
  Bytes wrong_format = forge(1, {});
  wrong_format[4] = 2;
  CHECK_CODE(RevocationList::verify(wrong_format, fleet()), StatusCode::kCorrupt);
}

TEST_CASE("RevocationState accepts only strictly newer lists") {
  RevocationState state(fleet().id());
  CHECK(state.current() == nullptr);
  CHECK_FALSE(state.is_revoked(1));

  REQUIRE_OK(state.maybe_replace(signed_list(2, {1})));
  REQUIRE(state.current() != nullptr);
  CHECK(state.current()->version() == 2);
  CHECK(state.is_revoked(1));
  CHECK_FALSE(state.is_revoked(2));

  REQUIRE_OK(state.maybe_replace(signed_list(5, {1, 2})));
  CHECK(state.current()->version() == 5);
  CHECK(state.is_revoked(2));

  // Equal or lower versions are stale; the list in force stays.
  for (std::uint64_t version : {5, 4, 1}) {
    CAPTURE(version);
    CHECK_CODE(state.maybe_replace(signed_list(version, {})), StatusCode::kStale);
    REQUIRE(state.current() != nullptr);
    CHECK(state.current()->version() == 5);
    CHECK(state.current()->serials() == std::vector<std::uint64_t>{1, 2});
    CHECK(state.is_revoked(1));
    CHECK(state.is_revoked(2));
  }

  // Another fleet's list never replaces ours, whatever its version.
  CHECK_CODE(state.maybe_replace(signed_list(100, {}, other_root())), StatusCode::kWrongFleet);
  CHECK(state.current()->version() == 5);

  REQUIRE_OK(state.maybe_replace(signed_list(6, {})));
  CHECK(state.current()->version() == 6);
  CHECK_FALSE(state.is_revoked(1));  // a newer list may un-revoke: it is the fleet's decision
}

TEST_CASE("RevocationState refuses a first list from another fleet") {
  RevocationState state(fleet().id());
  CHECK_CODE(state.maybe_replace(signed_list(1, {3}, other_root())), StatusCode::kWrongFleet);
  CHECK(state.current() == nullptr);
  CHECK_FALSE(state.is_revoked(3));
}

}  // namespace
}  // namespace starling::crypto
