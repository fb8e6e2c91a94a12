// Rng: the one pseudo-random generator of Starling's protocol code and simulator.
// xoshiro256** seeded through splitmix64, with range and probability functions of our own,
// because <random>'s distributions produce different sequences on different standard
// libraries; the same seed gives the same sequence on every platform and compiler.
// Not thread-safe: each owner (a core, a simulated node) holds its own instance.
// Not for keys or nonces: crypto/ uses libsodium's generator for those.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "base/assert.hpp"

namespace starling {

// One step of splitmix64: advances `state` and returns a well-mixed 64-bit value.
constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept;

  // The next raw 64-bit output of xoshiro256**.
  std::uint64_t next_u64() noexcept;

  // Uniform in [0, bound), without modulo bias (Lemire's multiply-and-reject method).
  // REQUIRES: bound > 0.
  std::uint64_t uniform(std::uint64_t bound) noexcept;

  // Uniform in [low, high], both ends included. REQUIRES: low <= high.
  std::int64_t uniform_range(std::int64_t low, std::int64_t high) noexcept;

  // Uniform in [0, 1) with 53 bits of precision.
  double next_double() noexcept;

  // True with probability `p` (p <= 0: never, p >= 1: always). Always draws exactly once, so
  // that changing a probability does not shift the rest of a seeded sequence.
  bool chance(double p) noexcept;

  // A new generator whose sequence is independent of this one's; advances this generator
  // once. Use it to give each simulated node or subsystem its own stream from one seed.
  Rng fork() noexcept { return Rng(next_u64()); }

  // Fisher-Yates shuffle of [first, last).
  template <typename It>
  void shuffle(It first, It last) noexcept {
    auto n = static_cast<std::uint64_t>(last - first);
    for (std::uint64_t i = n; i > 1; --i) {
      auto j = uniform(i);
      using std::swap;
      swap(first[i - 1], first[j]);
    }
  }

 private:
  std::array<std::uint64_t, 4> s_{};
};

}  // namespace starling
