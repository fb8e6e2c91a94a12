// Tests for the aggregators: against naive double-precision reference implementations on seeded
// random data, order independence (bit for bit), Byzantine inputs, errors and the
// specification parser.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "base/rng.hpp"
#include "federated/core/aggregate.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"

namespace starling::federated {
namespace {

// A set of updates that owns its values.
struct UpdateSet {
  std::vector<std::vector<float>> values;
  std::vector<WeightedUpdate> updates;

  void add(NodeId author, std::vector<float> v, double weight) {
    values.push_back(std::move(v));
    updates.push_back({author, {}, weight});
    for (std::size_t j = 0; j < updates.size(); ++j) updates[j].values = values[j];
  }
};

float uniform(Rng& rng, double scale) {
  return static_cast<float>((rng.next_double() * 2.0 - 1.0) * scale);
}

// n updates of `length` values in [-scale, scale], distinct random authors, weights 1-100.
UpdateSet random_updates(Rng& rng, std::size_t n, std::size_t length, double scale = 1.0) {
  UpdateSet set;
  std::vector<std::uint64_t> ids;
  while (ids.size() < n) {
    const std::uint64_t id = rng.next_u64();
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  for (std::size_t j = 0; j < n; ++j) {
    std::vector<float> v(length);
    for (float& x : v) x = uniform(rng, scale);
    set.add(NodeId::from_u64(ids[j]), std::move(v),
            static_cast<double>(rng.uniform_range(1, 100)));
  }
  return set;
}

// --- naive references, in double ---------------------------------------------------------------

std::vector<double> reference_fedavg(const std::vector<WeightedUpdate>& updates) {
  const std::size_t length = updates.front().values.size();
  double total = 0.0;
  for (const auto& u : updates) total += u.weight;
  std::vector<double> out(length, 0.0);
  for (const auto& u : updates) {
    for (std::size_t i = 0; i < length; ++i) out[i] += u.weight * u.values[i] / total;
  }
  return out;
}

std::vector<double> sorted_column(const std::vector<WeightedUpdate>& updates, std::size_t i) {
  std::vector<double> column;
  for (const auto& u : updates) column.push_back(u.values[i]);
  std::sort(column.begin(), column.end());
  return column;
}

std::vector<float> reference_median(const std::vector<WeightedUpdate>& updates) {
  const std::size_t length = updates.front().values.size();
  const std::size_t n = updates.size();
  std::vector<float> out(length);
  for (std::size_t i = 0; i < length; ++i) {
    const std::vector<double> c = sorted_column(updates, i);
    out[i] = n % 2 == 1 ? static_cast<float>(c[n / 2])
                        : static_cast<float>((c[n / 2 - 1] + c[n / 2]) / 2.0);
  }
  return out;
}

std::vector<float> reference_trimmed_mean(const std::vector<WeightedUpdate>& updates,
                                          std::size_t trim) {
  const std::size_t length = updates.front().values.size();
  const std::size_t n = updates.size();
  std::vector<float> out(length);
  for (std::size_t i = 0; i < length; ++i) {
    const std::vector<double> c = sorted_column(updates, i);
    double sum = 0.0;
    for (std::size_t j = trim; j < n - trim; ++j) sum += c[j];
    out[i] = static_cast<float>(sum / static_cast<double>(n - 2 * trim));
  }
  return out;
}

// Krum scores in the order of `updates`.
std::vector<double> reference_krum_scores(const std::vector<WeightedUpdate>& updates, int f) {
  const std::size_t n = updates.size();
  std::vector<double> scores;
  for (std::size_t a = 0; a < n; ++a) {
    std::vector<double> d;
    for (std::size_t b = 0; b < n; ++b) {
      if (a == b) continue;
      double sum = 0.0;
      for (std::size_t i = 0; i < updates[a].values.size(); ++i) {
        const double diff = static_cast<double>(updates[a].values[i]) - updates[b].values[i];
        sum += diff * diff;
      }
      d.push_back(sum);
    }
    std::sort(d.begin(), d.end());
    scores.push_back(std::accumulate(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(n) - f - 2, 0.0));
  }
  return scores;
}

AggregatorConfig config_of(AggregatorKind kind) {
  AggregatorConfig c;
  c.kind = kind;
  return c;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

double max_abs_error(const std::vector<float>& got, const std::vector<float>& want) {
  double worst = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]));
  }
  return worst;
}

