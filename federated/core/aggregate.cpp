// The aggregators: input validation, FedAvg's chunked weighted sum, the coordinate-wise median
// and trimmed mean, Krum and multi-Krum, and the aggregator specifications.
//
// This file is compiled with -O3 -ftree-vectorize -ffp-contract=off in every build type
// (CMakeLists.txt): GCC 12 at -O2 leaves the axpy loops below scalar, 3-4x slower. The loops are
// written so that the vectorizer needs no reassociation: element-wise loops, and reductions
// kept in explicit lanes (float lanes[16]) that are summed in a fixed order afterwards.
#include "federated/core/aggregate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "federated/core/internal/spec.hpp"

namespace starling::federated {
namespace {

// Coordinates processed per chunk: one chunk of the output (16 KiB) stays in L1 while every
// input's matching chunk streams past it, so each input is read once and the output written
// once. Results do not depend on it (every coordinate sees the same operations in the same
// order whatever the chunking), except Krum's distances, whose per-chunk partial sums do.
constexpr std::size_t kChunk = 4096;
// Reduction lanes: wide enough for 16 floats per step (one AVX-512 register, four SSE ones).
constexpr std::size_t kLanes = 16;
// Up to this many inputs, median and trimmed mean sort with a network across coordinates
// (O(n^2) vectorized comparators per coordinate); above, with std::sort per coordinate.
constexpr std::size_t kSmallSort = 32;
// Coordinates per block of the sorting network: n rows of 1 KiB stay in L1 (32 KiB at n = 32).
constexpr std::size_t kSortBlock = 256;

Status invalid(std::string message) {
  return error(StatusCode::kInvalidArgument, "aggregate: " + std::move(message));
}

// out[i] = c * x[i]
void scale_into(float* __restrict out, const float* __restrict x, float c, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = c * x[i];
}

// out[i] = out[i] + c * x[i]
void axpy(float* __restrict out, const float* __restrict x, float c, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = out[i] + c * x[i];
}

// out[i] = (out[i] + a * x[i]) + b * y[i]: two axpy steps in one pass over the output chunk,
// the same operations in the same order as axpy(x) then axpy(y).
void axpy2(float* __restrict out, const float* __restrict x, float a, const float* __restrict y,
           float b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = (out[i] + a * x[i]) + b * y[i];
}

// out = sum_j coeffs[j] * inputs[j], accumulated in float in the order of `inputs`.
void weighted_sum(const std::vector<const float*>& inputs, const std::vector<float>& coeffs,
                  float* out, std::size_t length) {
  const std::size_t n = inputs.size();
  for (std::size_t begin = 0; begin < length; begin += kChunk) {
    const std::size_t count = std::min(kChunk, length - begin);
    float* chunk = out + begin;
    scale_into(chunk, inputs[0] + begin, coeffs[0], count);
    std::size_t j = 1;
    for (; j + 1 < n; j += 2) {
      axpy2(chunk, inputs[j] + begin, coeffs[j], inputs[j + 1] + begin, coeffs[j + 1], count);
    }
    if (j < n) axpy(chunk, inputs[j] + begin, coeffs[j], count);
  }
}

// Sum of (x[i] - y[i])^2 over n values: float lanes, summed in double in lane order.
// noinline, here and in all_finite: inlined into a caller's loop, GCC 12 vectorizes the outer
// loop instead and turns the lanes into in-order scalar additions (3x slower); on its own the
// function gets four packed accumulators. A call covers a whole chunk, so the call is free.
[[gnu::noinline]] double squared_distance(const float* __restrict x, const float* __restrict y, std::size_t n) {
  float lanes[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) {
      const float d = x[i + l] - y[i + l];
      lanes[l] += d * d;
    }
  }
  double sum = 0.0;
  for (std::size_t l = 0; l < kLanes; ++l) sum += lanes[l];
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - static_cast<double>(y[i]);
    sum += d * d;
  }
  return sum;
}

// True when every value is finite: x * 0 is 0 for finite x and NaN for infinities and NaNs.
[[gnu::noinline]] bool all_finite(const float* x, std::size_t n) {
  float lanes[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) lanes[l] += x[i + l] * 0.0f;
  }
  float sum = 0.0f;
  for (std::size_t l = 0; l < kLanes; ++l) sum += lanes[l];
  for (; i < n; ++i) sum += x[i] * 0.0f;
  return sum == 0.0f;
}

