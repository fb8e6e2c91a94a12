// Consensus core, part 1: construction and restore, local requests, the configuration in
// effect, commit bookkeeping, Ready, and the dispatch of inputs. Elections are in
// core_election.cpp, replication and snapshots in core_replication.cpp.
#include "consensus/core.hpp"

#include <algorithm>

#include "consensus/codec.hpp"

namespace starling::consensus {

Result<DurableState> bootstrap_state(std::vector<NodeId> voters) {
  STARLING_RETURN_IF_ERROR(validate_voter_set(voters));
  std::sort(voters.begin(), voters.end());
  DurableState state;
  state.snapshot.meta = SnapshotMeta{1, 1, ConfState{std::move(voters), {}}};
  state.hard_state = HardState{1, NodeId{}, 1};
  return state;
}

Status validate_durable_state(const DurableState& state) {
  auto bad = [](const std::string& why) {
    return error(StatusCode::kCorrupt, "durable consensus state: " + why);
  };
  const SnapshotMeta& meta = state.snapshot.meta;
  if (Status conf = validate_conf(meta.conf); !conf) return bad(conf.message());
  if (meta.index == 0 && (meta.term != 0 || !meta.conf.voters.empty() ||
                          !meta.conf.learners.empty() || !state.snapshot.data.empty())) {
    return bad("a snapshot at index 0 must be empty");
  }
  if (meta.index != 0 && meta.term == 0) return bad("a snapshot at term 0");
  if (meta.term > state.hard_state.term) return bad("snapshot term above the current term");
  std::uint64_t last_index = meta.index;
  std::uint64_t last_term = meta.term;
  for (std::size_t i = 0; i < state.entries.size(); ++i) {
    const Entry& e = state.entries[i];
    if (i > 0 && e.index != state.entries[i - 1].index + 1) return bad("entries not contiguous");
    if (e.index <= meta.index) continue;
    if (e.index != last_index + 1) return bad("a gap between the snapshot and the entries");
    if (e.term < last_term) return bad("entry terms decrease");
    if (e.term > state.hard_state.term) return bad("entry term above the current term");
    const auto type = static_cast<std::uint8_t>(e.type);
    if (type < 1 || type > 3) return bad("unknown entry type");
    if (e.type == EntryType::kConfigChange) {
      auto change = decode_config_change(e.data);
      if (!change) return bad(change.status().message());
    }
    last_index = e.index;
    last_term = e.term;
  }
  if (state.hard_state.commit > last_index) return bad("commit index beyond the log");
  return Status::ok();
}

Core::Core(Config config, NodeId self, DurableState state, std::uint64_t seed, Instant now)
    : config_(std::move(config)), self_(self), rng_(seed), now_(now) {
  STARLING_ASSERT(config_.validate().is_ok(), "invalid consensus config");
  STARLING_ASSERT(!self_.is_zero(), "a consensus core needs a non-zero node id");
  STARLING_ASSERT(validate_durable_state(state).is_ok(), "inconsistent durable state");
  snapshot_ = std::move(state.snapshot);
  log_.reset(snapshot_.meta.index, snapshot_.meta.term);
  for (Entry& entry : state.entries) {
    if (entry.index > snapshot_.meta.index) log_.append(std::move(entry));
  }
  conf_ = snapshot_.meta.conf;
  term_ = state.hard_state.term;
  vote_ = state.hard_state.vote;
  commit_ = std::max(state.hard_state.commit, snapshot_.meta.index);
  applied_ = snapshot_.meta.index;
  persisted_ = state.hard_state;
  on_entries_appended(log_.first_index());
  ready_.events.clear();  // the configuration read back is not news
  heard_from_leader_at_ = now_;  // C15: see the member's comment
  reset_election_timer();
}

// --- Local requests ---------------------------------------------------------------------------

Status Core::not_leader_status() const {
  if (leader_.is_zero()) return error(StatusCode::kUnavailable, "not leader; no leader known");
  return error(StatusCode::kUnavailable, "not leader; the leader is " + leader_.to_hex());
}

Status Core::check_can_propose() const {
  if (role_ != Role::kLeader) return not_leader_status();
  if (!transfer_target_.is_zero()) {
    return error(StatusCode::kUnavailable,
                 "leadership transfer to " + transfer_target_.to_hex() + " in progress");
  }
  return Status::ok();
}

Result<std::uint64_t> Core::propose(Bytes command) {
  STARLING_RETURN_IF_ERROR(check_can_propose());
  if (command.size() > config_.max_entry_bytes) {
    return error(StatusCode::kTooLarge, "command of " + std::to_string(command.size()) +
                                            " bytes exceeds max_entry_bytes");
  }
  const std::size_t size = entry_size(Entry{0, 0, EntryType::kCommand, {}}) + command.size();
  if (uncommitted_bytes_ > 0 && uncommitted_bytes_ + size > config_.max_uncommitted_bytes) {
    return error(StatusCode::kUnavailable, "too many uncommitted bytes; retry later");
  }
  return append_as_leader(EntryType::kCommand, std::move(command));
}

Result<std::uint64_t> Core::propose_config_change(ConfigChange change) {
  STARLING_RETURN_IF_ERROR(check_can_propose());
  if (!committed_in_term()) {
    // C9: the single-server change bug (raft-dev, 2015) needs an entry of this term first.
    return error(StatusCode::kUnavailable, "the leader has not committed an entry of its term");
  }
  if (has_pending_conf()) {
    return error(StatusCode::kUnavailable, "a configuration change is not committed yet");
  }
  STARLING_ASSIGN_OR_RETURN(auto next, apply_config_change(conf_, change));
  (void)next;
  return append_as_leader(EntryType::kConfigChange, encode_config_change(change));
}

Status Core::propose_voters(std::vector<NodeId> voters) {
  STARLING_RETURN_IF_ERROR(validate_voter_set(voters));
  if (role_ != Role::kLeader) return not_leader_status();
  std::sort(voters.begin(), voters.end());
  voter_target_ = std::move(voters);
  maybe_advance_voters();
  return Status::ok();
}

Result<SnapshotMeta> Core::compact(std::uint64_t index, Bytes data) {
  if (index > applied_) {
    return error(StatusCode::kInvalidArgument, "compact() beyond the applied index");
  }
  if (index <= snapshot_.meta.index) {
    return error(StatusCode::kStale, "compact() at or below the current snapshot");
  }
  const auto term = log_.term(index);
  STARLING_ASSERT(term.has_value(), "an applied entry is not in the log");
  snapshot_ = Snapshot{SnapshotMeta{index, *term, conf_at(index)}, std::move(data)};
  conf_entries_.erase(conf_entries_.begin(), conf_entries_.upper_bound(index));
  const std::uint64_t keep = config_.compaction_trailing_entries;
  const std::uint64_t to = index > keep ? index - keep : 0;
  if (to > log_.offset()) log_.compact_to(to);
  return snapshot_.meta;
}

void Core::campaign(Instant now) {
  now_ = now;
  if (role_ == Role::kLeader || !may_campaign()) return;
  start_campaign();
}

// --- Leader appends, configuration, commit ----------------------------------------------------

std::uint64_t Core::append_as_leader(EntryType type, Bytes data) {
  Entry entry{log_.last_index() + 1, term_, type, std::move(data)};
  const std::uint64_t index = entry.index;
  uncommitted_bytes_ += entry_size(entry);
  log_.append(std::move(entry));
  ++stats_.entries_appended;
  unstable_from_ = std::min(unstable_from_, index);
  on_entries_appended(index);
  if (maybe_commit()) after_commit();
  if (role_ == Role::kLeader) broadcast_append(false);
  return index;
}

void Core::on_entries_appended(std::uint64_t first) {
  bool changed = false;
  for (std::uint64_t i = std::max(first, log_.first_index()); i <= log_.last_index(); ++i) {
    const Entry& entry = log_.at(i);
    if (entry.type != EntryType::kConfigChange) continue;
    const ConfState before = conf_at(i - 1);
    auto change = decode_config_change(entry.data);
    auto next = change ? apply_config_change(before, *change) : Result<ConfState>(change.status());
    // An entry that does not apply is a no-op on every node alike (a leader never appends one).
    conf_entries_[i] = next ? std::move(*next) : before;
    changed = true;
  }
  if (changed) update_conf();
}

void Core::on_log_truncated(std::uint64_t from) {
  const bool had = conf_entries_.lower_bound(from) != conf_entries_.end();
  conf_entries_.erase(conf_entries_.lower_bound(from), conf_entries_.end());
  unstable_from_ = std::min(unstable_from_, from);
  if (had) update_conf();
}

ConfState Core::conf_at(std::uint64_t index) const {
  auto it = conf_entries_.upper_bound(index);
  if (it == conf_entries_.begin()) return snapshot_.meta.conf;
  return std::prev(it)->second;
}

void Core::update_conf() {
  ConfState next = conf_entries_.empty() ? snapshot_.meta.conf : conf_entries_.rbegin()->second;
  if (next == conf_) return;
  conf_ = std::move(next);
  Event event;
  event.type = EventType::kConfigChanged;
  event.term = term_;
  event.index = conf_entries_.empty() ? snapshot_.meta.index : conf_entries_.rbegin()->first;
  event.conf = conf_;
  emit(std::move(event));
  if (role_ == Role::kLeader) {
    sync_progress();
  } else if (role_ != Role::kFollower && !may_campaign()) {
    become_follower(term_, NodeId{});  // a candidate removed from the voters stops campaigning
  }
}

bool Core::may_campaign() const {
  return is_voter() || (has_pending_conf() && conf_at(commit_).is_voter(self_));
}

bool Core::has_pending_conf() const {
  return !conf_entries_.empty() && conf_entries_.rbegin()->first > commit_;
}

bool Core::committed_in_term() const {
  const auto term = log_.term(commit_);
  return term.has_value() && *term == term_;
}

void Core::commit_to(std::uint64_t index) {
  if (index > commit_) commit_ = index;
}

// --- Ready ------------------------------------------------------------------------------------

Ready Core::take_ready() {
  Ready out = std::move(ready_);
  ready_ = Ready{};
  if (snapshot_pending_) {
    out.snapshot = snapshot_;
    snapshot_pending_ = false;
    applied_ = std::max(applied_, snapshot_.meta.index);
  }
  if (unstable_from_ <= log_.last_index()) {
    STARLING_ASSERT(unstable_from_ >= log_.first_index(), "unpersisted entries were compacted");
    out.entries = log_.slice(unstable_from_, log_.last_index() + 1, SIZE_MAX, SIZE_MAX);
  }
  unstable_from_ = UINT64_MAX;
  if (const HardState now = hard_state(); now != persisted_) {
    out.hard_state = now;
    persisted_ = now;
  }
  if (commit_ > applied_) {
    out.committed_entries = log_.slice(applied_ + 1, commit_ + 1, SIZE_MAX, SIZE_MAX);
    applied_ = commit_;
  }
  out.snapshot_due = applied_ - snapshot_.meta.index >= config_.snapshot_threshold_entries;
  return out;
}

bool Core::has_ready() const {
  return !ready_.empty() || snapshot_pending_ || unstable_from_ <= log_.last_index() ||
         hard_state() != persisted_ || commit_ > applied_;
}

// --- Inputs -----------------------------------------------------------------------------------

Instant Core::next_deadline() const {
  if (role_ == Role::kLeader) {
    return std::min({heartbeat_deadline_, check_quorum_deadline_, transfer_deadline_});
  }
  return may_campaign() ? election_deadline_ : Instant::max();
}

void Core::tick(Instant now) {
  now_ = now;
  if (role_ == Role::kLeader) return tick_leader();
  if (may_campaign() && now_ >= election_deadline_) start_campaign();
}

bool Core::well_formed(const Message& m) const {
  switch (m.type) {
    case MessageType::kAppend: {
      if (m.log_term > m.term || m.index > UINT64_MAX / 2) return false;
      std::uint64_t index = m.index;
      std::uint64_t term = m.log_term;
      for (const Entry& e : m.entries) {
        const auto type = static_cast<std::uint8_t>(e.type);
        if (e.index != ++index || e.term < term || e.term > m.term || type < 1 || type > 3) {
          return false;
        }
        term = e.term;
      }
      return true;
    }
    case MessageType::kSnapshot:
      return m.snapshot.has_value() && m.snapshot->meta.index > 0 &&
             m.snapshot->meta.term > 0 && m.snapshot->meta.term <= m.term &&
             m.snapshot->meta.index < UINT64_MAX / 2 &&
             validate_conf(m.snapshot->meta.conf).is_ok();
    case MessageType::kPreVote:
    case MessageType::kVote:
      return m.log_term <= m.term && m.entries.empty();
    default:
      return m.entries.empty() && !m.snapshot.has_value();
  }
}

void Core::step(const Message& m, Instant now) {
  now_ = now;
  ++stats_.messages_in;
  if (m.to != self_) return reject("wrong_destination");
  if (m.from.is_zero() || m.from == self_) return reject("bad_sender");
  if (!well_formed(m)) return reject("malformed");
  if (m.term > term_) {
    if (!on_higher_term(m)) return;
  } else if (m.term < term_) {
    return on_lower_term(m);
  }
  switch (m.type) {
    case MessageType::kPreVote:
    case MessageType::kVote: return on_vote_request(m);
    case MessageType::kPreVoteResponse:
      if (role_ == Role::kPreCandidate) on_vote_response(m);
      return;
    case MessageType::kVoteResponse:
      if (role_ == Role::kCandidate) on_vote_response(m);
      return;
    case MessageType::kAppend: return on_append(m);
    case MessageType::kHeartbeat: return on_heartbeat(m);
    case MessageType::kSnapshot: return on_snapshot(m);
    case MessageType::kAppendResponse:
      if (role_ == Role::kLeader) on_append_response(m);
      return;
    case MessageType::kHeartbeatResponse:
      if (role_ == Role::kLeader) on_heartbeat_response(m);
      return;
    case MessageType::kTimeoutNow: return on_timeout_now(m);
  }
  reject("unknown_type");
}

// --- Outputs ----------------------------------------------------------------------------------

void Core::set_leader(const NodeId& leader) {
  if (leader == leader_) return;
  leader_ = leader;
  Event event;
  event.type = EventType::kLeaderChanged;
  event.term = term_;
  event.node = leader;
  emit(std::move(event));
}

void Core::set_role(Role role) {
  if (role == role_) return;
  role_ = role;
  Event event;
  event.type = EventType::kRoleChanged;
  event.term = term_;
  event.role = role;
  emit(std::move(event));
}

void Core::emit(Event event) { ready_.events.push_back(std::move(event)); }

void Core::send(Message message) {
  message.from = self_;
  ++stats_.messages_out;
  ready_.messages.push_back(std::move(message));
}

void Core::respond(const Message& to, Message response) {
  response.to = to.from;
  send(std::move(response));
}

void Core::reject(const char* reason) {
  ++stats_.messages_rejected;
  ++stats_.rejected_by_reason[reason];
}

}  // namespace starling::consensus
