// Tests for Ed25519 keys, signatures, derived ids and the X25519 conversion.
// Golden values come from RFC 8032 (test 1) and from an independent computation of the
// documented BLAKE2b derivations (Python hashlib and the `cryptography` package).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <span>
#include <string>

#include "base/bytes.hpp"
#include "crypto/keys.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling::crypto {
namespace {

// RFC 8032 section 7.1, TEST 1.
constexpr std::string_view kRfcSeed =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr std::string_view kRfcPublic =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::string_view kRfcEmptySignature =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701c"
    "f9b46bd25bf5f0595bbe24655141438e7a100b";

SigningKey rfc_key() {
  const Bytes seed = from_hex(kRfcSeed).value();
  auto key = SigningKey::from_seed(std::span<const std::uint8_t, 32>(seed.data(), 32));
  REQUIRE_OK(key);
  return std::move(key).value();
}

TEST_CASE("from_seed reproduces the RFC 8032 test vector") {
  const SigningKey key = rfc_key();
  CHECK(key.public_key().to_hex() == kRfcPublic);
  CHECK(to_hex(key.seed().span()) == kRfcSeed);
  const Signature signature = key.sign({});
  CHECK(to_hex(signature.bytes) == kRfcEmptySignature);
  CHECK(verify_detached(key.public_key(), {}, signature));
}

TEST_CASE("sign and verify") {
  const SigningKey key = SigningKey::for_simulation(1, 0);
  const SigningKey other = SigningKey::for_simulation(1, 1);
  const ByteSpan message = as_bytes("membership record #7");
  const Signature signature = key.sign(message);

  CHECK(verify_detached(key.public_key(), message, signature));
  CHECK(key.sign(message) == signature);  // Ed25519 is deterministic
  CHECK_FALSE(verify_detached(other.public_key(), message, signature));
  CHECK_FALSE(verify_detached(key.public_key(), as_bytes("membership record #8"), signature));
  CHECK_FALSE(verify_detached(key.public_key(), as_bytes("membership record #7 "), signature));
  CHECK_FALSE(verify_detached(key.public_key(), {}, signature));
  for (std::size_t i = 0; i < Signature::kSize; ++i) {
    CAPTURE(i);
    Signature flipped = signature;
    flipped.bytes[i] ^= 0x01;
    CHECK_FALSE(verify_detached(key.public_key(), message, flipped));
  }
  CHECK_FALSE(verify_detached(key.public_key(), message, Signature{}));
  CHECK_FALSE(verify_detached(PublicKey{}, message, signature));
}

TEST_CASE("generate makes distinct working keys") {
  auto a = SigningKey::generate();
  auto b = SigningKey::generate();
  REQUIRE_OK(a);
  REQUIRE_OK(b);
  CHECK(a->public_key() != b->public_key());
  const ByteSpan message = as_bytes("hello");
  CHECK(verify_detached(a->public_key(), message, a->sign(message)));
  CHECK_FALSE(verify_detached(b->public_key(), message, a->sign(message)));
}

TEST_CASE("a key restored from its seed is the same key") {
  const SigningKey key = SigningKey::for_simulation(5, 9);
  auto restored = SigningKey::from_seed(key.seed().span());
  REQUIRE_OK(restored);
  CHECK(restored->public_key() == key.public_key());
  const ByteSpan message = as_bytes("x");
  CHECK(restored->sign(message) == key.sign(message));
}

TEST_CASE("node_id_of is the documented BLAKE2b-128 and differs per key") {
  const SigningKey key = rfc_key();
  CHECK(node_id_of(key.public_key()).to_hex() == "2e87afa8cdbebf671ba4f59c721947d4");
  CHECK(node_id_of(key.public_key()) == node_id_of(key.public_key()));
  CHECK(fleet_id_of(key.public_key()).to_hex() == "ea57777c75e8f8465071a88fe33ee05b");

  std::set<NodeId> ids;
  for (std::uint64_t i = 0; i < 50; ++i) {
    const PublicKey pub = SigningKey::for_simulation(3, i).public_key();
    CHECK(node_id_of(pub) == node_id_of(pub));
    CHECK_FALSE(node_id_of(pub).is_zero());
    ids.insert(node_id_of(pub));
  }
  CHECK(ids.size() == 50);
  PublicKey zero;
  CHECK(node_id_of(zero) != node_id_of(SigningKey::for_simulation(3, 0).public_key()));
}

TEST_CASE("node ids and fleet ids of one key are domain-separated") {
  const PublicKey pub = SigningKey::for_simulation(2, 2).public_key();
  const NodeId node = node_id_of(pub);
  const FleetId fleet = fleet_id_of(pub);
  CHECK(std::equal(node.raw().begin(), node.raw().end(), fleet.bytes.begin()) == false);
}

TEST_CASE("for_simulation is deterministic per seed and index and distinct across them") {
  // The seed is BLAKE2b-256("starling.sim-key.v1" || le64(seed) || le64(index)).
  const SigningKey first = SigningKey::for_simulation(0, 0);
  CHECK(to_hex(first.seed().span()) ==
        "241a7a71f987aeb11624bfc597d864b8a693500e421c27f7c7a69aa7fc9c1375");
  CHECK(first.public_key().to_hex() ==
        "e828b8229faf422110d52397b146f8f4ab4d1544bdcd778f2b38981d6e89cd6f");
  const SigningKey other = SigningKey::for_simulation(20261121, 3);
  CHECK(other.public_key().to_hex() ==
        "03ba39ff27498aaad4a66e6af46c530ea64e2bece6df22142cce91a0d00ab971");

  std::set<PublicKey> keys;
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    for (std::uint64_t index = 0; index < 25; ++index) {
      CAPTURE(seed);
      CAPTURE(index);
      const PublicKey pub = SigningKey::for_simulation(seed, index).public_key();
      CHECK(pub == SigningKey::for_simulation(seed, index).public_key());
      keys.insert(pub);
    }
  }
  CHECK(keys.size() == 100);
  // Seed and index are not interchangeable.
  CHECK(SigningKey::for_simulation(1, 2).public_key() !=
        SigningKey::for_simulation(2, 1).public_key());
}

