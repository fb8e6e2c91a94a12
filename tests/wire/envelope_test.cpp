// Tests of the envelope and the membership message payload: round trips of every message type
// with 0, 1 and many records, the exact layout, rejection reasons (version, type, sender,
// sizes, flags, trailing bytes), truncation at every length, forged huge lengths without large
// allocations, and the per-sender replay filter.
#include <doctest/doctest.h>

#include <optional>
#include <set>
#include <string>

#include "agent/wire/envelope.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/wire/allocation_probe.hpp"
#include "tests/wire/wire_test_support.hpp"

namespace starling::wire {
namespace {

using membership::Message;
using membership::MessageType;
using testing::envelope_header;
using testing::LayoutWriter;
using testing::message_of;
using testing::node;

constexpr std::uint64_t kSenderSequence = 0x1122334455667788;
constexpr std::size_t kAddressLengthAt = kEnvelopeHeaderSize + 1;
constexpr std::size_t kRecordCountAt = kAddressLengthAt + 8 + 23 + 4 + 16 + 1;

// Decodes `bytes` with `limits`, returning the reason of a rejection (or nullopt when ok).
std::optional<RejectReason> reason_of(ByteSpan bytes, const WireLimits& limits = {}) {
  RejectReason reason = RejectReason::kMalformed;
  auto decoded = decode_message(bytes, limits, &reason);
  if (decoded) return std::nullopt;
  const std::string prefix = std::string(reject_reason_name(reason)) + ": ";
  CHECK(decoded.status().message().rfind(prefix, 0) == 0);
  CHECK(decoded.status().code() == reject_reason_code(reason));
  return reason;
}

void put_u64(Bytes& bytes, std::size_t at, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) bytes.at(at + i) = static_cast<std::uint8_t>(value >> (8 * i));
}

TEST_CASE("every message type round-trips with 0, 1 and many records") {
  for (MessageType type : testing::kAllMessageTypes) {
    for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{100}}) {
      CAPTURE(membership::message_type_name(type));
      CAPTURE(count);
      const Message message = message_of(type, count);
      const Bytes bytes = encode_message(message, kSenderSequence);
      auto decoded = decode_message(bytes, WireLimits{});
      REQUIRE_OK(decoded);
      CHECK(decoded->sender_sequence == kSenderSequence);
      CHECK(decoded->message == message);
      CHECK(encode_message(decoded->message, kSenderSequence) == bytes);
    }
  }
}

TEST_CASE("the envelope and payload are the documented layout") {
  Message message = message_of(MessageType::kPingRequest, 2);
  message.join = true;
  LayoutWriter expected(envelope_header(1, 2, node(0).node_id(), kSenderSequence));
  expected.str("tcp://192.168.1.20:7946").u32(0x01020304).id(node(1).node_id()).u8(1);
  expected.u64(2).bytes(message.records[0]).bytes(message.records[1]);
  CHECK(encode_message(message, kSenderSequence) == expected.out());

  Message ping;
  ping.type = MessageType::kPing;
  ping.sender = node(3).node_id();
  LayoutWriter empty(envelope_header(1, 1, node(3).node_id(), 0));
  empty.str("").u32(0).id(NodeId()).u8(0).u64(0);
  CHECK(encode_message(ping, 0) == empty.out());
  CHECK(empty.out().size() == kEnvelopeHeaderSize + 38);
}

TEST_CASE("versions, types and senders this build does not speak are rejected by reason") {
  const Bytes good = encode_message(message_of(MessageType::kGossip, 1), 7);
  REQUIRE_FALSE(reason_of(good).has_value());
  for (std::uint8_t version : {0, 2, 255}) {
    Bytes bad = good;
    bad[0] = version;
    CHECK(reason_of(bad) == RejectReason::kBadVersion);
  }
  const std::uint8_t unknown_types[] = {0, 9, 31, kConsensusTypeFirst, kFederatedTypeFirst, 200};
  for (std::uint8_t type : unknown_types) {
    CAPTURE(static_cast<int>(type));
    Bytes bad = good;
    bad[1] = type;
    CHECK(reason_of(bad) == RejectReason::kUnknownType);
    auto header = peek_envelope(bad, WireLimits{});  // routing by range still works
    REQUIRE_OK(header);
    CHECK(header->type == type);
    CHECK(header->sender == node(0).node_id());
    CHECK(header->sender_sequence == 7);
  }
  Bytes zero_sender = good;
  std::fill(zero_sender.begin() + 2, zero_sender.begin() + 18, 0);
  CHECK(reason_of(zero_sender) == RejectReason::kMalformed);
}

TEST_CASE("payload flags, booleans and trailing bytes are checked") {
  const Bytes good = encode_message(message_of(MessageType::kPushPull, 2), 1);
  Bytes big_endian = good;
  big_endian[kEnvelopeHeaderSize] = 0;
  CHECK(reason_of(big_endian) == RejectReason::kBadVersion);
  Bytes join = good;
  join[kRecordCountAt - 1] = 2;
  CHECK(reason_of(join) == RejectReason::kMalformed);
  Bytes trailing = good;
  trailing.push_back(0);
  CHECK(reason_of(trailing) == RejectReason::kTrailingBytes);
  CHECK(reason_of(ByteSpan(good).first(kEnvelopeHeaderSize)) == RejectReason::kTruncated);
}

