// Tests of FleetTrust: which certificates are trusted, revocation and expiry forget them, and
// the two lookups the agent needs (Ed25519 key by node id, node by CurveZMQ key).
#include <doctest/doctest.h>

#include "agent/runtime/fleet_trust.hpp"
#include "crypto/identity.hpp"

using namespace starling;
using starling::runtime::FleetTrust;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

const crypto::SigningKey& fleet_root() {
  static const crypto::SigningKey key = crypto::SigningKey::for_simulation(77, 0);
  return key;
}

crypto::Identity device(std::uint64_t i) { return crypto::Identity::for_simulation(77, i); }

Bytes certificate_for(const crypto::Identity& id, std::uint64_t serial,
                      const crypto::SigningKey& root = fleet_root(),
                      std::int64_t not_after = kNow + 86400) {
  crypto::CertificateBody body{id.public_key(), "dev-" + std::to_string(serial), {},
                               kNow - 60, not_after, serial};
  auto cert = crypto::issue_certificate(root, body);
  REQUIRE(cert.is_ok());
  return cert->encoded;
}

FleetTrust make_trust() { return FleetTrust(crypto::FleetPublicKey{fleet_root().public_key()}); }

FleetTrust::CurveKey curve_of(const crypto::Identity& id) {
  auto key = crypto::curve_public_of(id.public_key());
  REQUIRE(key.is_ok());
  return *key;
}

}  // namespace

TEST_CASE("fleet trust: a valid certificate makes its device's keys trusted") {
  FleetTrust trust = make_trust();
  const auto dev = device(1);
  auto node = trust.add_certificate(certificate_for(dev, 1), kNow);
  REQUIRE(node.is_ok());
  CHECK(*node == dev.node_id());
  REQUIRE(trust.find_key(dev.node_id()) != nullptr);
  CHECK(*trust.find_key(dev.node_id()) == dev.public_key());
  CHECK(trust.authorize_curve_key(curve_of(dev)));
  CHECK(trust.node_of_curve_key(curve_of(dev)) == dev.node_id());
  CHECK(!trust.authorize_curve_key(curve_of(device(2))));
  CHECK(trust.find_key(device(2).node_id()) == nullptr);
}

TEST_CASE("fleet trust: foreign, expired and forged certificates are refused") {
  FleetTrust trust = make_trust();
  const auto other_root = crypto::SigningKey::for_simulation(78, 0);
  CHECK(trust.add_certificate(certificate_for(device(1), 1, other_root), kNow).status().code() ==
        StatusCode::kWrongFleet);
  CHECK(trust.add_certificate(certificate_for(device(1), 1, fleet_root(), kNow - 1), kNow)
            .status()
            .code() == StatusCode::kExpired);
  Bytes forged = certificate_for(device(1), 1);
  forged[30] ^= 0x01;
  CHECK(trust.add_certificate(forged, kNow).status().code() == StatusCode::kBadSignature);
  CHECK(trust.size() == 0);
}

TEST_CASE("fleet trust: a revocation list forgets revoked devices and refuses them later") {
  FleetTrust trust = make_trust();
  REQUIRE(trust.add_certificate(certificate_for(device(1), 1), kNow).is_ok());
  REQUIRE(trust.add_certificate(certificate_for(device(2), 2), kNow).is_ok());
  auto v2 = crypto::RevocationList::sign(fleet_root(), 2, kNow, {2});
  REQUIRE(v2.is_ok());
  auto forgotten = trust.update_revocations(v2->encoded());
  REQUIRE(forgotten.is_ok());
  CHECK(*forgotten == 1);
  CHECK(!trust.authorize_curve_key(curve_of(device(2))));
  CHECK(trust.find_key(device(2).node_id()) == nullptr);
  CHECK(trust.add_certificate(certificate_for(device(2), 2), kNow).status().code() ==
        StatusCode::kRevoked);
  // An older list cannot un-revoke.
  auto v1 = crypto::RevocationList::sign(fleet_root(), 1, kNow, {});
  REQUIRE(v1.is_ok());
  CHECK(trust.update_revocations(v1->encoded()).status().code() == StatusCode::kStale);
  CHECK(trust.revocations()->version() == 2);
}

TEST_CASE("fleet trust: a newer certificate replaces an older one and expiry forgets it") {
  FleetTrust trust = make_trust();
  const auto dev = device(3);
  REQUIRE(trust.add_certificate(certificate_for(dev, 5, fleet_root(), kNow + 100), kNow).is_ok());
  CHECK(trust.add_certificate(certificate_for(dev, 4), kNow).status().code() ==
        StatusCode::kStale);
  REQUIRE(trust.add_certificate(certificate_for(dev, 6, fleet_root(), kNow + 200), kNow).is_ok());
  CHECK(trust.certificate(dev.node_id())->body.serial == 6);
  CHECK(trust.size() == 1);
  CHECK(trust.forget_expired(kNow + 150) == 0);
  CHECK(trust.forget_expired(kNow + 200) == 1);
  CHECK(!trust.authorize_curve_key(curve_of(dev)));
}
