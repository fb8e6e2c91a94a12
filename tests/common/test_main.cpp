// The doctest runner shared by every suite: runs test cases in a seeded random order and
// prints the seed, so that an order-dependent failure can be replayed with
// STARLING_TEST_SEED=<seed>. Randomised tests take their seed from test_seed() (test_support.hpp).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "tests/common/test_support.hpp"

int main(int argc, char** argv) {
  doctest::Context context;
  const std::uint64_t seed = starling::testing::test_seed();
  context.setOption("order-by", "rand");
  context.setOption("rand-seed", static_cast<int>(seed & 0x7fffffff));
  context.applyCommandLine(argc, argv);
  const int result = context.run();
  if (result != 0) {
    std::fprintf(stderr, "test seed: %llu (replay with STARLING_TEST_SEED=%llu)\n",
                 static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  }
  return result;
}