// The inputs, validated and sorted by author.
struct Inputs {
  std::vector<const WeightedUpdate*> sorted;
  std::vector<const float*> values;  // sorted[j]->values.data()
  std::size_t length = 0;
  double total_weight = 0.0;
};

Status prepare(std::span<const WeightedUpdate> updates, std::span<float> out, Inputs& in) {
  if (updates.empty()) return invalid("no updates");
  in.length = updates.front().values.size();
  in.sorted.reserve(updates.size());
  for (std::size_t j = 0; j < updates.size(); ++j) {
    const WeightedUpdate& u = updates[j];
    if (u.values.size() != in.length) {
      return invalid("update " + std::to_string(j) + " from " + u.author.short_hex() + " has " +
                     std::to_string(u.values.size()) + " values, update 0 has " +
                     std::to_string(in.length));
    }
    if (!std::isfinite(u.weight) || u.weight < 0) {
      return invalid("update from " + u.author.short_hex() +
                     " has a weight that is negative or not finite");
    }
    in.sorted.push_back(&u);
  }
  if (out.size() != in.length) {
    return invalid("output has " + std::to_string(out.size()) + " values, the updates have " +
                   std::to_string(in.length));
  }
  std::sort(in.sorted.begin(), in.sorted.end(),
            [](const WeightedUpdate* a, const WeightedUpdate* b) { return a->author < b->author; });
  for (std::size_t j = 1; j < in.sorted.size(); ++j) {
    if (in.sorted[j - 1]->author == in.sorted[j]->author) {
      return invalid("two updates from " + in.sorted[j]->author.to_hex());
    }
  }
  // Summed in author order too: the coefficients w_j / total must not depend on arrival order.
  for (const WeightedUpdate* u : in.sorted) in.total_weight += u->weight;
  if (!(in.total_weight > 0) || !std::isfinite(in.total_weight)) {
    return invalid("the total weight is zero or not finite");
  }
  in.values.reserve(in.sorted.size());
  for (const WeightedUpdate* u : in.sorted) in.values.push_back(u->values.data());
  return Status::ok();
}

Status non_finite_error(const WeightedUpdate& u, std::size_t index) {
  return invalid("value " + std::to_string(index) + " from " + u.author.short_hex() +
                 " is not finite (robust aggregators need ordered values; run check_update)");
}

void fedavg(const Inputs& in, std::span<float> out) {
  std::vector<float> coeffs;
  coeffs.reserve(in.sorted.size());
  for (const WeightedUpdate* u : in.sorted) {
    coeffs.push_back(static_cast<float>(u->weight / in.total_weight));
  }
  weighted_sum(in.values, coeffs, out.data(), in.length);
}

// The value of an order statistic for one coordinate, from its values sorted ascending:
// the median (trim < 0) or the trimmed mean (trim = values dropped at each end), in double,
// summed in ascending order, rounded once to float.
float from_sorted(const float* sorted, std::size_t n, std::ptrdiff_t trim) {
  if (trim < 0) {
    const std::size_t mid = n / 2;
    if (n % 2 == 1) return sorted[mid];
    return static_cast<float>((static_cast<double>(sorted[mid - 1]) + sorted[mid]) / 2);
  }
  const auto t = static_cast<std::size_t>(trim);
  double sum = 0.0;
  for (std::size_t j = t; j < n - t; ++j) sum += sorted[j];
  return static_cast<float>(sum / static_cast<double>(n - 2 * t));
}

// lo[i], hi[i] = min, max of (lo[i], hi[i]): one comparator of a sorting network applied to
// every coordinate at once. Written with std::min and std::max, which GCC turns into
// minps/maxps; the same comparator as two ternaries on one comparison stays scalar. (Equal
// values, +0 and -0 included, come out as two copies of lo[i]: the same numbers.)
void compare_exchange(float* __restrict lo, float* __restrict hi, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float a = lo[i];
    const float b = hi[i];
    lo[i] = std::min(a, b);
    hi[i] = std::max(a, b);
  }
}

// acc[i] += x[i], in double.
void accumulate(double* __restrict acc, const float* __restrict x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) acc[i] += static_cast<double>(x[i]);
}

