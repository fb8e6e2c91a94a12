// One test (or a few) per rule of consensus/DESIGN.md (C1-C17), on single cores driven by hand
// (hand.hpp) and on small clusters (cluster.hpp).
#include <doctest/doctest.h>

#include "consensus/codec.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/consensus/cluster.hpp"
#include "tests/consensus/hand.hpp"

using namespace starling;
using namespace starling::consensus;
using namespace starling::consensus::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// The follower of a cluster other than `leader` with the lowest index.
std::size_t some_follower(Cluster& c, std::size_t leader, std::size_t skip = SIZE_MAX) {
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (i != leader && i != skip && c.is_up(i)) return i;
  }
  return SIZE_MAX;
}

std::size_t count_events(const Cluster& c, EventType type) {
  std::size_t k = 0;
  for (const auto& [node, event] : c.events) k += event.type == type ? 1 : 0;
  return k;
}

}  // namespace

// --- C1 ---------------------------------------------------------------------------------------

TEST_CASE("C1: a voter grants one vote per term and two candidates cannot both win") {
  Core voter = make_core(3, 3, {}, 1);
  voter.step(vote_request(1, 3, 2, 1, 1), kLater);
  Ready first = voter.take_ready();
  CHECK_FALSE(only(first, MessageType::kVoteResponse).reject);
  // The vote is in the same Ready as the answer, so the shell makes it durable first (C14).
  REQUIRE(first.hard_state.has_value());
  CHECK(first.hard_state->vote == n(1));
  voter.step(vote_request(2, 3, 2, 1, 1), kLater);
  CHECK(only(voter.take_ready(), MessageType::kVoteResponse).reject);
  // The same candidate asking again (a retransmission) gets the same answer.
  voter.step(vote_request(1, 3, 2, 1, 1), kLater);
  CHECK_FALSE(only(voter.take_ready(), MessageType::kVoteResponse).reject);

  // Two candidates campaigning at once in a cluster: never two leaders of one term.
  Config config = test_config();
  config.pre_vote = false;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    Cluster c(3, config, seed);
    c.latency_max = milliseconds(20);
    c.core(0).campaign(c.now());
    c.core(1).campaign(c.now());
    c.flush(0);
    c.flush(1);
    c.run_for(seconds(5));
    CHECK(c.checker.violations.empty());
    CHECK(c.leader().has_value());
  }
}

// --- C2 ---------------------------------------------------------------------------------------

TEST_CASE("C2: a leader never overwrites or deletes its own entries") {
  Core leader = make_core(1, 3, {2}, 2);
  make_leader(leader);
  REQUIRE(leader.is_leader());
  REQUIRE(leader.propose(bytes_of("a")).is_ok());
  const std::vector<std::uint64_t> before = log_terms(leader);
  // An append claiming the same term with conflicting entries (impossible under C1) is refused.
  leader.step(append(2, 1, leader.term(), 1, 1, {entry(2, leader.term(), "forged")}),
              Instant{});
  CHECK(log_terms(leader) == before);
  CHECK(leader.stats().rejected_by_reason.at("append_to_leader") == 1);
  CHECK(leader.log().at(2).data == bytes_of("e2"));
  // Its log only grows while it leads.
  REQUIRE(leader.propose(bytes_of("b")).is_ok());
  auto after = log_terms(leader);
  after.pop_back();
  CHECK(after == before);
}

// --- C3 ---------------------------------------------------------------------------------------

TEST_CASE("C3: log matching: appends need a matching previous entry and truncate only conflicts") {
  // Follower log: index 2 term 2, index 3 term 2 (uncommitted).
  Core f = make_core(2, 3, {2, 2}, 3);
  // A previous entry that does not match is refused, and the log is untouched.
  f.step(append(1, 2, 3, 3, 3, {entry(4, 3)}), Instant{});
  Ready r = f.take_ready();
  CHECK(only(r, MessageType::kAppendResponse).reject);
  CHECK(f.log().last_index() == 3);
  // Matching at 2: entry 3 (term 2) conflicts with the leader's (term 3) and is replaced.
  f.step(append(1, 2, 3, 2, 2, {entry(3, 3, "new3"), entry(4, 3, "new4")}, 2), Instant{});
  r = f.take_ready();
  CHECK_FALSE(only(r, MessageType::kAppendResponse).reject);
  CHECK(only(r, MessageType::kAppendResponse).index == 4);
  CHECK(log_terms(f) == std::vector<std::uint64_t>{2, 3, 3});
  CHECK(f.stats().entries_truncated == 1);
  // The Ready tells the shell to overwrite from index 3.
  REQUIRE(r.entries.size() == 2);
  CHECK(r.entries.front().index == 3);
  // A delayed, shorter append of the same leader must not remove entry 4, which matches.
  f.step(append(1, 2, 3, 2, 2, {entry(3, 3, "new3")}, 2), Instant{});
  r = f.take_ready();
  CHECK(f.log().last_index() == 4);
  CHECK(only(r, MessageType::kAppendResponse).index == 3);
  CHECK(r.entries.empty());
}

// --- C4 ---------------------------------------------------------------------------------------

