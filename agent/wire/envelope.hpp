// The envelope every message on the swarm port travels in, and the membership messages inside
// it: encode_message / decode_message, their size limits, and a per-sender replay filter.
// Functions are thread-safe (no shared state); an EnvelopeReplayFilter is single-threaded.
//
// Envelope (docs/PROTOCOL.md, "Envelope"), fixed little-endian fields then the payload:
//   u8 version=1 | u8 message type | sender[16] | u64 sender sequence | payload
// Membership payload, Cereal PortableBinary little endian (every field for every type, so a
// message has one layout; ~40 bytes of fields a ping does not need are not worth a second one):
//   u8 flag=1 | u64 n + sender_address[n] | u32 sequence | target[16] | u8 join (0 or 1)
//   | u64 count + (u64 n + record[n]) * count
// Records are the exact signed bytes (membership::Message::records); the envelope checks only
// their count and sizes: SignedRecordCodec decodes and verifies them one by one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "agent/membership/types.hpp"
#include "agent/wire/reject_reason.hpp"
#include "base/bytes.hpp"
#include "base/status.hpp"
#include "crypto/signed_record.hpp"

namespace starling::wire {

inline constexpr std::uint8_t kProtocolVersion = 1;
inline constexpr std::size_t kEnvelopeHeaderSize = 1 + 1 + NodeId::kSize + 8;

// Message type numbers are one byte, assigned in ranges per protocol so that a receiver can
// route by range and a new protocol never collides with an old one:
//     0        never assigned (catches zeroed buffers)
//     1 -  31  membership: the membership::MessageType values (1-7 so far)
//    32 -  63  consensus (reserved: votes, append entries, snapshots)
//    64 -  95  federated learning rounds (reserved)
//    96 - 127  workloads and agent-to-agent control (reserved)
//   128 - 255  reserved for a future extension of the type field
// This build decodes membership types 1-7; every other number is RejectReason::kUnknownType.
inline constexpr std::uint8_t kMembershipTypeFirst = 1;
inline constexpr std::uint8_t kMembershipTypeLast = 31;
inline constexpr std::uint8_t kConsensusTypeFirst = 32;
inline constexpr std::uint8_t kConsensusTypeLast = 63;
inline constexpr std::uint8_t kFederatedTypeFirst = 64;
inline constexpr std::uint8_t kFederatedTypeLast = 95;
inline constexpr std::uint8_t kWorkloadTypeFirst = 96;
inline constexpr std::uint8_t kWorkloadTypeLast = 127;

// Limits applied by decode_message before anything is allocated.
struct WireLimits {
  // The largest envelope. 4 MiB carries a push-pull full state of thousands of members
  // (2,000 worst-case 1,952-byte records; typical alive records are 282 bytes, so ~14,000);
  // the transport should set ZMQ_MAXMSGSIZE to the same value.
  std::size_t message_bytes_max = 4 * 1024 * 1024;
  // The most records in one message: a full state of a 16k-member swarm. A tighter bound than
  // message_bytes_max alone on the small per-record allocations a flood of empty records costs.
  std::size_t records_per_message_max = 16384;
  // The largest record, as SignedRecordCodecOptions::record_bytes_max (keep them equal).
  std::size_t record_bytes_max = 2048;

  // kInvalidArgument when a limit is zero, the message limit cannot hold an envelope header,
  // or record_bytes_max is above the message limit.
  Status validate() const;
};

// The envelope header, readable without decoding the payload (for routing by type range).
struct EnvelopeHeader {
  std::uint8_t version = kProtocolVersion;
  std::uint8_t type = 0;
  NodeId sender;
  std::uint64_t sender_sequence = 0;
};

struct DecodedMessage {
  std::uint64_t sender_sequence = 0;
  membership::Message message;
};

// Encodes `message` in an envelope. The result decodes (with default limits) to an equal
// message, and encoding a decoded message reproduces its input byte for byte.
// REQUIRES: message.sender is not zero, message.type is a membership::MessageType and
// message.sender_address.size() <= membership::kAddressMaxLength.
Bytes encode_message(const membership::Message& message, std::uint64_t sender_sequence);

// An envelope around an opaque payload, for the protocols whose payloads are sealed records of
// their own (federated rounds, types 64-95): the header, then `payload` as it is.
// REQUIRES: sender is not zero and type is not 0.
Bytes encode_envelope(std::uint8_t type, const NodeId& sender, std::uint64_t sender_sequence,
                      ByteSpan payload);

// Checks the size (kTooLarge above limits.message_bytes_max), the header's presence
// (kTruncated), the version (kBadVersion) and a non-zero sender (kMalformed). Does not look at
// the type. On failure sets *reason when `reason` is not null. REQUIRES: limits.validate() ok.
Result<EnvelopeHeader> peek_envelope(ByteSpan bytes, const WireLimits& limits,
                                     RejectReason* reason = nullptr);

// Decodes a membership message: peek_envelope's checks, the type (kUnknownType unless a
// membership::MessageType), then the payload with every length and count bounded by `limits`
// and by the bytes that remain, and no trailing bytes. Failures are kTooLarge or kCorrupt with
// the reason's name first in the message; *reason is set too when `reason` is not null.
// Never throws, never allocates more than a small multiple of bytes.size().
// REQUIRES: limits.validate() is ok.
Result<DecodedMessage> decode_message(ByteSpan bytes, const WireLimits& limits,
                                      RejectReason* reason = nullptr);

// Drops replayed envelopes: crypto::ReplayWindow keyed by the envelope's sender, so an
// envelope whose sender sequence was already accepted, or is 64 or more below that sender's
// highest, is kReplay. Reordering within 64 envelopes is tolerated.
//
// Meaningful only over authenticated hops: in the agent each envelope arrives over CurveZMQ
// and the transport must check that the envelope's sender is the node id of the connection's
// authenticated key BEFORE feeding the filter; otherwise anyone could advance another node's
// window and silence it. The sender's sequence must also survive its restarts (the agent uses
// incarnation << 32 | counter), or its messages are dropped until the counter passes the old
// highest. Memory: one entry per sender ever seen (enrolled devices); forget() departed ones.
class EnvelopeReplayFilter {
 public:
  // Accepts the envelope's (sender, sequence) if new and marks it seen; kReplay otherwise.
  Status check_and_accept(const DecodedMessage& decoded) {
    return window_.check_and_accept(decoded.message.sender, decoded.sender_sequence);
  }
  // Forgets a sender (after it left for good).
  void forget(const NodeId& sender) { window_.forget(sender); }

 private:
  crypto::ReplayWindow window_;
};

}  // namespace starling::wire
