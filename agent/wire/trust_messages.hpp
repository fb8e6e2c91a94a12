// Certificate exchange between agents: the messages through which an agent learns the fleet
// certificates of the peers it meets and of the signers of the records it is handed.
// Thread-safe functions (no shared state).
//
// Why a message of its own: CurveZMQ's handshake carries only the client's X25519 key, and the
// ZAP request that decides admission sees nothing else, so a device's certificate cannot ride
// in the handshake. An agent therefore admits at the ZAP step every key not known to be bad,
// and processes nothing but these two messages from a key until the key's certificate has been
// verified (fleet signature, validity, revocation) and shown to be the key's own. Certificates
// are public and self-authenticating: who relays one does not matter. See docs/PROTOCOL.md,
// "Certificate exchange".
//
// Layouts, after the envelope header (u8 version | u8 type | sender[16] | u64 sequence):
//   request (type 96): str16 reply_address | u16 count | node_id[16] * count
//   reply   (type 97): u16 count | (u32 length | certificate[length]) * count
// count is at most kCertificatesPerMessageMax; lengths at most crypto::kCertificateMaxBytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/wire/envelope.hpp"
#include "agent/wire/reject_reason.hpp"
#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/status.hpp"

namespace starling::wire {

// In the agent-to-agent range (96-127) of envelope types.
inline constexpr std::uint8_t kCertRequestType = 96;
inline constexpr std::uint8_t kCertReplyType = 97;
// A request names at most this many nodes, and a reply carries at most this many
// certificates (~64 * 300 bytes for typical certificates; 512 KiB at the 8 KiB maximum).
inline constexpr std::size_t kCertificatesPerMessageMax = 64;

inline bool is_trust_type(std::uint8_t type) noexcept {
  return type == kCertRequestType || type == kCertReplyType;
}

// "Send me the certificates of these nodes" (the sender's own id included when it wants to be
// sure the receiver knows it). `reply_address` is where the sender's ROUTER listens: the
// receiver may not know the sender yet, and answers there under the sender's Curve key.
struct CertRequest {
  NodeId sender;
  std::uint64_t sender_sequence = 0;
  std::string reply_address;
  std::vector<NodeId> wanted;
};

// The certificates the sender has of the nodes asked for (unknown ones are left out), and
// the sender's own certificate first.
struct CertReply {
  NodeId sender;
  std::uint64_t sender_sequence = 0;
  std::vector<Bytes> certificates;
};

// REQUIRES: non-zero sender, wanted.size() <= kCertificatesPerMessageMax, reply_address at
// most membership::kAddressMaxLength bytes.
Bytes encode_cert_request(const CertRequest& request);
// REQUIRES: non-zero sender, at most kCertificatesPerMessageMax certificates, each at most
// crypto::kCertificateMaxBytes.
Bytes encode_cert_reply(const CertReply& reply);

// peek_envelope's checks, the type, then the payload with every count and length bounded and
// no trailing bytes. Failures are kCorrupt or kTooLarge, named by *reason when given.
// REQUIRES: limits.validate() is ok.
Result<CertRequest> decode_cert_request(ByteSpan bytes, const WireLimits& limits,
                                        RejectReason* reason = nullptr);
Result<CertReply> decode_cert_reply(ByteSpan bytes, const WireLimits& limits,
                                    RejectReason* reason = nullptr);

}  // namespace starling::wire
