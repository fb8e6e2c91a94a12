// The consensus message codec: round trips of every message type, the exact layout, and hostile
// input (truncations, mutations, forged counts and lengths) that must give kCorrupt without
// crashing or allocating beyond the input.
#include <doctest/doctest.h>

#include "base/rng.hpp"
#include "consensus/codec.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"
#include "tests/consensus/hand.hpp"

using namespace starling;
using namespace starling::consensus;
using namespace starling::consensus::testing;

namespace {

// One message of each type with every field it uses set.
std::vector<Message> samples() {
  std::vector<Message> out;
  for (std::uint8_t t = 1; t <= kMessageTypeMax; ++t) {
    Message m = msg(static_cast<MessageType>(t), 1, 2, 7);
    m.index = 41;
    m.log_term = 6;
    m.commit = 40;
    m.reject = t % 2 == 0;
    m.transfer = t == 3;
    m.hint_index = 39;
    m.hint_term = 5;
    m.context = 0x0123456789abcdefULL;
    if (m.type == MessageType::kAppend) {
      m.entries = {entry(42, 7, "put a"), Entry{43, 7, EntryType::kNoop, {}},
                   Entry{44, 7, EntryType::kConfigChange,
                         encode_config_change({ConfigChangeType::kAddLearner, n(9)})}};
    }
    if (m.type == MessageType::kSnapshot) {
      m.snapshot = Snapshot{SnapshotMeta{40, 6, ConfState{{n(1), n(2), n(3)}, {n(9)}}},
                            bytes_of("state")};
    }
    out.push_back(m);
  }
  return out;
}

}  // namespace

TEST_CASE("codec: every message type round-trips exactly") {
  for (const Message& m : samples()) {
    INFO(message_type_name(m.type));
    const Bytes bytes = encode_message(m);
    auto back = decode_message(bytes);
    REQUIRE_OK(back);
    CHECK(*back == m);
    CHECK(encode_message(*back) == bytes);
  }
}

TEST_CASE("codec: the layout of a heartbeat is the documented one") {
  Message m = msg(MessageType::kHeartbeat, 1, 2, 3);
  m.commit = 4;
  m.context = 5;
  const Bytes bytes = encode_message(m);
  REQUIRE(bytes.size() == kMessageHeaderBytes);
  CHECK(bytes[0] == 1);  // version
  CHECK(bytes[1] == 7);  // type
  CHECK(bytes[2] == 0);  // flags
  CHECK(bytes[3 + 15] == 1);       // from: id 1, big-endian in its last bytes
  CHECK(bytes[3 + 16 + 15] == 2);  // to
  CHECK(bytes[35] == 3);           // term, little-endian u64
  CHECK(bytes[35 + 3 * 8] == 4);   // commit after index and log_term
  CHECK(bytes[35 + 6 * 8] == 5);   // context
  CHECK(bytes[kMessageHeaderBytes - 4] == 0);  // no entries
}

TEST_CASE("codec: every truncation and every extension is refused with kCorrupt") {
  for (const Message& m : samples()) {
    const Bytes bytes = encode_message(m);
    for (std::size_t k = 0; k < bytes.size(); ++k) {
      INFO(message_type_name(m.type) << " cut at " << k);
      CHECK_CODE(decode_message(ByteSpan(bytes.data(), k)), StatusCode::kCorrupt);
    }
    Bytes longer = bytes;
    longer.push_back(0);
    CHECK_CODE(decode_message(longer), StatusCode::kCorrupt);
  }
}

TEST_CASE("codec: unknown versions types flags and entry types are refused") {
  const Bytes good = encode_message(samples()[4]);  // an append with entries
  auto with = [&](std::size_t at, std::uint8_t value) {
    Bytes b = good;
    b[at] = value;
    return decode_message(b);
  };
  CHECK_CODE(with(0, 2), StatusCode::kCorrupt);    // version
  CHECK_CODE(with(1, 0), StatusCode::kCorrupt);    // type 0
  CHECK_CODE(with(1, 11), StatusCode::kCorrupt);   // type beyond kTimeoutNow
  CHECK_CODE(with(2, 4), StatusCode::kCorrupt);    // unknown flag bit
  CHECK_CODE(with(kMessageHeaderBytes + 16, 9), StatusCode::kCorrupt);  // first entry's type
  // Entries in a message type that carries none.
  Bytes heartbeat_with_entries = good;
  heartbeat_with_entries[1] = static_cast<std::uint8_t>(MessageType::kHeartbeat);
  CHECK_CODE(decode_message(heartbeat_with_entries), StatusCode::kCorrupt);
}

