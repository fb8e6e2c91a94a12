// STARLING_ASSERT: checks for programmer errors, on in every build type (release included).
// Bytes from the network, the disk or the command line are never asserted on: they are
// validated and rejected with a Status. Thread-safe (it only writes to stderr and aborts).
#pragma once

namespace starling::detail {
[[noreturn]] void assert_failed(const char* expression, const char* message, const char* file,
                                int line) noexcept;
}  // namespace starling::detail

// Aborts with the expression, an explanation and the source location when `cond` is false.
#define STARLING_ASSERT(cond, message)                                                \
  do {                                                                                \
    if (!(cond)) [[unlikely]] {                                                       \
      ::starling::detail::assert_failed(#cond, (message), __FILE__, __LINE__);        \
    }                                                                                 \
  } while (false)

// Marks code that must not be reached; aborts like a failed assertion.
#define STARLING_UNREACHABLE(message) \
  ::starling::detail::assert_failed("unreachable", (message), __FILE__, __LINE__)
