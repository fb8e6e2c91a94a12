// Unit tests of the consensus core beyond the numbered rules: configuration validation, the
// log, bootstrap and joining nodes, restarts, local requests and their errors, Ready contents
// and events.
#include <doctest/doctest.h>

#include "tests/common/status_doctest.hpp"
#include "tests/consensus/cluster.hpp"
#include "tests/consensus/hand.hpp"

using namespace starling;
using namespace starling::consensus;
using namespace starling::consensus::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("config: the defaults are valid and each field is range-checked") {
  CHECK_OK(Config{}.validate());
  auto invalid = [](auto mutate) {
    Config c;
    mutate(c);
    return c.validate();
  };
  CHECK_CODE(invalid([](Config& c) { c.heartbeat_interval = Duration::zero(); }),
             StatusCode::kInvalidArgument);
  CHECK_CODE(invalid([](Config& c) { c.election_timeout_min = milliseconds(200); }),
             StatusCode::kInvalidArgument);
  CHECK_CODE(invalid([](Config& c) { c.election_timeout_max = c.election_timeout_min; }),
             StatusCode::kInvalidArgument);
  CHECK_CODE(invalid([](Config& c) { c.lease_margin = c.election_timeout_min; }),
             StatusCode::kInvalidArgument);
  CHECK_CODE(invalid([](Config& c) { c.max_append_entries = 0; }), StatusCode::kInvalidArgument);
  CHECK_CODE(invalid([](Config& c) { c.max_append_bytes = 10; }), StatusCode::kInvalidArgument);
  CHECK_CODE(invalid([](Config& c) { c.max_inflight_appends = 0; }),
             StatusCode::kInvalidArgument);
  CHECK_CODE(invalid([](Config& c) { c.max_uncommitted_bytes = c.max_entry_bytes - 1; }),
             StatusCode::kInvalidArgument);
  CHECK_CODE(invalid([](Config& c) { c.snapshot_threshold_entries = 0; }),
             StatusCode::kInvalidArgument);
}

TEST_CASE("log: lookups and slices within limits and truncation and compaction and conflict search") {
  Log log(5, 2);  // entries up to 5 compacted, the last of term 2
  CHECK(log.first_index() == 6);
  CHECK(log.last_index() == 5);
  CHECK(log.last_term() == 2);
  CHECK(log.term(5) == 2u);
  CHECK_FALSE(log.term(4).has_value());
  CHECK_FALSE(log.term(6).has_value());
  for (std::uint64_t i = 6; i <= 12; ++i) {
    log.append(entry(i, i < 9 ? 3 : 5, std::string(100, 'x')));
  }
  CHECK(log.last_index() == 12);
  CHECK(log.matches(8, 3));
  CHECK_FALSE(log.matches(9, 3));
  CHECK(log.slice(6, 13, 3, 1 << 20).size() == 3);
  CHECK(log.slice(6, 13, 100, 250).size() == 2);  // 124 bytes each counted
  CHECK(log.slice(6, 13, 100, 1).size() == 1);    // always at least one entry
  CHECK(log.slice(13, 13, 100, 100).empty());
  CHECK(log.find_conflict_by_term(12, 4) == 8);   // skips all of term 5
  CHECK(log.find_conflict_by_term(12, 5) == 12);
  CHECK(log.find_conflict_by_term(12, 1) == 5);   // stops at the offset
  CHECK(log.find_conflict_by_term(99, 5) == 12);  // clamped to the last index
  log.truncate_from(10);
  CHECK(log.last_index() == 9);
  log.compact_to(8);
  CHECK(log.first_index() == 9);
  CHECK(log.term(8) == 3u);
  log.reset(20, 7);
  CHECK(log.empty());
  CHECK(log.last_index() == 20);
  CHECK(log.last_term() == 7);
}

TEST_CASE("bootstrap: founding voters share a snapshot at index 1 and a joiner starts empty") {
  auto state = bootstrap_state({n(3), n(1), n(2)});
  REQUIRE_OK(state);
  CHECK(state->snapshot.meta.index == 1);
  CHECK(state->snapshot.meta.term == 1);
  CHECK(state->snapshot.meta.conf.voters == std::vector<NodeId>{n(1), n(2), n(3)});
  CHECK(state->hard_state == HardState{1, NodeId{}, 1});
  CHECK_OK(validate_durable_state(*state));
  Core joiner(test_config(), n(9), DurableState{}, 1, Instant{});
  CHECK(joiner.conf().voters.empty());
  CHECK_FALSE(joiner.may_campaign());
  CHECK(joiner.next_deadline() == Instant::max());
  joiner.campaign(Instant{});
  CHECK(joiner.role() == Role::kFollower);
  CHECK_CODE(joiner.propose(bytes_of("x")), StatusCode::kUnavailable);
}

