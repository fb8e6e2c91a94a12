// Tests for signed records (seal, peek, open, key directories) and the per-author replay
// window, including a randomised comparison of ReplayWindow against a reference model.
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "base/bytes.hpp"
#include "base/rng.hpp"
#include "crypto/signed_record.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"

namespace starling::crypto {
namespace {

constexpr RecordKind kKind = 0x0102;
constexpr std::size_t kMiB = 1024 * 1024;

// Offsets: u8 format | u16 kind | author[16] | u64 sequence | u32 payload_length | payload | sig.
constexpr std::size_t kKindAt = 1;
constexpr std::size_t kAuthorAt = 3;
constexpr std::size_t kSequenceAt = kAuthorAt + NodeId::kSize;
constexpr std::size_t kLengthAt = kSequenceAt + 8;
static_assert(kLengthAt + 4 == kRecordHeaderSize);

const Identity& alice() {
  static const Identity identity = Identity::for_simulation(3000, 1);
  return identity;
}
const Identity& bob() {
  static const Identity identity = Identity::for_simulation(3000, 2);
  return identity;
}

Bytes payload_of(std::size_t n) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 13 + 5);
  return out;
}

class MapKeyDirectory : public KeyDirectory {
 public:
  void add(const Identity& identity) { keys_[identity.node_id()] = identity.public_key(); }
  const PublicKey* find_key(const NodeId& author) const override {
    auto it = keys_.find(author);
    return it == keys_.end() ? nullptr : &it->second;
  }

 private:
  std::map<NodeId, PublicKey> keys_;
};

TEST_CASE("seal and open round trip for payloads from empty to 1 MiB") {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{1024}, kMiB}) {
    CAPTURE(size);
    const Bytes payload = payload_of(size);
    const Bytes record = seal_record(alice(), kKind, 77, payload);
    CHECK(record.size() == kRecordOverhead + size);

    auto header = peek_record(record, kMiB);
    REQUIRE_OK(header);
    CHECK(header->kind == kKind);
    CHECK(header->author == alice().node_id());
    CHECK(header->sequence == 77);
    CHECK(header->payload_length == size);

    auto opened = open_record(record, alice().public_key(), kMiB);
    REQUIRE_OK(opened);
    CHECK(opened->header.kind == kKind);
    CHECK(opened->header.author == alice().node_id());
    CHECK(opened->header.sequence == 77);
    CHECK(Bytes(opened->payload.begin(), opened->payload.end()) == payload);
    if (size > 0) CHECK(opened->payload.data() == record.data() + kRecordHeaderSize);
  }
}

TEST_CASE("flipping any single byte of a record fails with the right code") {
  const Bytes record = seal_record(alice(), kKind, 9, payload_of(64));
  const std::size_t signature_at = record.size() - Signature::kSize;
  for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
    for (std::size_t i = 0; i < record.size(); ++i) {
      CAPTURE(i);
      CAPTURE(static_cast<int>(mask));
      Bytes tampered = record;
      tampered[i] ^= mask;
      auto opened = open_record(tampered, alice().public_key(), kMiB);
      CHECK_FALSE(opened.is_ok());
      if (i < kKindAt) {
        CHECK_CODE(opened, StatusCode::kCorrupt);  // format
      } else if (i < kLengthAt) {
        CHECK_CODE(opened, StatusCode::kBadSignature);  // kind, author, sequence
      } else if (i < kRecordHeaderSize) {
        CHECK_CODE(opened, StatusCode::kCorrupt);  // payload length no longer matches
      } else if (i < signature_at) {
        CHECK_CODE(opened, StatusCode::kBadSignature);  // payload
      } else {
        CHECK_CODE(opened, StatusCode::kBadSignature);  // signature
      }
    }
  }
}

TEST_CASE("a flipped author byte is refused for the author mismatch") {
  const Bytes record = seal_record(alice(), kKind, 9, payload_of(64));
  Bytes tampered = record;
  tampered[kAuthorAt] ^= 0x01;
  auto opened = open_record(tampered, alice().public_key(), kMiB);
  CHECK_CODE(opened, StatusCode::kBadSignature);
  CHECK(opened.status().message().find("does not match the verifying key") != std::string::npos);
}

TEST_CASE("a record opened with the wrong key is kBadSignature") {
  const Bytes record = seal_record(alice(), kKind, 1, payload_of(10));
  CHECK_CODE(open_record(record, bob().public_key(), kMiB), StatusCode::kBadSignature);
  // Bob's id written over Alice's: the author matches Bob's key, the signature does not.
  Bytes relabelled = record;
  std::copy(bob().node_id().raw().begin(), bob().node_id().raw().end(),
            relabelled.begin() + kAuthorAt);
  CHECK_CODE(open_record(relabelled, bob().public_key(), kMiB), StatusCode::kBadSignature);
}

