// Tests for NodeId: construction from integers, ordering, hex and hashing.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/node_id.hpp"

namespace starling {
namespace {

TEST_CASE("a default NodeId is zero") {
  const NodeId id;
  CHECK(id.is_zero());
  CHECK(id.to_hex() == std::string(32, '0'));
  CHECK(NodeId::from_u64(0) == id);
  CHECK_FALSE(NodeId::from_u64(1).is_zero());
}

TEST_CASE("from_u64 stores the integer big-endian in the last 8 bytes") {
  const NodeId id = NodeId::from_u64(0x0102030405060708ULL);
  CHECK(id.to_hex() == "00000000000000000102030405060708");
  for (std::size_t i = 0; i < 8; ++i) CHECK(id.raw()[i] == 0);
  CHECK(id.raw()[8] == 0x01);
  CHECK(id.raw()[15] == 0x08);
}

TEST_CASE("ids from integers sort in numeric order") {
  const std::vector<std::uint64_t> values = {
      0, 1, 2, 9, 10, 255, 256, 257, 65535, 65536, 1ULL << 32, (1ULL << 40) + 3,
      std::numeric_limits<std::uint64_t>::max() - 1, std::numeric_limits<std::uint64_t>::max()};
  for (std::size_t i = 0; i < values.size(); ++i) {
    for (std::size_t j = 0; j < values.size(); ++j) {
      CAPTURE(values[i]);
      CAPTURE(values[j]);
      const NodeId a = NodeId::from_u64(values[i]);
      const NodeId b = NodeId::from_u64(values[j]);
      CHECK((a < b) == (values[i] < values[j]));
      CHECK((a == b) == (values[i] == values[j]));
    }
  }
}

TEST_CASE("ordering is byte-wise from the first byte") {
  NodeId::Raw high_first{};
  high_first[0] = 1;
  NodeId::Raw high_last{};
  high_last[15] = 0xff;
  CHECK(NodeId(high_last) < NodeId(high_first));
  CHECK(NodeId::from_u64(std::numeric_limits<std::uint64_t>::max()) < NodeId(high_first));
}

TEST_CASE("hex round trip") {
  NodeId::Raw raw{};
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::uint8_t>(0x11 * i + 3);
  const NodeId id(raw);
  const std::string hex = id.to_hex();
  CHECK(hex.size() == 32);
  CHECK(hex == "031425364758697a8b9cadbecfe0f102");
  auto parsed = NodeId::from_hex(hex);
  REQUIRE(parsed.has_value());
  CHECK(*parsed == id);

  auto upper = NodeId::from_hex("031425364758697A8B9CADBECFE0F102");
  REQUIRE(upper.has_value());
  CHECK(*upper == id);
}

TEST_CASE("from_hex rejects wrong lengths and non-hex") {
  CHECK_FALSE(NodeId::from_hex("").has_value());
  CHECK_FALSE(NodeId::from_hex(std::string(31, 'a')).has_value());
  CHECK_FALSE(NodeId::from_hex(std::string(33, 'a')).has_value());
  CHECK_FALSE(NodeId::from_hex(std::string(30, 'a')).has_value());
  CHECK_FALSE(NodeId::from_hex(std::string(34, 'a')).has_value());
  CHECK_FALSE(NodeId::from_hex(std::string(64, 'a')).has_value());
  CHECK_FALSE(NodeId::from_hex(std::string(31, 'a') + "g").has_value());
  CHECK_FALSE(NodeId::from_hex("0x" + std::string(30, 'a')).has_value());
  CHECK(NodeId::from_hex(std::string(32, 'a')).has_value());
}

TEST_CASE("short_hex is the first 8 hex characters") {
  const NodeId id = NodeId::from_hex("deadbeef00112233445566778899aabb").value();
  CHECK(id.short_hex() == "deadbeef");
  CHECK(NodeId::from_u64(42).short_hex() == "00000000");
  CHECK(NodeId().short_hex().size() == 8);
}

TEST_CASE("NodeId works as an unordered key") {
  std::unordered_set<NodeId> set;
  for (std::uint64_t i = 0; i < 100; ++i) set.insert(NodeId::from_u64(i));
  set.insert(NodeId::from_u64(7));
  CHECK(set.size() == 100);
  CHECK(set.count(NodeId::from_u64(99)) == 1);
  CHECK(set.count(NodeId::from_u64(100)) == 0);
  const NodeId a = NodeId::from_hex("0123456789abcdef0123456789abcdef").value();
  const NodeId b = NodeId::from_hex("0123456789abcdef0123456789abcdef").value();
  CHECK(std::hash<NodeId>{}(a) == std::hash<NodeId>{}(b));
}

}  // namespace
}  // namespace starling
