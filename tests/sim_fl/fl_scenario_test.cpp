// Tests of the simulator's federated-learning scenario on small slices of Fashion-MNIST (a few
// seconds in all): the same seed gives the same run; the swarm learns; sign-flipping nodes
// wreck FedAvg but not the median; int8 updates are 4x smaller for the same accuracy.
#include <doctest/doctest.h>

#include <chrono>
#include <optional>

#include "federated/data/idx.hpp"
#include "sim/fl/fl_scenario.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"

namespace starling::sim {
namespace {

const federated::FashionMnist* data() {
  static const std::optional<federated::FashionMnist> loaded = [] {
    auto d = federated::load_fashion_mnist();
    return d ? std::optional(std::move(*d)) : std::nullopt;
  }();
  return loaded ? &*loaded : nullptr;
}

double wall() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

FlScenarioConfig small(std::uint64_t seed) {
  FlScenarioConfig c;
  c.nodes = 5;
  c.seed = seed;
  c.model = "mlp";
  c.rounds = 4;
  c.partition = "iid";
  c.train_rows = 5000;
  c.eval_rows = 500;
  c.train.learning_rate = 0.05;
  return c;
}

FlReport run(const FlScenarioConfig& c) {
  auto report = run_fl_scenario(c, data()->train, data()->test, nullptr, wall);
  REQUIRE_OK(report);
  return *report;
}

#define SKIP_WITHOUT_DATA()                                                      \
  if (data() == nullptr) {                                                      \
    MESSAGE("skipped: Fashion-MNIST is not installed (dataset-fashion-mnist)"); \
    return;                                                                     \
  }

TEST_CASE("a federated run is a function of its seed") {
  SKIP_WITHOUT_DATA();
  const std::uint64_t seed = testing::test_seed();
  INFO("seed " << seed);
  FlScenarioConfig c = small(seed);
  c.rounds = 2;
  const FlReport a = run(c);
  const FlReport b = run(c);
  CHECK(a.trace_hash == b.trace_hash);
  CHECK(a.accuracy == b.accuracy);
  c.seed = seed + 1;
  CHECK(run(c).trace_hash != a.trace_hash);
}

TEST_CASE("five nodes learn together and beat chance by far") {
  SKIP_WITHOUT_DATA();
  const FlReport r = run(small(testing::test_seed()));
  INFO("accuracy " << r.accuracy);
  CHECK(r.rounds == 4);
  CHECK(r.accuracy > 0.7);
  CHECK(r.min_accuracy == doctest::Approx(r.accuracy));  // sync FedAvg: every node same model
  CHECK(r.updates_accepted == 4 * 5 * 4);
  CHECK(r.updates_rejected == 0);
  CHECK(r.history.size() == 4);
}

TEST_CASE("sign-flipping nodes wreck FedAvg but not the median") {
  SKIP_WITHOUT_DATA();
  FlScenarioConfig c = small(testing::test_seed());
  c.nodes = 7;
  c.byzantine = 2;
  c.byzantine_kind = ByzantineKind::kSignFlip;
  const FlReport fedavg = run(c);
  c.aggregator = "median";
  const FlReport median = run(c);
  INFO("fedavg " << fedavg.accuracy << ", median " << median.accuracy);
  CHECK(median.accuracy > 0.65);
  CHECK(median.accuracy > fedavg.accuracy + 0.2);
}

TEST_CASE("int8 updates are 4x smaller than float32 for about the same accuracy") {
  SKIP_WITHOUT_DATA();
  FlScenarioConfig c = small(testing::test_seed());
  const FlReport f32 = run(c);
  c.codec = "int8";
  const FlReport i8 = run(c);
  INFO("float32 " << f32.accuracy << ", int8 " << i8.accuracy);
  CHECK(f32.bytes_per_round_per_node / i8.bytes_per_round_per_node >= 3.9);
  CHECK(i8.accuracy > f32.accuracy - 0.02);
}

TEST_CASE("bad scenario settings are refused by name") {
  FlScenarioConfig c = small(1);
  c.model = "resnet";
  CHECK(c.validate().message().find("--model") != std::string::npos);
  c = small(1);
  c.byzantine = c.nodes;
  CHECK(c.validate().message().find("--byzantine") != std::string::npos);
  c = small(1);
  c.aggregator = "mean";
  CHECK_FALSE(c.validate().is_ok());
}

}  // namespace
}  // namespace starling::sim

namespace starling::sim {
namespace {

TEST_CASE("the asynchronous mode learns without round barriers") {
  if (data() == nullptr) {
    MESSAGE("skipped: Fashion-MNIST is not installed (dataset-fashion-mnist)");
    return;
  }
  FlScenarioConfig c = small(testing::test_seed());
  c.mode = "async";
  const FlReport r = run(c);
  INFO("accuracy " << r.accuracy);
  CHECK(r.rounds == 4);
  CHECK(r.accuracy > 0.6);
  CHECK(r.updates_accepted > 0);
}

}  // namespace
}  // namespace starling::sim
