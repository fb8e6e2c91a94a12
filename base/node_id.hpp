// NodeId: a device's 128-bit identifier, derived from its Ed25519 public key by crypto/
// (a domain-separated BLAKE2b hash), so that an id cannot be claimed without the key.
// Totally ordered (byte-wise), hashable; a value type.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace starling {

class NodeId {
 public:
  static constexpr std::size_t kSize = 16;
  using Raw = std::array<std::uint8_t, kSize>;

  NodeId() = default;  // all zero: "no node"
  explicit NodeId(const Raw& raw) : raw_(raw) {}

  // A test and simulator helper: the id whose last 8 bytes are `n` big-endian, so that ids
  // built from small integers sort in numeric order.
  static NodeId from_u64(std::uint64_t n);

  // Parses 32 hex characters. Returns nullopt otherwise.
  static std::optional<NodeId> from_hex(std::string_view hex);

  const Raw& raw() const noexcept { return raw_; }
  bool is_zero() const noexcept { return raw_ == Raw{}; }

  std::string to_hex() const;
  // The first 8 hex characters, for tables and logs (like a short git hash).
  std::string short_hex() const { return to_hex().substr(0, 8); }

  // Byte-wise (lexicographic) order, computed on two big-endian words: ids are compared in
  // every map lookup of the protocol cores, and a memcmp call per comparison showed up in
  // profiles of thousand-node simulations.
  friend std::strong_ordering operator<=>(const NodeId& a, const NodeId& b) noexcept {
    const std::uint64_t a0 = a.word(0), b0 = b.word(0);
    if (a0 != b0) return a0 <=> b0;
    return a.word(1) <=> b.word(1);
  }
  friend bool operator==(const NodeId& a, const NodeId& b) noexcept {
    return a.word(0) == b.word(0) && a.word(1) == b.word(1);
  }

 private:
  std::uint64_t word(int i) const noexcept {
    std::uint64_t w;
    std::memcpy(&w, raw_.data() + 8 * i, sizeof w);
    return __builtin_bswap64(w);  // big-endian, so integer order is byte order
  }
  Raw raw_{};
};

}  // namespace starling

template <>
struct std::hash<starling::NodeId> {
  std::size_t operator()(const starling::NodeId& id) const noexcept {
    std::uint64_t h;
    std::memcpy(&h, id.raw().data(), sizeof(h));  // ids are hashes already: uniform bytes
    return static_cast<std::size_t>(h);
  }
};
