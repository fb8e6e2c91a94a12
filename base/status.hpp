// Status and Result<T>: the error vocabulary of every Starling component. A Status is a code
// and a human-readable message; Result<T> holds either a value or a non-ok Status.
// Value types; no threading concerns.
//
// The code list is small on purpose: add a code only when some caller reacts to it differently
// from every existing code (drops the input and counts it under another reason, retries, tells
// the operator something else). Details belong in the message.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "base/assert.hpp"

namespace starling {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,   // a caller-supplied value is out of range or malformed
  kNotFound,          // a file, key or entry does not exist
  kAlreadyExists,     // refusing to overwrite something that exists (fleet keys, identities)
  kPermissionDenied,  // file permissions are unsafe or access was refused
  kCorrupt,           // bytes do not decode: truncated, wrong magic, bad lengths, trailing data
  kTooLarge,          // a declared or actual size is above the configured limit
  kBadSignature,      // a signature does not verify over the exact bytes
  kWrongFleet,        // signed by or issued for another fleet
  kExpired,           // outside a certificate's validity window
  kRevoked,           // certificate serial is on the fleet's revocation list
  kReplay,            // a sequence number that was already seen or is too old
  kStale,             // older than what is already held (e.g. a revocation list version)
  kUnavailable,       // a peer or endpoint did not answer; the caller may retry
  kIoError,           // the operating system failed a read, write, sync or rename
  kInternal,          // a library call failed in a way the caller cannot fix
};

// Returns the stable lower_snake_case name of a code ("bad_signature"), used in logs, metrics
// labels and JSON output.
std::string_view status_code_name(StatusCode code) noexcept;

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool is_ok() const noexcept { return code_ == StatusCode::kOk; }
  explicit operator bool() const noexcept { return is_ok(); }
  StatusCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

  // "bad_signature: certificate signature does not verify"; "ok" for an ok status.
  std::string to_string() const;

  // Returns a copy whose message is prefixed with `context` and ": ".
  Status with_context(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) noexcept {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Shorthands for the common constructors.
inline Status error(StatusCode code, std::string message) { return {code, std::move(message)}; }

// Result<T>: a T, or a non-ok Status explaining why there is none.
// Invariant: holds a value, or a Status whose code is not kOk.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : storage_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Result(Status status) : storage_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    STARLING_ASSERT(!std::get<1>(storage_).is_ok(), "Result built from an ok Status");
  }

  bool is_ok() const noexcept { return storage_.index() == 0; }
  explicit operator bool() const noexcept { return is_ok(); }

  // REQUIRES: is_ok().
  T& value() & {
    STARLING_ASSERT(is_ok(), "value() on an error Result");
    return std::get<0>(storage_);
  }
  const T& value() const& {
    STARLING_ASSERT(is_ok(), "value() on an error Result");
    return std::get<0>(storage_);
  }
  T&& value() && {
    STARLING_ASSERT(is_ok(), "value() on an error Result");
    return std::get<0>(std::move(storage_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // The error, or an ok Status when a value is held.
  Status status() const { return is_ok() ? Status::ok() : std::get<1>(storage_); }

 private:
  std::variant<T, Status> storage_;
};

}  // namespace starling

// Returns the Status of `expr` from the enclosing function when it is not ok.
#define STARLING_RETURN_IF_ERROR(expr)        \
  do {                                        \
    ::starling::Status starling_status_ = (expr); \
    if (!starling_status_.is_ok()) return starling_status_; \
  } while (false)

#define STARLING_CONCAT_INNER_(a, b) a##b
#define STARLING_CONCAT_(a, b) STARLING_CONCAT_INNER_(a, b)

// `STARLING_ASSIGN_OR_RETURN(auto x, f());` declares x from f()'s value, or returns its Status.
#define STARLING_ASSIGN_OR_RETURN(lhs, expr)                                           \
  auto STARLING_CONCAT_(starling_result_, __LINE__) = (expr);                          \
  if (!STARLING_CONCAT_(starling_result_, __LINE__).is_ok())                           \
    return STARLING_CONCAT_(starling_result_, __LINE__).status();                      \
  lhs = std::move(STARLING_CONCAT_(starling_result_, __LINE__)).value()
