// Signed record sealing, opening and the per-author replay window.
#include "crypto/signed_record.hpp"

#include <algorithm>

namespace starling::crypto {

namespace {
constexpr std::uint8_t kFormat = 1;
}  // namespace

Bytes seal_record(const Identity& author, RecordKind kind, std::uint64_t sequence,
                  ByteSpan payload) {
  STARLING_ASSERT(payload.size() <= kRecordPayloadCeiling, "record payload above the ceiling");
  Bytes out;
  out.reserve(kRecordOverhead + payload.size());
  ByteWriter w(out);
  w.u8(kFormat);
  w.u16(kind);
  w.raw(author.node_id().raw());
  w.u64(sequence);
  w.u32(static_cast<std::uint32_t>(payload.size()));
  w.raw(payload);
  const Signature signature = author.sign(out);
  w.raw(signature.bytes);
  return out;
}

Result<RecordHeader> peek_record(ByteSpan bytes, std::size_t max_payload) {
  max_payload = std::min(max_payload, kRecordPayloadCeiling);
  if (bytes.size() < kRecordOverhead) {
    return error(StatusCode::kCorrupt, "record of " + std::to_string(bytes.size()) +
                                           " bytes is shorter than its fixed fields");
  }
  if (bytes.size() > kRecordOverhead + max_payload) {
    return error(StatusCode::kTooLarge, "record of " + std::to_string(bytes.size()) +
                                            " bytes exceeds the payload limit of " +
                                            std::to_string(max_payload));
  }
  ByteReader r(bytes);
  STARLING_ASSIGN_OR_RETURN(auto format, r.u8());
  if (format != kFormat) {
    return error(StatusCode::kCorrupt, "unsupported record format " + std::to_string(format));
  }
  RecordHeader header;
  STARLING_ASSIGN_OR_RETURN(header.kind, r.u16());
  STARLING_ASSIGN_OR_RETURN(auto author, r.fixed<NodeId::kSize>());
  header.author = NodeId(author);
  STARLING_ASSIGN_OR_RETURN(header.sequence, r.u64());
  STARLING_ASSIGN_OR_RETURN(header.payload_length, r.u32());
  if (bytes.size() != kRecordOverhead + std::size_t{header.payload_length}) {
    return error(StatusCode::kCorrupt, "record payload length " +
                                           std::to_string(header.payload_length) +
                                           " does not match its size");
  }
  return header;
}

Result<RecordView> open_record(ByteSpan bytes, const PublicKey& author_key,
                               std::size_t max_payload) {
  STARLING_ASSIGN_OR_RETURN(RecordHeader header, peek_record(bytes, max_payload));
  if (header.author != node_id_of(author_key)) {
    return error(StatusCode::kBadSignature, "record author " + header.author.short_hex() +
                                                " does not match the verifying key");
  }
  const std::size_t signed_size = bytes.size() - Signature::kSize;
  Signature signature;
  std::copy(bytes.begin() + static_cast<std::ptrdiff_t>(signed_size), bytes.end(),
            signature.bytes.begin());
  if (!verify_detached(author_key, bytes.first(signed_size), signature)) {
    return error(StatusCode::kBadSignature, "record signature by " + header.author.short_hex() +
                                                " does not verify");
  }
  return RecordView{header, bytes.subspan(kRecordHeaderSize, header.payload_length)};
}

Result<RecordView> open_record(ByteSpan bytes, const KeyDirectory& keys, std::size_t max_payload) {
  STARLING_ASSIGN_OR_RETURN(RecordHeader header, peek_record(bytes, max_payload));
  const PublicKey* key = keys.find_key(header.author);
  if (key == nullptr) {
    return error(StatusCode::kNotFound, "record author " + header.author.short_hex() +
                                            " has no known certificate");
  }
  return open_record(bytes, *key, max_payload);
}

bool ReplayWindow::would_accept(const NodeId& author, std::uint64_t sequence) const {
  auto it = authors_.find(author);
  if (it == authors_.end()) return true;
  const Entry& e = it->second;
  if (sequence > e.highest) return true;
  const std::uint64_t age = e.highest - sequence;
  if (age >= kWindow) return false;
  return (e.seen >> age & 1) == 0;
}

Status ReplayWindow::check_and_accept(const NodeId& author, std::uint64_t sequence) {
  if (!would_accept(author, sequence)) {
    return error(StatusCode::kReplay, "sequence " + std::to_string(sequence) + " from " +
                                          author.short_hex() + " was already seen or is too old");
  }
  auto [it, inserted] = authors_.try_emplace(author);
  Entry& e = it->second;
  if (inserted) {
    e.highest = sequence;
    e.seen = 1;
  } else if (sequence > e.highest) {
    const std::uint64_t shift = sequence - e.highest;
    e.seen = shift >= kWindow ? 1 : (e.seen << shift) | 1;
    e.highest = sequence;
  } else {
    e.seen |= std::uint64_t{1} << (e.highest - sequence);
  }
  return Status::ok();
}

}  // namespace starling::crypto
