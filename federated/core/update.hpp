// A model's parameter layout, the reasons a weight update is rejected, and the value checks
// every update passes before it is aggregated. Pure functions on value types; thread-safe.
//
// A model's parameters (and an update, the difference between two parameter sets) are one flat
// float32 buffer: the tensors concatenated in a fixed order that every node agrees on (the
// order the model declares them). ModelLayout lists the tensor sizes in that order; the codecs
// (codec.hpp) use it for per-tensor scales, the aggregators (aggregate.hpp) see only the flat
// buffers.
//
// Rejections: Status codes are kept few (base/status.hpp), but operators need to know why an
// update was dropped, so each rejection also has an UpdateRejection reason with a stable
// lower_snake_case name, counted in metrics as `updates_rejected_total{reason="..."}`. A
// rejecting function returns the Status as usual, starts its message with the reason's name
// ("norm_bound: ...") and can hand the reason out through an optional pointer, as the wire
// layer does with wire::RejectReason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.hpp"

namespace starling::federated {

struct ModelLayout {
  // Elements per tensor, in the model's declaration order, e.g. {100352, 128, 1280, 10} for a
  // 784-128-10 MLP (weight, bias, weight, bias).
  std::vector<std::size_t> tensor_sizes;

  // The number of parameters: the sum of tensor_sizes.
  std::size_t total() const noexcept;

  // kInvalidArgument when there is no tensor, a tensor is empty, or the total does not fit a
  // u32 (the codecs write sizes and top-k indices as u32).
  Status validate() const;

  friend bool operator==(const ModelLayout&, const ModelLayout&) = default;
};

// Why an update was rejected. The values are stable (they may be stored or sent); a new reason
// takes the next number, is added to reject_reason_name, update_rejection_code and
// kUpdateRejectionCount, and never reuses a number.
enum class UpdateRejection : std::uint8_t {
  // Added by the round protocol (federated/ protocol layer), listed here so that every reason
  // has one name and one metrics label:
  kUnsigned = 0,     // no signature where one is required
  kForged = 1,       // the signature does not verify over the exact bytes
  kUnenrolled = 2,   // the author has no certificate in this fleet
  kRevoked = 3,      // the author's certificate is revoked
  kReplayed = 4,     // the same update (author, round, sequence) was already received
  kStale = 5,        // for a round that is already closed
  kFuture = 6,       // for a round that has not been opened yet
  kWrongModel = 7,   // for another model (name, version or layout) than the round's
  // Checked here (check_update) and by the aggregation round:
  kShape = 8,        // the number of values is not the layout's total
  kNonFinite = 9,    // a value is NaN or infinite
  kNormBound = 10,   // the L2 norm is above the configured bound
  kDuplicate = 11,   // a second update from the same author in the same round
};
inline constexpr std::size_t kUpdateRejectionCount = 12;

// The stable lower_snake_case name ("norm_bound"), used in metrics labels, logs and messages.
std::string_view reject_reason_name(UpdateRejection reason) noexcept;

// The Status code a rejection for `reason` carries: kBadSignature (unsigned, forged),
// kPermissionDenied (unenrolled), kRevoked, kReplay (replayed), kStale, kAlreadyExists
// (duplicate), kInvalidArgument for every other reason (future, wrong model, shape,
// non-finite, norm bound).
StatusCode update_rejection_code(UpdateRejection reason) noexcept;

// The Status for a rejection: update_rejection_code(reason) and "<name>: <detail>".
Status reject_update(UpdateRejection reason, std::string_view detail);

// Checks an update's values before it may be aggregated:
//   - shape: delta.size() == layout.total();
//   - non-finite: every value is finite (the message names the first bad index);
//   - norm bound: the L2 norm (accumulated in double, so it cannot overflow) is <= norm_bound;
//     norm_bound <= 0 means no bound (infinity works too).
// Checked in that order; the first failure is returned (kInvalidArgument, see reject_update)
// and its reason stored in *why when `why` is not null; *why is left untouched on success.
// One pass over the values. REQUIRES: norm_bound is not NaN.
Status check_update(std::span<const float> delta, const ModelLayout& layout, double norm_bound,
                    UpdateRejection* why = nullptr);

// The L2 norm of `values`, accumulated in double in index order (NaN or infinity when a value
// is not finite).
double l2_norm(std::span<const float> values) noexcept;

}  // namespace starling::federated