// --- against the references ------------------------------------------------------------------

TEST_CASE("fedavg matches the sample-weighted mean") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed);
  // Lengths around the chunk size (4096) and the 16-lane tails.
  for (std::size_t n : {1, 2, 3, 10, 17}) {
    for (std::size_t length : {0, 1, 15, 4096, 4097, 10007}) {
      CAPTURE(n);
      CAPTURE(length);
      UpdateSet set = random_updates(rng, n, length, 3.0);
      std::vector<float> out(length, -1.0f);
      AggregateStats stats;
      REQUIRE_OK(aggregate(set.updates, config_of(AggregatorKind::kFedAvg), out, &stats));
      const std::vector<double> want = reference_fedavg(set.updates);
      double worst = 0.0;
      for (std::size_t i = 0; i < length; ++i) worst = std::max(worst, std::fabs(out[i] - want[i]));
      CHECK(worst <= 3.0 * 1e-6 * static_cast<double>(n + 1));
      CHECK(stats.inputs == n);
      CHECK(stats.selected.size() == n);
      CHECK(std::is_sorted(stats.selected.begin(), stats.selected.end()));
      double total = 0.0;
      for (const auto& u : set.updates) total += u.weight;
      CHECK(stats.total_weight == doctest::Approx(total));
    }
  }
}

TEST_CASE("fedavg of one update is an exact copy") {
  Rng rng(testing::test_seed());
  UpdateSet set = random_updates(rng, 1, 1000);
  set.updates[0].weight = 7.0;
  std::vector<float> out(1000);
  REQUIRE_OK(aggregate(set.updates, config_of(AggregatorKind::kFedAvg), out));
  CHECK(bitwise_equal(out, set.values[0]));
}

TEST_CASE("median matches the reference for odd and even n") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed ^ 1);
  // 33 and 40 take the nth_element path, the others the insertion sort.
  for (std::size_t n : {1, 2, 3, 4, 9, 10, 33, 40}) {
    CAPTURE(n);
    UpdateSet set = random_updates(rng, n, 1001);
    std::vector<float> out(1001);
    REQUIRE_OK(aggregate(set.updates, config_of(AggregatorKind::kMedian), out));
    CHECK(bitwise_equal(out, reference_median(set.updates)));
  }
}

TEST_CASE("median of duplicated values is that value") {
  UpdateSet set;
  for (std::uint64_t id = 1; id <= 6; ++id) set.add(NodeId::from_u64(id), {id <= 4 ? 2.5f : -9.0f}, 1.0);
  std::vector<float> out(1);
  REQUIRE_OK(aggregate(set.updates, config_of(AggregatorKind::kMedian), out));
  CHECK(out[0] == 2.5f);
}

TEST_CASE("trimmed mean matches the reference") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed ^ 2);
  struct Row {
    std::size_t n;
    double beta;
    std::size_t trim;
  };
  for (const Row& row : {Row{1, 0.1, 0}, Row{5, 0.0, 0}, Row{10, 0.1, 1}, Row{10, 0.25, 2},
                         Row{30, 0.1, 3}, Row{7, 0.5, 3}, Row{40, 0.2, 8}, Row{9, 0.34, 3}}) {
    CAPTURE(row.n);
    CAPTURE(row.beta);
    UpdateSet set = random_updates(rng, row.n, 777);
    AggregatorConfig config = config_of(AggregatorKind::kTrimmedMean);
    config.trim_beta = row.beta;
    std::vector<float> out(777);
    AggregateStats stats;
    REQUIRE_OK(aggregate(set.updates, config, out, &stats));
    CHECK(stats.trimmed_per_side == row.trim);
    CHECK(bitwise_equal(out, reference_trimmed_mean(set.updates, row.trim)));
  }
}