TEST_CASE("C4: votes go only to candidates whose log is at least as up to date") {
  // Voter log: index 2 term 2, index 3 term 3.
  auto answer = [](std::uint64_t last_index, std::uint64_t last_term) {
    Core voter = make_core(3, 3, {2, 3}, 3);
    voter.step(vote_request(1, 3, 4, last_index, last_term), kLater);
    return only(voter.take_ready(), MessageType::kVoteResponse);
  };
  CHECK(answer(9, 2).reject);        // longer but with an older last term
  CHECK(answer(2, 3).reject);        // same last term, shorter
  CHECK_FALSE(answer(3, 3).reject);  // equal
  CHECK_FALSE(answer(2, 4).reject);  // newer last term, even if shorter
  // The canary disables the check (the random tests prove the checker then fails).
  Config unsafe = hand_config();
  unsafe.testing_unsafe_vote_without_log_check = true;
  Core voter = make_core(3, 3, {2, 3}, 3, unsafe);
  voter.step(vote_request(1, 3, 4, 9, 2), kLater);
  CHECK_FALSE(only(voter.take_ready(), MessageType::kVoteResponse).reject);
}

// --- C5 ---------------------------------------------------------------------------------------

TEST_CASE("C5: committed entries are applied once in log order and only after being persisted") {
  Cluster c(3, test_config(), 5);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  const std::size_t f = some_follower(c, *leader);
  for (int i = 0; i < 20; ++i) REQUIRE(c.propose(*leader, "c" + std::to_string(i)).is_ok());
  c.run_for(milliseconds(500));
  // The checker verified that every entry handed out for applying was already durable.
  CHECK(c.checker.violations.empty());
  // A follower crashes and restarts: it applies again from its snapshot, reaching the same
  // state, and nothing is applied twice or out of order (the checker sees every apply).
  c.crash(f);
  for (int i = 20; i < 30; ++i) REQUIRE(c.propose(*leader, "c" + std::to_string(i)).is_ok());
  c.restart(f);
  c.run_for(seconds(2));
  CHECK(c.node(f).app.commands == c.node(*leader).app.commands);
  CHECK(c.node(f).app.hash == c.node(*leader).app.hash);
  CHECK(c.node(f).app.commands.size() == 30);
  CHECK(c.checker.violations.empty());
  // In one Ready, entries to persist come with the commit they enable (single voter).
  Cluster one(1, test_config(), 6);
  REQUIRE(one.wait_for_leader().has_value());
  REQUIRE(one.core(0).propose(bytes_of("solo")).is_ok());
  Ready r = one.core(0).take_ready();
  CHECK(r.must_persist());
  REQUIRE(!r.entries.empty());
  REQUIRE(!r.committed_entries.empty());
  CHECK(r.committed_entries.back().index == r.entries.back().index);
}

// --- C6 ---------------------------------------------------------------------------------------

TEST_CASE("C6: with PreVote a node back from a partition does not disrupt the leader") {
  Cluster c(3, test_config(), 7);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  const std::uint64_t term = c.core(*leader).term();
  const std::size_t f = some_follower(c, *leader);
  c.isolate(f);
  c.run_for(seconds(10));
  CHECK(c.core(f).term() == term);  // it pre-campaigned, in vain, without raising its term
  CHECK(c.core(f).stats().pre_votes_started >= 3);
  CHECK(c.core(f).stats().elections_started == 0);
  c.heal();
  c.run_for(seconds(5));
  CHECK(c.leader() == leader);
  CHECK(c.core(*leader).term() == term);
  CHECK(c.core(f).leader() == c.id(*leader));
}

TEST_CASE("C6: without PreVote and CheckQuorum the same partition deposes the leader") {
  Config config = test_config();
  config.pre_vote = false;
  config.check_quorum = false;
  Cluster c(3, config, 7);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  const std::uint64_t term = c.core(*leader).term();
  const std::size_t f = some_follower(c, *leader);
  c.isolate(f);
  c.run_for(seconds(10));
  CHECK(c.core(f).term() > term + 2);
  c.heal();
  c.run_for(seconds(5));
  REQUIRE(c.leader().has_value());
  CHECK(c.core(*c.leader()).term() > term + 2);  // the whole cluster moved to a new term
}

// --- C7 ---------------------------------------------------------------------------------------

TEST_CASE("C7: CheckQuorum: a leader that no longer hears a quorum steps down") {
  Cluster c(3, test_config(), 8);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  c.isolate(*leader);
  const Instant cut = c.now();
  c.run_until([&] { return !c.core(*leader).is_leader(); }, seconds(5));
  CHECK_FALSE(c.core(*leader).is_leader());
  CHECK(c.core(*leader).stats().check_quorum_step_downs == 1);
  // Within two checks (each election_timeout_min) of losing its quorum.
  CHECK(c.now() - cut <= 2 * test_config().election_timeout_min);
  // Meanwhile the majority elected a new leader.
  c.run_for(seconds(3));
  auto next = c.leader();
  REQUIRE(next.has_value());
  CHECK(*next != *leader);
}

