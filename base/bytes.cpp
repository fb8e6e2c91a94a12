// Hex encoding and the bounded ByteReader/ByteWriter.
#include "base/bytes.hpp"

#include <algorithm>

namespace starling {

std::uint64_t fingerprint64(ByteSpan bytes) noexcept {
  // Eight bytes at a time through a multiply-xorshift mixer (splitmix64's finaliser).
  std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ bytes.size();
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
  }
  std::uint64_t tail = 0;
  for (std::size_t k = 0; i + k < bytes.size(); ++k) tail |= std::uint64_t{bytes[i + k]} << (8 * k);
  h = (h ^ tail) * 0x94d049bb133111ebULL;
  return h ^ (h >> 29);
}

std::string to_hex(ByteSpan bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

namespace {
int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  Bytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int high = hex_value(hex[2 * i]);
    int low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return out;
}

void ByteWriter::str16(std::string_view text) {
  STARLING_ASSERT(text.size() <= 0xffff, "str16 field longer than 65535 bytes");
  u16(static_cast<std::uint16_t>(text.size()));
  raw(as_bytes(text));
}

Result<std::uint64_t> ByteReader::get_le(int width) {
  if (remaining() < static_cast<std::size_t>(width)) {
    return error(StatusCode::kCorrupt, "truncated: integer field past the end of the input");
  }
  std::uint64_t v = 0;
  for (int i = 0; i < width; ++i) v |= std::uint64_t{in_[pos_ + i]} << (8 * i);
  pos_ += static_cast<std::size_t>(width);
  return v;
}

Result<std::uint8_t> ByteReader::u8() {
  auto v = get_le(1);
  if (!v) return v.status();
  return static_cast<std::uint8_t>(*v);
}
Result<std::uint16_t> ByteReader::u16() {
  auto v = get_le(2);
  if (!v) return v.status();
  return static_cast<std::uint16_t>(*v);
}
Result<std::uint32_t> ByteReader::u32() {
  auto v = get_le(4);
  if (!v) return v.status();
  return static_cast<std::uint32_t>(*v);
}
Result<std::uint64_t> ByteReader::u64() { return get_le(8); }
Result<std::int64_t> ByteReader::i64() {
  auto v = get_le(8);
  if (!v) return v.status();
  return static_cast<std::int64_t>(*v);
}

Result<ByteSpan> ByteReader::raw(std::size_t n) {
  if (remaining() < n) {
    return error(StatusCode::kCorrupt, "truncated: field of " + std::to_string(n) +
                                           " bytes with only " + std::to_string(remaining()) +
                                           " left");
  }
  ByteSpan out = in_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Result<std::string> ByteReader::str16(std::size_t max_length) {
  auto length = u16();
  if (!length) return length.status();
  if (*length > max_length) {
    return error(StatusCode::kTooLarge, "string field of " + std::to_string(*length) +
                                            " bytes exceeds the limit of " +
                                            std::to_string(max_length));
  }
  auto span = raw(*length);
  if (!span) return span.status();
  return std::string(reinterpret_cast<const char*>(span->data()), span->size());
}

Status ByteReader::expect_end() const {
  if (at_end()) return Status::ok();
  return error(StatusCode::kCorrupt, std::to_string(remaining()) + " unexpected trailing bytes");
}

}  // namespace starling