TEST_CASE("open_record with a key directory") {
  MapKeyDirectory keys;
  keys.add(alice());
  const Bytes from_alice = seal_record(alice(), kKind, 1, payload_of(8));
  const Bytes from_bob = seal_record(bob(), kKind, 1, payload_of(8));
  auto opened = open_record(from_alice, keys, kMiB);
  REQUIRE_OK(opened);
  CHECK(opened->header.author == alice().node_id());
  CHECK_CODE(open_record(from_bob, keys, kMiB), StatusCode::kNotFound);
  keys.add(bob());
  CHECK_OK(open_record(from_bob, keys, kMiB));
  Bytes tampered = from_bob;
  tampered[kRecordHeaderSize] ^= 0x01;
  CHECK_CODE(open_record(tampered, keys, kMiB), StatusCode::kBadSignature);
  CHECK_CODE(open_record(ByteSpan(from_bob).first(10), keys, kMiB), StatusCode::kCorrupt);
}

TEST_CASE("every truncation and any trailing byte is kCorrupt") {
  const Bytes record = seal_record(alice(), kKind, 3, payload_of(64));
  for (std::size_t length = 0; length < record.size(); ++length) {
    CAPTURE(length);
    const ByteSpan truncated = ByteSpan(record).first(length);
    CHECK_CODE(peek_record(truncated, kMiB), StatusCode::kCorrupt);
    CHECK_CODE(open_record(truncated, alice().public_key(), kMiB), StatusCode::kCorrupt);
  }
  Bytes extended = record;
  extended.push_back(0);
  CHECK_CODE(open_record(extended, alice().public_key(), kMiB), StatusCode::kCorrupt);
}

TEST_CASE("payload limits") {
  const Bytes record = seal_record(alice(), kKind, 3, payload_of(100));
  CHECK_OK(open_record(record, alice().public_key(), 100));
  CHECK_CODE(open_record(record, alice().public_key(), 99), StatusCode::kTooLarge);
  CHECK_CODE(peek_record(record, 0), StatusCode::kTooLarge);
  const Bytes empty = seal_record(alice(), kKind, 3, {});
  CHECK_OK(open_record(empty, alice().public_key(), 0));

  // A header that declares a 4 GiB payload in a small buffer.
  for (std::uint32_t declared : {0xffffffffu, 0x80000000u, 65u, 63u}) {
    CAPTURE(declared);
    Bytes forged = seal_record(alice(), kKind, 3, payload_of(64));
    for (int b = 0; b < 4; ++b) {
      forged[kLengthAt + b] = static_cast<std::uint8_t>(declared >> 8 * b);
    }
    for (std::size_t limit : {kMiB, kRecordPayloadCeiling, std::size_t(-1)}) {
      const StatusCode code = open_record(forged, alice().public_key(), limit).status().code();
      CHECK((code == StatusCode::kCorrupt || code == StatusCode::kTooLarge));
    }
  }
}

NodeId author(int i) { return NodeId::from_u64(static_cast<std::uint64_t>(i) + 1); }

TEST_CASE("ReplayWindow rejects duplicates and accepts out-of-order sequences once") {
  ReplayWindow window;
  CHECK_OK(window.check_and_accept(author(0), 10));
  CHECK_CODE(window.check_and_accept(author(0), 10), StatusCode::kReplay);
  CHECK_OK(window.check_and_accept(author(0), 12));
  CHECK_OK(window.check_and_accept(author(0), 11));  // late, within the window
  CHECK_CODE(window.check_and_accept(author(0), 11), StatusCode::kReplay);
  CHECK_CODE(window.check_and_accept(author(0), 12), StatusCode::kReplay);
  CHECK_OK(window.check_and_accept(author(0), 5));  // below the first, still in the window
  CHECK_CODE(window.check_and_accept(author(0), 5), StatusCode::kReplay);
}

TEST_CASE("ReplayWindow rejects sequences older than the window") {
  constexpr std::uint64_t w = ReplayWindow::kWindow;
  ReplayWindow window;
  CHECK_OK(window.check_and_accept(author(0), 1000));
  CHECK_OK(window.check_and_accept(author(0), 1000 - (w - 1)));  // oldest slot in the window
  CHECK_CODE(window.check_and_accept(author(0), 1000 - w), StatusCode::kReplay);
  CHECK_CODE(window.check_and_accept(author(0), 0), StatusCode::kReplay);
  CHECK_OK(window.check_and_accept(author(0), 1001));
  CHECK_CODE(window.check_and_accept(author(0), 1001 - w), StatusCode::kReplay);  // was in
}

