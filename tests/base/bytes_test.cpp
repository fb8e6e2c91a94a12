// Tests for hex encoding and the bounded ByteWriter/ByteReader.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "base/bytes.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling {
namespace {

TEST_CASE("to_hex writes lower-case pairs") {
  CHECK(to_hex(Bytes{}).empty());
  CHECK(to_hex(Bytes{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff}) == "00017f80abff");
  CHECK(to_hex(as_bytes("Hi")) == "4869");
}

TEST_CASE("from_hex round-trips every byte value and accepts both cases") {
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
  const std::string hex = to_hex(all);
  CHECK(hex.size() == 512);
  auto back = from_hex(hex);
  REQUIRE(back.has_value());
  CHECK(*back == all);

  auto upper = from_hex("00ABCDEFabcdef9F");
  REQUIRE(upper.has_value());
  CHECK(*upper == Bytes{0x00, 0xab, 0xcd, 0xef, 0xab, 0xcd, 0xef, 0x9f});

  auto empty = from_hex("");
  REQUIRE(empty.has_value());
  CHECK(empty->empty());
}

TEST_CASE("from_hex rejects odd lengths and non-hex characters") {
  CHECK_FALSE(from_hex("0").has_value());
  CHECK_FALSE(from_hex("abc").has_value());
  for (const char* bad : {"0g", "g0", "zz", " 0", "0 ", "-1", "0x", "+1", "\n0", "0\0"}) {
    CAPTURE(bad);
    CHECK_FALSE(from_hex(std::string_view(bad, 2)).has_value());
  }
  CHECK_FALSE(from_hex("00112233445566778899aabbccddeeGG").has_value());
}

TEST_CASE("ByteWriter writes fixed-width little-endian integers") {
  Bytes out;
  ByteWriter w(out);
  w.u8(0x01);
  w.u16(0x0302);
  w.u32(0x07060504);
  w.u64(0x0f0e0d0c0b0a0908ULL);
  w.i64(-2);
  w.str16("ab");
  w.raw(Bytes{0xee});
  w.raw(Bytes{});
  const Bytes expected = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
                          0x0c, 0x0d, 0x0e, 0x0f, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                          0xff, 0x02, 0x00, 'a',  'b',  0xee};
  CHECK(out == expected);
}

TEST_CASE("ByteReader reads back what ByteWriter wrote") {
  Bytes out;
  ByteWriter w(out);
  w.u8(0xff);
  w.u16(0xbeef);
  w.u32(0xdeadbeef);
  w.u64(std::numeric_limits<std::uint64_t>::max() - 1);
  w.i64(std::numeric_limits<std::int64_t>::min());
  w.str16("");
  w.str16("starling");
  w.raw(Bytes{1, 2, 3, 4});

  ByteReader r(out);
  CHECK(r.remaining() == out.size());
  CHECK(*r.u8() == 0xff);
  CHECK(*r.u16() == 0xbeef);
  CHECK(*r.u32() == 0xdeadbeef);
  CHECK(*r.u64() == std::numeric_limits<std::uint64_t>::max() - 1);
  CHECK(*r.i64() == std::numeric_limits<std::int64_t>::min());
  CHECK(*r.str16(0) == "");
  CHECK(*r.str16(8) == "starling");
  CHECK(r.position() == out.size() - 4);
  auto fixed = r.fixed<2>();
  REQUIRE_OK(fixed);
  CHECK(*fixed == std::array<std::uint8_t, 2>{1, 2});
  auto rest = r.raw(2);
  REQUIRE_OK(rest);
  CHECK(rest->size() == 2);
  CHECK(rest->data() == out.data() + out.size() - 2);  // a view, not a copy
  CHECK(r.at_end());
  CHECK(r.remaining() == 0);
  CHECK_OK(r.expect_end());
  auto empty = r.raw(0);
  REQUIRE_OK(empty);
  CHECK(empty->empty());
}

