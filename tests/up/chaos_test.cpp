// The chaos plan of `starling-sim up`: the forms it accepts, time ordering, and one clear
// error per kind of mistake (syntax, unknown kind, bad node, bad time, durations where they do
// not belong) and per impossible plan (a node that does not exist, a restart of a running node,
// faults on a stopped or paused node).
#include <doctest/doctest.h>

#include "sim/up/chaos.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling::up {
namespace {

using namespace std::chrono_literals;

std::string parse_error(const std::string& text) {
  auto plan = parse_chaos(text);
  REQUIRE_FALSE(plan.is_ok());
  CHECK(plan.status().code() == StatusCode::kInvalidArgument);
  return plan.status().message();
}

std::string plan_error(const std::string& text, std::size_t nodes) {
  auto plan = parse_chaos(text);
  REQUIRE_OK(plan);
  Status s = validate_chaos(*plan, nodes);
  REQUIRE_FALSE(s.is_ok());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  return s.message();
}

TEST_CASE("the issue's example parses into four timed events in time order") {
  auto plan = parse_chaos("restart:2@90s,kill:2@30s, pause:1@60s:10s,term:0@2m");
  REQUIRE_OK(plan);
  REQUIRE(plan->size() == 4);
  CHECK((*plan)[0] == ChaosEvent{ChaosKind::kKill, 2, 30s, {}});
  CHECK((*plan)[1] == ChaosEvent{ChaosKind::kPause, 1, 60s, 10s});
  CHECK((*plan)[2] == ChaosEvent{ChaosKind::kRestart, 2, 90s, {}});
  CHECK((*plan)[3] == ChaosEvent{ChaosKind::kTerm, 0, 120s, {}});
  CHECK((*plan)[1].to_string() == "pause:1@60s:10s");
  CHECK((*plan)[3].to_string() == "term:0@120s");
  CHECK_OK(validate_chaos(*plan, 3));
}

TEST_CASE("an empty plan is no chaos; sub-second times work") {
  auto empty = parse_chaos("");
  REQUIRE_OK(empty);
  CHECK(empty->empty());
  auto blank = parse_chaos("  ");
  REQUIRE_OK(blank);
  CHECK(blank->empty());
  auto quick = parse_chaos("kill:0@1500ms");
  REQUIRE_OK(quick);
  CHECK((*quick)[0].at == 1500ms);
}

TEST_CASE("malformed items are refused with a message that quotes them") {
  CHECK(parse_error("kill").find("expected KIND:NODE@TIME") != std::string::npos);
  CHECK(parse_error("kill@3:30s").find("expected KIND:NODE@TIME") != std::string::npos);
  CHECK(parse_error("explode:1@5s").find("unknown kind 'explode'") != std::string::npos);
  CHECK(parse_error("kill:x@5s").find("0-based index") != std::string::npos);
  CHECK(parse_error("kill:-1@5s").find("0-based index") != std::string::npos);
  CHECK(parse_error("kill:1@").find("time ''") != std::string::npos);
  CHECK(parse_error("kill:1@30").find("time '30'") != std::string::npos);  // a unit is required
  CHECK(parse_error("pause:1@30s").find("pause needs a duration") != std::string::npos);
  CHECK(parse_error("pause:1@30s:0s").find("must be positive") != std::string::npos);
  CHECK(parse_error("pause:1@30s:soon").find("duration 'soon'") != std::string::npos);
  CHECK(parse_error("kill:1@30s:5s").find("only pause takes a duration") != std::string::npos);
  CHECK(parse_error("kill:1@5s,,kill:2@6s").find("empty item") != std::string::npos);
  CHECK(parse_error("kill:1@5s,").find("empty item") != std::string::npos);
  CHECK(parse_error("kill:1@5s,boom").find("'boom'") != std::string::npos);
}

TEST_CASE("plans that cannot happen are refused against the swarm's size") {
  CHECK(plan_error("kill:3@5s", 3).find("node 3 does not exist (nodes are 0 to 2)") !=
        std::string::npos);
  CHECK(plan_error("restart:1@5s", 3).find("kill or term it before a restart") !=
        std::string::npos);
  CHECK(plan_error("kill:1@5s,kill:1@9s", 3).find("is not running then") != std::string::npos);
  CHECK(plan_error("term:1@5s,pause:1@9s:1s", 3).find("is not running then") !=
        std::string::npos);
  CHECK(plan_error("pause:1@5s:10s,kill:1@9s", 3).find("still paused then (until 15s)") !=
        std::string::npos);
}

TEST_CASE("plans that can happen pass: kill then restart, pauses back to back, term then restart") {
  for (const char* text : {"kill:1@5s,restart:1@20s,kill:1@40s", "pause:0@5s:5s,pause:0@10s:5s",
                           "term:2@1s,restart:2@2s", "kill:0@5s,kill:1@5s,kill:2@5s"}) {
    INFO(text);
    auto plan = parse_chaos(text);
    REQUIRE_OK(plan);
    CHECK_OK(validate_chaos(*plan, 3));
  }
}

}  // namespace
}  // namespace starling::up
