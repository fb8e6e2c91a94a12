// Tests for Rng: golden outputs of the reference algorithms, determinism, and the range,
// probability, fork and shuffle helpers. Statistical checks use fixed seeds and bounds wide
// enough (about 5 standard deviations) that they fail only when the code is wrong.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <vector>

#include "base/rng.hpp"
#include "tests/common/test_support.hpp"

namespace starling {
namespace {

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr std::int64_t kI64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();

TEST_CASE("splitmix64 matches the reference outputs for state 0") {
  // Vigna's splitmix64.c from x = 0; these four words are also the xoshiro state for seed 0.
  std::uint64_t state = 0;
  CHECK(splitmix64(state) == 0xe220a8397b1dcdafULL);
  CHECK(splitmix64(state) == 0x6e789e6aa1b965f4ULL);
  CHECK(splitmix64(state) == 0x06c45d188009454fULL);
  CHECK(splitmix64(state) == 0xf88bb8a8724c81ecULL);
  CHECK(state == 4 * 0x9e3779b97f4a7c15ULL);
}

TEST_CASE("Rng matches the reference xoshiro256starstar seeded by splitmix64") {
  // Computed with an independent transcription of the reference xoshiro256starstar.c and
  // splitmix64.c; a change of algorithm, seeding or output function changes them.
  Rng zero(0);
  CHECK(zero.next_u64() == 0x99ec5f36cb75f2b4ULL);
  CHECK(zero.next_u64() == 0xbf6e1f784956452aULL);
  CHECK(zero.next_u64() == 0x1a5f849d4933e6e0ULL);
  CHECK(zero.next_u64() == 0x6aa594f1262d2d2cULL);
  CHECK(zero.next_u64() == 0xbba5ad4a1f842e59ULL);

  Rng one(1);
  CHECK(one.next_u64() == 0xb3f2af6d0fc710c5ULL);
  CHECK(one.next_u64() == 0x853b559647364ceaULL);
  CHECK(one.next_u64() == 0x92f89756082a4514ULL);
}

TEST_CASE("the same seed gives the same sequence and different seeds differ") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng a(seed);
  Rng b(seed);
  Rng c(seed + 1);
  int same_as_other_seed = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t x = a.next_u64();
    REQUIRE(x == b.next_u64());
    if (x == c.next_u64()) ++same_as_other_seed;
  }
  CHECK(same_as_other_seed == 0);
}

TEST_CASE("uniform stays below its bound") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  for (int i = 0; i < 1000; ++i) CHECK(rng.uniform(1) == 0);
  for (std::uint64_t bound : std::array<std::uint64_t, 7>{2, 3, 7, 1000, (1ULL << 63) + 1,
                                                            kU64Max - 1, kU64Max}) {
    CAPTURE(bound);
    for (int i = 0; i < 2000; ++i) REQUIRE(rng.uniform(bound) < bound);
  }
}

TEST_CASE("uniform is roughly uniform over many draws") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  constexpr int kBuckets = 10;
  constexpr int kDraws = 100000;
  std::array<int, kBuckets> counts{};
  for (int i = 0; i < kDraws; ++i) ++counts[rng.uniform(kBuckets)];
  double chi_square = 0;
  for (int count : counts) {
    CAPTURE(count);
    CHECK(count > 9500);  // expected 10000, standard deviation about 95
    CHECK(count < 10500);
    chi_square += (count - 10000.0) * (count - 10000.0) / 10000.0;
  }
  CHECK(chi_square < 40.0);  // 9 degrees of freedom: p < 1e-5
}

TEST_CASE("uniform has no modulo bias for a bound near 2^64") {
  // With bound = 3 * 2^62, `next_u64() % bound` would put half of the draws in the first third.
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  const std::uint64_t third = 1ULL << 62;
  std::array<int, 3> counts{};
  constexpr int kDraws = 30000;
  for (int i = 0; i < kDraws; ++i) {
    const std::uint64_t x = rng.uniform(3 * third);
    REQUIRE(x < 3 * third);
    ++counts[x / third];
  }
  for (int count : counts) {
    CAPTURE(count);
    CHECK(count > 9600);  // expected 10000, standard deviation about 82
    CHECK(count < 10400);
  }
}

