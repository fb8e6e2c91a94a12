// Names and formatting for Status.
#include "base/status.hpp"

namespace starling {

std::string_view status_code_name(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kAlreadyExists: return "already_exists";
    case StatusCode::kPermissionDenied: return "permission_denied";
    case StatusCode::kCorrupt: return "corrupt";
    case StatusCode::kTooLarge: return "too_large";
    case StatusCode::kBadSignature: return "bad_signature";
    case StatusCode::kWrongFleet: return "wrong_fleet";
    case StatusCode::kExpired: return "expired";
    case StatusCode::kRevoked: return "revoked";
    case StatusCode::kReplay: return "replay";
    case StatusCode::kStale: return "stale";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kIoError: return "io_error";
    case StatusCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  std::string out(status_code_name(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (is_ok()) return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return {code_, std::move(message)};
}

}  // namespace starling