TEST_CASE("C7: a follower that hears a leader ignores campaigns unless they are transfers") {
  Cluster c(3, test_config(), 9);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  const std::size_t f = some_follower(c, *leader);
  const std::size_t other = some_follower(c, *leader, f);
  const std::uint64_t term = c.core(f).term();
  Message vote = vote_request(other + 1, f + 1, term + 1, 1000, term + 1);
  c.core(f).step(vote, c.now());
  Ready r = c.core(f).take_ready();
  CHECK(r.messages.empty());  // no answer, no new term
  CHECK(c.core(f).term() == term);
  CHECK(c.core(f).stats().votes_ignored_in_lease == 1);
  vote.transfer = true;
  c.core(f).step(vote, c.now());
  r = c.core(f).take_ready();
  CHECK(c.core(f).term() == term + 1);
  CHECK_FALSE(only(r, MessageType::kVoteResponse).reject);
}

// --- C8 ---------------------------------------------------------------------------------------

TEST_CASE("C8: entries of earlier terms are not committed by counting replicas (figure 8)") {
  auto run = [](bool unsafe) {
    Config config = hand_config();
    config.testing_unsafe_commit_earlier_terms = unsafe;
    // Node 1 holds an uncommitted entry of term 2 at index 2 and becomes leader of term 4.
    Core leader = make_core(1, 3, {2}, 3, config);
    make_leader(leader);
    REQUIRE(leader.is_leader());
    REQUIRE(leader.term() == 4);
    REQUIRE(leader.log().last_index() == 3);  // its no-op of term 4 at index 3
    // Node 2 acknowledges index 2 only: a majority holds the term-2 entry.
    Message ack = msg(MessageType::kAppendResponse, 2, 1, 4);
    ack.index = 2;
    leader.step(ack, Instant{});
    return leader.commit_index();
  };
  CHECK(run(false) == 1);  // a later leader could still overwrite index 2 (figure 8)
  CHECK(run(true) == 2);   // the canary commits it
  // Index 2 commits together with the no-op of term 4, once that is on a majority.
  Core leader = make_core(1, 3, {2}, 3);
  make_leader(leader);
  Message ack = msg(MessageType::kAppendResponse, 2, 1, 4);
  ack.index = 3;
  leader.step(ack, Instant{});
  CHECK(leader.commit_index() == 3);
}

// --- C9 ---------------------------------------------------------------------------------------

TEST_CASE("C9: voter sets of 1 3 5 or 7 to start and as targets and at most 7 at any time") {
  auto ids = [](std::size_t k) {
    std::vector<NodeId> out;
    for (std::size_t i = 1; i <= k; ++i) out.push_back(n(i));
    return out;
  };
  for (std::size_t k : {1, 3, 5, 7}) CHECK_OK(validate_voter_set(ids(k)));
  for (std::size_t k : {0, 2, 4, 6, 8}) {
    CHECK_CODE(validate_voter_set(ids(k)), StatusCode::kInvalidArgument);
  }
  CHECK_CODE(validate_voter_set({n(1), n(1), n(2)}), StatusCode::kInvalidArgument);
  CHECK_CODE(bootstrap_state(ids(4)), StatusCode::kInvalidArgument);
  ConfState seven{ids(7), {}};
  CHECK_CODE(apply_config_change(seven, {ConfigChangeType::kAddVoter, n(8)}),
             StatusCode::kInvalidArgument);
  ConfState one{ids(1), {}};
  CHECK_CODE(apply_config_change(one, {ConfigChangeType::kRemove, n(1)}),
             StatusCode::kInvalidArgument);
  CHECK_CODE(apply_config_change(one, {ConfigChangeType::kRemove, n(5)}), StatusCode::kNotFound);
  CHECK_CODE(apply_config_change(one, {ConfigChangeType::kAddVoter, n(1)}),
             StatusCode::kAlreadyExists);
  // Even sizes are reachable one step at a time (3 -> 4 on the way to 5).
  auto four = apply_config_change(ConfState{ids(3), {}}, {ConfigChangeType::kAddVoter, n(4)});
  REQUIRE_OK(four);
  CHECK(four->voters.size() == 4);
}

TEST_CASE("C9: one uncommitted change at a time and none before an entry of the term commits") {
  Core leader = make_core(1, 3, {}, 1);
  make_leader(leader);
  REQUIRE(leader.is_leader());
  // The no-op of the new term is not committed yet.
  CHECK_CODE(leader.propose_config_change({ConfigChangeType::kAddLearner, n(4)}),
             StatusCode::kUnavailable);
  Message ack = msg(MessageType::kAppendResponse, 2, 1, leader.term());
  ack.index = leader.log().last_index();
  leader.step(ack, Instant{});
  REQUIRE(leader.commit_index() == leader.log().last_index());
  auto first = leader.propose_config_change({ConfigChangeType::kAddLearner, n(4)});
  REQUIRE_OK(first);
  CHECK(leader.conf().is_learner(n(4)));  // in effect as soon as appended
  CHECK_CODE(leader.propose_config_change({ConfigChangeType::kAddLearner, n(5)}),
             StatusCode::kUnavailable);
  ack.index = *first;
  leader.step(ack, Instant{});
  CHECK_OK(leader.propose_config_change({ConfigChangeType::kAddLearner, n(5)}));
}

