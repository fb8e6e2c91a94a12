// The Recorder of `starling-sim up`, fed with hand-made control API replies: accuracy is
// recorded once per evaluated round with its loss; the membership timeline follows the
// majority of answering observers and dates changes by their own clocks; a kill opens a
// failover for each workload the node owned, closed when the workload runs on a live node;
// traffic survives restarts; replies of the wrong shape are ignored.
#include <doctest/doctest.h>

#include "sim/up/recorder.hpp"

namespace starling::up {
namespace {

using nlohmann::json;

const std::string kA = std::string(32, 'a');
const std::string kB = std::string(32, 'b');
const std::string kC = std::string(32, 'c');
constexpr std::int64_t kZeroMs = 1'000'000;

Recorder three() {
  Recorder r({{"n0", kA, ""}, {"n1", kB, ""}, {"n2", kC, ""}}, kZeroMs);
  for (std::size_t i = 0; i < 3; ++i) r.on_started(i, 0, 100 + static_cast<int>(i));
  return r;
}

json member_entry(const std::string& id, const std::string& status, std::int64_t change_ms = 0,
                  json meta = json::object()) {
  return {{"id", id}, {"status", status}, {"meta", meta}, {"last_change_unix_ms", change_ms}};
}

// Every node sees everyone with `status_of_c` for n2 (n0 and n1 alive).
void all_see(Recorder& r, double t, const std::string& status_of_c, std::int64_t change_ms,
             std::vector<bool> answered) {
  for (std::size_t i = 0; i < 3; ++i) {
    if (!answered[i]) continue;
    r.on_members(i, t, json::array({member_entry(kA, "alive"), member_entry(kB, "alive"),
                                    member_entry(kC, status_of_c, change_ms)}));
  }
  r.end_poll(t, answered);
}

TEST_CASE("a round's accuracy is recorded once the agent published it, with the loss") {
  Recorder r = three();
  // Round 1 done but not evaluated yet: nothing recorded.
  r.on_model(0, 1.0,
             {{"round", 1}, {"accuracy", nullptr}, {"loss", nullptr}, {"state", "training"}});
  r.on_members(0, 1.0, json::array({member_entry(kA, "alive")}));
  // Evaluated: the member metadata names the round, the model reply has the details.
  r.on_model(0, 2.0, {{"round", 1}, {"accuracy", 0.71234}, {"loss", 0.9}, {"state", "waiting"}});
  r.on_members(0, 2.0, json::array({member_entry(kA, "alive", 0,
                                                 {{"fl.round", "1"}, {"fl.acc", "0.7123"}})}));
  // Seen again: no second entry.
  r.on_members(0, 2.5, json::array({member_entry(kA, "alive", 0,
                                                 {{"fl.round", "1"}, {"fl.acc", "0.7123"}})}));
  // Round 2 published while the model reply still showed another accuracy: loss unknown.
  r.on_members(0, 3.0, json::array({member_entry(kA, "alive", 0,
                                                 {{"fl.round", "2"}, {"fl.acc", "0.8000"}})}));
  const json report = r.to_json();
  REQUIRE(report["accuracy"].size() == 2);
  CHECK(report["accuracy"][0]["round"] == 1);
  CHECK(report["accuracy"][0]["accuracy"].get<double>() == doctest::Approx(0.71234));
  CHECK(report["accuracy"][0]["loss"].get<double>() == doctest::Approx(0.9));
  CHECK(report["accuracy"][1]["round"] == 2);
  CHECK(report["accuracy"][1]["accuracy"].get<double>() == doctest::Approx(0.8));
  CHECK(report["accuracy"][1]["loss"].is_null());
}

TEST_CASE("every round in the model history is recorded once, so a slow poll misses none") {
  Recorder r = three();
  auto eval = [](std::uint64_t round, double accuracy) {
    return json{{"round", round}, {"accuracy", accuracy}, {"loss", 1.0 / double(round)}};
  };
  // Two rounds finished between two polls: both are in the history.
  r.on_model(0, 1.0, {{"round", 2}, {"accuracy", 0.8}, {"loss", 0.5}, {"state", "training"},
                      {"history", json::array({eval(1, 0.7), eval(2, 0.8)})}});
  r.on_model(0, 1.5, {{"round", 3}, {"accuracy", 0.85}, {"loss", 0.3}, {"state", "training"},
                      {"history", json::array({eval(1, 0.7), eval(2, 0.8), eval(3, 0.85)})}});
  // The metadata path then sees nothing new.
  r.on_members(0, 2.0, json::array({member_entry(kA, "alive", 0,
                                                 {{"fl.round", "3"}, {"fl.acc", "0.8500"}})}));
  const json report = r.to_json();
  REQUIRE(report["accuracy"].size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(report["accuracy"][k]["round"] == k + 1);
    CHECK(report["accuracy"][k]["loss"].get<double>() == doctest::Approx(1.0 / double(k + 1)));
  }
  CHECK(report["accuracy"][1]["t"].get<double>() == 1.0);
  CHECK(r.training_done(3) == false);  // n1 and n2 have not reported
}

TEST_CASE("Byzantine agents are marked and left out of the progress accuracy") {
  Recorder r({{"n0", kA, ""}, {"n1", kB, ""}, {"n2", kC, "signflip"}}, kZeroMs);
  for (std::size_t i = 0; i < 3; ++i) r.on_started(i, 0, 100 + static_cast<int>(i));
  r.on_model(0, 1.0, {{"round", 1}, {"accuracy", 0.8}, {"state", "training"}});
  r.on_model(1, 1.0, {{"round", 1}, {"accuracy", 0.7}, {"state", "training"}});
  r.on_model(2, 1.0, {{"round", 1}, {"accuracy", 0.1}, {"state", "training"}});
  const Progress p = r.progress();
  REQUIRE(p.mean_accuracy);
  CHECK(*p.mean_accuracy == doctest::Approx(0.75));
  CHECK(*p.min_accuracy == doctest::Approx(0.7));
  const json nodes = r.to_json()["nodes"];
  CHECK(nodes[0]["byzantine"].is_null());
  CHECK(nodes[2]["byzantine"] == "signflip");
}

TEST_CASE("the timeline follows the majority of answering observers, dated by their clocks") {
  Recorder r = three();
  all_see(r, 0.5, "alive", kZeroMs - 3000, {true, true, true});
  // n2 killed: it no longer answers; n0 sees it suspect first, then both say dead.
  all_see(r, 5.0, "suspect", kZeroMs + 4200, {true, true, false});
  r.on_members(0, 6.0, json::array({member_entry(kC, "dead", kZeroMs + 5600)}));
  r.on_members(1, 6.0, json::array({member_entry(kC, "dead", kZeroMs + 5800)}));
  r.end_poll(6.0, {true, true, false});
  const json timeline = r.to_json()["membership"];
  REQUIRE(timeline.size() == 5);  // three alive, then n2 suspect and dead
  CHECK(timeline[0]["status"] == "alive");
  CHECK(timeline[0]["t"].get<double>() == 0.5);  // no change time given: the poll's
  CHECK(timeline[2]["t"].get<double>() == 0.0);  // a change before t = 0 is clamped
  CHECK(timeline[3]["node"] == 2);
  CHECK(timeline[3]["status"] == "suspect");
  CHECK(timeline[3]["t"].get<double>() == doctest::Approx(4.2));
  CHECK(timeline[4]["status"] == "dead");
  CHECK(timeline[4]["t"].get<double>() == doctest::Approx(5.8));  // when both agreed
  CHECK(timeline[4]["seen_by"] == 2);
  CHECK(timeline[4]["of"] == 2);
  auto events = r.take_events();
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().second == "n2 is dead (seen by 2 of 2)");
  CHECK(r.take_events().empty());
  CHECK(r.progress().alive == 2);
  CHECK_FALSE(r.membership_settled());  // n2 is dead but was never stopped
  r.set_running(2, false);
  CHECK(r.membership_settled());
}

TEST_CASE("a tie between observers shows the worse status") {
  Recorder r = three();
  r.on_members(0, 1.0, json::array({member_entry(kC, "alive")}));
  r.on_members(1, 1.0, json::array({member_entry(kC, "dead")}));
  r.end_poll(1.0, {true, true, false});
  const json timeline = r.to_json()["membership"];
  REQUIRE(timeline.size() == 1);
  CHECK(timeline[0]["status"] == "dead");
  CHECK(timeline[0]["seen_by"] == 1);
}

json table(const std::string& owner_of_s0, const std::string& state) {
  return {{"workloads", json::array({{{"name", "s0"}, {"replica", 0}, {"owner", owner_of_s0},
                                      {"state", state}, {"epoch", 1}},
                                     {{"name", "s1"}, {"replica", 0}, {"owner", kA},
                                      {"state", "running"}, {"epoch", 1}}})}};
}

TEST_CASE("a kill opens a failover per owned workload, closed when it runs on a live node") {
  Recorder r = three();
  r.on_workloads(1.0, table(kC, "running"));
  ChaosEvent kill{ChaosKind::kKill, 2, std::chrono::seconds(10), {}};
  r.set_running(2, false);
  r.on_chaos(10.0, kill, "");
  CHECK(r.progress().failovers_pending == 1);
  r.on_workloads(11.0, table(kC, "assigned"));  // the others still think n2 has it
  r.on_workloads(12.0, table(kB, "starting"));  // moved, not running yet
  CHECK(r.progress().failovers_pending == 1);
  r.on_workloads(13.5, table(kB, "running"));
  const Progress p = r.progress();
  CHECK(p.failovers_pending == 0);
  CHECK(p.failovers_done == 1);
  CHECK(p.workloads_running == 2);
  const json report = r.to_json();
  REQUIRE(report["failovers"].size() == 1);
  const json& f = report["failovers"][0];
  CHECK(f["workload"] == "s0");
  CHECK(f["from"] == 2);
  CHECK(f["to"] == 1);
  CHECK(f["cause"] == "kill");
  CHECK(f["duration_s"].get<double>() == doctest::Approx(3.5));
  // Reassignments: the first assignments, then n2 -> n1.
  CHECK(report["reassignments"].size() == 3);
  CHECK(report["reassignments"][2]["from"] == 2);
  CHECK(report["chaos"][0]["spec"] == "kill:2@10s");
}

TEST_CASE("a failover that never ended is reported with a null duration") {
  Recorder r = three();
  r.on_workloads(1.0, table(kC, "running"));
  r.set_running(2, false);
  r.on_chaos(2.0, {ChaosKind::kPause, 2, std::chrono::seconds(2), std::chrono::seconds(5)}, "");
  r.on_resumed(2, 7.0);
  r.on_workloads(8.0, table(kC, "running"));  // back on the paused node: not a failover
  const json f = r.to_json()["failovers"];
  REQUIRE(f.size() == 1);
  CHECK(f[0]["duration_s"].is_null());
  CHECK(f[0]["to"].is_null());
}

TEST_CASE("traffic is summed over restarts; training is done when every running node is") {
  Recorder r = three();
  auto status = [](std::uint64_t sent) {
    return json{{"traffic", {{"bytes_sent", sent}, {"bytes_received", sent / 2}}}};
  };
  r.on_status(1, 1.0, status(1000));
  r.on_status(1, 2.0, status(1500));
  r.on_status(1, 3.0, status(200));  // restarted
  CHECK(r.to_json()["nodes"][1]["bytes_sent"] == 1700);
  CHECK(r.to_json()["nodes"][1]["bytes_received"] == 850);
  CHECK(r.to_json()["nodes"][1]["pids"] == json::array({101}));

  auto published = [](std::uint64_t round) {
    return json::array({member_entry(kA, "alive", 0, {{"fl.round", std::to_string(round)},
                                                     {"fl.acc", "0.8000"}})});
  };
  r.on_model(0, 1.0, {{"round", 3}, {"state", "finished"}, {"accuracy", 0.8}, {"loss", 0.4}});
  r.on_members(0, 1.0, published(3));
  r.on_model(1, 1.0, {{"round", 3}, {"state", "finished"}});  // restarted after round 3
  r.on_model(2, 1.0, {{"round", 3}, {"state", "finished"}, {"accuracy", 0.7}});
  CHECK_FALSE(r.training_done(3));  // n2's last evaluation is not published yet
  r.set_running(2, false);  // killed: the others finish without it
  CHECK(r.training_done(3));
  r.on_model(0, 2.0, {{"state", "failed: out of memory"}});
  CHECK(r.learning_failure() == std::optional<std::string>("n0: failed: out of memory"));
}

TEST_CASE("replies of the wrong shape are ignored") {
  Recorder r = three();
  r.on_model(0, 1.0, json("nonsense"));
  r.on_model(0, 1.0, {{"round", "three"}, {"accuracy", "high"}});
  r.on_members(0, 1.0, json::object());
  r.on_members(0, 1.0, json::array({42, json::array(), {{"id", 7}}}));
  r.on_status(0, 1.0, {{"traffic", "lots"}});
  r.on_workloads(1.0, {{"workloads", "none"}});
  r.on_workloads(1.0, json::array());
  r.on_leader(1.0, json(nullptr));
  r.end_poll(1.0, {true});
  const json report = r.to_json();
  CHECK(report["accuracy"].empty());
  CHECK(report["membership"].empty());
  CHECK(report["nodes"][0]["round"] == 0);
  CHECK(report["leader"].empty());
}

}  // namespace
}  // namespace starling::up
