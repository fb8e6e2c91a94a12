// Envelope and membership message encoding (see envelope.hpp).
#include "agent/wire/envelope.hpp"

#include <string>
#include <utility>

#include "agent/wire/internal/cereal_io.hpp"

namespace starling::wire {

namespace {

using internal::CerealReader;
using internal::DecodeError;
using membership::Message;
using membership::MessageType;

bool is_membership_type(std::uint8_t type) {
  return type >= static_cast<std::uint8_t>(MessageType::kPing) &&
         type <= static_cast<std::uint8_t>(MessageType::kStateDigest);
}

// Rejects with `reason`, setting *out when given.
Status rejected(RejectReason reason, std::string_view detail, RejectReason* out) {
  if (out != nullptr) *out = reason;
  return reject(reason, detail);
}

Message read_payload(ByteSpan payload, const WireLimits& limits) {
  CerealReader reader(payload);
  Message message;
  message.sender_address = reader.string("sender address", membership::kAddressMaxLength);
  message.sequence = reader.u32("probe sequence");
  message.target = reader.node_id("target");
  message.join = reader.boolean("join flag");
  const std::size_t count =
      reader.count("record count", limits.records_per_message_max, internal::kSizeTagBytes);
  message.records.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    message.records.push_back(reader.byte_string("record", limits.record_bytes_max));
  }
  reader.expect_end();
  return message;
}

}  // namespace

Status WireLimits::validate() const {
  if (message_bytes_max <= kEnvelopeHeaderSize || records_per_message_max == 0 ||
      record_bytes_max == 0 || record_bytes_max > message_bytes_max) {
    return error(StatusCode::kInvalidArgument,
                 "wire limits: message_bytes_max " + std::to_string(message_bytes_max) +
                     ", records_per_message_max " + std::to_string(records_per_message_max) +
                     ", record_bytes_max " + std::to_string(record_bytes_max));
  }
  return Status::ok();
}

Bytes encode_message(const Message& message, std::uint64_t sender_sequence) {
  STARLING_ASSERT(!message.sender.is_zero(), "message without a sender");
  STARLING_ASSERT(is_membership_type(static_cast<std::uint8_t>(message.type)),
                  "not a membership message type");
  STARLING_ASSERT(message.sender_address.size() <= membership::kAddressMaxLength,
                  "sender address too long");
  std::size_t size = kEnvelopeHeaderSize + 64 + message.sender_address.size();
  for (const Bytes& record : message.records) size += 8 + record.size();
  Bytes out;
  out.reserve(size);
  ByteWriter header(out);
  header.u8(kProtocolVersion);
  header.u8(static_cast<std::uint8_t>(message.type));
  header.raw(message.sender.raw());
  header.u64(sender_sequence);
  internal::CerealWriter payload(out);
  payload.string(message.sender_address);
  payload.u32(message.sequence);
  payload.node_id(message.target);
  payload.boolean(message.join);
  payload.byte_strings(message.records);
  return out;
}

Bytes encode_envelope(std::uint8_t type, const NodeId& sender, std::uint64_t sender_sequence,
                      ByteSpan payload) {
  STARLING_ASSERT(!sender.is_zero() && type != 0, "envelope without a sender or type");
  Bytes bytes;
  bytes.reserve(kEnvelopeHeaderSize + payload.size());
  ByteWriter out(bytes);
  out.u8(kProtocolVersion);
  out.u8(type);
  out.raw(sender.raw());
  out.u64(sender_sequence);
  out.raw(payload);
  return bytes;
}

Result<EnvelopeHeader> peek_envelope(ByteSpan bytes, const WireLimits& limits,
                                     RejectReason* reason) {
  STARLING_ASSERT(limits.validate().is_ok(), "invalid WireLimits");
  if (bytes.size() > limits.message_bytes_max) {
    return rejected(RejectReason::kTooLarge,
                    "message of " + std::to_string(bytes.size()) + " bytes (limit " +
                        std::to_string(limits.message_bytes_max) + ")",
                    reason);
  }
  if (bytes.size() < kEnvelopeHeaderSize) {
    return rejected(RejectReason::kTruncated,
                    "message of " + std::to_string(bytes.size()) + " bytes has no full header",
                    reason);
  }
  // The size check above makes every read below succeed.
  ByteReader reader(bytes);
  EnvelopeHeader header;
  header.version = reader.u8().value();
  header.type = reader.u8().value();
  header.sender = NodeId(reader.fixed<NodeId::kSize>().value());
  header.sender_sequence = reader.u64().value();
  if (header.version != kProtocolVersion) {
    return rejected(RejectReason::kBadVersion,
                    "protocol version " + std::to_string(header.version) + " (this build speaks " +
                        std::to_string(kProtocolVersion) + ")",
                    reason);
  }
  if (header.sender.is_zero()) {
    return rejected(RejectReason::kMalformed, "message from the zero node id", reason);
  }
  return header;
}

Result<DecodedMessage> decode_message(ByteSpan bytes, const WireLimits& limits,
                                      RejectReason* reason) {
  STARLING_ASSIGN_OR_RETURN(EnvelopeHeader header, peek_envelope(bytes, limits, reason));
  if (!is_membership_type(header.type)) {
    return rejected(RejectReason::kUnknownType,
                    "message type " + std::to_string(header.type) + " is not handled", reason);
  }
  const ByteSpan payload = bytes.subspan(kEnvelopeHeaderSize);
  STARLING_ASSIGN_OR_RETURN(
      Message message,
      internal::run_decoder<Message>([&] { return read_payload(payload, limits); }, reason));
  message.type = static_cast<MessageType>(header.type);
  message.sender = header.sender;
  return DecodedMessage{header.sender_sequence, std::move(message)};
}

}  // namespace starling::wire
