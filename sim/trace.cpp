// The trace mixer: a 64x64->128-bit multiply folded to 64 bits ("mum", as in wyhash) absorbs
// two words per multiply; splitmix64's finaliser closes hash_bytes. Integers are assembled
// from bytes explicitly, so the results do not depend on the host's byte order.
#include "sim/trace.hpp"

namespace starling::sim {

namespace {

__extension__ typedef unsigned __int128 Uint128;  // GCC/Clang builtin, as in base/rng.cpp

constexpr std::uint64_t kMixA = 0xa0761d6478bd642fULL;
constexpr std::uint64_t kMixB = 0xe7037ed1a0b428dbULL;
constexpr std::uint64_t kMixC = 0x8ebc6af09c88c6e3ULL;

inline std::uint64_t mum(std::uint64_t a, std::uint64_t b) noexcept {
  const Uint128 product = static_cast<Uint128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

inline std::uint64_t finalize(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline std::uint64_t load_le(const std::uint8_t* p, std::size_t n) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

std::uint64_t hash_bytes(ByteSpan bytes) noexcept {
  const std::uint8_t* p = bytes.data();
  std::size_t left = bytes.size();
  std::uint64_t h = kMixC ^ mum(bytes.size() ^ kMixA, kMixB);
  while (left >= 16) {
    h = mum(load_le(p, 8) ^ kMixA ^ h, load_le(p + 8, 8) ^ kMixB);
    p += 16;
    left -= 16;
  }
  if (left > 0) {
    const std::size_t first = left < 8 ? left : 8;
    h = mum(load_le(p, first) ^ kMixA ^ h, load_le(p + first, left - first) ^ kMixB ^ left);
  }
  return finalize(h);
}

void Trace::record(TraceKind kind, Instant at, std::uint64_t a, std::uint64_t b,
                   std::uint64_t c) noexcept {
  const auto time_us = static_cast<std::uint64_t>(at.time_since_epoch().count());
  std::uint64_t h = hash_;
  h = mum(h ^ static_cast<std::uint64_t>(kind) ^ kMixA, time_us ^ kMixB);
  h = mum(h ^ a ^ kMixC, b ^ kMixA);
  h = mum(h ^ c ^ kMixB, records_ ^ kMixC);
  hash_ = h;
  ++records_;
}

}  // namespace starling::sim
