// Dataset helpers: shape arithmetic, row selection and label counts.
#include "federated/data/dataset.hpp"

#include <algorithm>
#include <string>

#include "base/assert.hpp"

namespace starling::federated {

std::size_t Dataset::features() const noexcept {
  if (sample_shape.empty()) return 0;
  std::size_t product = 1;
  for (const std::size_t dim : sample_shape) product *= dim;
  return product;
}

std::span<const float> Dataset::row(std::size_t i) const {
  const std::size_t width = features();
  STARLING_ASSERT(i < rows(), "Dataset::row index out of range");
  STARLING_ASSERT(x.size() >= (i + 1) * width, "Dataset::row: x is shorter than rows() rows");
  return {x.data() + i * width, width};
}

Dataset Dataset::subset(std::span<const std::size_t> indices) const {
  const std::size_t width = features();
  STARLING_ASSERT(x.size() == rows() * width, "Dataset::subset: x does not hold rows() rows");
  Dataset out;
  out.sample_shape = sample_shape;
  out.classes = classes;
  out.x.resize(indices.size() * width);
  out.y.resize(indices.size());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const std::size_t i = indices[k];
    STARLING_ASSERT(i < rows(), "Dataset::subset index out of range");
    std::copy_n(x.data() + i * width, width, out.x.data() + k * width);
    out.y[k] = y[i];
  }
  return out;
}

std::vector<std::size_t> Dataset::label_counts() const {
  std::vector<std::size_t> counts(classes, 0);
  for (const std::int64_t label : y) {
    STARLING_ASSERT(label >= 0 && static_cast<std::uint64_t>(label) < classes,
                    "Dataset::label_counts: label outside [0, classes)");
    ++counts[static_cast<std::size_t>(label)];
  }
  return counts;
}

Status Dataset::validate() const {
  if (sample_shape.empty()) return error(StatusCode::kCorrupt, "data set has no sample shape");
  const std::size_t width = features();
  if (width == 0) return error(StatusCode::kCorrupt, "data set has a zero-sized sample shape");
  if (x.size() / width != rows() || x.size() % width != 0) {
    return error(StatusCode::kCorrupt, "data set has " + std::to_string(x.size()) +
                                           " feature values for " + std::to_string(rows()) +
                                           " rows of " + std::to_string(width) + " features");
  }
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] < 0 || static_cast<std::uint64_t>(y[i]) >= classes) {
      return error(StatusCode::kCorrupt, "row " + std::to_string(i) + " has label " +
                                             std::to_string(y[i]) + ", outside [0, " +
                                             std::to_string(classes) + ")");
    }
  }
  return Status::ok();
}

}  // namespace starling::federated
