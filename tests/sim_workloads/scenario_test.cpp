// Seeded consensus-and-workloads scenarios (sim/workloads): random faults over fixed seeds with
// no invariant violated, determinism of the trace, scripted failures (a leader crash, a
// partition that isolates the leader with a minority, a restart in a 3-node cluster), and the
// canaries the outside checker must catch (owners that skip the lease check; nodes that assume
// perfect clocks while theirs drift by 5%), and regressions the sweeps found. Every failure
// prints the command that replays it.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "sim/workloads/scenario.hpp"
#include "tests/common/test_support.hpp"

using namespace starling;
using namespace starling::sim;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

WorkloadScenarioConfig random_faults(std::uint64_t seed) {
  WorkloadScenarioConfig c;
  c.seed = seed;
  return c;
}

// Scripted runs: no random faults, clocks still drift.
WorkloadScenarioConfig scripted(std::uint64_t seed, std::size_t nodes = 5) {
  WorkloadScenarioConfig c;
  c.seed = seed;
  c.nodes = nodes;
  c.faults = *parse_workload_faults("drift");
  return c;
}

std::string violations_text(const std::vector<std::string>& violations) {
  std::string out;
  for (const auto& v : violations) out += "violation: " + v + "\n";
  return out;
}

bool any_violation_starts_with(const std::vector<std::string>& violations,
                               const std::string& prefix) {
  return std::any_of(violations.begin(), violations.end(),
                     [&](const std::string& v) { return v.rfind(prefix, 0) == 0; });
}

// Runs until every replica is run by some node (at most `limit`).
bool all_running(WorkloadScenario& s, Duration limit) {
  return s.run_until(
      [&] {
        return std::all_of(s.replicas().begin(), s.replicas().end(),
                           [&](const ReplicaKey& key) { return s.runner_of(key).has_value(); });
      },
      limit);
}

// Every replica is run by an up node outside `excluded`.
bool all_running_outside(WorkloadScenario& s, const std::vector<NodeIndex>& excluded) {
  return std::all_of(s.replicas().begin(), s.replicas().end(), [&](const ReplicaKey& key) {
    const auto runner = s.runner_of(key);
    return runner && s.is_up(*runner) &&
           std::find(excluded.begin(), excluded.end(), *runner) == excluded.end();
  });
}

// The real time by which an owner cut off at `cut` must have stopped: its lease was anchored at
// most at `cut` and lasts `lease` on a clock that runs at least 1 - e as fast as real time.
Instant lease_deadline(const WorkloadScenarioConfig& c, Instant cut) {
  const double lease_s = to_seconds(c.controller_options().scheduler.lease);
  const double e = c.controller_options().scheduler.clock_rate_error;
  return cut + std::chrono::duration_cast<Duration>(
                   std::chrono::duration<double>(lease_s / (1 - e))) + milliseconds(1);
}

// Cuts the leader and one other node off from the other three for 20 s: the minority commits
// nothing and its owners stop within one lease; the majority elects a leader and runs every
// replica within the bound.
void check_minority_partition(std::uint64_t seed) {
  const WorkloadScenarioConfig c = scripted(seed);
  INFO("seed " << c.seed << " (scripted; base run: " << c.command_line() << ")");
  WorkloadScenario s(c);
  REQUIRE(all_running(s, seconds(15)));
  s.run_for(seconds(3));
  const auto leader = s.leader();
  REQUIRE(leader);
  const NodeIndex buddy = (*leader + 1) % 5;
  const std::vector<NodeIndex> minority{*leader, buddy};
  std::uint64_t minority_commit = 0;
  for (NodeIndex n : minority) {
    minority_commit = std::max(minority_commit, s.controller(n)->core()->commit_index());
  }
  s.partition({minority});
  const Instant cut = s.now();
  const Instant stop_by = lease_deadline(c, cut);
  CHECK(s.run_until([&] { return all_running_outside(s, minority); }, c.liveness_bound));
  s.run_for(seconds(12));
  for (NodeIndex n : minority) {
    INFO("minority node " << n);
    CHECK(s.controller(n)->core()->commit_index() == minority_commit);
  }
  // Every lease interval of a minority node ended by one lease after the cut.
  std::size_t intervals_at_cut = 0;
  for (const auto& [key, list] : s.checker().lease_intervals()) {
    for (const LeaseInterval& interval : list) {
      if (std::find(minority.begin(), minority.end(), interval.node) == minority.end()) continue;
      INFO(key.first << "/" << key.second << " on node " << interval.node);
      CHECK(interval.start < cut);  // nothing new starts in the minority
      if (interval.open || interval.end > cut) {
        ++intervals_at_cut;
        CHECK_FALSE(interval.open);
        CHECK(interval.end <= stop_by);
      }
    }
  }
  MESSAGE(intervals_at_cut << " replicas were running in the minority at the cut");
  s.heal();
  const WorkloadReport r = s.finish();
  INFO(violations_text(r.violations));
  CHECK(r.violation_count == 0);
  CHECK(r.streams_complete == c.workloads * c.replicas);
}

}  // namespace

