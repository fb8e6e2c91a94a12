// Partitioners and the samplers behind them, on base::Rng only.
#include "federated/data/partition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <queue>
#include <utility>

#include "base/assert.hpp"

namespace starling::federated {

namespace {

__extension__ typedef unsigned __int128 Uint128;  // GCC/Clang builtin, for exact ratio compares

Status check_nodes(std::size_t nodes) {
  if (nodes == 0) return error(StatusCode::kInvalidArgument, "a partition needs at least one node");
  if (nodes > kMaxPartitionNodes) {
    return error(StatusCode::kInvalidArgument, std::to_string(nodes) +
                                                   " nodes is above the limit of " +
                                                   std::to_string(kMaxPartitionNodes));
  }
  return Status::ok();
}

// Row indices by label; kInvalidArgument for a label outside [0, classes).
Result<std::vector<std::vector<std::size_t>>> rows_by_class(std::span<const std::int64_t> labels,
                                                            std::size_t classes) {
  if (classes > kMaxClasses) {
    return error(StatusCode::kInvalidArgument, "class count " + std::to_string(classes) +
                                                   " is above the limit of " +
                                                   std::to_string(kMaxClasses));
  }
  std::vector<std::size_t> counts(classes, 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || static_cast<std::uint64_t>(labels[i]) >= classes) {
      return error(StatusCode::kInvalidArgument,
                   "row " + std::to_string(i) + " has label " + std::to_string(labels[i]) +
                       ", outside [0, " + std::to_string(classes) + ")");
    }
    ++counts[static_cast<std::size_t>(labels[i])];
  }
  std::vector<std::vector<std::size_t>> by_class(classes);
  for (std::size_t c = 0; c < classes; ++c) by_class[c].reserve(counts[c]);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    by_class[static_cast<std::size_t>(labels[i])].push_back(i);
  }
  return by_class;
}

// Gives each empty node one row from the node holding the most (lowest index on ties), its
// last row, while that node has at least two; then sorts every node's rows.
void fill_empty_and_sort(Partition& parts) {
  // Max-heap on (size, -index): the largest node first, the lowest index among equals.
  using Entry = std::pair<std::size_t, std::size_t>;  // size, nodes - 1 - index
  const std::size_t n = parts.size();
  std::priority_queue<Entry> largest;
  for (std::size_t j = 0; j < n; ++j) largest.emplace(parts[j].size(), n - 1 - j);
  for (std::size_t j = 0; j < n; ++j) {
    if (!parts[j].empty()) continue;
    const auto [size, key] = largest.top();
    if (size < 2) break;  // fewer rows than nodes: nothing left to move
    largest.pop();
    const std::size_t donor = n - 1 - key;
    parts[j].push_back(parts[donor].back());
    parts[donor].pop_back();
    largest.emplace(parts[donor].size(), key);
    // Node j (now 1 row) is never the largest while a node with 2 or more exists; its stale
    // heap entry (size 0) sits below every live one.
  }
  for (auto& rows : parts) std::sort(rows.begin(), rows.end());
}

std::string format_double(double value) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(value);
}

// log(U) with U uniform in (0, 1].
double log_uniform_open0(Rng& rng) { return std::log(1.0 - rng.next_double()); }

// Marsaglia and Tsang for shape >= 1.
double gamma_at_least_one(Rng& rng, double shape) {
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x = 0;
    double v = 0;
    do {
      x = sample_standard_normal(rng);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = rng.next_double();
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v;
    if (std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) return d * v;
  }
}

}  // namespace

double sample_standard_normal(Rng& rng) {
  while (true) {
    const double u = 2.0 * rng.next_double() - 1.0;
    const double v = 2.0 * rng.next_double() - 1.0;
    const double s = u * u + v * v;
    if (s > 0.0 && s < 1.0) return u * std::sqrt(-2.0 * std::log(s) / s);
  }
}

double sample_gamma(Rng& rng, double shape) {
  STARLING_ASSERT(shape > 0.0, "sample_gamma needs a positive shape");
  if (shape >= 1.0) return gamma_at_least_one(rng, shape);
  const double g = gamma_at_least_one(rng, shape + 1.0);
  return g * std::exp(log_uniform_open0(rng) / shape);
}

double sample_log_gamma(Rng& rng, double shape) {
  STARLING_ASSERT(shape > 0.0, "sample_log_gamma needs a positive shape");
  if (shape >= 1.0) return std::log(gamma_at_least_one(rng, shape));
  const double g = gamma_at_least_one(rng, shape + 1.0);
  return std::log(g) + log_uniform_open0(rng) / shape;
}

std::vector<double> sample_dirichlet(Rng& rng, double alpha, std::size_t k) {
  STARLING_ASSERT(alpha > 0.0 && k >= 1, "sample_dirichlet needs alpha > 0 and k >= 1");
  std::vector<double> p(k);
  for (auto& v : p) v = sample_log_gamma(rng, alpha);
  const double top = *std::max_element(p.begin(), p.end());
  double sum = 0;
  for (auto& v : p) {
    v = std::exp(v - top);  // the largest becomes 1: the sum is at least 1
    sum += v;
  }
  for (auto& v : p) v /= sum;
  return p;
}