TEST_CASE("trimmed mean with beta 0.5 is the median for odd n and an error for even n") {
  Rng rng(testing::test_seed() ^ 3);
  AggregatorConfig config = config_of(AggregatorKind::kTrimmedMean);
  config.trim_beta = 0.5;
  UpdateSet odd = random_updates(rng, 5, 100);
  std::vector<float> out(100);
  REQUIRE_OK(aggregate(odd.updates, config, out));
  CHECK(bitwise_equal(out, reference_median(odd.updates)));
  UpdateSet even = random_updates(rng, 4, 100);
  const Status s = aggregate(even.updates, config, out);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("nothing remains") != std::string::npos);
}

TEST_CASE("krum selects the input with the best reference score") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed ^ 4);
  for (int f : {0, 1, 2, 3}) {
    for (std::size_t extra : {0, 1, 4}) {
      const std::size_t n = 2 * static_cast<std::size_t>(f) + 3 + extra;
      CAPTURE(f);
      CAPTURE(n);
      UpdateSet set = random_updates(rng, n, 5000);
      AggregatorConfig config = config_of(AggregatorKind::kKrum);
      config.byzantine_f = f;
      std::vector<float> out(5000);
      AggregateStats stats;
      REQUIRE_OK(aggregate(set.updates, config, out, &stats));
      const std::vector<double> scores = reference_krum_scores(set.updates, f);
      // Ties (common when f = 0: the two closest inputs share their score) go to the smaller
      // author id.
      std::size_t best = 0;
      for (std::size_t a = 1; a < n; ++a) {
        const bool tie = std::fabs(scores[a] - scores[best]) <= 1e-9 * scores[best];
        if ((!tie && scores[a] < scores[best]) ||
            (tie && set.updates[a].author < set.updates[best].author)) {
          best = a;
        }
      }
      REQUIRE(stats.selected.size() == 1);
      CHECK(stats.selected[0] == set.updates[best].author);
      CHECK(stats.rejected.size() == n - 1);
      CHECK(bitwise_equal(out, set.values[best]));
      REQUIRE(stats.scores.size() == n);
      for (const auto& s : stats.scores) {
        const auto it = std::find_if(set.updates.begin(), set.updates.end(),
                                     [&](const WeightedUpdate& u) { return u.author == s.author; });
        REQUIRE(it != set.updates.end());
        const double want = scores[static_cast<std::size_t>(it - set.updates.begin())];
        CHECK(s.score == doctest::Approx(want).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("multi-krum averages the m best-scored inputs") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed ^ 5);
  for (int m : {0, 1, 3, 7}) {
    CAPTURE(m);
    const std::size_t n = 9;
    UpdateSet set = random_updates(rng, n, 3000);
    AggregatorConfig config = config_of(AggregatorKind::kMultiKrum);
    config.byzantine_f = 2;
    config.multi_krum_m = m;
    const std::size_t want_m = m == 0 ? n - 2 : static_cast<std::size_t>(m);
    std::vector<float> out(3000);
    AggregateStats stats;
    REQUIRE_OK(aggregate(set.updates, config, out, &stats));
    const std::vector<double> scores = reference_krum_scores(set.updates, 2);
    std::vector<std::size_t> rank(n);
    std::iota(rank.begin(), rank.end(), 0);
    std::sort(rank.begin(), rank.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
    std::vector<NodeId> want_selected;
    std::vector<double> want(3000, 0.0);
    for (std::size_t r = 0; r < want_m; ++r) {
      want_selected.push_back(set.updates[rank[r]].author);
      for (std::size_t i = 0; i < 3000; ++i) want[i] += set.values[rank[r]][i] / static_cast<double>(want_m);
    }
    std::sort(want_selected.begin(), want_selected.end());
    CHECK(stats.selected == want_selected);
    CHECK(stats.rejected.size() == n - want_m);
    double worst = 0.0;
    for (std::size_t i = 0; i < 3000; ++i) worst = std::max(worst, std::fabs(out[i] - want[i]));
    CHECK(worst <= 1e-5);
  }
}

// --- determinism -------------------------------------------------------------------------------

TEST_CASE("every aggregator is bitwise independent of the input order") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed ^ 6);
  const std::size_t length = 3 * 4096 + 123;
  // Weights with fractions that make the float coefficients and their sum order-sensitive.
  UpdateSet set = random_updates(rng, 11, length, 10.0);
  for (auto& u : set.updates) u.weight = 1.0 / static_cast<double>(rng.uniform_range(1, 1000)) * 3.7;
  for (AggregatorKind kind : {AggregatorKind::kFedAvg, AggregatorKind::kMedian,
                              AggregatorKind::kTrimmedMean, AggregatorKind::kKrum,
                              AggregatorKind::kMultiKrum}) {
    AggregatorConfig config = config_of(kind);
    config.trim_beta = 0.2;
    config.byzantine_f = 2;
    CAPTURE(aggregator_kind_name(kind));
    std::vector<float> first(length);
    REQUIRE_OK(aggregate(set.updates, config, first));
    std::vector<WeightedUpdate> shuffled = set.updates;
    for (int round = 0; round < 5; ++round) {
      rng.shuffle(shuffled.begin(), shuffled.end());
      std::vector<float> again(length);
      REQUIRE_OK(aggregate(shuffled, config, again));
      CHECK(bitwise_equal(first, again));
    }
  }
}

// --- Byzantine inputs --------------------------------------------------------------------------

TEST_CASE("robust aggregators resist huge sign-flipped updates that pull fedavg away") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed ^ 7);
  const std::size_t length = 2000;
  std::vector<float> truth(length);
  for (float& x : truth) x = uniform(rng, 1.0);
  UpdateSet set;
  // 10 honest updates: the truth plus small noise; 2 attackers: -100 x the truth, claiming 100x
  // the samples.
  for (std::uint64_t id = 1; id <= 12; ++id) {
    std::vector<float> v(length);
    const bool attacker = id == 4 || id == 9;
    for (std::size_t i = 0; i < length; ++i) {
      v[i] = attacker ? -100.0f * truth[i] : truth[i] + uniform(rng, 0.05);
    }
    set.add(NodeId::from_u64(id), std::move(v), attacker ? 5000.0 : 50.0);
  }
  auto error_of = [&](const AggregatorConfig& config, AggregateStats* stats = nullptr) {
    std::vector<float> out(length);
    REQUIRE_OK(aggregate(set.updates, config, out, stats));
    return max_abs_error(out, truth);
  };
  CHECK(error_of(config_of(AggregatorKind::kFedAvg)) > 50.0);
  CHECK(error_of(config_of(AggregatorKind::kMedian)) < 0.1);
  AggregatorConfig trimmed = config_of(AggregatorKind::kTrimmedMean);
  trimmed.trim_beta = 0.2;  // drops 2 at each end of 12
  CHECK(error_of(trimmed) < 0.1);
  AggregatorConfig krum = config_of(AggregatorKind::kKrum);
  krum.byzantine_f = 2;
  AggregateStats stats;
  CHECK(error_of(krum, &stats) < 0.1);
  CHECK(std::find(stats.rejected.begin(), stats.rejected.end(), NodeId::from_u64(4)) != stats.rejected.end());
  AggregatorConfig multi = config_of(AggregatorKind::kMultiKrum);
  multi.byzantine_f = 2;  // averages the 10 best: exactly the honest ones
  CHECK(error_of(multi, &stats) < 0.05);
  CHECK(stats.selected.size() == 10);
  CHECK(stats.rejected == std::vector<NodeId>{NodeId::from_u64(4), NodeId::from_u64(9)});
}

