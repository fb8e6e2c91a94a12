// FleetTrust: what an agent trusts, in one place. It holds the fleet's public key, the
// revocation list in force and the verified certificates of the devices it has met, and answers
// the two questions the agent asks: which Ed25519 key signs a node's records (it is the
// crypto::KeyDirectory of the wire codec) and whether a CurveZMQ key may connect (the ZAP
// authoriser of the transport). Single-threaded, like the event loop that owns it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>

#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/status.hpp"
#include "crypto/certificate.hpp"
#include "crypto/revocation.hpp"
#include "crypto/signed_record.hpp"

namespace starling::runtime {

class FleetTrust final : public crypto::KeyDirectory {
 public:
  using CurveKey = std::array<std::uint8_t, 32>;

  explicit FleetTrust(crypto::FleetPublicKey fleet);

  // Verifies a certificate (fleet, signature, validity at `now_unix_s`, revocation) and, if it
  // is good, trusts its device key from now on; returns the device's node id. A newer
  // certificate for the same device (higher serial) replaces an older one; an older one is
  // refused with kStale.
  Result<NodeId> add_certificate(ByteSpan certificate, std::int64_t now_unix_s);

  // Installs a newer signed revocation list (kStale for an older or equal version, kWrongFleet
  // or kBadSignature from verification) and forgets every certificate it revokes.
  // Returns how many certificates were forgotten.
  Result<std::size_t> update_revocations(ByteSpan list);

  // Forgets certificates whose validity ended before `now_unix_s`; returns how many.
  std::size_t forget_expired(std::int64_t now_unix_s);

  // crypto::KeyDirectory: the Ed25519 key of a trusted device, or nullptr.
  const crypto::PublicKey* find_key(const NodeId& node) const override;

  // Whether a CurveZMQ client key belongs to a trusted device (the transport's ZAP check).
  bool authorize_curve_key(const CurveKey& key) const;
  // The node id behind a trusted CurveZMQ key: the agent checks that an envelope's sender is
  // the authenticated peer.
  std::optional<NodeId> node_of_curve_key(const CurveKey& key) const;

  const crypto::Certificate* certificate(const NodeId& node) const;
  std::size_t size() const noexcept { return certificates_.size(); }
  const crypto::FleetPublicKey& fleet() const noexcept { return fleet_; }
  // The revocation list in force, or nullptr before the first.
  const crypto::RevocationList* revocations() const noexcept { return revocations_.current(); }

 private:
  struct Entry {
    crypto::Certificate certificate;
    CurveKey curve_key{};
  };
  void forget(std::map<NodeId, Entry>::iterator it);

  crypto::FleetPublicKey fleet_;
  crypto::RevocationState revocations_;
  std::map<NodeId, Entry> certificates_;
  std::map<CurveKey, NodeId> by_curve_key_;
};

}  // namespace starling::runtime
