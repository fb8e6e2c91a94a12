#include "agent/wire/trust_messages.hpp"

#include "agent/membership/types.hpp"
#include "base/assert.hpp"
#include "crypto/certificate.hpp"

namespace starling::wire {
namespace {

void write_header(ByteWriter& out, std::uint8_t type, const NodeId& sender,
                  std::uint64_t sequence) {
  STARLING_ASSERT(!sender.is_zero(), "message without a sender");
  out.u8(kProtocolVersion);
  out.u8(type);
  out.raw(sender.raw());
  out.u64(sequence);
}

template <typename T>
Result<T> failed(RejectReason why, std::string_view detail, RejectReason* reason) {
  if (reason != nullptr) *reason = why;
  return reject(why, detail);
}

// Maps a ByteReader failure to the reason counted for it.
RejectReason reason_of(const Status& status) {
  return status.code() == StatusCode::kTooLarge ? RejectReason::kTooLarge
                                                : RejectReason::kTruncated;
}

Result<EnvelopeHeader> header_of(ByteSpan bytes, std::uint8_t type, const WireLimits& limits,
                                 RejectReason* reason) {
  STARLING_ASSIGN_OR_RETURN(EnvelopeHeader header, peek_envelope(bytes, limits, reason));
  if (header.type != type) {
    return failed<EnvelopeHeader>(RejectReason::kUnknownType,
                                  "message type " + std::to_string(header.type) +
                                      " where " + std::to_string(type) + " was expected",
                                  reason);
  }
  return header;
}

}  // namespace

Bytes encode_cert_request(const CertRequest& request) {
  STARLING_ASSERT(request.wanted.size() <= kCertificatesPerMessageMax, "too many nodes");
  STARLING_ASSERT(request.reply_address.size() <= membership::kAddressMaxLength,
                  "reply address too long");
  Bytes bytes;
  ByteWriter out(bytes);
  write_header(out, kCertRequestType, request.sender, request.sender_sequence);
  out.str16(request.reply_address);
  out.u16(static_cast<std::uint16_t>(request.wanted.size()));
  for (const NodeId& id : request.wanted) out.raw(id.raw());
  return bytes;
}

Bytes encode_cert_reply(const CertReply& reply) {
  STARLING_ASSERT(reply.certificates.size() <= kCertificatesPerMessageMax,
                  "too many certificates");
  Bytes bytes;
  ByteWriter out(bytes);
  write_header(out, kCertReplyType, reply.sender, reply.sender_sequence);
  out.u16(static_cast<std::uint16_t>(reply.certificates.size()));
  for (const Bytes& certificate : reply.certificates) {
    STARLING_ASSERT(certificate.size() <= crypto::kCertificateMaxBytes, "certificate too large");
    out.u32(static_cast<std::uint32_t>(certificate.size()));
    out.raw(certificate);
  }
  return bytes;
}

Result<CertRequest> decode_cert_request(ByteSpan bytes, const WireLimits& limits,
                                        RejectReason* reason) {
  STARLING_ASSIGN_OR_RETURN(EnvelopeHeader header,
                            header_of(bytes, kCertRequestType, limits, reason));
  ByteReader in(bytes.subspan(kEnvelopeHeaderSize));
  CertRequest request;
  request.sender = header.sender;
  request.sender_sequence = header.sender_sequence;
  auto address = in.str16(membership::kAddressMaxLength);
  if (!address) return failed<CertRequest>(reason_of(address.status()), "reply address", reason);
  request.reply_address = std::move(*address);
  auto count = in.u16();
  if (!count) return failed<CertRequest>(RejectReason::kTruncated, "node count", reason);
  if (*count > kCertificatesPerMessageMax) {
    return failed<CertRequest>(RejectReason::kTooLarge,
                               std::to_string(*count) + " nodes asked for", reason);
  }
  if (in.remaining() < std::size_t{*count} * NodeId::kSize) {
    return failed<CertRequest>(RejectReason::kTruncated, "node ids", reason);
  }
  request.wanted.reserve(*count);
  for (std::uint16_t i = 0; i < *count; ++i) {
    NodeId id(in.fixed<NodeId::kSize>().value());
    if (id.is_zero()) return failed<CertRequest>(RejectReason::kMalformed, "zero node id", reason);
    request.wanted.push_back(id);
  }
  if (!in.at_end()) {
    return failed<CertRequest>(RejectReason::kTrailingBytes,
                               std::to_string(in.remaining()) + " bytes after the request",
                               reason);
  }
  return request;
}

Result<CertReply> decode_cert_reply(ByteSpan bytes, const WireLimits& limits,
                                    RejectReason* reason) {
  STARLING_ASSIGN_OR_RETURN(EnvelopeHeader header,
                            header_of(bytes, kCertReplyType, limits, reason));
  ByteReader in(bytes.subspan(kEnvelopeHeaderSize));
  CertReply reply;
  reply.sender = header.sender;
  reply.sender_sequence = header.sender_sequence;
  auto count = in.u16();
  if (!count) return failed<CertReply>(RejectReason::kTruncated, "certificate count", reason);
  if (*count > kCertificatesPerMessageMax) {
    return failed<CertReply>(RejectReason::kTooLarge,
                             std::to_string(*count) + " certificates", reason);
  }
  for (std::uint16_t i = 0; i < *count; ++i) {
    auto length = in.u32();
    if (!length) return failed<CertReply>(RejectReason::kTruncated, "certificate length", reason);
    if (*length > crypto::kCertificateMaxBytes) {
      return failed<CertReply>(RejectReason::kTooLarge,
                               "certificate of " + std::to_string(*length) + " bytes", reason);
    }
    auto body = in.raw(*length);
    if (!body) return failed<CertReply>(RejectReason::kTruncated, "certificate", reason);
    reply.certificates.emplace_back(body->begin(), body->end());
  }
  if (!in.at_end()) {
    return failed<CertReply>(RejectReason::kTrailingBytes,
                             std::to_string(in.remaining()) + " bytes after the reply", reason);
  }
  return reply;
}

}  // namespace starling::wire