TEST_CASE("uniform_range includes both ends") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  std::map<std::int64_t, int> seen;
  for (int i = 0; i < 7000; ++i) {
    const std::int64_t x = rng.uniform_range(-3, 3);
    REQUIRE(x >= -3);
    REQUIRE(x <= 3);
    ++seen[x];
  }
  CHECK(seen.size() == 7);
  CHECK(seen.count(-3) == 1);
  CHECK(seen.count(3) == 1);

  for (int i = 0; i < 100; ++i) CHECK(rng.uniform_range(5, 5) == 5);
  for (int i = 0; i < 100; ++i) CHECK(rng.uniform_range(-9, -9) == -9);

  bool saw_low = false;
  bool saw_high = false;
  for (int i = 0; i < 200; ++i) {
    const std::int64_t x = rng.uniform_range(kI64Max - 1, kI64Max);
    REQUIRE(x >= kI64Max - 1);
    saw_low |= x == kI64Max - 1;
    saw_high |= x == kI64Max;
    const std::int64_t y = rng.uniform_range(kI64Min, kI64Min + 1);
    REQUIRE(y <= kI64Min + 1);
  }
  CHECK(saw_low);
  CHECK(saw_high);

  // The full range is allowed and covers both signs.
  bool negative = false;
  bool positive = false;
  for (int i = 0; i < 200; ++i) {
    const std::int64_t x = rng.uniform_range(kI64Min, kI64Max);
    negative |= x < 0;
    positive |= x > 0;
  }
  CHECK(negative);
  CHECK(positive);
}

TEST_CASE("next_double lies in the half-open unit interval and averages one half") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  double sum = 0;
  double low = 1;
  double high = 0;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) {
    const double x = rng.next_double();
    REQUIRE(x >= 0.0);
    REQUIRE(x < 1.0);
    sum += x;
    low = std::min(low, x);
    high = std::max(high, x);
  }
  CHECK(sum / kDraws == doctest::Approx(0.5).epsilon(0.005));
  CHECK(low < 0.001);
  CHECK(high > 0.999);
  // 53 bits: the golden first output of seed 0, shifted, scaled by 2^-53.
  Rng zero(0);
  CHECK(zero.next_double() == static_cast<double>(0x99ec5f36cb75f2b4ULL >> 11) * 0x1.0p-53);
}

TEST_CASE("chance(0) is never and chance(1) is always") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  for (int i = 0; i < 10000; ++i) {
    REQUIRE_FALSE(rng.chance(0.0));
    REQUIRE_FALSE(rng.chance(-1.0));
    REQUIRE(rng.chance(1.0));
    REQUIRE(rng.chance(2.0));
  }
  int hits = 0;
  for (int i = 0; i < 40000; ++i) hits += rng.chance(0.25) ? 1 : 0;
  CHECK(hits > 9500);  // expected 10000, standard deviation about 87
  CHECK(hits < 10500);
}

TEST_CASE("chance draws exactly once whatever the probability") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  for (double p : {-1.0, 0.0, 0.3, 1.0, 5.0}) {
    CAPTURE(p);
    Rng a(seed);
    Rng b(seed);
    (void)a.chance(p);
    (void)b.next_u64();
    CHECK(a.next_u64() == b.next_u64());
  }
}

TEST_CASE("fork gives a deterministic independent stream and advances the parent once") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng parent(seed);
  Rng twin(seed);
  Rng child = parent.fork();
  Rng twin_child = twin.fork();

  // Deterministic: the same parent state forks the same child, seeded by one parent draw.
  Rng reference(seed);
  Rng expected_child(reference.next_u64());
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t x = child.next_u64();
    CHECK(x == twin_child.next_u64());
    CHECK(x == expected_child.next_u64());
  }
  // Independent: the child's draws do not move the parent (twin's child drew as much).
  for (int i = 0; i < 100; ++i) CHECK(parent.next_u64() == twin.next_u64());

  // The child's stream is not the parent's stream, nor a sibling's.
  Rng p(seed);
  Rng first = p.fork();
  Rng second = p.fork();
  int collisions = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t a = first.next_u64();
    const std::uint64_t b = second.next_u64();
    const std::uint64_t c = p.next_u64();
    if (a == b || a == c || b == c) ++collisions;
  }
  CHECK(collisions == 0);
}

TEST_CASE("shuffle is a permutation and deterministic per seed") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  std::vector<int> original(100);
  std::iota(original.begin(), original.end(), 0);

  Rng a(seed);
  std::vector<int> shuffled = original;
  a.shuffle(shuffled.begin(), shuffled.end());
  CHECK(shuffled != original);  // identity has probability 1/100!
  std::vector<int> sorted = shuffled;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == original);

  Rng b(seed);
  std::vector<int> again = original;
  b.shuffle(again.begin(), again.end());
  CHECK(again == shuffled);

  std::vector<int> empty;
  a.shuffle(empty.begin(), empty.end());
  CHECK(empty.empty());
  std::vector<int> single = {42};
  a.shuffle(single.begin(), single.end());
  CHECK(single == std::vector<int>{42});
}

TEST_CASE("shuffle produces every permutation of three equally often") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  std::map<std::array<int, 3>, int> counts;
  constexpr int kShuffles = 60000;
  for (int i = 0; i < kShuffles; ++i) {
    std::array<int, 3> items = {0, 1, 2};
    rng.shuffle(items.begin(), items.end());
    ++counts[items];
  }
  CHECK(counts.size() == 6);
  for (const auto& [permutation, count] : counts) {
    CAPTURE(count);
    CHECK(count > 9550);  // expected 10000, standard deviation about 91
    CHECK(count < 10450);
  }
}

}  // namespace
}  // namespace starling