TEST_CASE("single voter: elects itself and commits each command at once") {
  Cluster c(1, test_config(), 3);
  auto leader = c.wait_for_leader();
  REQUIRE(leader == 0u);
  CHECK(c.now() - Instant{} >= test_config().election_timeout_min);
  for (int i = 0; i < 100; ++i) REQUIRE_OK(c.propose(0, "c" + std::to_string(i)));
  CHECK(c.node(0).app.commands.size() == 100);
  CHECK(c.core(0).snapshot_meta().index > 1);  // compacted along the way
  CHECK(c.core(0).has_lease(c.now()));
}

TEST_CASE("seven voters keep committing with three of them down") {
  Cluster c(7, test_config(), 4);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  std::size_t crashed = 0;
  for (std::size_t i = 0; i < 7 && crashed < 3; ++i) {
    if (i != *leader) {
      c.crash(i);
      ++crashed;
    }
  }
  REQUIRE_OK(c.propose(*leader, "still"));
  c.run_for(milliseconds(200));
  CHECK(c.node(*leader).app.commands == std::vector<std::string>{"still"});
  // A fourth failure stops commits (no quorum of 7 with 3 up).
  for (std::size_t i = 0; i < 7; ++i) {
    if (i != *leader && c.is_up(i)) {
      c.crash(i);
      break;
    }
  }
  REQUIRE_OK(c.propose(*leader, "stuck"));
  c.run_for(milliseconds(500));
  CHECK(c.node(*leader).app.commands.size() == 1);
}

TEST_CASE("propose: errors name the leader for forwarding and bound sizes") {
  Config config = test_config();
  config.max_entry_bytes = 100;
  config.max_uncommitted_bytes = 400;
  Cluster c(3, config, 5);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  c.run_for(milliseconds(300));
  const std::size_t f = (*leader + 1) % 3;
  auto refused = c.propose(f, "x");
  CHECK_CODE(refused, StatusCode::kUnavailable);
  CHECK(refused.status().message().find(c.id(*leader).to_hex()) != std::string::npos);
  CHECK(c.core(f).leader() == c.id(*leader));
  CHECK_CODE(c.propose(*leader, std::string(101, 'x')), StatusCode::kTooLarge);
  // Without a quorum nothing commits and the uncommitted bytes are bounded.
  c.isolate(*leader);
  int accepted = 0;
  for (int i = 0; i < 10; ++i) accepted += c.propose(*leader, std::string(100, 'y')).is_ok();
  CHECK(accepted == 3);  // 3 x 124 counted bytes fit under 400
  CHECK_OK(c.propose(*leader, std::string(4, 'z')));  // 372 + 28 = 400
  CHECK_CODE(c.propose(*leader, "z"), StatusCode::kUnavailable);
}

TEST_CASE("restart: a whole cluster restarted from its disks keeps every committed entry") {
  Cluster c(3, test_config(), 6);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  for (int i = 0; i < 150; ++i) REQUIRE_OK(c.propose(*leader, "r" + std::to_string(i)));
  c.run_for(seconds(1));
  const auto commands = c.node(*leader).app.commands;
  REQUIRE(commands.size() == 150);
  for (std::size_t i = 0; i < 3; ++i) c.crash(i);
  c.run_for(seconds(1));
  for (std::size_t i = 0; i < 3; ++i) c.restart(i);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(c.node(i).app.commands == commands);  // from the snapshot and the stored log
    CHECK(c.core(i).commit_index() >= 150);
  }
  auto next = c.wait_for_leader();
  REQUIRE(next.has_value());
  REQUIRE_OK(c.propose(*next, "after"));
  c.run_for(seconds(1));
  for (std::size_t i = 0; i < 3; ++i) CHECK(c.node(i).app.commands.back() == "after");
  CHECK(c.checker.violations.empty());
}