// Up to kSmallSort inputs: copy a block of every input into rows of a scratch buffer and sort
// each coordinate's column with an odd-even transposition network (n rounds of
// compare-exchange between neighbouring rows, vectorized across coordinates); row j then holds
// every coordinate's j-th smallest value.
Status order_statistic_network(const Inputs& in, std::ptrdiff_t trim, std::span<float> out) {
  const std::size_t n = in.values.size();
  std::vector<float> rows(n * kSortBlock);
  std::vector<double> sums(kSortBlock);
  for (std::size_t begin = 0; begin < in.length; begin += kSortBlock) {
    const std::size_t count = std::min(kSortBlock, in.length - begin);
    for (std::size_t j = 0; j < n; ++j) {
      const float* source = in.values[j] + begin;
      if (!all_finite(source, count)) [[unlikely]] {
        std::size_t i = 0;
        while (std::isfinite(source[i])) ++i;
        return non_finite_error(*in.sorted[j], begin + i);
      }
      std::copy(source, source + count, rows.data() + j * kSortBlock);
    }
    for (std::size_t round = 0; round < n; ++round) {
      for (std::size_t a = round % 2; a + 1 < n; a += 2) {
        compare_exchange(rows.data() + a * kSortBlock, rows.data() + (a + 1) * kSortBlock, count);
      }
    }
    float* target = out.data() + begin;
    if (trim < 0) {
      const float* upper = rows.data() + (n / 2) * kSortBlock;
      if (n % 2 == 1) {
        std::copy(upper, upper + count, target);
      } else {
        const float* lower = upper - kSortBlock;
        for (std::size_t i = 0; i < count; ++i) {
          target[i] = static_cast<float>((static_cast<double>(lower[i]) + upper[i]) / 2);
        }
      }
    } else {
      const auto t = static_cast<std::size_t>(trim);
      std::fill(sums.begin(), sums.end(), 0.0);
      for (std::size_t j = t; j < n - t; ++j) accumulate(sums.data(), rows.data() + j * kSortBlock, count);
      const auto kept = static_cast<double>(n - 2 * t);
      for (std::size_t i = 0; i < count; ++i) target[i] = static_cast<float>(sums[i] / kept);
    }
  }
  return Status::ok();
}

// More inputs: gather each coordinate's values and sort them (std::sort, O(n log n)).
Status order_statistic_sort(const Inputs& in, std::ptrdiff_t trim, std::span<float> out) {
  const std::size_t n = in.values.size();
  std::vector<float> column(n);
  for (std::size_t i = 0; i < in.length; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const float v = in.values[j][i];
      if (!std::isfinite(v)) [[unlikely]] return non_finite_error(*in.sorted[j], i);
      column[j] = v;
    }
    std::sort(column.begin(), column.end());
    out[i] = from_sorted(column.data(), n, trim);
  }
  return Status::ok();
}

// Median (trim < 0) or trimmed mean (trim = values dropped at each end).
Status order_statistic(const Inputs& in, std::ptrdiff_t trim, std::span<float> out) {
  return in.values.size() <= kSmallSort ? order_statistic_network(in, trim, out)
                                        : order_statistic_sort(in, trim, out);
}