// --- errors ------------------------------------------------------------------------------------

TEST_CASE("krum needs n at least 2f plus 3") {
  Rng rng(testing::test_seed() ^ 8);
  for (AggregatorKind kind : {AggregatorKind::kKrum, AggregatorKind::kMultiKrum}) {
    AggregatorConfig config = config_of(kind);
    config.byzantine_f = 1;
    std::vector<float> out(10);
    UpdateSet four = random_updates(rng, 4, 10);
    const Status s = aggregate(four.updates, config, out);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("needs n >= 2f + 3 = 5") != std::string::npos);
    CHECK(s.message().find("got n = 4") != std::string::npos);
    UpdateSet five = random_updates(rng, 5, 10);
    CHECK_OK(aggregate(five.updates, config, out));
    config.byzantine_f = 0;
    UpdateSet three = random_updates(rng, 3, 10);
    CHECK_OK(aggregate(three.updates, config, out));
    UpdateSet two = random_updates(rng, 2, 10);
    CHECK_CODE(aggregate(two.updates, config, out), StatusCode::kInvalidArgument);
  }
  AggregatorConfig multi = config_of(AggregatorKind::kMultiKrum);
  multi.multi_krum_m = 6;
  UpdateSet five = random_updates(rng, 5, 10);
  std::vector<float> out(10);
  CHECK_CODE(aggregate(five.updates, multi, out), StatusCode::kInvalidArgument);
  multi.multi_krum_m = 5;
  CHECK_OK(aggregate(five.updates, multi, out));
}