TEST_CASE("ready: durable parts only when changed and snapshot_due until compact() is called") {
  Config config = test_config();
  config.snapshot_threshold_entries = 5;
  Core core(config, n(1), state_with(1, {}, 1), 1, Instant{});
  CHECK_FALSE(core.has_ready());
  core.campaign(Instant{});
  Ready r = core.take_ready();
  CHECK(core.is_leader());
  REQUIRE(r.hard_state.has_value());
  CHECK(r.hard_state->term == 2);
  CHECK(r.hard_state->vote == n(1));
  CHECK(r.entries.size() == 1);  // the no-op
  CHECK(r.committed_entries.size() == 1);
  CHECK(r.committed_entries[0].type == EntryType::kNoop);
  CHECK_FALSE(r.snapshot_due);
  CHECK_FALSE(core.has_ready());
  for (int i = 0; i < 4; ++i) REQUIRE_OK(core.propose(bytes_of("x")));
  r = core.take_ready();
  CHECK(r.snapshot_due);  // applied 6, snapshot at 1
  REQUIRE(r.hard_state.has_value());  // the commit index moved
  CHECK(r.messages.empty());
  auto meta = core.compact(core.applied_index(), bytes_of("state"));
  REQUIRE_OK(meta);
  CHECK(meta->index == 6);
  CHECK(meta->term == 2);
  CHECK(meta->conf.voters == std::vector<NodeId>{n(1)});
  CHECK(core.snapshot_meta() == *meta);
  REQUIRE_OK(core.propose(bytes_of("y")));
  CHECK_FALSE(core.take_ready().snapshot_due);
}

TEST_CASE("events: role and leader changes are reported with their term") {
  Cluster c(3, test_config(), 7);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  c.run_for(milliseconds(100));
  bool became_leader = false;
  std::size_t told = 0;
  for (const auto& [node, event] : c.events) {
    if (node == *leader && event.type == EventType::kRoleChanged && event.role == Role::kLeader) {
      became_leader = true;
      CHECK(event.term == c.core(*leader).term());
    }
    if (node != *leader && event.type == EventType::kLeaderChanged &&
        event.node == c.id(*leader)) {
      ++told;
    }
  }
  CHECK(became_leader);
  CHECK(told == 2);
  CHECK(role_name(Role::kPreCandidate) == "pre_candidate");
  CHECK(message_type_name(MessageType::kTimeoutNow) == "timeout_now");
  CHECK(event_type_name(EventType::kTransferAborted) == "transfer_aborted");
  CHECK(entry_type_name(EntryType::kConfigChange) == "config_change");
  CHECK(config_change_type_name(ConfigChangeType::kAddLearner) == "add_learner");
  CHECK(progress_state_name(ProgressState::kReplicate) == "replicate");
}

TEST_CASE("a leader ignores answers from nodes outside its configuration") {
  Core leader = make_core(1, 3, {}, 1);
  make_leader(leader);
  REQUIRE(leader.is_leader());
  Message ack = msg(MessageType::kAppendResponse, 7, 1, leader.term());
  ack.index = leader.log().last_index();
  leader.step(ack, Instant{});
  CHECK(leader.commit_index() == 1);
  CHECK(leader.progress().count(n(7)) == 0);
  Message hb = msg(MessageType::kHeartbeatResponse, 7, 1, leader.term());
  leader.step(hb, Instant{});
  CHECK(leader.progress().size() == 2);
}

TEST_CASE("learners get every Nth heartbeat when learner_heartbeat_rounds is N") {
  for (std::uint32_t rounds : {1u, 10u}) {
    CAPTURE(rounds);
    Config config = test_config();
    config.learner_heartbeat_rounds = rounds;
    auto state = bootstrap_state({n(1)});
    REQUIRE_OK(state);
    Instant now{};
    Core leader(config, n(1), *state, 7, now);
    leader.campaign(now);
    (void)leader.take_ready();
    REQUIRE(leader.is_leader());
    REQUIRE_OK(leader.propose_config_change(ConfigChange{ConfigChangeType::kAddLearner, n(2)}));
    (void)leader.take_ready();
    std::size_t to_learner = 0;
    for (int i = 0; i < 30; ++i) {
      now += config.heartbeat_interval;
      leader.tick(now);
      for (const Message& m : leader.take_ready().messages) {
        if (m.to == n(2) && m.type == MessageType::kHeartbeat) ++to_learner;
      }
    }
    CHECK(to_learner == 30 / rounds);
  }
}