TEST_CASE("codec: forged counts and lengths are refused before allocating") {
  Message m = msg(MessageType::kAppend, 1, 2, 3);
  Bytes bytes = encode_message(m);
  // An entry count of 4 billion in a 95-byte message.
  for (std::size_t i = 0; i < 4; ++i) bytes[kMessageHeaderBytes - 4 + i] = 0xff;
  CHECK_CODE(decode_message(bytes), StatusCode::kCorrupt);
  // A count within the limit but larger than the input can hold.
  bytes[kMessageHeaderBytes - 4] = 100;
  for (std::size_t i = 1; i < 4; ++i) bytes[kMessageHeaderBytes - 4 + i] = 0;
  CHECK_CODE(decode_message(bytes), StatusCode::kCorrupt);
  // An entry whose data length claims 4 GiB.
  m.entries = {entry(1, 3, "abc")};
  bytes = encode_message(m);
  const std::size_t length_at = kMessageHeaderBytes + 17;
  for (std::size_t i = 0; i < 4; ++i) bytes[length_at + i] = 0xff;
  CHECK_CODE(decode_message(bytes), StatusCode::kCorrupt);
  // Limits apply even to honest lengths.
  CodecLimits small;
  small.entry_bytes_max = 2;
  CHECK_CODE(decode_message(encode_message(m), small), StatusCode::kCorrupt);
  small = CodecLimits{};
  small.entries_max = 0;
  CHECK_CODE(decode_message(encode_message(m), small), StatusCode::kCorrupt);
  // A snapshot whose configuration is not sorted, or with too many voters.
  Message s = samples()[8];
  REQUIRE(s.type == MessageType::kSnapshot);
  Bytes snap = encode_message(s);
  const std::size_t voters_at = kMessageHeaderBytes + 16;
  Bytes swapped = snap;
  std::swap_ranges(swapped.begin() + voters_at + 1, swapped.begin() + voters_at + 17,
                   swapped.begin() + voters_at + 17);
  CHECK_CODE(decode_message(swapped), StatusCode::kCorrupt);
  Bytes many = snap;
  many[voters_at] = 8;
  CHECK_CODE(decode_message(many), StatusCode::kCorrupt);
  CodecLimits tiny;
  tiny.snapshot_bytes_max = 3;
  CHECK_CODE(decode_message(snap, tiny), StatusCode::kCorrupt);
}

TEST_CASE("codec: random mutations never crash and decode only to canonical encodings") {
  Rng rng(starling::testing::test_seed());
  INFO("seed " << starling::testing::test_seed());
  const auto all = samples();
  std::size_t accepted = 0, refused = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes bytes = encode_message(all[rng.uniform(all.size())]);
    const int flips = 1 + static_cast<int>(rng.uniform(4));
    for (int f = 0; f < flips; ++f) {
      bytes[rng.uniform(bytes.size())] = static_cast<std::uint8_t>(rng.next_u64());
    }
    if (rng.chance(0.2)) bytes.resize(rng.uniform(bytes.size() + 1));
    auto decoded = decode_message(bytes);
    if (decoded) {
      ++accepted;
      CHECK(encode_message(*decoded) == bytes);  // exactly one encoding per message
    } else {
      ++refused;
      CHECK(decoded.status().code() == StatusCode::kCorrupt);
    }
  }
  CHECK(accepted > 0);
  CHECK(refused > 0);
  // Pure noise.
  for (int round = 0; round < 5000; ++round) {
    Bytes noise(rng.uniform(300));
    for (auto& b : noise) b = static_cast<std::uint8_t>(rng.next_u64());
    auto decoded = decode_message(noise);
    if (!decoded) CHECK(decoded.status().code() == StatusCode::kCorrupt);
  }
}

TEST_CASE("codec: configuration changes round-trip and refuse anything else") {
  for (auto type : {ConfigChangeType::kAddVoter, ConfigChangeType::kAddLearner,
                    ConfigChangeType::kRemove}) {
    const ConfigChange change{type, n(5)};
    const Bytes bytes = encode_config_change(change);
    CHECK(bytes.size() == 18);
    auto back = decode_config_change(bytes);
    REQUIRE_OK(back);
    CHECK(*back == change);
  }
  Bytes bytes = encode_config_change({ConfigChangeType::kRemove, n(5)});
  CHECK_CODE(decode_config_change(ByteSpan(bytes.data(), 17)), StatusCode::kCorrupt);
  Bytes longer = bytes;
  longer.push_back(0);
  CHECK_CODE(decode_config_change(longer), StatusCode::kCorrupt);
  Bytes bad_type = bytes;
  bad_type[1] = 4;
  CHECK_CODE(decode_config_change(bad_type), StatusCode::kCorrupt);
  CHECK_CODE(decode_config_change(encode_config_change({ConfigChangeType::kRemove, NodeId{}})),
             StatusCode::kCorrupt);
}
