// Partitioners: which rows of a data set each of n simulated nodes holds, for experiments on
// IID and non-IID (label-skewed) fleets. A Partition lists, for each node, its row indices in
// ascending order; every row of the data set is in exactly one node's list.
//
// Determinism: a partition is a pure function of its inputs and the seed, identical on every
// platform and standard library. Randomness comes only from base::Rng (shuffles, uniform
// doubles); the normal, Gamma and Dirichlet samplers are our own (no <random> distributions,
// whose output differs between standard libraries). They use std::sqrt (exact under IEEE 754)
// and std::log and std::exp, whose last bit may differ between C libraries: a different libm
// can in principle move one row across a cut point, never break the guarantees below.
//
// Empty nodes: when rows >= nodes, every partitioner gives every node at least one row. IID
// deals evenly; Dirichlet and shards can leave a node empty (a tiny alpha, more shards than
// rows), and then each empty node, in index order, receives one row taken from the node that
// holds the most rows (the lowest index on ties): the last row that node was given. A moved
// row gives its receiver one label, so the shards guarantee (at most k labels a node) holds.
// With fewer rows than nodes some nodes are necessarily empty.
//
// Errors are kInvalidArgument: no nodes or more than kMaxPartitionNodes, a parameter out of
// range, a label outside [0, classes). Value functions; thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/rng.hpp"
#include "base/status.hpp"
#include "federated/data/dataset.hpp"

namespace starling::federated {

// partition[node] = that node's row indices, ascending.
using Partition = std::vector<std::vector<std::size_t>>;

inline constexpr std::size_t kMaxPartitionNodes = std::size_t{1} << 20;
inline constexpr double kMinDirichletAlpha = 1e-4;
inline constexpr double kMaxDirichletAlpha = 1e4;
inline constexpr std::size_t kMaxShardsPerNode = 1024;
inline constexpr std::size_t kMaxShards = std::size_t{1} << 24;  // nodes * shards per node

struct PartitionSpec {
  enum class Kind { kIid, kDirichlet, kShards };
  Kind kind = Kind::kIid;
  double alpha = 0;                 // kDirichlet: concentration, in [kMin, kMaxDirichletAlpha]
  std::size_t shards_per_node = 0;  // kShards: k, in [1, kMaxShardsPerNode]

  // The text parse_partition reads: "iid", "dirichlet:0.5", "shards:2" (shortest round-trip
  // decimal for alpha).
  std::string to_string() const;
};

// Parses "iid", "dirichlet:ALPHA" (a decimal, e.g. 0.1 strongly skewed, 100 near IID) or
// "shards:K" (K labels' worth of shards a node, e.g. 2). kInvalidArgument saying what is
// accepted otherwise.
Result<PartitionSpec> parse_partition(std::string_view text);

// IID: shuffles the rows and deals them out; node sizes differ by at most one (the first
// rows % nodes nodes get one more).
Result<Partition> partition_iid(std::size_t rows, std::size_t nodes, std::uint64_t seed);

// Dirichlet label skew: for each class in turn, draws proportions p ~ Dir(alpha, ..., alpha)
// over the nodes and cuts that class's shuffled rows at the cumulative proportions. Small
// alpha (0.1) gives each node a few dominant labels; large alpha (100) approaches IID.
// Empty nodes are then filled as described above.
Result<Partition> partition_dirichlet(std::span<const std::int64_t> labels, std::size_t classes,
                                      std::size_t nodes, double alpha, std::uint64_t seed);

// Label shards (McMahan et al. 2017): nodes * k shards, each holding rows of one label only:
// every present label gets one shard, the rest go one at a time to the label whose shards are
// currently the largest (so shard sizes are as equal as one-label shards allow). Each label's
// shuffled rows are cut into its shards; the shards are shuffled and node i gets k of them, so
// a node holds at most k labels. kInvalidArgument when nodes * k is below the number of labels
// present (some label could not be placed) or above kMaxShards.
Result<Partition> partition_shards(std::span<const std::int64_t> labels, std::size_t classes,
                                   std::size_t nodes, std::size_t shards_per_node,
                                   std::uint64_t seed);

// The partitioner `spec` names, applied to `data`'s labels.
Result<Partition> partition_dataset(const Dataset& data, std::size_t nodes,
                                    const PartitionSpec& spec, std::uint64_t seed);

// Samplers on base::Rng, exposed for tests and for other seeded experiments.
// Standard normal (Marsaglia's polar method; uses two or more uniforms).
double sample_standard_normal(Rng& rng);
// Gamma(shape, scale 1) by Marsaglia and Tsang (2000); for shape < 1, Gamma(shape + 1) times
// U^(1/shape). REQUIRES: shape > 0. May return 0 for tiny shapes (underflow).
double sample_gamma(Rng& rng, double shape);
// log of a Gamma(shape, 1) draw, computed in log space so that tiny shapes do not underflow.
// REQUIRES: shape > 0.
double sample_log_gamma(Rng& rng, double shape);
// A point of the k-simplex from the symmetric Dirichlet(alpha): k non-negative values summing
// to 1 (normalised in log space: never all zero). REQUIRES: alpha > 0, k >= 1.
std::vector<double> sample_dirichlet(Rng& rng, double alpha, std::size_t k);

}  // namespace starling::federated
