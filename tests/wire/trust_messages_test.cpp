// Tests of the certificate exchange messages (wire/trust_messages.hpp): round trips, the exact
// layout, limits on counts and lengths, truncation at every length, trailing bytes and type
// checks.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "agent/wire/trust_messages.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/wire/wire_test_support.hpp"

namespace starling::wire {
namespace {

using testing::node;

CertRequest sample_request(std::size_t wanted) {
  CertRequest request;
  request.sender = node(0).node_id();
  request.sender_sequence = 7;
  request.reply_address = "tcp://127.0.0.1:7946";
  for (std::size_t i = 0; i < wanted; ++i) request.wanted.push_back(node(1 + i % 5).node_id());
  return request;
}

CertReply sample_reply(std::size_t count, std::size_t size) {
  CertReply reply;
  reply.sender = node(1).node_id();
  reply.sender_sequence = 9;
  for (std::size_t i = 0; i < count; ++i) reply.certificates.push_back(Bytes(size, std::uint8_t(i)));
  return reply;
}

TEST_CASE("certificate request round trip and layout") {
  for (std::size_t wanted : {0, 1, 5, 64}) {
    const CertRequest request = sample_request(wanted);
    const Bytes bytes = encode_cert_request(request);
    CHECK(bytes.size() == kEnvelopeHeaderSize + 2 + request.reply_address.size() + 2 + 16 * wanted);
    CHECK(bytes[1] == kCertRequestType);
    auto decoded = decode_cert_request(bytes, WireLimits{});
    REQUIRE_OK(decoded);
    CHECK(decoded->sender == request.sender);
    CHECK(decoded->sender_sequence == 7);
    CHECK(decoded->reply_address == request.reply_address);
    CHECK(decoded->wanted == request.wanted);
  }
}

TEST_CASE("certificate reply round trip") {
  const CertReply reply = sample_reply(3, 300);
  const Bytes bytes = encode_cert_reply(reply);
  CHECK(bytes.size() == kEnvelopeHeaderSize + 2 + 3 * (4 + 300));
  auto decoded = decode_cert_reply(bytes, WireLimits{});
  REQUIRE_OK(decoded);
  CHECK(decoded->sender == reply.sender);
  CHECK(decoded->certificates == reply.certificates);
}

TEST_CASE("certificate messages reject every truncation and trailing bytes") {
  const Bytes request = encode_cert_request(sample_request(3));
  for (std::size_t n = 0; n < request.size(); ++n) {
    CHECK_FALSE(decode_cert_request(ByteSpan(request.data(), n), WireLimits{}));
  }
  const Bytes reply = encode_cert_reply(sample_reply(2, 40));
  for (std::size_t n = 0; n < reply.size(); ++n) {
    CHECK_FALSE(decode_cert_reply(ByteSpan(reply.data(), n), WireLimits{}));
  }
  Bytes longer = reply;
  longer.push_back(0);
  RejectReason reason{};
  CHECK_FALSE(decode_cert_reply(longer, WireLimits{}, &reason));
  CHECK(reason == RejectReason::kTrailingBytes);
}

TEST_CASE("certificate messages bound counts and lengths before allocating") {
  RejectReason reason{};
  Bytes request = encode_cert_request(sample_request(0));
  // Forge a count of 65 (one above the limit) at the end of the payload.
  request[request.size() - 2] = 65;
  CHECK_FALSE(decode_cert_request(request, WireLimits{}, &reason));
  CHECK(reason == RejectReason::kTooLarge);

  Bytes reply = encode_cert_reply(sample_reply(1, 10));
  // Forge the certificate length to 8193 bytes.
  const std::size_t length_at = kEnvelopeHeaderSize + 2;
  reply[length_at] = 0x01;
  reply[length_at + 1] = 0x20;
  CHECK_FALSE(decode_cert_reply(reply, WireLimits{}, &reason));
  CHECK(reason == RejectReason::kTooLarge);
}

TEST_CASE("certificate messages check the envelope type") {
  RejectReason reason{};
  const Bytes request = encode_cert_request(sample_request(1));
  CHECK_FALSE(decode_cert_reply(request, WireLimits{}, &reason));
  CHECK(reason == RejectReason::kUnknownType);
  const Bytes reply = encode_cert_reply(sample_reply(1, 10));
  CHECK_FALSE(decode_cert_request(reply, WireLimits{}, &reason));
  CHECK(reason == RejectReason::kUnknownType);
  // And membership decoding refuses them.
  CHECK_FALSE(decode_message(request, WireLimits{}, &reason));
  CHECK(reason == RejectReason::kUnknownType);
}

TEST_CASE("certificate request rejects a zero node id") {
  CertRequest request = sample_request(1);
  Bytes bytes = encode_cert_request(request);
  std::fill(bytes.end() - 16, bytes.end(), std::uint8_t{0});
  RejectReason reason{};
  CHECK_FALSE(decode_cert_request(bytes, WireLimits{}, &reason));
  CHECK(reason == RejectReason::kMalformed);
}

}  // namespace
}  // namespace starling::wire
