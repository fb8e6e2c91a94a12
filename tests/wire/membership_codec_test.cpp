// Tests of SignedRecordCodec and the member record payload: round trips of every record type,
// the exact payload layout, tampering (every single-byte flip), signer mismatches, unknown
// signers, strict decoding of non-canonical payloads, forged lengths, and the contract of the
// verify_signatures=false simulator mode.
#include <doctest/doctest.h>

#include <string>

#include "agent/wire/map_key_directory.hpp"
#include "agent/wire/membership_codec.hpp"
#include "crypto/signed_record.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/wire/allocation_probe.hpp"
#include "tests/wire/wire_test_support.hpp"

namespace starling::wire {
namespace {

using membership::MemberRecord;
using membership::RecordType;
using testing::alive_record;
using testing::directory;
using testing::LayoutWriter;
using testing::node;
using testing::record_of;

constexpr std::size_t kUnknown = testing::kKnownNodes;  // a node the directory does not know

// Seals `payload` as a membership record by `author`, bypassing the codec's checks.
Bytes raw_record(std::size_t author, ByteSpan payload,
                 crypto::RecordKind kind = kMembershipRecordKind) {
  return crypto::seal_record(node(author), kind, 1, payload);
}

Bytes with_byte(Bytes bytes, std::size_t at, std::uint8_t value) {
  bytes.at(at) = value;
  return bytes;
}

TEST_CASE("every record type round-trips through seal, decode and verify") {
  for (RecordType type : testing::kAllRecordTypes) {
    CAPTURE(static_cast<int>(type));
    const MemberRecord record = record_of(type, 1, 1);
    SignedRecordCodec codec(node(1), directory());
    const Bytes sealed = codec.seal(record);
    auto decoded = codec.decode(sealed);
    REQUIRE_OK(decoded);
    CHECK(*decoded == record);
    CHECK_OK(codec.verify(sealed, *decoded));
    // Another node's codec (the usual case) agrees.
    SignedRecordCodec other(node(2), directory());
    auto again = other.decode(sealed);
    REQUIRE_OK(again);
    CHECK(*again == record);
    CHECK_OK(other.verify(sealed, *again));
  }
}

TEST_CASE("suspect and dead records are signed by the accuser, not the subject") {
  SignedRecordCodec codec(node(2), directory());
  for (RecordType type : {RecordType::kSuspect, RecordType::kDead}) {
    const MemberRecord record = record_of(type, 1, 2);
    const Bytes sealed = codec.seal(record);
    auto decoded = codec.decode(sealed);
    REQUIRE_OK(decoded);
    CHECK(decoded->signer == node(2).node_id());
    CHECK(decoded->subject == node(1).node_id());
    CHECK_OK(codec.verify(sealed, *decoded));
  }
}

TEST_CASE("the payload is the documented Cereal PortableBinary layout") {
  const MemberRecord record = alive_record(1);
  LayoutWriter expected;
  expected.u8(1).id(record.subject).id(record.signer).u64(3).u64(9).str("tcp://10.0.0.17:7946");
  expected.u64(4).str("accuracy").str("0.913").str("capacity").str("4");
  expected.str("load").str("0.42").str("round").str("17");
  CHECK(encode_record_payload(record) == expected.out());

  MemberRecord left = record_of(RecordType::kLeft, 1, 1);
  LayoutWriter left_layout;
  left_layout.u8(4).id(left.subject).id(left.signer).u64(5).u64(0).str("").u64(0);
  CHECK(encode_record_payload(left) == left_layout.out());
}

TEST_CASE("a typical alive record with four metadata entries is 282 bytes sealed") {
  SignedRecordCodec codec(node(1), directory());
  const Bytes payload = encode_record_payload(alive_record(1));
  const Bytes sealed = codec.seal(alive_record(1));
  MESSAGE("alive record: payload ", payload.size(), " bytes, sealed ", sealed.size(), " bytes");
  CHECK(payload.size() == 187);
  CHECK(sealed.size() == payload.size() + crypto::kRecordOverhead);
  CHECK(sealed.size() == 282);
}

TEST_CASE("the largest valid record fits record_bytes_max") {
  MemberRecord record = alive_record(1);
  record.address = std::string(membership::kAddressMaxLength, 'a');
  record.meta.clear();
  const std::size_t per_entry = membership::kMetadataMaxBytes / membership::kMetadataMaxEntries;
  for (std::size_t i = 0; i < membership::kMetadataMaxEntries; ++i) {
    std::string key = "k" + std::to_string(100 + i);  // 4 bytes, sorted
    record.meta[key] = std::string(per_entry - key.size(), 'v');
  }
  REQUIRE_OK(membership::validate_metadata(record.meta));
  CHECK(encode_record_payload(record).size() == kMemberRecordPayloadMax);
  SignedRecordCodec codec(node(1), directory());
  const Bytes sealed = codec.seal(record);
  CHECK(sealed.size() == kMemberRecordPayloadMax + crypto::kRecordOverhead);
  CHECK(sealed.size() <= SignedRecordCodecOptions{}.record_bytes_max);
  auto decoded = codec.decode(sealed);
  REQUIRE_OK(decoded);
  CHECK(*decoded == record);
  CHECK_OK(codec.verify(sealed, *decoded));
}

TEST_CASE("sealed records take sequence numbers 1, 2, 3, ... from the codec") {
  SignedRecordCodec codec(node(1), directory());
  for (std::uint64_t expected = 1; expected <= 3; ++expected) {
    auto header = crypto::peek_record(codec.seal(alive_record(1)), 4096);
    REQUIRE_OK(header);
    CHECK(header->sequence == expected);
    CHECK(header->kind == kMembershipRecordKind);
    CHECK(header->author == node(1).node_id());
  }
}

TEST_CASE("flipping any single byte of a sealed record fails decode or verify") {
  SignedRecordCodec codec(node(2), directory());
  for (RecordType type : testing::kAllRecordTypes) {
    SignedRecordCodec author(node(1), directory());
    const Bytes sealed = author.seal(record_of(type, 1, 1));
    for (std::size_t at = 0; at < sealed.size(); ++at) {
      for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
        Bytes tampered = sealed;
        tampered[at] ^= mask;
        auto decoded = codec.decode(tampered);
        if (!decoded) continue;
        CAPTURE(at);
        CAPTURE(static_cast<int>(mask));
        CHECK_FALSE(codec.verify(tampered, *decoded).is_ok());
      }
    }
  }
}

TEST_CASE("a record whose author is not its signer is rejected") {
  SignedRecordCodec codec(node(3), directory());
  // Node 2 signs a suspicion that claims node 1 as its signer.
  MemberRecord record = record_of(RecordType::kSuspect, 0, 1);
  const Bytes forged = raw_record(2, encode_record_payload(record));
  CHECK_CODE(codec.decode(forged), StatusCode::kBadSignature);
  CHECK_CODE(codec.verify(forged, record), StatusCode::kBadSignature);
  // The same with the fast mode: the author check is not part of what it skips.
  SignedRecordCodec fast(node(3), directory(), {.verify_signatures = false});
  CHECK_CODE(fast.decode(forged), StatusCode::kBadSignature);
  CHECK_CODE(fast.verify(forged, record), StatusCode::kBadSignature);
}

TEST_CASE("an alive or left record signed by another node than its subject is malformed") {
  SignedRecordCodec codec(node(3), directory());
  for (RecordType type : {RecordType::kAlive, RecordType::kLeft}) {
    MemberRecord record = record_of(type, 1, 1);
    record.signer = node(2).node_id();
    const Bytes sealed = raw_record(2, encode_record_payload(record));
    CHECK_CODE(codec.decode(sealed), StatusCode::kCorrupt);
  }
}

TEST_CASE("a record by an unknown signer decodes but verifies as not found") {
  SignedRecordCodec author(node(kUnknown), directory());
  const Bytes sealed = author.seal(alive_record(kUnknown));
  SignedRecordCodec codec(node(1), directory());
  auto decoded = codec.decode(sealed);
  REQUIRE_OK(decoded);
  CHECK_CODE(codec.verify(sealed, *decoded), StatusCode::kNotFound);
}

TEST_CASE("records of another kind or above record_bytes_max are rejected before decoding") {
  SignedRecordCodec codec(node(1), directory());
  const Bytes payload = encode_record_payload(alive_record(2));
  CHECK_CODE(codec.decode(raw_record(2, payload, 2)), StatusCode::kCorrupt);
  CHECK_CODE(codec.verify(raw_record(2, payload, 2), alive_record(2)), StatusCode::kCorrupt);

  Bytes big = payload;
  big.resize(2048, 0);  // a payload of 2,048 bytes: record of 2,143 > 2,048
  CHECK_CODE(codec.decode(raw_record(2, big)), StatusCode::kTooLarge);
  SignedRecordCodec roomy(node(1), directory(), {.record_bytes_max = 4096});
  // With room, the padding is found to be trailing bytes.
  CHECK_CODE(roomy.decode(raw_record(2, big)), StatusCode::kCorrupt);
  CHECK_CODE(codec.decode(Bytes(10, 0)), StatusCode::kCorrupt);
  CHECK_CODE(codec.decode(Bytes{}), StatusCode::kCorrupt);
}

// The contract of verify_signatures=false (a simulator speed option): it skips exactly the
// Ed25519 check. Unknown signers, malformed bytes and author mismatches are still rejected
// with the same codes as in the full mode; only a bad signature passes.
TEST_CASE("verify_signatures=false skips only the signature check") {
  SignedRecordCodec full(node(1), directory());
  SignedRecordCodec fast(node(1), directory(), {.verify_signatures = false});
  SignedRecordCodec author(node(2), directory());
  const Bytes sealed = author.seal(alive_record(2));
  Bytes bad_signature = sealed;
  bad_signature.back() ^= 0x01;

  auto decoded = fast.decode(bad_signature);
  REQUIRE_OK(decoded);
  CHECK_OK(fast.verify(bad_signature, *decoded));
  CHECK_CODE(full.verify(bad_signature, *decoded), StatusCode::kBadSignature);
  CHECK_OK(fast.verify(sealed, *decoded));

  SignedRecordCodec stranger(node(kUnknown), directory());
  const Bytes unknown = stranger.seal(alive_record(kUnknown));
  auto unknown_record = fast.decode(unknown);
  REQUIRE_OK(unknown_record);
  CHECK_CODE(fast.verify(unknown, *unknown_record), StatusCode::kNotFound);

  Bytes truncated(sealed.begin(), sealed.end() - 1);
  CHECK_CODE(fast.decode(truncated), StatusCode::kCorrupt);
  CHECK_CODE(fast.verify(truncated, *decoded), StatusCode::kCorrupt);
  CHECK_CODE(fast.verify(raw_record(2, encode_record_payload(alive_record(2)), 3), *decoded),
             StatusCode::kCorrupt);
}

TEST_CASE("non-canonical or out-of-domain payloads are rejected") {
  const NodeId a = node(1).node_id();
  const NodeId b = node(2).node_id();
  auto alive = [&](std::uint8_t type, const NodeId& subject, const NodeId& signer) {
    LayoutWriter w;
    w.u8(type).id(subject).id(signer).u64(1).u64(0).str("addr");
    return w;
  };
  struct Case {
    const char* name;
    Bytes payload;
    StatusCode code;
  };
  const Case cases[] = {
      {"big-endian flag", with_byte(encode_record_payload(alive_record(1)), 0, 0),
       StatusCode::kCorrupt},
      {"type 0", alive(0, a, a).u64(0).out(), StatusCode::kCorrupt},
      {"type 5", alive(5, a, a).u64(0).out(), StatusCode::kCorrupt},
      {"zero subject", LayoutWriter().u8(3).id(NodeId()).id(a).u64(1).u64(0).str("").u64(0).out(),
       StatusCode::kCorrupt},
      {"alive by other", alive(1, a, b).u64(0).out(), StatusCode::kCorrupt},
      {"dead with address", alive(3, a, b).u64(0).out(), StatusCode::kCorrupt},
      {"keys out of order", alive(1, a, a).u64(2).str("b").str("1").str("a").str("2").out(),
       StatusCode::kCorrupt},
      {"duplicate keys", alive(1, a, a).u64(2).str("a").str("1").str("a").str("2").out(),
       StatusCode::kCorrupt},
      {"empty key", alive(1, a, a).u64(1).str("").str("1").out(), StatusCode::kCorrupt},
      {"33 entries", alive(1, a, a).u64(33).out(), StatusCode::kTooLarge},
      {"metadata too big", alive(1, a, a).u64(1).str("k").str(std::string(1024, 'v')).out(),
       StatusCode::kTooLarge},
      {"trailing byte", alive(1, a, a).u64(0).u8(0).out(), StatusCode::kCorrupt},
      {"truncated", alive(1, a, a).out(), StatusCode::kCorrupt},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK_CODE(decode_record_payload(c.payload), c.code);
  }
  CHECK_OK(decode_record_payload(alive(1, a, a).u64(0).out()));
  LayoutWriter long_address;
  long_address.u8(1).id(a).id(a).u64(1).u64(0).str(std::string(256, 'x')).u64(0);
  CHECK_CODE(decode_record_payload(long_address.out()), StatusCode::kTooLarge);
}

TEST_CASE("forged huge lengths in a record payload fail without a large allocation") {
  const Bytes good = encode_record_payload(alive_record(1));
  const std::size_t address_length_at = 1 + 1 + 32 + 16;
  const std::size_t meta_count_at = address_length_at + 8 + 20;
  const std::size_t first_key_length_at = meta_count_at + 8;
  for (std::size_t at : {address_length_at, meta_count_at, first_key_length_at}) {
    for (std::uint64_t forged : {std::uint64_t{0xffffffff}, ~std::uint64_t{0}, std::uint64_t{200},
                                 std::uint64_t{1} << 40}) {
      CAPTURE(at);
      CAPTURE(forged);
      Bytes bad = good;
      for (int i = 0; i < 8; ++i) bad[at + i] = static_cast<std::uint8_t>(forged >> (8 * i));
      testing::AllocationProbe probe;
      const auto decoded = decode_record_payload(bad);
      CHECK_FALSE(decoded.is_ok());
      CHECK(probe.largest() < 4096);
    }
  }
}

TEST_CASE("the allocation probe sees a large allocation (so the checks above are not vacuous)") {
  std::size_t largest = 0;
  {
    testing::AllocationProbe probe;
    Bytes block(std::size_t{1} << 20);
    block[12345] = 7;
    CHECK(block[12345] == 7);
    largest = probe.largest();
  }
  CHECK(largest >= std::size_t{1} << 20);
}

TEST_CASE("options are validated") {
  CHECK_OK(SignedRecordCodecOptions{}.validate());
  CHECK_CODE((SignedRecordCodecOptions{.record_bytes_max = crypto::kRecordOverhead}.validate()),
             StatusCode::kInvalidArgument);
  CHECK_OK((SignedRecordCodecOptions{.record_bytes_max = crypto::kRecordOverhead + 1}.validate()));
}

TEST_CASE("MapKeyDirectory files keys under their node id") {
  MapKeyDirectory keys;
  CHECK(keys.find_key(node(0).node_id()) == nullptr);
  keys.add(node(0).public_key());
  keys.add(node(1));
  CHECK(keys.size() == 2);
  REQUIRE(keys.find_key(node(0).node_id()) != nullptr);
  CHECK(*keys.find_key(node(0).node_id()) == node(0).public_key());
  CHECK(*keys.find_key(node(1).node_id()) == node(1).public_key());
  CHECK(keys.remove(node(0).node_id()));
  CHECK_FALSE(keys.remove(node(0).node_id()));
  CHECK(keys.find_key(node(0).node_id()) == nullptr);
}

}  // namespace
}  // namespace starling::wire