std::string PartitionSpec::to_string() const {
  switch (kind) {
    case Kind::kIid:
      return "iid";
    case Kind::kDirichlet:
      return "dirichlet:" + format_double(alpha);
    case Kind::kShards:
      return "shards:" + std::to_string(shards_per_node);
  }
  STARLING_UNREACHABLE("unknown PartitionSpec kind");
}

Result<PartitionSpec> parse_partition(std::string_view text) {
  const std::string accepted =
      "expected iid, dirichlet:ALPHA (e.g. dirichlet:0.5) or shards:K (e.g. shards:2)";
  const auto colon = text.find(':');
  const std::string_view kind = text.substr(0, colon);
  const bool has_param = colon != std::string_view::npos;
  const std::string_view param = has_param ? text.substr(colon + 1) : std::string_view();
  const std::string quoted = "'" + std::string(text) + "'";
  PartitionSpec spec;
  if (kind == "iid") {
    if (has_param) {
      return error(StatusCode::kInvalidArgument,
                   "partition " + quoted + ": iid takes no parameter");
    }
    spec.kind = PartitionSpec::Kind::kIid;
    return spec;
  }
  if (kind == "dirichlet") {
    if (param.empty()) {
      return error(StatusCode::kInvalidArgument,
                   "partition " + quoted + ": dirichlet needs ALPHA, e.g. dirichlet:0.5");
    }
    double alpha = 0;
    const char* end = param.data() + param.size();
    const auto [ptr, ec] = std::from_chars(param.data(), end, alpha, std::chars_format::general);
    if (ec != std::errc() || ptr != end || !std::isfinite(alpha)) {
      return error(StatusCode::kInvalidArgument,
                   "partition " + quoted + ": ALPHA '" + std::string(param) +
                       "' is not a decimal number");
    }
    if (alpha < kMinDirichletAlpha || alpha > kMaxDirichletAlpha) {
      return error(StatusCode::kInvalidArgument,
                   "partition " + quoted + ": ALPHA must be in [" +
                       format_double(kMinDirichletAlpha) + ", " +
                       format_double(kMaxDirichletAlpha) + "]");
    }
    spec.kind = PartitionSpec::Kind::kDirichlet;
    spec.alpha = alpha;
    return spec;
  }
  if (kind == "shards") {
    if (param.empty()) {
      return error(StatusCode::kInvalidArgument,
                   "partition " + quoted + ": shards needs K, e.g. shards:2");
    }
    std::size_t k = 0;
    const char* end = param.data() + param.size();
    const auto [ptr, ec] = std::from_chars(param.data(), end, k);
    if (ec != std::errc() || ptr != end || k == 0 || k > kMaxShardsPerNode) {
      return error(StatusCode::kInvalidArgument,
                   "partition " + quoted + ": K '" + std::string(param) +
                       "' must be an integer in [1, " + std::to_string(kMaxShardsPerNode) + "]");
    }
    spec.kind = PartitionSpec::Kind::kShards;
    spec.shards_per_node = k;
    return spec;
  }
  return error(StatusCode::kInvalidArgument, "unknown partition " + quoted + ": " + accepted);
}

Result<Partition> partition_iid(std::size_t rows, std::size_t nodes, std::uint64_t seed) {
  STARLING_RETURN_IF_ERROR(check_nodes(nodes));
  Rng rng(seed);
  std::vector<std::size_t> order(rows);
  std::iota(order.begin(), order.end(), std::size_t{0});
  rng.shuffle(order.begin(), order.end());
  Partition parts(nodes);
  const std::size_t base = rows / nodes;
  const std::size_t extra = rows % nodes;
  std::size_t at = 0;
  for (std::size_t j = 0; j < nodes; ++j) {
    const std::size_t take = base + (j < extra ? 1 : 0);
    parts[j].assign(order.begin() + static_cast<std::ptrdiff_t>(at),
                    order.begin() + static_cast<std::ptrdiff_t>(at + take));
    std::sort(parts[j].begin(), parts[j].end());
    at += take;
  }
  return parts;
}

Result<Partition> partition_dirichlet(std::span<const std::int64_t> labels, std::size_t classes,
                                      std::size_t nodes, double alpha, std::uint64_t seed) {
  STARLING_RETURN_IF_ERROR(check_nodes(nodes));
  if (!(alpha >= kMinDirichletAlpha && alpha <= kMaxDirichletAlpha)) {
    return error(StatusCode::kInvalidArgument,
                 "Dirichlet alpha " + format_double(alpha) + " is outside [" +
                     format_double(kMinDirichletAlpha) + ", " +
                     format_double(kMaxDirichletAlpha) + "]");
  }
  STARLING_ASSIGN_OR_RETURN(auto by_class, rows_by_class(labels, classes));
  Rng rng(seed);
  Partition parts(nodes);
  for (auto& rows : by_class) {
    if (rows.empty()) continue;  // absent labels draw nothing
    const std::vector<double> p = sample_dirichlet(rng, alpha, nodes);
    rng.shuffle(rows.begin(), rows.end());
    const std::size_t m = rows.size();
    double cumulative = 0;
    std::size_t start = 0;
    for (std::size_t j = 0; j < nodes; ++j) {
      cumulative += p[j];
      std::size_t end = m;
      if (j + 1 < nodes) {
        end = std::min(m, static_cast<std::size_t>(std::floor(cumulative * static_cast<double>(m))));
        end = std::max(end, start);
      }
      parts[j].insert(parts[j].end(), rows.begin() + static_cast<std::ptrdiff_t>(start),
                      rows.begin() + static_cast<std::ptrdiff_t>(end));
      start = end;
    }
  }
  fill_empty_and_sort(parts);
  return parts;
}

