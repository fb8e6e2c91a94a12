// Implementation of FleetTrust.
#include "agent/runtime/fleet_trust.hpp"

namespace starling::runtime {

FleetTrust::FleetTrust(crypto::FleetPublicKey fleet)
    : fleet_(fleet), revocations_(fleet.id()) {}

Result<NodeId> FleetTrust::add_certificate(ByteSpan certificate, std::int64_t now_unix_s) {
  STARLING_ASSIGN_OR_RETURN(
      crypto::Certificate cert,
      crypto::verify_certificate(certificate, fleet_, now_unix_s, revocations_.current()));
  auto curve = crypto::curve_public_of(cert.body.device_key);
  if (!curve) return curve.status();
  const NodeId node = cert.node_id();
  auto it = certificates_.find(node);
  if (it != certificates_.end()) {
    if (cert.body.serial < it->second.certificate.body.serial) {
      return error(StatusCode::kStale, "certificate serial " + std::to_string(cert.body.serial) +
                                           " is older than serial " +
                                           std::to_string(it->second.certificate.body.serial) +
                                           " already trusted for " + node.short_hex());
    }
    forget(it);
  }
  by_curve_key_[*curve] = node;
  certificates_.emplace(node, Entry{std::move(cert), *curve});
  return node;
}

Result<std::size_t> FleetTrust::update_revocations(ByteSpan list) {
  STARLING_ASSIGN_OR_RETURN(crypto::RevocationList verified,
                            crypto::RevocationList::verify(list, fleet_));
  STARLING_RETURN_IF_ERROR(revocations_.maybe_replace(std::move(verified)));
  std::size_t forgotten = 0;
  for (auto it = certificates_.begin(); it != certificates_.end();) {
    auto next = std::next(it);
    if (revocations_.is_revoked(it->second.certificate.body.serial)) {
      forget(it);
      ++forgotten;
    }
    it = next;
  }
  return forgotten;
}

std::size_t FleetTrust::forget_expired(std::int64_t now_unix_s) {
  std::size_t forgotten = 0;
  for (auto it = certificates_.begin(); it != certificates_.end();) {
    auto next = std::next(it);
    if (it->second.certificate.body.not_after <= now_unix_s) {
      forget(it);
      ++forgotten;
    }
    it = next;
  }
  return forgotten;
}

void FleetTrust::forget(std::map<NodeId, Entry>::iterator it) {
  by_curve_key_.erase(it->second.curve_key);
  certificates_.erase(it);
}

const crypto::PublicKey* FleetTrust::find_key(const NodeId& node) const {
  auto it = certificates_.find(node);
  return it == certificates_.end() ? nullptr : &it->second.certificate.body.device_key;
}

bool FleetTrust::authorize_curve_key(const CurveKey& key) const {
  return by_curve_key_.count(key) != 0;
}

std::optional<NodeId> FleetTrust::node_of_curve_key(const CurveKey& key) const {
  auto it = by_curve_key_.find(key);
  if (it == by_curve_key_.end()) return std::nullopt;
  return it->second;
}

const crypto::Certificate* FleetTrust::certificate(const NodeId& node) const {
  auto it = certificates_.find(node);
  return it == certificates_.end() ? nullptr : &it->second.certificate;
}

}  // namespace starling::runtime
