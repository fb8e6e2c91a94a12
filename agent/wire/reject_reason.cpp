// Names and Status mapping of the wire layer's rejection reasons.
#include "agent/wire/reject_reason.hpp"

#include <string>

namespace starling::wire {

std::string_view reject_reason_name(RejectReason reason) noexcept {
  switch (reason) {
    case RejectReason::kTooLarge: return "too_large";
    case RejectReason::kTruncated: return "truncated";
    case RejectReason::kBadVersion: return "bad_version";
    case RejectReason::kUnknownType: return "unknown_type";
    case RejectReason::kMalformed: return "malformed";
    case RejectReason::kTrailingBytes: return "trailing_bytes";
  }
  return "unknown_reason";
}

StatusCode reject_reason_code(RejectReason reason) noexcept {
  return reason == RejectReason::kTooLarge ? StatusCode::kTooLarge : StatusCode::kCorrupt;
}

Status reject(RejectReason reason, std::string_view detail) {
  std::string message(reject_reason_name(reason));
  message += ": ";
  message += detail;
  return Status(reject_reason_code(reason), std::move(message));
}

}  // namespace starling::wire
