// SignedRecordCodec and the member record payload encoding (see membership_codec.hpp).
#include "agent/wire/membership_codec.hpp"

#include <string>
#include <utility>

#include "agent/wire/internal/cereal_io.hpp"

namespace starling::wire {

namespace {

using internal::CerealReader;
using internal::DecodeError;
using membership::MemberRecord;
using membership::RecordType;

// Each metadata entry takes at least its two size tags.
constexpr std::size_t kMetadataEntryMinBytes = 2 * internal::kSizeTagBytes;

bool is_record_type(std::uint8_t value) {
  return value >= static_cast<std::uint8_t>(RecordType::kAlive) &&
         value <= static_cast<std::uint8_t>(RecordType::kLeft);
}

// Alive and left records are statements a node makes about itself.
bool signed_by_subject(RecordType type) {
  return type == RecordType::kAlive || type == RecordType::kLeft;
}

membership::Metadata read_metadata(CerealReader& reader) {
  const std::size_t count =
      reader.count("metadata entry count", membership::kMetadataMaxEntries, kMetadataEntryMinBytes);
  membership::Metadata meta;
  for (std::size_t i = 0; i < count; ++i) {
    std::string key = reader.string("metadata key", membership::kMetadataMaxBytes);
    std::string value = reader.string("metadata value", membership::kMetadataMaxBytes);
    if (!meta.empty() && key <= meta.rbegin()->first) {
      throw DecodeError{RejectReason::kMalformed, "metadata keys are not strictly increasing"};
    }
    meta.emplace_hint(meta.end(), std::move(key), std::move(value));
  }
  const Status valid = membership::validate_metadata(meta);
  if (!valid) {
    const RejectReason reason = valid.code() == StatusCode::kTooLarge ? RejectReason::kTooLarge
                                                                     : RejectReason::kMalformed;
    throw DecodeError{reason, "metadata: " + valid.message()};
  }
  return meta;
}

MemberRecord read_record(ByteSpan payload) {
  CerealReader reader(payload);
  MemberRecord record;
  const std::uint8_t type = reader.u8("record type");
  if (!is_record_type(type)) {
    throw DecodeError{RejectReason::kMalformed, "record type " + std::to_string(type)};
  }
  record.type = static_cast<RecordType>(type);
  record.subject = reader.node_id("record subject");
  record.signer = reader.node_id("record signer");
  record.incarnation = reader.u64("record incarnation");
  record.meta_version = reader.u64("record meta_version");
  record.address = reader.string("record address", membership::kAddressMaxLength);
  record.meta = read_metadata(reader);
  reader.expect_end();
  if (record.subject.is_zero() || record.signer.is_zero()) {
    throw DecodeError{RejectReason::kMalformed, "record names the zero node id"};
  }
  if (record.type != RecordType::kAlive &&
      (record.meta_version != 0 || !record.address.empty() || !record.meta.empty())) {
    throw DecodeError{RejectReason::kMalformed, "only alive records carry address and metadata"};
  }
  if (signed_by_subject(record.type) && record.signer != record.subject) {
    throw DecodeError{RejectReason::kMalformed,
                      "alive or left record about " + record.subject.short_hex() +
                          " signed by " + record.signer.short_hex()};
  }
  return record;
}

}  // namespace

Bytes encode_record_payload(const MemberRecord& record) {
  STARLING_ASSERT(is_record_type(static_cast<std::uint8_t>(record.type)), "bad record type");
  STARLING_ASSERT(record.address.size() <= membership::kAddressMaxLength, "address too long");
  STARLING_ASSERT(membership::validate_metadata(record.meta).is_ok(), "invalid metadata");
  STARLING_ASSERT(record.type == RecordType::kAlive ||
                      (record.meta_version == 0 && record.address.empty() && record.meta.empty()),
                  "only alive records carry address and metadata");
  Bytes out;
  out.reserve(64 + record.address.size() + record.meta.size() * 24);
  internal::CerealWriter writer(out);
  writer.u8(static_cast<std::uint8_t>(record.type));
  writer.node_id(record.subject);
  writer.node_id(record.signer);
  writer.u64(record.incarnation);
  writer.u64(record.meta_version);
  writer.string(record.address);
  writer.string_map(record.meta);
  return out;
}

Result<MemberRecord> decode_record_payload(ByteSpan payload) {
  return internal::run_decoder<MemberRecord>([&] { return read_record(payload); }, nullptr);
}

Status SignedRecordCodecOptions::validate() const {
  if (record_bytes_max <= crypto::kRecordOverhead ||
      record_bytes_max > crypto::kRecordOverhead + crypto::kRecordPayloadCeiling) {
    return error(StatusCode::kInvalidArgument,
                 "record_bytes_max " + std::to_string(record_bytes_max) + " is out of range");
  }
  return Status::ok();
}

SignedRecordCodec::SignedRecordCodec(const crypto::Identity& self,
                                     const crypto::KeyDirectory& keys, Options options)
    : self_(self), keys_(keys), options_(options) {
  STARLING_ASSERT(options_.validate().is_ok(), "invalid SignedRecordCodec options");
}

std::size_t SignedRecordCodec::payload_max() const noexcept {
  return options_.record_bytes_max - crypto::kRecordOverhead;
}

Bytes SignedRecordCodec::seal(const MemberRecord& record) {
  STARLING_ASSERT(record.signer == self_.node_id(), "sealing a record signed by another node");
  const Bytes payload = encode_record_payload(record);
  STARLING_ASSERT(payload.size() <= payload_max(), "record above record_bytes_max");
  return crypto::seal_record(self_, kMembershipRecordKind, next_sequence_++, payload);
}

Result<MemberRecord> SignedRecordCodec::decode(ByteSpan bytes) {
  STARLING_ASSIGN_OR_RETURN(crypto::RecordHeader header, crypto::peek_record(bytes, payload_max()));
  if (header.kind != kMembershipRecordKind) {
    return error(StatusCode::kCorrupt,
                 "record of kind " + std::to_string(header.kind) + " is not a membership record");
  }
  STARLING_ASSIGN_OR_RETURN(
      MemberRecord record,
      decode_record_payload(bytes.subspan(crypto::kRecordHeaderSize, header.payload_length)));
  if (header.author != record.signer) {
    return error(StatusCode::kBadSignature, "record by " + header.author.short_hex() +
                                                " claims signer " + record.signer.short_hex());
  }
  return record;
}

Status SignedRecordCodec::verify(ByteSpan bytes, const MemberRecord& record) {
  const crypto::PublicKey* key = keys_.find_key(record.signer);
  if (key == nullptr) {
    return error(StatusCode::kNotFound,
                 "record signer " + record.signer.short_hex() + " has no known key");
  }
  crypto::RecordHeader header;
  if (options_.verify_signatures) {
    STARLING_ASSIGN_OR_RETURN(crypto::RecordView view,
                              crypto::open_record(bytes, *key, payload_max()));
    header = view.header;
  } else {
    // Simulator speed option: everything open_record checks except the Ed25519 signature.
    STARLING_ASSIGN_OR_RETURN(header, crypto::peek_record(bytes, payload_max()));
    if (header.author != record.signer) {
      return error(StatusCode::kBadSignature, "record author " + header.author.short_hex() +
                                                  " is not its signer " +
                                                  record.signer.short_hex());
    }
  }
  if (header.kind != kMembershipRecordKind) {
    return error(StatusCode::kCorrupt, "record kind " + std::to_string(header.kind));
  }
  return Status::ok();
}

}  // namespace starling::wire