TEST_CASE("C9: a configuration takes effect when appended and is undone when truncated") {
  Core f = make_core(2, 3, {}, 2);
  Entry change{2, 2, EntryType::kConfigChange,
               encode_config_change({ConfigChangeType::kAddVoter, n(4)})};
  f.step(append(1, 2, 2, 1, 1, {change}), Instant{});
  CHECK(f.conf().is_voter(n(4)));
  CHECK(f.commit_index() == 1);  // not committed, yet in effect
  // A new leader of term 3 never had it: its entry 2 replaces the change.
  f.step(append(3, 2, 3, 1, 1, {entry(2, 3)}), Instant{});
  CHECK_FALSE(f.conf().contains(n(4)));
  const Ready r = f.take_ready();
  std::size_t changes = 0;
  for (const Event& e : r.events) changes += e.type == EventType::kConfigChanged ? 1 : 0;
  CHECK(changes == 2);
}

TEST_CASE("C9: propose_voters replaces a dead voter one step at a time through a learner") {
  Cluster c(3, test_config(), 10, 1);  // node 3 starts empty
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  for (int i = 0; i < 100; ++i) REQUIRE(c.propose(*leader, "w" + std::to_string(i)).is_ok());
  c.run_for(seconds(1));
  const std::size_t dead = some_follower(c, *leader);
  c.crash(dead);
  std::vector<NodeId> target;
  for (std::size_t i = 0; i < 4; ++i) {
    if (i != dead) target.push_back(c.id(i));
  }
  REQUIRE_OK(c.on(*leader, [&](Core& core) { return core.propose_voters(target); }));
  c.run_until([&] { return c.core(*leader).conf().voters.size() == 3 &&
                           c.core(*leader).conf().is_voter(c.id(3)); },
              seconds(10));
  std::sort(target.begin(), target.end());
  CHECK(c.core(*leader).conf().voters == target);
  CHECK(c.core(*leader).conf().learners.empty());
  // Steps seen by the leader: remove the dead voter, add the new node as learner, promote it.
  std::vector<std::size_t> sizes;
  for (const auto& [node, event] : c.events) {
    if (node == *leader && event.type == EventType::kConfigChanged) {
      sizes.push_back(event.conf.voters.size() * 10 + event.conf.learners.size());
    }
  }
  CHECK(sizes == std::vector<std::size_t>{20, 21, 30});
  c.run_for(seconds(1));
  CHECK(c.node(3).app.commands.size() == 100);  // via snapshot and log
  REQUIRE(c.propose(*leader, "after").is_ok());
  c.run_for(seconds(1));
  CHECK(c.node(3).app.commands.back() == "after");
  CHECK(c.checker.violations.empty());
}

TEST_CASE("C9: a leader that removes itself leads until the removal commits then hands over") {
  Cluster c(3, test_config(), 11);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  c.run_for(seconds(1));
  std::vector<NodeId> target;  // a single voter: the first follower
  const std::size_t heir = some_follower(c, *leader);
  target.push_back(c.id(heir));
  REQUIRE_OK(c.on(*leader, [&](Core& core) { return core.propose_voters(target); }));
  c.run_until([&] { return !c.core(*leader).conf().is_voter(c.id(*leader)) &&
                           !c.core(*leader).is_leader(); },
              seconds(10));
  CHECK_FALSE(c.core(*leader).is_leader());
  CHECK(c.core(*leader).next_deadline() == Instant::max());  // removed: never campaigns
  // The other removed voter was told of its removal and its commit: it is silent too.
  const std::size_t other = some_follower(c, *leader, heir);
  CHECK_FALSE(c.core(other).conf().contains(c.id(other)));
  CHECK_FALSE(c.core(other).may_campaign());
  // The handover is immediate (TimeoutNow), not after an election timeout.
  const Instant stepped_down = c.now();
  c.run_until([&] { return c.leader().has_value(); }, seconds(5));
  CHECK(c.leader() == heir);
  CHECK(c.now() - stepped_down < test_config().election_timeout_min);
  CHECK(c.checker.violations.empty());
}

TEST_CASE("C9: a node whose removal is not committed still campaigns so that it can commit it") {
  // Node 1's log ends with its own removal (uncommitted); node 2's log is shorter.
  DurableState state = state_with(2, {2}, 2);
  state.entries.push_back(Entry{3, 2, EntryType::kConfigChange,
                                encode_config_change({ConfigChangeType::kRemove, n(1)})});
  Core core(hand_config(), n(1), state, 1, Instant{});
  CHECK_FALSE(core.is_voter());
  CHECK(core.may_campaign());
  CHECK(core.next_deadline() != Instant::max());
  core.tick(core.next_deadline());
  Ready r = core.take_ready();
  // It asks only the voters of its latest configuration and does not count its own vote.
  const auto votes = of_type(r, MessageType::kVote);
  REQUIRE(votes.size() == 1);
  CHECK(votes[0].to == n(2));
  CHECK(core.role() == Role::kCandidate);
  Message grant = msg(MessageType::kVoteResponse, 2, 1, core.term());
  core.step(grant, Instant{});
  CHECK(core.is_leader());  // it leads to commit the removal, then hands over (previous test)
}

