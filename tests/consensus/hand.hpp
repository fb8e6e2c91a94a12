// Helpers for driving one consensus core by hand (etcd's raft_paper_test.go style): cores with
// a given log, messages built field by field, lookups in a Ready. Header-only; single-threaded.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "consensus/core.hpp"
#include "tests/consensus/cluster.hpp"

namespace starling::consensus::testing {

inline NodeId n(std::uint64_t i) { return NodeId::from_u64(i); }

// A time after the startup window in which a core ignores campaigns (C15): cores made here
// start at Instant{}, so vote requests are stepped at kLater.
inline const Instant kLater = Instant{} + std::chrono::seconds(2);

// The test configuration without PreVote, so that a campaign sends votes at once.
inline Config hand_config() {
  Config c = test_config();
  c.pre_vote = false;
  return c;
}

// The durable state of a node of voters 1..voters: the bootstrap snapshot (index 1, term 1),
// then one entry per element of `terms` (indexes 2, 3, ...) with that term, the current term
// `term` and commit index `commit`.
inline DurableState state_with(std::size_t voters, const std::vector<std::uint64_t>& terms,
                               std::uint64_t term, std::uint64_t commit = 1) {
  std::vector<NodeId> ids;
  for (std::size_t i = 1; i <= voters; ++i) ids.push_back(n(i));
  DurableState state;
  state.snapshot.meta = SnapshotMeta{1, 1, ConfState{ids, {}}};
  std::uint64_t index = 1;
  for (std::uint64_t t : terms) {
    ++index;
    state.entries.push_back(
        Entry{index, t, EntryType::kCommand, bytes_of("e" + std::to_string(index))});
  }
  state.hard_state = HardState{term, NodeId{}, commit};
  return state;
}

inline Core make_core(std::uint64_t self, std::size_t voters,
                      const std::vector<std::uint64_t>& terms, std::uint64_t term,
                      Config config = hand_config(), std::uint64_t commit = 1) {
  return Core(std::move(config), n(self), state_with(voters, terms, term, commit), self, Instant{});
}

inline Message msg(MessageType type, std::uint64_t from, std::uint64_t to, std::uint64_t term) {
  Message m;
  m.type = type;
  m.from = n(from);
  m.to = n(to);
  m.term = term;
  return m;
}

inline Entry entry(std::uint64_t index, std::uint64_t term, const std::string& data = "x") {
  return Entry{index, term, EntryType::kCommand, bytes_of(data)};
}

// An AppendEntries from `from` to `to` at `term` after (prev_index, prev_term).
inline Message append(std::uint64_t from, std::uint64_t to, std::uint64_t term,
                      std::uint64_t prev_index, std::uint64_t prev_term,
                      std::vector<Entry> entries, std::uint64_t commit = 0) {
  Message m = msg(MessageType::kAppend, from, to, term);
  m.index = prev_index;
  m.log_term = prev_term;
  m.entries = std::move(entries);
  m.commit = commit;
  return m;
}

inline Message vote_request(std::uint64_t from, std::uint64_t to, std::uint64_t term,
                            std::uint64_t last_index, std::uint64_t last_term,
                            MessageType type = MessageType::kVote) {
  Message m = msg(type, from, to, term);
  m.index = last_index;
  m.log_term = last_term;
  return m;
}

// The messages of `ready` of `type`.
inline std::vector<Message> of_type(const Ready& ready, MessageType type) {
  std::vector<Message> out;
  for (const Message& m : ready.messages) {
    if (m.type == type) out.push_back(m);
  }
  return out;
}

// The only message of `ready` of `type`; a default message (type heartbeat, zero term) when
// there is not exactly one.
inline Message only(const Ready& ready, MessageType type) {
  auto all = of_type(ready, type);
  return all.size() == 1 ? all[0] : Message{};
}

// The terms of the entries of a core's log, from first_index().
inline std::vector<std::uint64_t> log_terms(const Core& core) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t i = core.log().first_index(); i <= core.log().last_index(); ++i) {
    out.push_back(core.log().at(i).term);
  }
  return out;
}

// Makes a 3-voter core (node 1) leader of `term` + 1 by hand: it campaigns and node 2 grants.
inline void make_leader(Core& core, Instant now = Instant{}) {
  core.campaign(now);
  (void)core.take_ready();
  Message grant = msg(MessageType::kVoteResponse, 2, 1, core.term());
  core.step(grant, now);
}

}  // namespace starling::consensus::testing