TEST_CASE("30 seeds of random faults on 5 nodes violate no invariant and finish every stream") {
  const std::uint64_t base = starling::testing::test_seed();
  std::uint64_t failovers = 0, crashes = 0, partitions = 0, duplicates = 0;
  for (std::uint64_t i = 0; i < 30; ++i) {
    const WorkloadScenarioConfig c = random_faults(base + i);
    const WorkloadReport r = run_workload_scenario(c, nullptr, nullptr);
    INFO("reproduce: " << c.command_line());
    INFO(violations_text(r.violations));
    CHECK(r.violation_count == 0);
    CHECK(r.streams_complete == c.workloads * c.replicas);
    failovers += r.failovers;
    crashes += r.crashes;
    partitions += r.partitions;
    duplicates += r.duplicate_rows;
  }
  MESSAGE("30 seeds: " << crashes << " crashes, " << partitions << " partitions, " << failovers
                       << " failovers, " << duplicates << " duplicate ledger rows");
  CHECK(crashes > 0);
  CHECK(partitions > 0);
  CHECK(failovers > 0);
}

TEST_CASE("random faults on 7 nodes (5 voters, 2 learners) and on 3 nodes") {
  const std::uint64_t base = starling::testing::test_seed() + 1000;
  for (std::size_t nodes : {std::size_t{3}, std::size_t{7}}) {
    for (std::uint64_t i = 0; i < 5; ++i) {
      WorkloadScenarioConfig c = random_faults(base + i);
      c.nodes = nodes;
      const WorkloadReport r = run_workload_scenario(c, nullptr, nullptr);
      INFO("reproduce: " << c.command_line());
      INFO(violations_text(r.violations));
      CHECK(r.violation_count == 0);
    }
  }
}

TEST_CASE("determinism: the same seed gives the same trace hash, another seed another") {
  const WorkloadScenarioConfig c = random_faults(starling::testing::test_seed());
  INFO("reproduce: " << c.command_line());
  const WorkloadReport a = run_workload_scenario(c, nullptr, nullptr);
  const WorkloadReport b = run_workload_scenario(c, nullptr, nullptr);
  CHECK(a.trace_hash == b.trace_hash);
  CHECK(a.events == b.events);
  CHECK(a.commit_index == b.commit_index);
  CHECK(a.ledger_rows == b.ledger_rows);
  WorkloadScenarioConfig other = c;
  other.seed = c.seed + 1;
  CHECK(run_workload_scenario(other, nullptr, nullptr).trace_hash != a.trace_hash);
}

TEST_CASE("a leader crash: a new leader, and every replica runs on a live node within the bound") {
  const WorkloadScenarioConfig c = scripted(starling::testing::test_seed());
  INFO("seed " << c.seed << " (scripted; base run: " << c.command_line() << ")");
  WorkloadScenario s(c);
  REQUIRE(all_running(s, seconds(15)));
  s.run_for(seconds(3));
  const auto old_leader = s.leader();
  REQUIRE(old_leader);
  s.crash(*old_leader);
  const Instant crashed_at = s.now();
  CHECK(s.run_until(
      [&] {
        const auto leader = s.leader();
        return leader && *leader != *old_leader && all_running_outside(s, {*old_leader});
      },
      c.liveness_bound));
  MESSAGE("new leader and every replica running again "
          << to_seconds(s.now() - crashed_at) << " s after the leader crashed");
  s.run_for(seconds(5));
  s.restart(*old_leader);
  const WorkloadReport r = s.finish();
  INFO(violations_text(r.violations));
  CHECK(r.violation_count == 0);
  CHECK(r.streams_complete == c.workloads * c.replicas);
}

TEST_CASE("a partition isolating the leader with a minority: the minority commits nothing and "
          "its owners stop within one lease") {
  check_minority_partition(starling::testing::test_seed() + 4);
}

// Found with this seed: the majority's new leader, whose membership view still showed one node
// of the minority, shrank the voters by id order and removed a live voter of the majority
// first; the 4 voters left had only 2 reachable. Voters are now judged by what the leader hears.
TEST_CASE("regression: shrinking the voters keeps a reachable quorum (seed 20261122)") {
  check_minority_partition(20261122);
}