TEST_CASE("ReplayWindow handles large jumps") {
  constexpr std::uint64_t w = ReplayWindow::kWindow;
  ReplayWindow window;
  CHECK_OK(window.check_and_accept(author(0), 5));
  CHECK_OK(window.check_and_accept(author(0), 5 + w));  // shift by exactly the window
  CHECK_OK(window.check_and_accept(author(0), 5 + 1));
  CHECK_CODE(window.check_and_accept(author(0), 5), StatusCode::kReplay);
  CHECK_OK(window.check_and_accept(author(0), 1'000'000'000));
  CHECK_CODE(window.check_and_accept(author(0), 5 + w), StatusCode::kReplay);
  CHECK_OK(window.check_and_accept(author(0), 1'000'000'000 - 1));
  const std::uint64_t top = ~std::uint64_t{0};
  CHECK_OK(window.check_and_accept(author(0), top));
  CHECK_CODE(window.check_and_accept(author(0), top), StatusCode::kReplay);
  CHECK_OK(window.check_and_accept(author(0), top - (w - 1)));
  CHECK_CODE(window.check_and_accept(author(0), top - w), StatusCode::kReplay);
}

TEST_CASE("ReplayWindow keeps authors independent and can forget one") {
  ReplayWindow window;
  CHECK_OK(window.check_and_accept(author(0), 500));
  CHECK_OK(window.check_and_accept(author(1), 1));
  CHECK_OK(window.check_and_accept(author(1), 500));
  CHECK_CODE(window.check_and_accept(author(0), 500), StatusCode::kReplay);
  CHECK_CODE(window.check_and_accept(author(1), 1), StatusCode::kReplay);
  CHECK_OK(window.check_and_accept(author(2), 0));
  window.forget(author(0));
  CHECK_OK(window.check_and_accept(author(0), 500));  // a fresh start after forget
  CHECK_CODE(window.check_and_accept(author(1), 500), StatusCode::kReplay);
}

TEST_CASE("ReplayWindow would_accept does not mutate") {
  ReplayWindow window;
  CHECK(window.would_accept(author(0), 7));
  CHECK(window.would_accept(author(0), 7));
  CHECK_OK(window.check_and_accept(author(0), 7));  // would_accept did not mark it
  CHECK_FALSE(window.would_accept(author(0), 7));
  CHECK(window.would_accept(author(0), 8));
  CHECK(window.would_accept(author(0), 1000));
  CHECK_OK(window.check_and_accept(author(0), 8));  // would_accept(1000) did not advance
  CHECK(window.would_accept(author(0), 6));
  CHECK_OK(window.check_and_accept(author(0), 6));
}

// The reference: every accepted sequence per author, and the window rule stated directly.
struct ReplayModel {
  std::map<NodeId, std::set<std::uint64_t>> accepted;
  bool would_accept(const NodeId& who, std::uint64_t sequence) const {
    auto it = accepted.find(who);
    if (it == accepted.end()) return true;
    const std::uint64_t highest = *it->second.rbegin();
    if (sequence > highest) return true;
    return highest - sequence < ReplayWindow::kWindow && it->second.count(sequence) == 0;
  }
};

TEST_CASE("ReplayWindow matches a reference model over random operations") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed, " (replay with STARLING_TEST_SEED=", seed, ")");
  Rng rng(seed);
  ReplayWindow window;
  ReplayModel model;
  std::map<NodeId, std::uint64_t> cursor;  // where each author's traffic currently is
  for (int step = 0; step < 20000; ++step) {
    CAPTURE(step);
    const NodeId who = author(static_cast<int>(rng.uniform(4)));
    std::uint64_t& at = cursor[who];
    std::uint64_t sequence = 0;
    const std::uint64_t pick = rng.uniform(100);
    if (pick < 60) {  // near the front: late, duplicate or slightly ahead
      const std::int64_t delta = rng.uniform_range(-80, 8);
      sequence = delta < 0 && static_cast<std::uint64_t>(-delta) > at ? 0 : at + delta;
    } else if (pick < 85) {  // the next in order
      sequence = at + 1;
    } else if (pick < 95) {  // a jump ahead, sometimes beyond the window
      sequence = at + static_cast<std::uint64_t>(rng.uniform_range(2, 200));
    } else if (pick < 99) {  // an ancient sequence
      sequence = rng.uniform(at + 1);
    } else {  // forget the author
      window.forget(who);
      model.accepted.erase(who);
      continue;
    }
    CAPTURE(sequence);
    const bool expected = model.would_accept(who, sequence);
    REQUIRE(window.would_accept(who, sequence) == expected);
    REQUIRE(window.would_accept(who, sequence) == expected);  // asking changes nothing
    const Status status = window.check_and_accept(who, sequence);
    REQUIRE(status.is_ok() == expected);
    if (expected) {
      model.accepted[who].insert(sequence);
      at = std::max(at, sequence);
    } else {
      REQUIRE(status.code() == StatusCode::kReplay);
    }
  }
}

}  // namespace
}  // namespace starling::crypto