Status krum(const Inputs& in, const AggregatorConfig& config, std::span<float> out,
            AggregateStats* stats) {
  const std::size_t n = in.values.size();
  const auto f = static_cast<std::size_t>(config.byzantine_f);
  if (n < 2 * f + 3) {
    return invalid(std::string(aggregator_kind_name(config.kind)) + " with f = " +
                   std::to_string(f) + " needs n >= 2f + 3 = " + std::to_string(2 * f + 3) +
                   " updates, got n = " + std::to_string(n));
  }
  std::size_t m = 1;
  if (config.kind == AggregatorKind::kMultiKrum) {
    m = config.multi_krum_m == 0 ? n - f : static_cast<std::size_t>(config.multi_krum_m);
    if (m > n) {
      return invalid("multi-krum m = " + std::to_string(m) + " is above n = " +
                     std::to_string(n));
    }
  }
  // Squared distances, upper triangle of an n x n matrix, in one chunked pass over the inputs.
  std::vector<double> distance(n * n, 0.0);
  for (std::size_t begin = 0; begin < in.length; begin += kChunk) {
    const std::size_t count = std::min(kChunk, in.length - begin);
    for (std::size_t a = 0; a < n; ++a) {
      if (!all_finite(in.values[a] + begin, count)) [[unlikely]] {
        std::size_t i = begin;
        while (std::isfinite(in.values[a][i])) ++i;
        return non_finite_error(*in.sorted[a], i);
      }
    }
    for (std::size_t a = 0; a < n; ++a) {
      for (std::size_t b = a + 1; b < n; ++b) {
        distance[a * n + b] += squared_distance(in.values[a] + begin, in.values[b] + begin, count);
      }
    }
  }
  // Score: the sum of the n - f - 2 smallest distances to the others, summed in ascending order.
  const std::size_t neighbours = n - f - 2;
  std::vector<double> scores(n);
  std::vector<double> row;
  row.reserve(n - 1);
  for (std::size_t a = 0; a < n; ++a) {
    row.clear();
    for (std::size_t b = 0; b < n; ++b) {
      if (b != a) row.push_back(a < b ? distance[a * n + b] : distance[b * n + a]);
    }
    std::sort(row.begin(), row.end());
    double score = 0.0;
    for (std::size_t k = 0; k < neighbours; ++k) score += row[k];
    scores[a] = score;
  }
  // Best scores first; ties go to the smaller author id (the smaller index).
  std::vector<std::size_t> rank(n);
  for (std::size_t a = 0; a < n; ++a) rank[a] = a;
  std::sort(rank.begin(), rank.end(), [&](std::size_t a, std::size_t b) {
    return scores[a] != scores[b] ? scores[a] < scores[b] : a < b;
  });
  std::vector<std::size_t> chosen(rank.begin(), rank.begin() + static_cast<std::ptrdiff_t>(m));
  std::sort(chosen.begin(), chosen.end());
  std::vector<const float*> inputs;
  inputs.reserve(m);
  for (std::size_t a : chosen) inputs.push_back(in.values[a]);
  const std::vector<float> coeffs(m, static_cast<float>(1.0 / static_cast<double>(m)));
  weighted_sum(inputs, coeffs, out.data(), in.length);

  if (stats != nullptr) {
    std::vector<bool> is_chosen(n, false);
    for (std::size_t a : chosen) is_chosen[a] = true;
    for (std::size_t a = 0; a < n; ++a) {
      (is_chosen[a] ? stats->selected : stats->rejected).push_back(in.sorted[a]->author);
      stats->scores.push_back({in.sorted[a]->author, scores[a]});
    }
  }
  return Status::ok();
}

}  // namespace

Status AggregatorConfig::validate() const {
  if (!(trim_beta >= 0.0 && trim_beta <= 0.5)) {
    return error(StatusCode::kInvalidArgument, "aggregator: trim_beta must be in [0, 0.5]");
  }
  if (byzantine_f < 0) {
    return error(StatusCode::kInvalidArgument, "aggregator: byzantine_f must be >= 0");
  }
  if (multi_krum_m < 0) {
    return error(StatusCode::kInvalidArgument, "aggregator: multi_krum_m must be >= 0");
  }
  return Status::ok();
}

std::string_view aggregator_kind_name(AggregatorKind kind) noexcept {
  switch (kind) {
    case AggregatorKind::kFedAvg: return "fedavg";
    case AggregatorKind::kMedian: return "median";
    case AggregatorKind::kTrimmedMean: return "trimmed-mean";
    case AggregatorKind::kKrum: return "krum";
    case AggregatorKind::kMultiKrum: return "multi-krum";
  }
  return "unknown";
}

std::string aggregator_name(const AggregatorConfig& config) {
  std::string name(aggregator_kind_name(config.kind));
  switch (config.kind) {
    case AggregatorKind::kFedAvg:
    case AggregatorKind::kMedian: break;
    case AggregatorKind::kTrimmedMean: name += ":" + internal::format_decimal(config.trim_beta); break;
    case AggregatorKind::kKrum: name += ":" + std::to_string(config.byzantine_f); break;
    case AggregatorKind::kMultiKrum:
      name += ":" + std::to_string(config.byzantine_f) + ":" + std::to_string(config.multi_krum_m);
      break;
  }
  return name;
}

