// Byte buffers, hex encoding, and a bounded little-endian reader/writer for the fixed binary
// layouts of signed records and certificates. Value types; no threading concerns.
//
// Why not Cereal here: Cereal's binary archives size containers from a length read off the
// input before checking it against the bytes that remain, so a forged length can force a large
// allocation. The security envelope (crypto/) must reject such input before allocating anything,
// so it uses ByteReader, which checks every length against both a limit and the bytes left.
// Cereal remains the codec for payloads, which are decoded only after their signature verified.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"

namespace starling {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

inline ByteSpan as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// A fast, portable 64-bit fingerprint of `bytes` (not cryptographic): for recognising byte
// strings seen before, always confirmed by comparing the bytes themselves.
std::uint64_t fingerprint64(ByteSpan bytes) noexcept;

// Lower-case hexadecimal of `bytes`.
std::string to_hex(ByteSpan bytes);

// Decodes hexadecimal (either case). Returns nullopt for odd lengths or non-hex characters.
std::optional<Bytes> from_hex(std::string_view hex);

// Appends fixed-width little-endian integers and length-prefixed fields to a buffer.
class ByteWriter {
 public:
  explicit ByteWriter(Bytes& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { put_le(v, 2); }
  void u32(std::uint32_t v) { put_le(v, 4); }
  void u64(std::uint64_t v) { put_le(v, 8); }
  void i64(std::int64_t v) { put_le(static_cast<std::uint64_t>(v), 8); }
  void raw(ByteSpan bytes) {
    if (bytes.empty()) return;
    const std::size_t at = out_.size();
    out_.resize(at + bytes.size());
    std::memcpy(out_.data() + at, bytes.data(), bytes.size());
  }
  // A u16 length followed by the bytes. REQUIRES: text.size() <= 65535.
  void str16(std::string_view text);

 private:
  void put_le(std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes& out_;
};

// Reads the layouts ByteWriter writes from a span it does not own. Every read checks the bytes
// that remain; a failed read returns kCorrupt (or kTooLarge for a declared length above its
// limit) and allocates nothing.
class ByteReader {
 public:
  explicit ByteReader(ByteSpan in) : in_(in) {}

  std::size_t remaining() const noexcept { return in_.size() - pos_; }
  std::size_t position() const noexcept { return pos_; }
  bool at_end() const noexcept { return pos_ == in_.size(); }

  Result<std::uint8_t> u8();
  Result<std::uint16_t> u16();
  Result<std::uint32_t> u32();
  Result<std::uint64_t> u64();
  Result<std::int64_t> i64();
  // A view of the next `n` bytes; nothing is copied.
  Result<ByteSpan> raw(std::size_t n);
  template <std::size_t N>
  Result<std::array<std::uint8_t, N>> fixed() {
    auto span = raw(N);
    if (!span) return span.status();
    std::array<std::uint8_t, N> out{};
    std::copy(span->begin(), span->end(), out.begin());
    return out;
  }
  // A u16-length-prefixed string; kTooLarge when the declared length exceeds `max_length`.
  Result<std::string> str16(std::size_t max_length);
  // kCorrupt when bytes are left over: every layout is parsed to its exact end.
  Status expect_end() const;

 private:
  Result<std::uint64_t> get_le(int width);
  ByteSpan in_;
  std::size_t pos_ = 0;
};

}  // namespace starling
