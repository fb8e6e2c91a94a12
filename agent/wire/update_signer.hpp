// federated::UpdateSigner implemented with crypto/ signed records of kind
// kFederatedRecordKind: the round protocol's updates and models are sealed by their author and
// verified against the author's key from a crypto::KeyDirectory (the agent's FleetTrust, or
// the simulator's directory of enrolled identities). Single-threaded, like the round core.
#pragma once

#include <cstddef>
#include <cstdint>

#include "crypto/identity.hpp"
#include "crypto/signed_record.hpp"
#include "federated/core/round.hpp"

namespace starling::wire {

// Sealed updates and models: a model of a few million parameters (4 bytes each) fits, and the
// bound keeps a forged length from reserving more.
inline constexpr std::size_t kFederatedRecordPayloadMax = 64 * 1024 * 1024;

class SignedUpdateSigner final : public federated::UpdateSigner {
 public:
  // `self` and `keys` are borrowed and must outlive this.
  SignedUpdateSigner(const crypto::Identity& self, const crypto::KeyDirectory& keys)
      : self_(self), keys_(keys) {}

  // Sequence numbers count up from 1 per signer; the round protocol orders updates by round
  // and drops duplicates per (author, round), so no replay window is needed on top.
  Bytes seal(ByteSpan body) override;
  // kUnsigned for bytes that are not a signed record of our kind, kUnenrolled for an author
  // without a trusted key (never enrolled, or revoked and forgotten), kForged for a signature
  // that does not verify.
  Result<Opened> open(ByteSpan sealed, federated::UpdateRejection* why) override;

 private:
  const crypto::Identity& self_;
  const crypto::KeyDirectory& keys_;
  std::uint64_t next_sequence_ = 1;
};

}  // namespace starling::wire
