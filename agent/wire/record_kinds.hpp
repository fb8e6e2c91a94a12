// The project's signed-record kinds: the u16 `kind` field of crypto/ signed records, which the
// author's signature covers, so that a record made for one protocol can never be accepted by
// another. Every protocol that signs records takes its number from this list and nowhere else.
// Constants only; no threading concerns.
#pragma once

#include "crypto/signed_record.hpp"

namespace starling::wire {

// A membership record (membership::MemberRecord): alive, suspect, dead or left.
inline constexpr crypto::RecordKind kMembershipRecordKind = 1;

// Reserved, not yet defined (take these numbers when the protocols land; never reuse a number):
//   2  model update (federated round: author, round, model id, sample count, payload hash)
//   3  workload checkpoint (consensus workload state kept on behalf of its author)
//   4  revocation list as gossiped between peers (its fleet signature stays inside)

}  // namespace starling::wire
