// Implementation of STARLING_ASSERT's failure path: print once, then abort so that a core dump
// or a debugger shows the failing frame.
#include "base/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace starling::detail {

void assert_failed(const char* expression, const char* message, const char* file,
                   int line) noexcept {
  std::fprintf(stderr, "%s:%d: assertion failed: %s (%s)\n", file, line, expression, message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace starling::detail