TEST_CASE("aggregate rejects malformed input sets") {
  Rng rng(testing::test_seed() ^ 9);
  std::vector<float> out(8);
  const AggregatorConfig fedavg = config_of(AggregatorKind::kFedAvg);
  CHECK_CODE(aggregate({}, fedavg, out), StatusCode::kInvalidArgument);

  UpdateSet set = random_updates(rng, 3, 8);
  std::vector<float> wrong_out(7);
  CHECK_CODE(aggregate(set.updates, fedavg, wrong_out), StatusCode::kInvalidArgument);

  UpdateSet mixed = random_updates(rng, 3, 8);
  mixed.add(NodeId::from_u64(1), std::vector<float>(9, 0.0f), 1.0);
  CHECK_CODE(aggregate(mixed.updates, fedavg, out), StatusCode::kInvalidArgument);

  for (double bad : {-1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    CAPTURE(bad);
    UpdateSet s = random_updates(rng, 3, 8);
    s.updates[1].weight = bad;
    CHECK_CODE(aggregate(s.updates, fedavg, out), StatusCode::kInvalidArgument);
  }
  UpdateSet zero = random_updates(rng, 3, 8);
  for (auto& u : zero.updates) u.weight = 0.0;
  for (AggregatorKind kind : {AggregatorKind::kFedAvg, AggregatorKind::kMedian}) {
    const Status s = aggregate(zero.updates, config_of(kind), out);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("total weight") != std::string::npos);
  }
  // A zero weight among others is fine.
  UpdateSet some_zero = random_updates(rng, 3, 8);
  some_zero.updates[0].weight = 0.0;
  CHECK_OK(aggregate(some_zero.updates, fedavg, out));

  UpdateSet dup = random_updates(rng, 2, 8);
  dup.add(dup.updates[0].author, std::vector<float>(8, 1.0f), 1.0);
  const Status s = aggregate(dup.updates, fedavg, out);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("two updates from") != std::string::npos);
}

TEST_CASE("robust aggregators reject non-finite values and fedavg propagates them") {
  Rng rng(testing::test_seed() ^ 10);
  for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    UpdateSet set = random_updates(rng, 7, 5000);
    set.values[3][4321] = bad;
    std::vector<float> out(5000);
    for (AggregatorKind kind : {AggregatorKind::kMedian, AggregatorKind::kTrimmedMean,
                                AggregatorKind::kKrum, AggregatorKind::kMultiKrum}) {
      CAPTURE(aggregator_kind_name(kind));
      const Status s = aggregate(set.updates, config_of(kind), out);
      CHECK(s.code() == StatusCode::kInvalidArgument);
      CHECK(s.message().find("value 4321 from") != std::string::npos);
    }
    REQUIRE_OK(aggregate(set.updates, config_of(AggregatorKind::kFedAvg), out));
    CHECK_FALSE(std::isfinite(out[4321]));
    CHECK(std::isfinite(out[4320]));
  }
}

