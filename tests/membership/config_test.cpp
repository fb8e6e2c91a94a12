// Table tests for the membership timing arithmetic and profile validation.
#include <doctest/doctest.h>

#include "agent/membership/config.hpp"

using namespace starling;
using namespace starling::membership;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("suspicion bounds grow with log10 of the swarm size (lan profile)") {
  const Config c = Config::lan();
  struct Row { std::size_t n; Duration min; };
  for (const Row& row : {Row{1, seconds(4)}, Row{5, seconds(4)}, Row{10, seconds(4)},
                         Row{100, seconds(8)}, Row{1000, seconds(12)}}) {
    INFO("n=" << row.n);
    const SuspicionBounds b = suspicion_bounds(c, row.n);
    CHECK(b.min == row.min);
    CHECK(b.max == row.min * 6);
    CHECK(b.expected_confirmations == 2);
  }
}

TEST_CASE("suspicion timeout shrinks with confirmations to the minimum (Lifeguard)") {
  const SuspicionBounds b{seconds(4), seconds(24), 2};
  CHECK(suspicion_timeout(b, 0) == seconds(24));
  // 24 - 20 * log(2)/log(3) = 11.381 s, floored to whole milliseconds
  CHECK(suspicion_timeout(b, 1) == milliseconds(11381));
  CHECK(suspicion_timeout(b, 2) == seconds(4));
  CHECK(suspicion_timeout(b, 10) == seconds(4));
  // No confirmations expected (multiplier <= 2): the minimum at once.
  CHECK(suspicion_timeout(SuspicionBounds{seconds(2), seconds(6), 0}, 0) == seconds(2));
}

TEST_CASE("retransmit limit is multiplier * ceil(log10(n + 1))") {
  const Config c = Config::lan();
  struct Row { std::size_t n; int limit; };
  for (const Row& row : {Row{1, 4}, Row{9, 4}, Row{10, 8}, Row{99, 8}, Row{100, 12},
                         Row{1000, 16}, Row{5000, 16}}) {
    INFO("n=" << row.n);
    CHECK(retransmit_limit(c, row.n) == row.limit);
  }
}

TEST_CASE("push-pull interval scales beyond 32 members") {
  const Config c = Config::lan();
  struct Row { std::size_t n; Duration interval; };
  for (const Row& row : {Row{2, seconds(30)}, Row{32, seconds(30)}, Row{33, seconds(60)},
                         Row{64, seconds(60)}, Row{65, seconds(90)}, Row{1000, seconds(180)}}) {
    INFO("n=" << row.n);
    CHECK(push_pull_interval(c, row.n) == row.interval);
  }
}

TEST_CASE("profiles validate and unknown profiles are rejected") {
  CHECK(Config::lan().validate().is_ok());
  CHECK(Config::tuned().validate().is_ok());
  CHECK(Config::from_profile("lan")->probe_interval == seconds(1));
  CHECK(Config::from_profile("default")->probe_interval == milliseconds(400));
  CHECK(Config::from_profile("wan").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("validate names the first bad field") {
  Config c = Config::lan();
  c.probe_timeout = c.probe_interval;
  const Status s = c.validate();
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("probe_timeout") != std::string::npos);
  c = Config::lan();
  c.indirect_checks = -1;
  CHECK(c.validate().message().find("indirect_checks") != std::string::npos);
}
