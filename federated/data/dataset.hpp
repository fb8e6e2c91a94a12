// A labelled data set held in memory as flat float32 rows: what the data loaders produce, the
// partitioners split and the trainer consumes. No libtorch here (federated/torch converts at
// the boundary, without copying where it can). Value type; not thread-safe for mutation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/status.hpp"

namespace starling::federated {

// The largest class count a loader or partitioner accepts (a bound on what a file or a caller
// can make us allocate per class).
inline constexpr std::size_t kMaxClasses = std::size_t{1} << 16;

struct Dataset {
  // Per-sample shape, e.g. {1, 28, 28} for Fashion-MNIST images or {8} for sensor vectors; its
  // product is features().
  std::vector<std::size_t> sample_shape;
  std::size_t classes = 0;   // labels are in [0, classes)
  std::vector<float> x;      // rows() * features() values, row-major, images scaled to [0, 1]
  std::vector<std::int64_t> y;  // rows() labels

  std::size_t rows() const noexcept { return y.size(); }
  // The product of sample_shape; 0 when sample_shape is empty (a data set with no shape yet).
  std::size_t features() const noexcept;
  // The features of row `i` (a view into x). REQUIRES: i < rows() and x holds every row.
  std::span<const float> row(std::size_t i) const;
  // The rows at `indices` (in that order), as a new data set with the same shape and classes.
  // REQUIRES: every index < rows().
  Dataset subset(std::span<const std::size_t> indices) const;
  // Rows per label (size classes). REQUIRES: every label in [0, classes).
  std::vector<std::size_t> label_counts() const;
  // Checks the invariants the fields promise: x.size() == rows() * features(), a non-empty
  // shape, every label in [0, classes). kCorrupt naming the first one that fails. Loaders
  // return only data sets that pass; call it on data sets built by hand or received.
  Status validate() const;
};

}  // namespace starling::federated
