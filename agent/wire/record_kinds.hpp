// The project's signed-record kinds: the u16 `kind` field of crypto/ signed records, which the
// author's signature covers, so that a record made for one protocol can never be accepted by
// another. Every protocol that signs records takes its number from this list and nowhere else.
// Constants only; no threading concerns.
#pragma once

#include "crypto/signed_record.hpp"

namespace starling::wire {

// A membership record (membership::MemberRecord): alive, suspect, dead or left.
inline constexpr crypto::RecordKind kMembershipRecordKind = 1;

// A federated round message (federated::RoundCore): an update (author, round, model id, sample
// count, encoded delta) or a model sent to a node that is catching up; the body's first byte
// says which (federated/core/round.cpp).
inline constexpr crypto::RecordKind kFederatedRecordKind = 2;

// Reserved, not yet defined (take these numbers when the protocols land; never reuse a number):
//   3  workload checkpoint (consensus workload state kept on behalf of its author)
//   4  revocation list as gossiped between peers (its fleet signature stays inside)

}  // namespace starling::wire