// --- C10 --------------------------------------------------------------------------------------

TEST_CASE("C10: compaction keeps only what is applied and a lagging follower gets a snapshot") {
  Cluster c(3, test_config(), 12);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  const std::size_t f = some_follower(c, *leader);
  c.crash(f);
  for (int i = 0; i < 300; ++i) {
    REQUIRE(c.propose(*leader, "s" + std::to_string(i)).is_ok());
    if (i % 20 == 0) c.run_for(milliseconds(50));
  }
  c.run_for(seconds(1));
  Core& l = c.core(*leader);
  CHECK(l.snapshot_meta().index > 200);
  CHECK(l.log().offset() >= l.snapshot_meta().index - test_config().compaction_trailing_entries);
  CHECK_CODE(l.compact(l.applied_index() + 1, {}), StatusCode::kInvalidArgument);
  CHECK_CODE(l.compact(l.snapshot_meta().index, {}), StatusCode::kStale);
  c.restart(f);
  c.run_for(seconds(2));
  CHECK(c.core(f).stats().snapshots_installed == 1);
  CHECK(c.node(f).app.commands.size() == 300);
  CHECK(c.node(f).app.hash == c.node(*leader).app.hash);
  // The snapshot is durable on the follower's disk (it was in a Ready with its answer).
  CHECK(c.node(f).disk.snapshot.meta.index >= l.snapshot_meta().index - 64);
  CHECK(c.checker.violations.empty());
}

TEST_CASE("C10: a snapshot is installed only beyond the follower's commit index") {
  Core f = make_core(2, 3, {2, 2, 2}, 2, hand_config(), 3);
  Message m = msg(MessageType::kSnapshot, 1, 2, 2);
  m.snapshot = Snapshot{SnapshotMeta{3, 2, ConfState{{n(1), n(2), n(3)}, {}}}, bytes_of("s")};
  f.step(m, Instant{});
  Ready r = f.take_ready();
  CHECK_FALSE(r.snapshot.has_value());
  CHECK(only(r, MessageType::kAppendResponse).index == 3);
  CHECK(f.log().last_index() == 4);
  // Matching the log: no install, but the commit index moves.
  m.snapshot->meta.index = 4;
  f.step(m, Instant{});
  r = f.take_ready();
  CHECK_FALSE(r.snapshot.has_value());
  CHECK(f.commit_index() == 4);
  // Beyond the log: installed, the log replaced, the configuration taken from it.
  m.snapshot->meta = SnapshotMeta{10, 2, ConfState{{n(1), n(2), n(3)}, {n(9)}}};
  f.step(m, Instant{});
  r = f.take_ready();
  REQUIRE(r.snapshot.has_value());
  CHECK(r.snapshot->meta.index == 10);
  CHECK(f.log().first_index() == 11);
  CHECK(f.commit_index() == 10);
  CHECK(f.conf().is_learner(n(9)));
  CHECK(only(r, MessageType::kAppendResponse).index == 10);
  CHECK(r.must_persist());
}

TEST_CASE("C10: a lost snapshot is sent again") {
  Cluster c(3, test_config(), 13);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  const std::size_t f = some_follower(c, *leader);
  c.crash(f);
  for (int i = 0; i < 200; ++i) REQUIRE(c.propose(*leader, "s" + std::to_string(i)).is_ok());
  c.run_for(seconds(1));
  int dropped = 0;
  c.drop_if = [&](std::size_t, std::size_t, const Message& m) {
    return m.type == MessageType::kSnapshot && dropped++ == 0;
  };
  c.restart(f);
  c.run_for(seconds(5));
  CHECK(dropped >= 2);
  CHECK(c.core(*leader).stats().snapshots_sent >= 2);
  CHECK(c.node(f).app.commands.size() == 200);
}

// --- C11 --------------------------------------------------------------------------------------

TEST_CASE("C11: leadership transfer catches the target up then hands over with TimeoutNow") {
  Cluster c(3, test_config(), 14);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  const std::size_t target = some_follower(c, *leader);
  c.cut(*leader, target);
  for (int i = 0; i < 10; ++i) REQUIRE(c.propose(*leader, "t" + std::to_string(i)).is_ok());
  c.run_for(milliseconds(200));
  c.heal();
  const std::uint64_t term = c.core(*leader).term();
  REQUIRE_OK(c.transfer(*leader, target));
  CHECK_CODE(c.propose(*leader, "during"), StatusCode::kUnavailable);
  c.run_for(milliseconds(100));  // far less than an election timeout
  CHECK(c.leader() == target);
  CHECK(c.core(target).term() == term + 1);
  CHECK(c.node(target).app.commands.size() == 10);
  CHECK(c.core(*leader).role() == Role::kFollower);
  CHECK(c.checker.violations.empty());
}