Result<AggregatorConfig> parse_aggregator(std::string_view spec) {
  constexpr std::string_view kForms =
      "fedavg, median, trimmed-mean[:BETA], krum[:F] or multi-krum[:F[:M]]";
  auto bad = [spec, kForms](const std::string& why) {
    return error(StatusCode::kInvalidArgument, "aggregator '" + std::string(spec) + "': " + why +
                                                   " (use " + std::string(kForms) + ")");
  };
  const std::vector<std::string_view> parts = internal::split_spec(spec);
  const std::string_view name = parts.front();
  const std::size_t params = parts.size() - 1;
  AggregatorConfig config;
  if (name == "fedavg" || name == "median") {
    config.kind = name == "fedavg" ? AggregatorKind::kFedAvg : AggregatorKind::kMedian;
    if (params != 0) return bad(std::string(name) + " takes no parameter");
    return config;
  }
  if (name == "trimmed-mean") {
    config.kind = AggregatorKind::kTrimmedMean;
    if (params > 1) return bad("trimmed-mean takes one parameter, BETA");
    if (params == 1) {
      const auto beta = internal::parse_decimal(parts[1]);
      if (!beta || *beta < 0.0 || *beta > 0.5) {
        return bad("BETA must be a number in [0, 0.5], got '" + std::string(parts[1]) + "'");
      }
      config.trim_beta = *beta;
    }
    return config;
  }
  if (name == "krum" || name == "multi-krum") {
    const bool multi = name == "multi-krum";
    config.kind = multi ? AggregatorKind::kMultiKrum : AggregatorKind::kKrum;
    if (params > (multi ? 2u : 1u)) {
      return bad(multi ? "multi-krum takes at most two parameters, F and M"
                       : "krum takes one parameter, F");
    }
    if (params >= 1) {
      const auto f = internal::parse_count(parts[1]);
      if (!f) return bad("F must be a non-negative integer, got '" + std::string(parts[1]) + "'");
      config.byzantine_f = *f;
    }
    if (params == 2) {
      const auto m = internal::parse_count(parts[2]);
      if (!m) return bad("M must be a non-negative integer, got '" + std::string(parts[2]) + "'");
      config.multi_krum_m = *m;
    }
    return config;
  }
  return bad("unknown aggregator");
}

Status aggregate(std::span<const WeightedUpdate> updates, const AggregatorConfig& config,
                 std::span<float> out, AggregateStats* stats) {
  STARLING_RETURN_IF_ERROR(config.validate());
  Inputs in;
  STARLING_RETURN_IF_ERROR(prepare(updates, out, in));
  const std::size_t n = in.sorted.size();
  AggregateStats local;
  AggregateStats* s = stats != nullptr ? &local : nullptr;
  switch (config.kind) {
    case AggregatorKind::kFedAvg: fedavg(in, out); break;
    case AggregatorKind::kMedian: STARLING_RETURN_IF_ERROR(order_statistic(in, -1, out)); break;
    case AggregatorKind::kTrimmedMean: {
      // floor(beta n), with beta n nudged up by 1e-9 so that 0.1 * 30 counts as 3.
      const auto t = static_cast<std::size_t>(
          std::floor(config.trim_beta * static_cast<double>(n) + 1e-9));
      if (2 * t >= n) {
        return invalid("trimmed-mean with beta = " + internal::format_decimal(config.trim_beta) +
                       " drops " + std::to_string(t) + " values at each end of " +
                       std::to_string(n) + ": nothing remains");
      }
      STARLING_RETURN_IF_ERROR(order_statistic(in, static_cast<std::ptrdiff_t>(t), out));
      local.trimmed_per_side = t;
      break;
    }
    case AggregatorKind::kKrum:
    case AggregatorKind::kMultiKrum: STARLING_RETURN_IF_ERROR(krum(in, config, out, s)); break;
  }
  if (stats != nullptr) {
    local.inputs = n;
    local.total_weight = in.total_weight;
    if (config.kind != AggregatorKind::kKrum && config.kind != AggregatorKind::kMultiKrum) {
      for (const WeightedUpdate* u : in.sorted) local.selected.push_back(u->author);
    }
    *stats = std::move(local);
  }
  return Status::ok();
}

}  // namespace starling::federated