TEST_CASE("truncated integer reads return kCorrupt and consume nothing") {
  const Bytes seven(7, 0xaa);
  for (std::size_t n = 0; n < 8; ++n) {
    CAPTURE(n);
    const ByteSpan input = ByteSpan(seven).first(std::min<std::size_t>(n, seven.size()));
    if (n < 1) {
      ByteReader r(input);
      CHECK_CODE(r.u8(), StatusCode::kCorrupt);
      CHECK(r.position() == 0);
    }
    if (n < 2) {
      ByteReader r(input);
      CHECK_CODE(r.u16(), StatusCode::kCorrupt);
      CHECK(r.position() == 0);
    }
    if (n < 4) {
      ByteReader r(input);
      CHECK_CODE(r.u32(), StatusCode::kCorrupt);
      CHECK(r.position() == 0);
    }
    ByteReader r64(input);
    CHECK_CODE(r64.u64(), StatusCode::kCorrupt);
    CHECK(r64.position() == 0);
    ByteReader ri64(input);
    CHECK_CODE(ri64.i64(), StatusCode::kCorrupt);
    CHECK(ri64.remaining() == input.size());
  }
}

TEST_CASE("raw and fixed reads past the end return kCorrupt") {
  const Bytes three = {1, 2, 3};
  ByteReader r(three);
  CHECK_CODE(r.raw(4), StatusCode::kCorrupt);
  CHECK(r.position() == 0);
  CHECK_CODE(r.raw(std::numeric_limits<std::size_t>::max()), StatusCode::kCorrupt);
  CHECK_CODE(r.fixed<4>(), StatusCode::kCorrupt);
  CHECK(r.position() == 0);
  REQUIRE_OK(r.raw(2));
  CHECK_CODE(r.raw(2), StatusCode::kCorrupt);
  CHECK_CODE(r.u16(), StatusCode::kCorrupt);
  CHECK(*r.u8() == 3);
  CHECK_CODE(r.u8(), StatusCode::kCorrupt);
}

TEST_CASE("str16 enforces its limit and the bytes left") {
  Bytes out;
  ByteWriter w(out);
  w.str16("twelve chars");

  SUBCASE("at the limit") {
    ByteReader r(out);
    auto text = r.str16(12);
    REQUIRE_OK(text);
    CHECK(*text == "twelve chars");
  }
  SUBCASE("over the limit is kTooLarge") {
    ByteReader r(out);
    CHECK_CODE(r.str16(11), StatusCode::kTooLarge);
    CHECK_CODE(r.str16(0), StatusCode::kTooLarge);
  }
  SUBCASE("declared length past the end is kCorrupt") {
    for (std::size_t cut = 0; cut < out.size(); ++cut) {
      CAPTURE(cut);
      ByteReader r(ByteSpan(out).first(cut));
      CHECK_CODE(r.str16(1000), StatusCode::kCorrupt);
    }
  }
  SUBCASE("a huge declared length is rejected before any read") {
    const Bytes forged = {0xff, 0xff, 'x'};
    ByteReader over_limit(forged);
    CHECK_CODE(over_limit.str16(100), StatusCode::kTooLarge);
    ByteReader within_limit(forged);
    CHECK_CODE(within_limit.str16(0xffff), StatusCode::kCorrupt);
  }
}

TEST_CASE("expect_end rejects trailing bytes") {
  const Bytes five = {1, 2, 3, 4, 5};
  ByteReader r(five);
  REQUIRE_OK(r.u32());
  CHECK_FALSE(r.at_end());
  CHECK_CODE(r.expect_end(), StatusCode::kCorrupt);
  REQUIRE_OK(r.u8());
  CHECK_OK(r.expect_end());

  ByteReader empty{ByteSpan{}};
  CHECK(empty.at_end());
  CHECK_OK(empty.expect_end());
}

}  // namespace
}  // namespace starling