TEST_CASE("C11: a transfer to an unreachable voter is aborted after an election timeout") {
  Cluster c(3, test_config(), 15);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  const std::size_t target = some_follower(c, *leader);
  c.crash(target);
  for (int i = 0; i < 3; ++i) REQUIRE(c.propose(*leader, "x").is_ok());
  REQUIRE_OK(c.transfer(*leader, target));
  c.run_for(test_config().election_timeout_min + milliseconds(200));
  CHECK(c.core(*leader).is_leader());
  CHECK(c.core(*leader).transfer_target().is_zero());
  CHECK(count_events(c, EventType::kTransferAborted) == 1);
  CHECK_OK(c.propose(*leader, "after"));
  // Errors: not a voter, not the leader.
  CHECK_CODE(c.on(*leader, [&](Core& core) { return core.transfer_leadership(n(99), c.now()); }),
             StatusCode::kInvalidArgument);
  const std::size_t f = some_follower(c, *leader, target);
  CHECK_CODE(c.on(f, [&](Core& core) { return core.transfer_leadership(c.id(*leader), c.now()); }),
             StatusCode::kUnavailable);
}

TEST_CASE("C11: graceful leave hands over to the most up-to-date voter") {
  Cluster c(5, test_config(), 16);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  const std::size_t behind = some_follower(c, *leader);
  c.crash(behind);
  for (int i = 0; i < 5; ++i) REQUIRE(c.propose(*leader, "g").is_ok());
  c.run_for(milliseconds(300));
  c.restart(behind);  // up again but behind until the leader catches it up
  REQUIRE_OK(c.transfer(*leader, SIZE_MAX));
  const NodeId chosen = c.core(*leader).transfer_target();
  CHECK_FALSE(chosen.is_zero());
  CHECK(chosen != c.id(behind));
  c.run_for(milliseconds(200));
  CHECK(c.leader() == c.index_of(chosen));
}

// --- C12 --------------------------------------------------------------------------------------

TEST_CASE("C12: learners receive the log but never vote or campaign or count for commits") {
  Cluster c(3, test_config(), 17, 1);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  c.run_for(seconds(1));
  REQUIRE_OK(c.on(*leader, [&](Core& core) {
    return core.propose_config_change({ConfigChangeType::kAddLearner, c.id(3)});
  }));
  for (int i = 0; i < 5; ++i) REQUIRE(c.propose(*leader, "l" + std::to_string(i)).is_ok());
  c.run_for(seconds(1));
  CHECK(c.core(3).conf().is_learner(c.id(3)));
  CHECK(c.node(3).app.commands.size() == 5);
  CHECK(c.core(3).next_deadline() == Instant::max());
  CHECK(c.core(3).role() == Role::kFollower);
  // The two other voters are cut off: the learner's acknowledgements commit nothing.
  for (std::size_t i = 0; i < 3; ++i) {
    if (i != *leader) c.cut(*leader, i);
  }
  const std::uint64_t commit = c.core(*leader).commit_index();
  REQUIRE(c.propose(*leader, "stuck").is_ok());
  c.run_for(milliseconds(500));
  CHECK(c.core(*leader).commit_index() == commit);
  CHECK(c.core(*leader).progress().at(c.id(3)).match > commit);
  CHECK(c.core(*leader).progress().at(c.id(3)).learner);
  // A learner's vote does not count.
  c.heal();
  Core candidate = make_core(1, 3, {}, 1);
  candidate.campaign(Instant{});
  (void)candidate.take_ready();
  candidate.step(msg(MessageType::kVoteResponse, 4, 1, candidate.term()), Instant{});
  CHECK(candidate.role() == Role::kCandidate);
}

// --- C13 --------------------------------------------------------------------------------------

TEST_CASE("C13: batches and the in-flight window bound what is sent to a follower") {
  Config config = test_config();
  config.max_append_entries = 8;
  config.max_inflight_appends = 3;
  config.snapshot_threshold_entries = 100000;
  Cluster c(3, config, 18);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  c.run_for(seconds(1));
  const std::size_t f = some_follower(c, *leader);
  REQUIRE(c.core(*leader).progress().at(c.id(f)).state == ProgressState::kReplicate);
  // The follower's answers are lost: at most 3 appends with entries go out unacknowledged.
  std::size_t appends = 0, largest = 0;
  c.drop_if = [&](std::size_t from, std::size_t to, const Message& m) {
    if (to == f && m.type == MessageType::kAppend && !m.entries.empty()) {
      ++appends;
      largest = std::max(largest, m.entries.size());
    }
    return from == f;
  };
  for (int i = 0; i < 40; ++i) REQUIRE(c.propose(*leader, "b").is_ok());
  CHECK(appends == 3);
  CHECK(c.core(*leader).progress().at(c.id(f)).inflight.size() == 3);
  // Answers flow again: everything arrives in batches of at most 8 entries.
  c.drop_if = [&](std::size_t, std::size_t to, const Message& m) {
    if (to == f && m.type == MessageType::kAppend) largest = std::max(largest, m.entries.size());
    return false;
  };
  c.run_for(seconds(2));
  CHECK(largest <= 8);
  CHECK(c.node(f).app.commands.size() == 40);
}

