// Why the wire layer rejected some bytes, for the agent's per-reason rejection counters.
// Plain enum and a name function; no threading concerns.
//
// Why an enum next to Status: Status codes are kept few on purpose (a code exists only when a
// caller reacts differently), so every malformed input is kCorrupt; but operators need to tell
// "a peer runs a newer protocol version" from "someone is sending garbage". Decoders return the
// Status as usual (kTooLarge for RejectReason::kTooLarge, kCorrupt for every other reason), start
// its message with the reason's name ("bad_version: ..."), and can also hand the reason out
// through an optional pointer so that counting needs no string parsing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/status.hpp"

namespace starling::wire {

enum class RejectReason : std::uint8_t {
  kTooLarge = 0,       // the input or a declared length or count is above its limit
  kTruncated = 1,      // the input ends inside a field, or a declared length exceeds the input
  kBadVersion = 2,     // an envelope version (or encoding flag) this build does not speak
  kUnknownType = 3,    // a message type that is unassigned or not handled by this decoder
  kMalformed = 4,      // a field value is out of its domain (bool, enum, order, zero id, ...)
  kTrailingBytes = 5,  // bytes are left after the last field: every layout has one encoding
};
inline constexpr std::size_t kRejectReasonCount = 6;

// The stable lower_snake_case name ("bad_version"), used in metrics labels and messages.
std::string_view reject_reason_name(RejectReason reason) noexcept;

// The Status code a rejection for `reason` carries: kTooLarge or kCorrupt.
StatusCode reject_reason_code(RejectReason reason) noexcept;

// The Status for a rejection: reject_reason_code(reason) and "<name>: <detail>".
Status reject(RejectReason reason, std::string_view detail);

}  // namespace starling::wire