TEST_CASE("aggregator config validation") {
  CHECK_OK(AggregatorConfig{}.validate());
  AggregatorConfig c;
  c.trim_beta = 0.51;
  CHECK_CODE(c.validate(), StatusCode::kInvalidArgument);
  c.trim_beta = -0.01;
  CHECK_CODE(c.validate(), StatusCode::kInvalidArgument);
  c.trim_beta = std::nan("");
  CHECK_CODE(c.validate(), StatusCode::kInvalidArgument);
  c = AggregatorConfig{};
  c.byzantine_f = -1;
  CHECK_CODE(c.validate(), StatusCode::kInvalidArgument);
  c = AggregatorConfig{};
  c.multi_krum_m = -1;
  CHECK_CODE(c.validate(), StatusCode::kInvalidArgument);
  // aggregate() validates too.
  std::vector<float> values(4, 1.0f);
  std::vector<WeightedUpdate> one = {{NodeId::from_u64(1), values, 1.0}};
  std::vector<float> out(4);
  CHECK_CODE(aggregate(one, c, out), StatusCode::kInvalidArgument);
}

// --- specifications ----------------------------------------------------------------------------

TEST_CASE("parse_aggregator reads every form and its defaults") {
  struct Row {
    const char* spec;
    AggregatorKind kind;
    double beta;
    int f;
    int m;
    const char* canonical;
  };
  for (const Row& row : {
           Row{"fedavg", AggregatorKind::kFedAvg, 0.1, 1, 0, "fedavg"},
           Row{"median", AggregatorKind::kMedian, 0.1, 1, 0, "median"},
           Row{"trimmed-mean", AggregatorKind::kTrimmedMean, 0.1, 1, 0, "trimmed-mean:0.1"},
           Row{"trimmed-mean:0.25", AggregatorKind::kTrimmedMean, 0.25, 1, 0, "trimmed-mean:0.25"},
           Row{"trimmed-mean:0", AggregatorKind::kTrimmedMean, 0.0, 1, 0, "trimmed-mean:0"},
           Row{"trimmed-mean:0.5", AggregatorKind::kTrimmedMean, 0.5, 1, 0, "trimmed-mean:0.5"},
           Row{"krum", AggregatorKind::kKrum, 0.1, 1, 0, "krum:1"},
           Row{"krum:3", AggregatorKind::kKrum, 0.1, 3, 0, "krum:3"},
           Row{"krum:0", AggregatorKind::kKrum, 0.1, 0, 0, "krum:0"},
           Row{"multi-krum", AggregatorKind::kMultiKrum, 0.1, 1, 0, "multi-krum:1:0"},
           Row{"multi-krum:2", AggregatorKind::kMultiKrum, 0.1, 2, 0, "multi-krum:2:0"},
           Row{"multi-krum:2:5", AggregatorKind::kMultiKrum, 0.1, 2, 5, "multi-krum:2:5"},
       }) {
    CAPTURE(row.spec);
    const Result<AggregatorConfig> parsed = parse_aggregator(row.spec);
    REQUIRE_OK(parsed);
    CHECK(parsed->kind == row.kind);
    CHECK(parsed->trim_beta == row.beta);
    CHECK(parsed->byzantine_f == row.f);
    CHECK(parsed->multi_krum_m == row.m);
    CHECK(aggregator_name(*parsed) == row.canonical);
    const Result<AggregatorConfig> again = parse_aggregator(aggregator_name(*parsed));
    REQUIRE_OK(again);
    CHECK(*again == *parsed);
  }
}

TEST_CASE("parse_aggregator rejects malformed specifications with the accepted forms") {
  for (const char* spec :
       {"", "FedAvg", "fedavg:1", "mean", "median:", "median:0.5", "trimmed-mean:",
        "trimmed-mean:0.6", "trimmed-mean:-0.1", "trimmed-mean:abc", "trimmed-mean:0.1x",
        "trimmed-mean:0.1:2", "trimmed-mean:nan", "trimmed-mean:inf", "krum:", "krum:-1",
        "krum:+1", "krum:1.5", "krum:1:2", "krum:99999999999", "multi-krum:1:", "multi-krum:1:-2",
        "multi-krum:1:2:3", "multi-krum::", " krum", "krum "}) {
    CAPTURE(spec);
    const Result<AggregatorConfig> parsed = parse_aggregator(spec);
    CHECK_CODE(parsed, StatusCode::kInvalidArgument);
    CHECK(parsed.status().message().find("multi-krum[:F[:M]]") != std::string::npos);
  }
}

}  // namespace
}  // namespace starling::federated