TEST_CASE("C13: fast backtracking repairs a long divergent log in a few round trips") {
  Config config = test_config();
  config.snapshot_threshold_entries = 100000;
  Cluster c(3, config, 19);
  auto old = c.wait_for_leader();
  REQUIRE(old.has_value());
  c.run_for(seconds(1));
  // The old leader, alone, appends 200 entries of its term that will never commit.
  c.isolate(*old);
  for (int i = 0; i < 200; ++i) REQUIRE(c.propose(*old, "lost").is_ok());
  c.run_for(seconds(5));
  auto second = c.leader();
  REQUIRE(second.has_value());
  REQUIRE(*second != *old);
  // The new leader commits 50 entries of a later term, then hands over to the third node,
  // whose first probe of the old leader lands 50 entries past the point of divergence.
  for (int i = 0; i < 50; ++i) REQUIRE(c.propose(*second, "kept").is_ok());
  c.run_for(seconds(1));
  const std::size_t third = some_follower(c, *second, *old);
  REQUIRE_OK(c.transfer(*second, third));
  c.run_for(seconds(1));
  REQUIRE(c.leader() == third);
  const std::uint64_t rejections = c.core(third).stats().append_rejections;
  c.heal();
  c.run_for(seconds(3));
  CHECK(c.node(*old).app.commands.size() == 50);
  CHECK(c.core(*old).stats().entries_truncated == 200);
  // One rejection for the whole conflicting term, not one per entry (51 without hints).
  CHECK(c.core(third).stats().append_rejections - rejections >= 1);
  CHECK(c.core(third).stats().append_rejections - rejections <= 2);
  CHECK(c.checker.violations.empty());
}

// --- C14 --------------------------------------------------------------------------------------

TEST_CASE("C14: term and vote survive a restart from what the Ready persisted") {
  Core voter = make_core(3, 3, {}, 1);
  voter.step(vote_request(1, 3, 2, 1, 1), kLater);
  Ready r = voter.take_ready();
  REQUIRE(r.must_persist());
  REQUIRE(!r.messages.empty());
  Disk disk;
  disk.snapshot = state_with(3, {}, 1).snapshot;
  disk.write(r);
  CHECK(disk.hard_state.term == 2);
  CHECK(disk.hard_state.vote == n(1));
  Core restarted(hand_config(), n(3), disk.durable(), 3, Instant{});
  CHECK(restarted.term() == 2);
  CHECK(restarted.vote() == n(1));
  // A restarted node does not announce its unchanged hard state again.
  CHECK_FALSE(restarted.take_ready().hard_state.has_value());
  restarted.step(vote_request(2, 3, 2, 1, 1), kLater);
  CHECK(only(restarted.take_ready(), MessageType::kVoteResponse).reject);
}

// --- C15 --------------------------------------------------------------------------------------

TEST_CASE("C15: a leader lease lasts while a quorum acknowledges heartbeats") {
  Cluster c(3, test_config(), 20);
  auto leader = c.wait_for_leader();
  REQUIRE(leader.has_value());
  c.run_for(milliseconds(500));
  Core& l = c.core(*leader);
  CHECK(l.has_lease(c.now()));
  for (std::size_t i = 0; i < 3; ++i) {
    if (i != *leader) CHECK_FALSE(c.core(i).has_lease(c.now()));
  }
  // Cut off: the lease ends within election_timeout_min - lease_margin of the last acked
  // heartbeat, before any other node can be elected.
  c.isolate(*leader);
  const Instant cut = c.now();
  std::optional<Instant> lease_lost, other_elected;
  while (!other_elected && c.now() - cut < seconds(5)) {
    c.run_for(milliseconds(1));
    if (!lease_lost && !c.core(*leader).has_lease(c.now())) lease_lost = c.now();
    for (std::size_t i = 0; i < 3; ++i) {
      if (i != *leader && c.core(i).is_leader()) other_elected = c.now();
    }
  }
  REQUIRE(lease_lost.has_value());
  REQUIRE(other_elected.has_value());
  const Config config = test_config();
  CHECK(*lease_lost - cut <= config.election_timeout_min - config.lease_margin);
  CHECK(*lease_lost < *other_elected);
  // No lease during a transfer.
  c.heal();
  c.run_for(seconds(2));
  auto now_leader = c.leader();
  REQUIRE(now_leader.has_value());
  REQUIRE(c.core(*now_leader).has_lease(c.now()));
  c.crash(some_follower(c, *now_leader));
  REQUIRE_OK(c.transfer(*now_leader, SIZE_MAX));
  CHECK_FALSE(c.core(*now_leader).has_lease(c.now()));
}

TEST_CASE("C15: a follower that restarts does not vote before the lease it acknowledged ends") {
  // The leader's lease rests on its own ack and that of follower a; follower b no longer hears
  // it. Follower a crashes and restarts at once: if it voted right away, b could be elected
  // while the old leader still holds its lease.
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Cluster c(3, test_config(), 100 + seed);
    auto leader = c.wait_for_leader();
    REQUIRE(leader.has_value());
    c.run_for(seconds(1));
    const std::size_t a = some_follower(c, *leader);
    const std::size_t b = some_follower(c, *leader, a);
    c.cut(*leader, b);
    c.run_for(milliseconds(900));
    REQUIRE(c.core(*leader).has_lease(c.now()));
    c.crash(a);
    c.restart(a);
    c.heal();
    c.isolate(*leader);  // a and b can now elect one of them, but not while the lease holds
    c.run_for(seconds(4));
    INFO("seed " << 100 + seed);
    CHECK(c.checker.violations.empty());
    CHECK(c.leader().has_value());
  }
}