Result<Partition> partition_shards(std::span<const std::int64_t> labels, std::size_t classes,
                                   std::size_t nodes, std::size_t shards_per_node,
                                   std::uint64_t seed) {
  STARLING_RETURN_IF_ERROR(check_nodes(nodes));
  if (shards_per_node == 0 || shards_per_node > kMaxShardsPerNode) {
    return error(StatusCode::kInvalidArgument,
                 "shards per node must be in [1, " + std::to_string(kMaxShardsPerNode) + "]");
  }
  const std::size_t total = nodes * shards_per_node;  // no overflow: both are bounded
  if (total > kMaxShards) {
    return error(StatusCode::kInvalidArgument,
                 std::to_string(nodes) + " nodes with " + std::to_string(shards_per_node) +
                     " shards each is above the limit of " + std::to_string(kMaxShards) +
                     " shards");
  }
  STARLING_ASSIGN_OR_RETURN(auto by_class, rows_by_class(labels, classes));
  std::vector<std::size_t> present;
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    if (!by_class[c].empty()) present.push_back(c);
  }
  if (total < present.size()) {
    return error(StatusCode::kInvalidArgument,
                 std::to_string(nodes) + " nodes with " + std::to_string(shards_per_node) +
                     " shard(s) each make " + std::to_string(total) + " one-label shards, fewer "
                     "than the " + std::to_string(present.size()) +
                     " labels present: nodes * shards per node must be at least that");
  }

  // Shards per label: one each, then one at a time to the label whose shards are largest.
  std::vector<std::size_t> shard_count(classes, 0);
  for (const std::size_t c : present) shard_count[c] = 1;
  auto larger = [&](std::size_t a, std::size_t b) {  // heap order: is a's shard smaller?
    // rows_a / shards_a < rows_b / shards_b, compared exactly; ties: the lower class first.
    const auto lhs = static_cast<Uint128>(by_class[a].size()) * shard_count[b];
    const auto rhs = static_cast<Uint128>(by_class[b].size()) * shard_count[a];
    return lhs != rhs ? lhs < rhs : a > b;
  };
  std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(larger)> heap(larger);
  for (const std::size_t c : present) heap.push(c);
  for (std::size_t left = total - present.size(); left > 0 && !heap.empty(); --left) {
    const std::size_t c = heap.top();
    heap.pop();
    if (shard_count[c] >= by_class[c].size()) break;  // every shard is one row already
    ++shard_count[c];
    heap.push(c);
  }

  // Cut each label's shuffled rows into its shards (sizes differ by at most one).
  Rng rng(seed);
  std::vector<std::vector<std::size_t>> shards;
  shards.reserve(total);
  for (const std::size_t c : present) {
    auto& rows = by_class[c];
    rng.shuffle(rows.begin(), rows.end());
    const std::size_t s = shard_count[c];
    std::size_t at = 0;
    for (std::size_t i = 0; i < s; ++i) {
      const std::size_t take = rows.size() / s + (i < rows.size() % s ? 1 : 0);
      shards.emplace_back(rows.begin() + static_cast<std::ptrdiff_t>(at),
                          rows.begin() + static_cast<std::ptrdiff_t>(at + take));
      at += take;
    }
  }
  shards.resize(total);  // more shards than rows: the rest are empty
  std::vector<std::size_t> order(total);
  std::iota(order.begin(), order.end(), std::size_t{0});
  rng.shuffle(order.begin(), order.end());
  Partition parts(nodes);
  for (std::size_t j = 0; j < nodes; ++j) {
    for (std::size_t s = 0; s < shards_per_node; ++s) {
      auto& shard = shards[order[j * shards_per_node + s]];
      parts[j].insert(parts[j].end(), shard.begin(), shard.end());
    }
  }
  fill_empty_and_sort(parts);
  return parts;
}

Result<Partition> partition_dataset(const Dataset& data, std::size_t nodes,
                                    const PartitionSpec& spec, std::uint64_t seed) {
  switch (spec.kind) {
    case PartitionSpec::Kind::kIid:
      return partition_iid(data.rows(), nodes, seed);
    case PartitionSpec::Kind::kDirichlet:
      return partition_dirichlet(data.y, data.classes, nodes, spec.alpha, seed);
    case PartitionSpec::Kind::kShards:
      return partition_shards(data.y, data.classes, nodes, spec.shards_per_node, seed);
  }
  STARLING_UNREACHABLE("unknown PartitionSpec kind");
}

}  // namespace starling::federated