TEST_CASE("messages, counts, records and addresses above their limits are too large") {
  const Message message = message_of(MessageType::kPushPullReply, 10);
  const Bytes bytes = encode_message(message, 1);
  CHECK(reason_of(bytes, {.message_bytes_max = bytes.size() - 1}) == RejectReason::kTooLarge);
  CHECK_FALSE(reason_of(bytes, {.message_bytes_max = bytes.size()}).has_value());
  CHECK(reason_of(bytes, {.records_per_message_max = 9}) == RejectReason::kTooLarge);
  CHECK(reason_of(bytes, {.record_bytes_max = 281}) == RejectReason::kTooLarge);

  Bytes long_address = bytes;
  put_u64(long_address, kAddressLengthAt, membership::kAddressMaxLength + 1);
  CHECK(reason_of(long_address) == RejectReason::kTooLarge);
  CHECK_CODE(decode_message(long_address, WireLimits{}), StatusCode::kTooLarge);

  Bytes four_mib(WireLimits{}.message_bytes_max + 1, 0);
  CHECK(reason_of(four_mib) == RejectReason::kTooLarge);
}

TEST_CASE("every truncation of a valid message fails as truncated") {
  for (std::size_t count : {std::size_t{0}, std::size_t{3}}) {
    const Bytes bytes = encode_message(message_of(MessageType::kPushPull, count), 99);
    for (std::size_t size = 0; size < bytes.size(); ++size) {
      CAPTURE(size);
      CHECK(reason_of(ByteSpan(bytes).first(size)) == RejectReason::kTruncated);
    }
  }
}

TEST_CASE("forged huge lengths and counts fail without a large allocation") {
  const Bytes good = encode_message(message_of(MessageType::kGossip, 3), 5);
  const std::size_t first_record_length_at = kRecordCountAt + 8;
  // Limits as loose as validate() allows, so that only the bytes-remaining checks stand.
  const WireLimits loose{.message_bytes_max = std::size_t{1} << 40,
                         .records_per_message_max = SIZE_MAX,
                         .record_bytes_max = std::size_t{1} << 40};
  for (std::size_t at : {kAddressLengthAt, kRecordCountAt, first_record_length_at}) {
    for (std::uint64_t forged : {std::uint64_t{0xffffffff}, ~std::uint64_t{0},
                                 std::uint64_t{1} << 32, std::uint64_t{100000}}) {
      CAPTURE(at);
      CAPTURE(forged);
      Bytes bad = good;
      put_u64(bad, at, forged);
      for (const WireLimits& limits : {WireLimits{}, loose}) {
        testing::AllocationProbe probe;
        RejectReason reason = RejectReason::kMalformed;
        const auto decoded = decode_message(bad, limits, &reason);
        CHECK_FALSE(decoded.is_ok());
        CHECK(probe.largest() < 4 * good.size());
      }
    }
  }
}

TEST_CASE("the replay filter drops repeated and too-old sender sequences, per sender") {
  EnvelopeReplayFilter filter;
  DecodedMessage from_a{100, message_of(MessageType::kPing, 0)};
  DecodedMessage from_b{100, message_of(MessageType::kAck, 0)};
  from_b.message.sender = node(1).node_id();
  CHECK_OK(filter.check_and_accept(from_a));
  CHECK_CODE(filter.check_and_accept(from_a), StatusCode::kReplay);
  CHECK_OK(filter.check_and_accept(from_b));  // another sender's window
  from_a.sender_sequence = 98;                // reordered within the window
  CHECK_OK(filter.check_and_accept(from_a));
  from_a.sender_sequence = 100 - 64;          // too old
  CHECK_CODE(filter.check_and_accept(from_a), StatusCode::kReplay);
  filter.forget(node(0).node_id());
  CHECK_OK(filter.check_and_accept(from_a));
}

TEST_CASE("reject reasons have distinct names and the documented codes") {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kRejectReasonCount; ++i) {
    const auto reason = static_cast<RejectReason>(i);
    names.insert(reject_reason_name(reason));
    CHECK(reject_reason_code(reason) ==
          (reason == RejectReason::kTooLarge ? StatusCode::kTooLarge : StatusCode::kCorrupt));
  }
  CHECK(names.size() == kRejectReasonCount);
  CHECK(reject_reason_name(RejectReason::kBadVersion) == "bad_version");
  CHECK(reject(RejectReason::kTruncated, "x").to_string() == "corrupt: truncated: x");
}

TEST_CASE("wire limits are validated") {
  CHECK_OK(WireLimits{}.validate());
  CHECK_CODE((WireLimits{.message_bytes_max = kEnvelopeHeaderSize}.validate()),
             StatusCode::kInvalidArgument);
  CHECK_CODE((WireLimits{.records_per_message_max = 0}.validate()), StatusCode::kInvalidArgument);
  CHECK_CODE((WireLimits{.message_bytes_max = 1000, .record_bytes_max = 2048}.validate()),
             StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace starling::wire