TEST_CASE("curve_key_pair matches curve_public_of") {
  const SigningKey key = SigningKey::for_simulation(11, 4);
  auto pair = key.curve_key_pair();
  REQUIRE_OK(pair);
  auto pub = curve_public_of(key.public_key());
  REQUIRE_OK(pub);
  CHECK(*pub == pair->public_key);
  CHECK(pair->public_key != std::array<std::uint8_t, 32>{});
  CHECK(std::any_of(pair->secret_key.data(), pair->secret_key.data() + 32,
                    [](std::uint8_t b) { return b != 0; }));

  auto again = key.curve_key_pair();
  REQUIRE_OK(again);
  CHECK(again->public_key == pair->public_key);
  CHECK(std::equal(again->secret_key.data(), again->secret_key.data() + 32,
                   pair->secret_key.data()));

  auto other = SigningKey::for_simulation(11, 5).curve_key_pair();
  REQUIRE_OK(other);
  CHECK(other->public_key != pair->public_key);
}

TEST_CASE("curve_public_of rejects a small-order point") {
  PublicKey identity_point;
  identity_point.bytes[0] = 0x01;  // y = 1: the neutral element, order 1
  CHECK_CODE(curve_public_of(identity_point), StatusCode::kInvalidArgument);
}

TEST_CASE("SecretBytes wipes the moved-from buffer") {
  SecretBytes<4> a;
  a.data()[0] = 1;
  a.data()[3] = 4;
  SecretBytes<4> b(std::move(a));
  CHECK(b.data()[0] == 1);
  CHECK(b.data()[3] == 4);
  CHECK(a.data()[0] == 0);  // NOLINT(bugprone-use-after-move): wiping is the contract
  CHECK(a.data()[3] == 0);
  SecretBytes<4> c;
  c = std::move(b);
  CHECK(c.data()[3] == 4);
  CHECK(b.data()[3] == 0);  // NOLINT(bugprone-use-after-move)
}

}  // namespace
}  // namespace starling::crypto
