// A seeded mutation test of the whole decoding path: valid messages carrying real sealed
// records are mutated (byte substitutions, bit flips, truncations, insertions, deletions,
// forged 8-byte lengths) 10,000 times, then decoded as the agent would. Besides "no crash",
// it checks that whatever decodes re-encodes to exactly the input (one encoding per message
// and per record payload), that no mutated record verifies unless its bytes are one that was
// really sealed, and that no decode allocates more than a small multiple of its input.
// Replay a failure with STARLING_TEST_SEED=<seed>.
#include <doctest/doctest.h>

#include <set>

#include "agent/wire/envelope.hpp"
#include "agent/wire/membership_codec.hpp"
#include "base/rng.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"
#include "tests/wire/allocation_probe.hpp"
#include "tests/wire/wire_test_support.hpp"

namespace starling::wire {
namespace {

using membership::MessageType;

constexpr int kIterations = 10'000;

std::vector<Bytes> sample_messages() {
  std::vector<Bytes> out;
  std::uint64_t sequence = 1;
  for (MessageType type : testing::kAllMessageTypes) {
    for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
      out.push_back(encode_message(testing::message_of(type, count), sequence++));
    }
  }
  return out;
}

void mutate_once(Rng& rng, Bytes& bytes) {
  const std::size_t at = bytes.empty() ? 0 : rng.uniform(bytes.size());
  switch (rng.uniform(6)) {
    case 0:
      if (!bytes.empty()) bytes[at] = static_cast<std::uint8_t>(rng.next_u64());
      break;
    case 1:
      if (!bytes.empty()) bytes[at] ^= static_cast<std::uint8_t>(1u << rng.uniform(8));
      break;
    case 2: bytes.resize(at); break;
    case 3:
      bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                   static_cast<std::uint8_t>(rng.next_u64()));
      break;
    case 4:
      if (!bytes.empty()) bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(at));
      break;
    default: {  // a forged little-endian length: small, 32-bit or 64-bit huge
      const std::uint64_t forged = rng.chance(0.5) ? rng.uniform(4096) : ~rng.uniform(1u << 16);
      for (std::size_t i = 0; i < 8 && at + i < bytes.size(); ++i) {
        bytes[at + i] = static_cast<std::uint8_t>(forged >> (8 * i));
      }
    }
  }
}

// Decodes every record of a decoded message; checks canonical payloads and that only really
// sealed bytes verify.
void check_records(const membership::Message& message, SignedRecordCodec& codec,
                   const std::set<Bytes>& sealed) {
  for (const Bytes& record_bytes : message.records) {
    auto record = codec.decode(record_bytes);
    if (!record) continue;
    const ByteSpan payload = ByteSpan(record_bytes).subspan(crypto::kRecordHeaderSize);
    const Bytes reencoded = encode_record_payload(*record);
    CHECK(Bytes(payload.begin(), payload.end() - crypto::Signature::kSize) == reencoded);
    if (codec.verify(record_bytes, *record).is_ok()) CHECK(sealed.contains(record_bytes));
  }
}

TEST_CASE("10,000 random mutations of valid messages never crash or decode non-canonically") {
  const std::uint64_t seed = starling::testing::test_seed();
  INFO("seed: ", seed, " (replay with STARLING_TEST_SEED=", seed, ")");
  Rng rng(seed);
  const std::vector<Bytes> samples = sample_messages();
  std::set<Bytes> sealed;
  for (const Bytes& sample : samples) {
    auto decoded = decode_message(sample, WireLimits{});
    REQUIRE_OK(decoded);
    sealed.insert(decoded->message.records.begin(), decoded->message.records.end());
  }
  SignedRecordCodec codec(testing::node(0), testing::directory());
  int decoded_count = 0;
  for (int i = 0; i < kIterations; ++i) {
    CAPTURE(i);
    Bytes bytes = samples[rng.uniform(samples.size())];
    const std::uint64_t mutations = 1 + rng.uniform(4);
    for (std::uint64_t m = 0; m < mutations; ++m) mutate_once(rng, bytes);
    std::size_t largest = 0;
    Result<DecodedMessage> decoded = Status(StatusCode::kInternal, "not decoded");
    {
      testing::AllocationProbe probe;
      decoded = decode_message(bytes, WireLimits{});
      largest = probe.largest();
    }
    CHECK(largest <= 4 * bytes.size() + 1024);
    if (!decoded) continue;
    ++decoded_count;
    CHECK(encode_message(decoded->message, decoded->sender_sequence) == bytes);
    check_records(decoded->message, codec, sealed);
  }
  MESSAGE("mutated messages that still decoded: ", decoded_count, " of ", kIterations);
}

}  // namespace
}  // namespace starling::wire
