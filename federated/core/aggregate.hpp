// Aggregators: combine N weight updates of equal length into one. FedAvg (the sample-weighted
// mean) and four Byzantine-robust rules: the coordinate-wise median, the coordinate-wise
// trimmed mean, Krum and multi-Krum. Pure functions: no I/O, no clock, no threads, no global
// state; thread-safe. Deterministic: the result depends only on the set of inputs (their
// authors, values and weights), never on the order they arrived in, bit for bit.
//
// How determinism is obtained: every aggregator first sorts (pointers to) the inputs by author
// id and then works in that order only; authors must therefore be distinct (two updates from
// one author are an error: the round rejects the second as `duplicate` before aggregating).
// Floating-point operations are done in a fixed order and never reassociated or contracted
// (aggregate.cpp is built without -ffast-math and with -ffp-contract=off: GCC's C++ default
// would fuse a * b + c into an FMA on targets that have one): the same inputs give the same
// bits whatever the build type or -march, vectorized or not.
//
// Precision and speed (aggregate.cpp is always compiled with -O3 -ftree-vectorize; figures from
// bench/fl_aggregate_bench.cpp, 10 inputs of 1M parameters, one core of this 2-core machine):
//   - FedAvg accumulates in float32: out[i] = ((c_1 x_1[i] + c_2 x_2[i]) + c_3 x_3[i]) + ...
//     with c_j = (float)(w_j / sum w) computed in double and the inputs in ascending author
//     order. Relative error grows at most like N * 2^-24 (1e-5 at N = 100), far below the noise
//     of SGD. The buffer is processed in chunks of 4096 coordinates whose output stays in L1
//     while every input's matching chunk streams past, so each input is read once and the
//     output written once: 85-100% of the speed of a plain vectorized read of the inputs
//     (about 2.5 ms; 66% without the chunking).
//   - Median and trimmed mean, up to 32 inputs: blocks of 256 coordinates of every input are
//     copied into rows and each coordinate's column is sorted by an odd-even transposition
//     network (N rounds of min/max between neighbouring rows, vectorized across coordinates
//     and branch-free): O(N^2) comparisons per coordinate, 4-5x the time of FedAvg at N = 10
//     (about 10 and 13 ms). Above 32 inputs each coordinate's values are gathered and
//     std::sort'ed: O(N log N) per coordinate, much slower per value. The even-N median and
//     the trimmed mean are computed in double and rounded once to float.
//   - Krum computes all N(N-1)/2 squared distances in one chunked pass over the inputs (the
//     squared differences summed in float lanes per chunk, in double across chunks): O(N^2 d)
//     arithmetic, 3-4x FedAvg at N = 10. Multi-Krum then averages the selected inputs like
//     FedAvg with equal weights (Krum copies the selected input exactly).
//
// Weights are sample counts. FedAvg uses them; the robust rules give every input one vote
// (an attacker could claim any sample count), but every kind requires each weight to be finite
// and >= 0 and their sum > 0, so that a set of inputs is valid or not whatever the rule.
// Values are not checked by FedAvg (a NaN propagates to the output: run check_update first);
// the robust rules reject non-finite values (kInvalidArgument), since sorting and distance
// ranking need ordered values.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/node_id.hpp"
#include "base/status.hpp"

namespace starling::federated {

struct WeightedUpdate {
  NodeId author;
  std::span<const float> values;  // the update (a delta or a full parameter set), not owned
  double weight = 1.0;            // the author's sample count for this round
};

enum class AggregatorKind {
  kFedAvg,       // sample-weighted mean
  kMedian,       // coordinate-wise median (the mean of the two middle values for even N)
  kTrimmedMean,  // coordinate-wise mean after dropping floor(beta N) values at each end
  kKrum,         // the one input closest to its N - f - 2 nearest neighbours
  kMultiKrum,    // the mean of the m inputs with the best Krum scores
};

struct AggregatorConfig {
  AggregatorKind kind = AggregatorKind::kFedAvg;
  // Trimmed mean: the fraction of inputs cut at each end, in [0, 0.5]. At 0.5 an odd N keeps
  // only the median and an even N keeps nothing (an error).
  double trim_beta = 0.1;
  // Krum and multi-Krum: the number of Byzantine inputs tolerated (f >= 0); needs N >= 2f + 3.
  int byzantine_f = 1;
  // Multi-Krum: how many best-scored inputs to average, 1 <= m <= N; 0 means N - f.
  int multi_krum_m = 0;

  // kInvalidArgument naming the first field out of range (independent of N; aggregate()
  // checks the N-dependent conditions).
  Status validate() const;

  friend bool operator==(const AggregatorConfig&, const AggregatorConfig&) = default;
};

// Parses an aggregator specification, as given to `starlingd --aggregator`:
//   fedavg | median | trimmed-mean[:BETA] | krum[:F] | multi-krum[:F[:M]]
// BETA is a decimal in [0, 0.5] (default 0.1), F and M non-negative decimal integers (F
// default 1, M default 0: N - F). kInvalidArgument with the reason and the accepted forms for
// anything else (unknown names, empty or extra parameters, signs, trailing characters).
Result<AggregatorConfig> parse_aggregator(std::string_view spec);

// "fedavg", "median", "trimmed-mean", "krum", "multi-krum".
std::string_view aggregator_kind_name(AggregatorKind kind) noexcept;

// The canonical specification of `config`, which parse_aggregator reads back to an equal
// config: "fedavg", "median", "trimmed-mean:0.1", "krum:1", "multi-krum:1:0". Parameters
// that the kind does not use are not written (and so come back as their defaults).
std::string aggregator_name(const AggregatorConfig& config);

// What an aggregation did, for logs, metrics and tests.
struct AggregateStats {
  struct KrumScore {
    NodeId author;
    double score = 0.0;  // sum of squared L2 distances to the N - f - 2 nearest other inputs
  };
  std::size_t inputs = 0;     // N
  double total_weight = 0.0;  // the sum of the weights
  // The authors whose values went into the result, in ascending author order: every input for
  // FedAvg, median and trimmed mean (each coordinate of the robust rules draws on its own
  // subset), the chosen ones for Krum (one) and multi-Krum (m).
  std::vector<NodeId> selected;
  // Krum and multi-Krum: the inputs not selected, in ascending author order.
  std::vector<NodeId> rejected;
  // Krum and multi-Krum: every input's score, in ascending author order.
  std::vector<KrumScore> scores;
  // Trimmed mean: values dropped at each end of every coordinate, floor(beta N).
  std::size_t trimmed_per_side = 0;
};

// Aggregates `updates` into `out` with the rule of `config`. Errors (kInvalidArgument, nothing
// guaranteed about `out`): an invalid config, no updates, values of different lengths, an
// `out` of another length, duplicate authors, a weight that is negative or not finite, a zero
// total weight, N < 2f + 3 for Krum and multi-Krum, m > N, a trimmed mean that keeps nothing,
// a non-finite value for the robust rules. `stats`, when not null, is overwritten on success.
// `out` must not overlap any input. Allocates scratch proportional to N (N x 256 floats for
// median and trimmed mean, N^2 doubles for Krum), never proportional to the length.
Status aggregate(std::span<const WeightedUpdate> updates, const AggregatorConfig& config,
                 std::span<float> out, AggregateStats* stats = nullptr);

}  // namespace starling::federated
