// The membership core's RecordCodec port implemented with crypto/ signed records: a member
// record is a Cereal PortableBinary payload inside a record of kind kMembershipRecordKind,
// signed by record.signer. Also the payload encoding on its own, for tests and fuzzing.
// A SignedRecordCodec is single-threaded, like the core that owns it (it keeps a sequence
// counter); it borrows an Identity and a KeyDirectory that must outlive it.
//
// Payload layout (docs/PROTOCOL.md, "Membership record"), Cereal PortableBinary little endian:
//   u8 flag=1 | u8 type | subject[16] | signer[16] | u64 incarnation | u64 meta_version
//   | u64 n + address[n] | u64 count + (u64 n + key[n] + u64 m + value[m]) * count
// Decoding is strict, so that each record has exactly one encoding: type in 1..4, address at
// most membership::kAddressMaxLength bytes, metadata keys strictly increasing and within
// membership::validate_metadata(), non-zero ids, alive and left records signed by their
// subject, meta_version 0 and no address or metadata except in alive records, no trailing
// bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "agent/membership/types.hpp"
#include "agent/wire/record_kinds.hpp"
#include "base/bytes.hpp"
#include "base/status.hpp"
#include "crypto/identity.hpp"
#include "crypto/signed_record.hpp"

namespace starling::wire {

// The largest payload a valid record can have: 50 bytes of fixed fields, the longest address,
// the most metadata entries with their size tags and kMetadataMaxBytes of text (1,857 bytes).
inline constexpr std::size_t kMemberRecordPayloadMax =
    1 + 1 + 2 * NodeId::kSize + 8 + 8 + (8 + membership::kAddressMaxLength) + 8 +
    membership::kMetadataMaxEntries * 16 + membership::kMetadataMaxBytes;

// Encodes the fields of `record` as the payload layout above.
// REQUIRES: the record is valid (type in range, address and metadata within their limits,
// and only an alive record has a meta_version, address or metadata).
Bytes encode_record_payload(const membership::MemberRecord& record);

// Decodes and checks a payload (not its signature): kCorrupt, or kTooLarge for a length or
// count above its limit; the message starts with the RejectReason name.
Result<membership::MemberRecord> decode_record_payload(ByteSpan payload);

struct SignedRecordCodecOptions {
  // Check Ed25519 signatures in verify(). FALSE IS A SIMULATOR SPEED OPTION ONLY, for runs of
  // thousands of nodes where ~50 us per verify dominates: it skips exactly the Ed25519
  // check and nothing else (the signer's key must still be in the directory, kNotFound
  // otherwise; sizes, layout and kind are checked; the record's author must still equal
  // record.signer). With it, any node can forge any other node's records. Never false in the
  // agent.
  bool verify_signatures = true;
  // The largest sealed record accepted, header and signature included. 2048 holds the largest
  // valid record (kMemberRecordPayloadMax + crypto::kRecordOverhead = 1,952 bytes) with room to
  // spare, and keeps a 4 MiB push-pull message at 2,000+ records.
  std::size_t record_bytes_max = 2048;

  // kInvalidArgument unless crypto::kRecordOverhead < record_bytes_max <=
  // crypto::kRecordOverhead + crypto::kRecordPayloadCeiling.
  Status validate() const;
};

// Seals this node's member records and checks other nodes' (membership::RecordCodec).
//
// Sequence numbers: each sealed record takes the next value of a per-codec counter starting
// at 1, restarting with the process. That is harmless for membership: records are ordered by
// incarnation (then meta_version), never by record sequence, and the codec keeps no replay
// window, so a replayed membership record is just an old fact the core already ignores.
class SignedRecordCodec final : public membership::RecordCodec {
 public:
  using Options = SignedRecordCodecOptions;

  // REQUIRES: options.validate() is ok. `self` and `keys` are borrowed and must outlive this.
  SignedRecordCodec(const crypto::Identity& self, const crypto::KeyDirectory& keys,
                    Options options = {});

  // Encodes and signs `record`. REQUIRES: record.signer == self.node_id() and the record is
  // valid (its sealed size then stays under record_bytes_max by construction).
  Bytes seal(const membership::MemberRecord& record) override;

  // Size checks (kTooLarge above record_bytes_max), the record header (crypto::peek_record),
  // the kind (kCorrupt unless kMembershipRecordKind), the payload (decode_record_payload), then
  // that the header's author is the payload's signer (kBadSignature otherwise, as open_record
  // reports a record whose author is not the verifying key's). Checks no signature.
  Result<membership::MemberRecord> decode(ByteSpan bytes) override;

  // Looks up record.signer's key (kNotFound when the directory has none), then opens the
  // record with it: sizes, kind, author == record.signer, and the Ed25519 signature over the
  // exact bytes (kBadSignature). REQUIRES: `record` is what decode(bytes) returned.
  Status verify(ByteSpan bytes, const membership::MemberRecord& record) override;

  const Options& options() const noexcept { return options_; }

 private:
  std::size_t payload_max() const noexcept;

  const crypto::Identity& self_;
  const crypto::KeyDirectory& keys_;
  Options options_;
  std::uint64_t next_sequence_ = 1;
};

}  // namespace starling::wire