// --- C16 --------------------------------------------------------------------------------------

TEST_CASE("C16: election timeouts are uniform in the configured range and seeded") {
  const Config config = test_config();
  std::vector<Duration> timeouts;
  for (std::uint64_t seed = 0; seed < 2000; ++seed) {
    Core core(config, n(1), state_with(3, {}, 1), seed, Instant{});
    timeouts.push_back(core.next_deadline() - Instant{});
  }
  std::sort(timeouts.begin(), timeouts.end());
  CHECK(timeouts.front() >= config.election_timeout_min);
  CHECK(timeouts.back() < config.election_timeout_max);
  // Quartiles near 1.25 s, 1.5 s and 1.75 s for [1 s, 2 s).
  auto near = [](Duration d, int ms) {
    return d > milliseconds(ms - 50) && d < milliseconds(ms + 50);
  };
  CHECK(near(timeouts[500], 1250));
  CHECK(near(timeouts[1000], 1500));
  CHECK(near(timeouts[1500], 1750));
  // The same seed gives the same timeout; a restart of the timer draws again.
  Core a(config, n(1), state_with(3, {}, 1), 42, Instant{});
  Core b(config, n(1), state_with(3, {}, 1), 42, Instant{});
  CHECK(a.next_deadline() == b.next_deadline());
  const Instant first = a.next_deadline();
  a.tick(first);  // campaigns; the timer restarts with a new draw
  CHECK(a.next_deadline() - first != first - Instant{});
}

// --- C17 --------------------------------------------------------------------------------------

TEST_CASE("C17: malformed or misaddressed messages are dropped and counted and never asserted on") {
  Core f = make_core(2, 3, {2}, 2);
  Message wrong_to = append(1, 3, 2, 1, 1, {});
  f.step(wrong_to, Instant{});
  Message self_sent = append(2, 2, 2, 1, 1, {});
  f.step(self_sent, Instant{});
  Message gap = append(1, 2, 2, 1, 1, {entry(3, 2)});  // starts after a gap
  f.step(gap, Instant{});
  Message future = append(1, 2, 2, 1, 1, {entry(2, 5)});  // entry term above the message's
  f.step(future, Instant{});
  Message snap = msg(MessageType::kSnapshot, 1, 2, 2);
  snap.snapshot = Snapshot{SnapshotMeta{5, 2, ConfState{{n(2), n(1)}, {}}}, {}};  // unsorted
  f.step(snap, Instant{});
  Message no_snapshot = msg(MessageType::kSnapshot, 1, 2, 2);
  f.step(no_snapshot, Instant{});
  CHECK(f.stats().rejected_by_reason.at("wrong_destination") == 1);
  CHECK(f.stats().rejected_by_reason.at("bad_sender") == 1);
  CHECK(f.stats().rejected_by_reason.at("malformed") == 4);
  CHECK(f.log().last_index() == 2);
  CHECK(f.take_ready().messages.empty());
  // A leader ignores acknowledgements of entries it never had.
  Core leader = make_core(1, 3, {}, 1);
  make_leader(leader);
  Message ack = msg(MessageType::kAppendResponse, 2, 1, leader.term());
  ack.index = 1000;
  leader.step(ack, Instant{});
  CHECK(leader.stats().rejected_by_reason.at("ack_beyond_log") == 1);
  CHECK(leader.commit_index() == 1);
}

TEST_CASE("C17: inconsistent durable state is refused with kCorrupt") {
  DurableState good = state_with(3, {2, 2, 3}, 3, 4);
  CHECK_OK(validate_durable_state(good));
  DurableState gap = good;
  gap.entries.erase(gap.entries.begin() + 1);
  CHECK_CODE(validate_durable_state(gap), StatusCode::kCorrupt);
  DurableState decreasing = good;
  decreasing.entries[2].term = 1;
  CHECK_CODE(validate_durable_state(decreasing), StatusCode::kCorrupt);
  DurableState future = good;
  future.entries[2].term = 9;
  CHECK_CODE(validate_durable_state(future), StatusCode::kCorrupt);
  DurableState commit = good;
  commit.hard_state.commit = 9;
  CHECK_CODE(validate_durable_state(commit), StatusCode::kCorrupt);
  DurableState bad_change = good;
  bad_change.entries[1].type = EntryType::kConfigChange;
  CHECK_CODE(validate_durable_state(bad_change), StatusCode::kCorrupt);
  DurableState bad_conf = good;
  bad_conf.snapshot.meta.conf.voters.push_back(n(1));
  CHECK_CODE(validate_durable_state(bad_conf), StatusCode::kCorrupt);
  CHECK_OK(validate_durable_state(DurableState{}));
}
