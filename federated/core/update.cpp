// Model layouts, rejection reasons and the value checks of an update.
#include "federated/core/update.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace starling::federated {

std::size_t ModelLayout::total() const noexcept {
  std::size_t sum = 0;
  for (std::size_t size : tensor_sizes) sum += size;
  return sum;
}

Status ModelLayout::validate() const {
  if (tensor_sizes.empty()) {
    return error(StatusCode::kInvalidArgument, "model layout: no tensors");
  }
  constexpr std::size_t kMax = std::numeric_limits<std::uint32_t>::max();
  std::size_t sum = 0;
  for (std::size_t i = 0; i < tensor_sizes.size(); ++i) {
    const std::size_t size = tensor_sizes[i];
    if (size == 0) {
      return error(StatusCode::kInvalidArgument,
                   "model layout: tensor " + std::to_string(i) + " is empty");
    }
    if (size > kMax - sum) {
      return error(StatusCode::kInvalidArgument,
                   "model layout: more than 2^32 - 1 parameters in total");
    }
    sum += size;
  }
  return Status::ok();
}

std::string_view reject_reason_name(UpdateRejection reason) noexcept {
  switch (reason) {
    case UpdateRejection::kUnsigned: return "unsigned";
    case UpdateRejection::kForged: return "forged";
    case UpdateRejection::kUnenrolled: return "unenrolled";
    case UpdateRejection::kRevoked: return "revoked";
    case UpdateRejection::kReplayed: return "replayed";
    case UpdateRejection::kStale: return "stale";
    case UpdateRejection::kFuture: return "future";
    case UpdateRejection::kWrongModel: return "wrong_model";
    case UpdateRejection::kShape: return "shape";
    case UpdateRejection::kNonFinite: return "non_finite";
    case UpdateRejection::kNormBound: return "norm_bound";
    case UpdateRejection::kDuplicate: return "duplicate";
  }
  return "unknown_reason";
}

StatusCode update_rejection_code(UpdateRejection reason) noexcept {
  switch (reason) {
    case UpdateRejection::kUnsigned:
    case UpdateRejection::kForged: return StatusCode::kBadSignature;
    case UpdateRejection::kUnenrolled: return StatusCode::kPermissionDenied;
    case UpdateRejection::kRevoked: return StatusCode::kRevoked;
    case UpdateRejection::kReplayed: return StatusCode::kReplay;
    case UpdateRejection::kStale: return StatusCode::kStale;
    case UpdateRejection::kDuplicate: return StatusCode::kAlreadyExists;
    case UpdateRejection::kFuture:
    case UpdateRejection::kWrongModel:
    case UpdateRejection::kShape:
    case UpdateRejection::kNonFinite:
    case UpdateRejection::kNormBound: return StatusCode::kInvalidArgument;
  }
  return StatusCode::kInvalidArgument;
}

Status reject_update(UpdateRejection reason, std::string_view detail) {
  std::string message(reject_reason_name(reason));
  message += ": ";
  message += detail;
  return Status(update_rejection_code(reason), std::move(message));
}

double l2_norm(std::span<const float> values) noexcept {
  double sum = 0.0;
  for (float v : values) {
    const double d = v;
    sum += d * d;
  }
  return std::sqrt(sum);
}

Status check_update(std::span<const float> delta, const ModelLayout& layout, double norm_bound,
                    UpdateRejection* why) {
  STARLING_ASSERT(!std::isnan(norm_bound), "check_update: norm_bound is NaN");
  auto fail = [why](UpdateRejection reason, const std::string& detail) {
    if (why != nullptr) *why = reason;
    return reject_update(reason, detail);
  };
  const std::size_t expected = layout.total();
  if (delta.size() != expected) {
    return fail(UpdateRejection::kShape, "update has " + std::to_string(delta.size()) +
                                             " values, the model has " +
                                             std::to_string(expected));
  }
  // The squares of finite floats cannot overflow a double (FLT_MAX^2 < 1e77), nor can their
  // sum over 2^32 values: the sum is finite exactly when every value is.
  const double norm = l2_norm(delta);
  if (!std::isfinite(norm)) {
    std::size_t index = 0;
    while (index < delta.size() && std::isfinite(delta[index])) ++index;
    return fail(UpdateRejection::kNonFinite,
                "value " + std::to_string(index) + " is " +
                    (std::isnan(delta[index]) ? "NaN" : "infinite"));
  }
  if (norm_bound > 0 && norm > norm_bound) {
    return fail(UpdateRejection::kNormBound, "L2 norm " + std::to_string(norm) +
                                                 " is above the bound " +
                                                 std::to_string(norm_bound));
  }
  return Status::ok();
}

}  // namespace starling::federated
