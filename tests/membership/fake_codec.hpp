// A RecordCodec for membership tests that needs no libsodium: records are encoded with
// ByteWriter and "signed" with a keyed 64-bit hash of the signer id and the content, so that
// forgeries and tampering are still detected. Not secure; tests only.
#pragma once

#include <set>

#include "agent/membership/types.hpp"
#include "base/rng.hpp"

namespace starling::membership::testing {

class FakeCodec final : public RecordCodec {
 public:
  explicit FakeCodec(NodeId self) : self_(self) {}

  // Signers whose records verify; empty means everyone.
  std::set<NodeId> enrolled;

  Bytes seal(const MemberRecord& record) override {
    STARLING_ASSERT(record.signer == self_, "FakeCodec seals only its own records");
    Bytes out = encode(record);
    append_tag(out, tag(record.signer, out));
    return out;
  }

  Result<MemberRecord> decode(ByteSpan bytes) override {
    if (bytes.size() < 8) return error(StatusCode::kCorrupt, "short");
    ByteReader r(bytes.first(bytes.size() - 8));
    MemberRecord record;
    STARLING_ASSIGN_OR_RETURN(auto type, r.u8());
    if (type < 1 || type > 4) return error(StatusCode::kCorrupt, "type");
    record.type = static_cast<RecordType>(type);
    STARLING_ASSIGN_OR_RETURN(auto subject, r.fixed<NodeId::kSize>());
    STARLING_ASSIGN_OR_RETURN(auto signer, r.fixed<NodeId::kSize>());
    record.subject = NodeId(subject);
    record.signer = NodeId(signer);
    STARLING_ASSIGN_OR_RETURN(record.incarnation, r.u64());
    STARLING_ASSIGN_OR_RETURN(record.meta_version, r.u64());
    STARLING_ASSIGN_OR_RETURN(record.address, r.str16(kAddressMaxLength));
    STARLING_ASSIGN_OR_RETURN(auto entries, r.u16());
    for (int i = 0; i < entries; ++i) {
      STARLING_ASSIGN_OR_RETURN(auto key, r.str16(256));
      STARLING_ASSIGN_OR_RETURN(auto value, r.str16(256));
      record.meta[key] = value;
    }
    STARLING_RETURN_IF_ERROR(r.expect_end());
    return record;
  }

  Status verify(ByteSpan bytes, const MemberRecord& record) override {
    if (!enrolled.empty() && enrolled.count(record.signer) == 0) {
      return error(StatusCode::kNotFound, "unknown signer");
    }
    const ByteSpan content = bytes.first(bytes.size() - 8);
    std::uint64_t stored = 0;
    for (int i = 0; i < 8; ++i) stored |= std::uint64_t{bytes[content.size() + i]} << (8 * i);
    if (stored != tag(record.signer, content)) return error(StatusCode::kBadSignature, "tag");
    return Status::ok();
  }

 private:
  static Bytes encode(const MemberRecord& record) {
    Bytes out;
    ByteWriter w(out);
    w.u8(static_cast<std::uint8_t>(record.type));
    w.raw(record.subject.raw());
    w.raw(record.signer.raw());
    w.u64(record.incarnation);
    w.u64(record.meta_version);
    w.str16(record.address);
    w.u16(static_cast<std::uint16_t>(record.meta.size()));
    for (const auto& [key, value] : record.meta) {
      w.str16(key);
      w.str16(value);
    }
    return out;
  }
  static std::uint64_t tag(const NodeId& signer, ByteSpan content) {
    std::uint64_t h = 0x5374726c696e67ULL;
    for (auto b : signer.raw()) h = (h ^ b) * 0x100000001b3ULL;
    for (auto b : content) h = (h ^ b) * 0x100000001b3ULL;
    return splitmix64(h);
  }
  static void append_tag(Bytes& out, std::uint64_t t) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(t >> (8 * i)));
  }
  NodeId self_;
};

}  // namespace starling::membership::testing
