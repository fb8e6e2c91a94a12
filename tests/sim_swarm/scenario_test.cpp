// Seeded simulation scenarios of the membership protocol: random faults over many seeds with
// no invariant violated, the Lifeguard pause test, partition healing, determinism, and the
// canary (refutation disabled) that the checker must catch. Every failure prints the command
// that replays it.
#include <doctest/doctest.h>

#include <chrono>

#include "sim/swarm/scenario.hpp"
#include "tests/common/test_support.hpp"

using namespace starling;
using namespace starling::sim;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

double no_wall_clock() { return 0; }

ScenarioReport run(const ScenarioConfig& config) {
  REQUIRE(config.validate().is_ok());
  return run_scenario(config, nullptr, no_wall_clock);
}

// Random faults on 64 nodes: crashes, restarts, pauses, loss, duplication, reordering and
// clock drift.
ScenarioConfig random_faults(std::uint64_t seed) {
  ScenarioConfig c;
  c.nodes = 64;
  c.duration = seconds(240);
  c.seed = seed;
  c.loss = 0.02;
  c.duplicate = 0.01;
  c.reorder = 0.05;
  c.drift_ppm = 10000;  // clocks 1% fast or slow
  c.latency = milliseconds(2);
  c.jitter = milliseconds(3);
  c.crashes = 4;
  c.restarts = 2;
  // The default profile declares a member dead after ~1.5 s of silence (its detection target);
  // it must survive pauses of 1 s. Longer pauses are the lan profile's case (test below).
  c.pauses = PauseSpec{2, seconds(1), seconds(30)};
  c.verify = VerifyMode::kSharedCache;
  return c;
}

}  // namespace

TEST_CASE("50 seeds x 64 nodes with random faults violate no invariant") {
  const std::uint64_t base = starling::testing::test_seed();
  for (std::uint64_t i = 0; i < 50; ++i) {
    const ScenarioConfig c = random_faults(base + i);
    const ScenarioReport r = run(c);
    INFO("reproduce: " << c.command_line());
    for (const auto& v : r.checker.violations) INFO("violation: " << v);
    CHECK(r.checker.violations.empty());
    CHECK(r.checker.crashes == 4);
    CHECK(r.checker.converge_s.has_value());
    CHECK(r.checker.false_positive_nodes == 0);
  }
}

namespace {

// 100 nodes for 300 s at 5% loss while 10 random nodes stop for `pause` every 30 s: no live
// node may be declared dead.
void check_lifeguard(const std::string& profile, Duration pause) {
  ScenarioConfig c;
  c.nodes = 100;
  c.duration = seconds(300);
  c.seed = starling::testing::test_seed();
  c.profile = profile;
  c.loss = 0.05;
  c.pauses = PauseSpec{10, pause, seconds(30)};
  c.verify = VerifyMode::kSharedCache;
  const ScenarioReport r = run(c);
  INFO("reproduce: " << c.command_line());
  CHECK(r.checker.violations.empty());
  CHECK(r.checker.false_positive_declarations == 0);
}

}  // namespace

TEST_CASE("Lifeguard: 5% loss and nodes paused 1 s every 30 s cause no false positive") {
  check_lifeguard("default", seconds(1));
}

TEST_CASE("Lifeguard with the lan profile: 5% loss and 2 s pauses cause no false positive") {
  check_lifeguard("lan", seconds(2));
}

TEST_CASE("after a 50/50 partition of 60 s heals, all views agree within 30 s") {
  ScenarioConfig c;
  c.nodes = 100;
  c.duration = seconds(240);
  c.seed = starling::testing::test_seed();
  c.partition = PartitionSpec{seconds(60), seconds(60), 0.5};
  c.verify = VerifyMode::kSharedCache;
  const ScenarioReport r = run(c);
  INFO("reproduce: " << c.command_line());
  CHECK(r.checker.violations.empty());
  REQUIRE(r.checker.converge_s.has_value());
  CHECK(*r.checker.converge_s <= 30.0);
  // Deaths across the partition are expected; none may be judged from the subject's own side.
  CHECK(r.checker.false_positive_nodes == 0);
}

TEST_CASE("the same seed gives the same trace hash; another seed another") {
  ScenarioConfig c = random_faults(starling::testing::test_seed());
  c.duration = seconds(120);
  const auto a = run(c);
  const auto b = run(c);
  CHECK(a.trace_hash == b.trace_hash);
  CHECK(a.messages == b.messages);
  c.seed += 1;
  CHECK(run(c).trace_hash != a.trace_hash);
}

TEST_CASE("canary: with refutation disabled the checker reports violations") {
  ScenarioConfig c;
  c.nodes = 32;
  c.duration = seconds(300);
  c.seed = starling::testing::test_seed();
  c.pauses = PauseSpec{4, seconds(8), seconds(30)};  // long enough to be suspected
  c.canary_disable_refutation = true;
  c.verify = VerifyMode::kSharedCache;
  const ScenarioReport r = run(c);
  INFO("reproduce: " << c.command_line());
  CHECK(!r.checker.violations.empty());
  CHECK(r.checker.false_positive_nodes > 0);
  // The same scenario with refutation is healthy: the canary fails for the right reason.
  c.canary_disable_refutation = false;
  const ScenarioReport healthy = run(c);
  CHECK(healthy.checker.violations.empty());
}

TEST_CASE("full signature verification gives the same run as the shared cache") {
  ScenarioConfig c = random_faults(starling::testing::test_seed());
  c.nodes = 16;
  c.duration = seconds(90);
  c.crashes = 2;
  c.restarts = 1;
  const auto cached = run(c);
  c.verify = VerifyMode::kFull;
  const auto full = run(c);
  CHECK(full.trace_hash == cached.trace_hash);
  CHECK(full.verifications > cached.verifications);
}