TEST_CASE("a 3-node cluster: a node that restarts releases its replicas and never resumes them") {
  WorkloadScenarioConfig c = scripted(starling::testing::test_seed() + 2, 3);
  c.replicas = 1;
  INFO("seed " << c.seed << " (scripted; base run: " << c.command_line() << ")");
  WorkloadScenario s(c);
  REQUIRE(all_running(s, seconds(15)));
  s.run_for(seconds(3));
  // The node running the most replicas restarts before membership notices it was gone.
  std::map<NodeIndex, std::size_t> load;
  for (const ReplicaKey& key : s.replicas()) ++load[*s.runner_of(key)];
  const NodeIndex victim = std::max_element(load.begin(), load.end(), [](auto& a, auto& b) {
                             return a.second < b.second;
                           })->first;
  std::map<ReplicaKey, std::uint64_t> epochs_before;
  for (const auto& a : s.controller(victim)->table().owned_by(s.id(victim))) {
    epochs_before[{a.workload, a.replica}] = a.epoch;
  }
  REQUIRE_FALSE(epochs_before.empty());
  const std::uint64_t releases_before = s.checker().committed().releases;
  s.crash(victim);
  const Instant crashed_at = s.now();
  s.run_for(milliseconds(300));
  s.restart(victim);
  CHECK(s.run_until(
      [&] { return s.checker().committed().releases >= releases_before + epochs_before.size(); },
      seconds(5)));
  CHECK(all_running(s, c.liveness_bound));
  for (const auto& [key, list] : s.checker().lease_intervals()) {
    for (const LeaseInterval& interval : list) {
      if (interval.node != victim || interval.start < crashed_at) continue;
      auto it = epochs_before.find(key);
      INFO(key.first << "/" << key.second);
      CHECK((it == epochs_before.end() || interval.epoch > it->second));
    }
  }
  const WorkloadReport r = s.finish();
  INFO(violations_text(r.violations));
  CHECK(r.violation_count == 0);
  CHECK(r.streams_complete == c.workloads * c.replicas);
}

TEST_CASE("canary: owners that skip the lease check are caught when an owner is cut off") {
  WorkloadScenarioConfig c = scripted(starling::testing::test_seed() + 3);
  c.canary_skip_lease = true;
  INFO("seed " << c.seed << " (scripted; base run: " << c.command_line() << ")");
  WorkloadScenario s(c);
  REQUIRE(all_running(s, seconds(15)));
  s.run_for(seconds(3));
  // Cut off the owner of the first replica: the majority moves it while it keeps running.
  const NodeIndex owner = *s.runner_of(s.replicas().front());
  s.partition({{owner}});
  s.run_for(seconds(15));
  s.heal();
  const WorkloadReport r = s.finish();
  MESSAGE(violations_text(r.violations));
  CHECK(any_violation_starts_with(r.violations, "W8:"));
}

TEST_CASE("canary: skip-lease is caught under random faults, on the first of a few seeds") {
  const std::uint64_t base = starling::testing::test_seed();
  std::uint64_t k = 0;
  bool caught = false;
  for (; k < 10 && !caught; ++k) {
    WorkloadScenarioConfig c = random_faults(base + k);
    c.canary_skip_lease = true;
    caught = any_violation_starts_with(run_workload_scenario(c, nullptr, nullptr).violations,
                                       "W8:");
  }
  MESSAGE("caught after " << k << " seed(s)");
  CHECK(caught);
}

TEST_CASE("weak canary: nodes that assume perfect clocks while theirs drift by 5% are caught") {
  const std::uint64_t base = starling::testing::test_seed();
  std::uint64_t k = 0;
  bool caught = false;
  for (; k < 100 && !caught; ++k) {
    WorkloadScenarioConfig c = random_faults(base + k);
    c.assumed_clock_rate_error = 0;
    caught = any_violation_starts_with(run_workload_scenario(c, nullptr, nullptr).violations,
                                       "W8:");
  }
  MESSAGE("caught after " << k << " seed(s)");
  CHECK(caught);
}

// Founders reach the end of their settle period at different times. When the cluster the first
// one persisted reaches the others at once (no gossip delay), they must still join it (it was
// a deadlock before the controller founded with an advertised cluster of its own founders).
TEST_CASE("bootstrap: founders that see the first founder's cluster at once still found it") {
  for (std::uint64_t k = 0; k < 5; ++k) {
    WorkloadScenarioConfig c = scripted(starling::testing::test_seed() + k);
    c.oracle.alive_delay_min = Duration::zero();
    c.oracle.alive_delay_max = Duration::zero();
    INFO("seed " << c.seed << " (scripted, instant advertisement)");
    WorkloadScenario s(c);
    CHECK(s.run_until([&] { return s.leader().has_value(); }, seconds(20)));
    CHECK(all_running(s, seconds(20)));
    INFO(violations_text(s.checker().violations()));
    CHECK(s.checker().violation_count() == 0);
  }
}

// Found by the 10,000-seed sweep: a replica moved twice under one leader (A -> B, B cut off
// before its start delay ended, then B -> C) got a start delay computed from B's renewals only,
// so C started while A's lease still ran. The controller now floors the delay by what remains
// of its earlier Assign of the replica.
TEST_CASE("regression: a replica moved twice under one leader waits for both leases") {
  for (std::uint64_t seed : {3662, 5722, 5756, 7888}) {
    const WorkloadScenarioConfig c = random_faults(seed);
    const WorkloadReport r = run_workload_scenario(c, nullptr, nullptr);
    INFO("reproduce: " << c.command_line());
    INFO(violations_text(r.violations));
    CHECK(r.violation_count == 0);
    CHECK(r.timer_spins == 0);
  }
}
