// Consensus core, part 3: AppendEntries on both sides (batching, pipelining, fast
// backtracking), heartbeats, InstallSnapshot, commit by counting, and the leader's progress
// tracking and voter-set changes (rules C2, C3, C5, C8, C9, C10, C12, C13 of DESIGN.md).
#include <algorithm>

#include "consensus/core.hpp"

namespace starling::consensus {

std::string_view progress_state_name(ProgressState state) noexcept {
  switch (state) {
    case ProgressState::kProbe: return "probe";
    case ProgressState::kReplicate: return "replicate";
    case ProgressState::kSnapshot: return "snapshot";
  }
  return "unknown";
}

// --- Follower side ----------------------------------------------------------------------------

void Core::on_leader_message(const Message& m) {
  // Same term as ours (higher terms made us a follower already). A candidate of this term
  // learns that another node won it.
  if (role_ != Role::kFollower) become_follower(term_, m.from);
  set_leader(m.from);
  heard_from_leader_at_ = now_;
  reset_election_timer();
}

void Core::on_append(const Message& m) {
  if (role_ == Role::kLeader) return reject("append_to_leader");  // C1 makes this impossible
  on_leader_message(m);
  Message r;
  r.type = MessageType::kAppendResponse;
  r.term = term_;
  if (m.index < commit_) {
    r.index = commit_;  // a delayed append: what is committed here matches the leader anyway
    return respond(m, std::move(r));
  }
  if (!log_.matches(m.index, m.log_term)) {
    // C3: refuse, with a hint that lets the leader skip a whole term per round trip (C13).
    r.reject = true;
    r.index = m.index;
    r.hint_index = log_.find_conflict_by_term(std::min(m.index, log_.last_index()), m.log_term);
    r.hint_term = log_.term(r.hint_index).value_or(0);
    return respond(m, std::move(r));
  }
  if (!accept_entries(m)) return;
  const std::uint64_t last_new = m.index + m.entries.size();
  commit_to(std::min(m.commit, last_new));
  r.index = last_new;
  respond(m, std::move(r));
}

bool Core::accept_entries(const Message& m) {
  // C3: skip the entries we already hold, truncate at the first conflict, append the rest. A
  // stale (shorter or reordered) append never removes entries that match.
  std::uint64_t first_new = UINT64_MAX;
  for (const Entry& entry : m.entries) {
    if (entry.index <= log_.last_index()) {
      if (log_.matches(entry.index, entry.term)) continue;
      if (entry.index <= commit_) {
        reject("conflicts_with_committed");  // impossible with a correct leader (C5)
        return false;
      }
      stats_.entries_truncated += log_.last_index() - entry.index + 1;
      log_.truncate_from(entry.index);
      on_log_truncated(entry.index);
    }
    log_.append(entry);
    ++stats_.entries_appended;
    first_new = std::min(first_new, entry.index);
  }
  if (first_new != UINT64_MAX) {
    unstable_from_ = std::min(unstable_from_, first_new);
    on_entries_appended(first_new);
  }
  return true;
}

void Core::on_heartbeat(const Message& m) {
  if (role_ == Role::kLeader) return reject("heartbeat_to_leader");
  on_leader_message(m);
  // The leader sends min(its commit, our match): our log matches it up to there.
  commit_to(std::min(m.commit, log_.last_index()));
  Message r;
  r.type = MessageType::kHeartbeatResponse;
  r.term = term_;
  r.context = m.context;
  respond(m, std::move(r));
}

void Core::on_snapshot(const Message& m) {
  if (role_ == Role::kLeader) return reject("snapshot_to_leader");
  on_leader_message(m);
  const SnapshotMeta& meta = m.snapshot->meta;
  Message r;
  r.type = MessageType::kAppendResponse;
  r.term = term_;
  if (meta.index <= commit_) {
    r.index = commit_;  // nothing to install
  } else if (log_.matches(meta.index, meta.term)) {
    commit_to(meta.index);  // our log already holds it: the snapshot only tells us it commits
    r.index = commit_;
  } else {
    // C10: install. The log is replaced; the shell persists the snapshot before our answer
    // leaves and restores its state machine from it.
    snapshot_ = *m.snapshot;
    snapshot_pending_ = true;
    ++stats_.snapshots_installed;
    log_.reset(meta.index, meta.term);
    unstable_from_ = UINT64_MAX;
    commit_ = meta.index;
    conf_entries_.clear();
    update_conf();
    r.index = meta.index;
  }
  respond(m, std::move(r));
}

// --- Leader side: progress --------------------------------------------------------------------

bool Core::paused(const Progress& progress) const {
  switch (progress.state) {
    case ProgressState::kProbe: return progress.probe_sent;
    case ProgressState::kReplicate: return progress.inflight.size() >= config_.max_inflight_appends;
    case ProgressState::kSnapshot: return true;
  }
  return true;
}

void Core::become_probe(Progress& progress) {
  const std::uint64_t after_snapshot =
      progress.state == ProgressState::kSnapshot ? progress.pending_snapshot + 1 : 0;
  progress.state = ProgressState::kProbe;
  progress.next = std::max(progress.match + 1, after_snapshot);
  progress.probe_sent = false;
  progress.inflight.clear();
  progress.pending_snapshot = 0;
}

void Core::become_replicate(Progress& progress) {
  progress.state = ProgressState::kReplicate;
  progress.next = progress.match + 1;
  progress.probe_sent = false;
  progress.inflight.clear();
  progress.pending_snapshot = 0;
}

bool Core::maybe_decrease(Progress& progress, const Message& m) {
  if (progress.state == ProgressState::kReplicate) {
    if (m.index <= progress.match) return false;  // stale: refers to an index already matched
    become_probe(progress);  // something was lost: resume from what is known to match
    return true;
  }
  if (progress.state == ProgressState::kSnapshot) return false;  // answers to older appends
  if (progress.next - 1 != m.index) return false;  // not an answer to the current probe
  // C13: skip every entry that cannot match, using the follower's (index, term) hint.
  std::uint64_t probe = m.hint_index;
  if (m.hint_term > 0) probe = log_.find_conflict_by_term(m.hint_index, m.hint_term);
  progress.next = std::max(std::min(m.index, probe + 1), progress.match + 1);
  progress.probe_sent = false;
  return true;
}

void Core::sync_progress() {
  // Every member of the configuration but this node has a progress entry. So do the members of
  // the committed configuration until a pending change commits: a node being removed keeps
  // receiving the log, so that it learns of its removal and stops campaigning (C9). Once the
  // removal commits, it gets one last append carrying the commit index and is forgotten.
  const ConfState committed = conf_at(commit_);
  const bool pending = has_pending_conf();
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (conf_.contains(it->first) || (pending && committed.contains(it->first))) {
      ++it;
      continue;
    }
    if (!pending) maybe_send_append(it->first, true);
    it = progress_.erase(it);
  }
  auto track = [&](const NodeId& id, bool learner) {
    if (id == self_) return;
    auto [it, inserted] = progress_.try_emplace(id);
    if (inserted) {
      it->second.next = log_.last_index() + 1;
      it->second.recent_active = true;  // a new member gets one election timeout to answer
    }
    it->second.learner = learner;
  };
  for (const NodeId& id : conf_.voters) track(id, false);
  for (const NodeId& id : conf_.learners) track(id, true);
  if (!transfer_target_.is_zero() && !conf_.is_voter(transfer_target_)) abort_transfer();
}

// --- Leader side: sending ---------------------------------------------------------------------

bool Core::maybe_send_append(const NodeId& to, bool send_if_empty) {
  auto it = progress_.find(to);
  if (it == progress_.end()) return false;
  Progress& progress = it->second;
  if (paused(progress)) return false;
  const std::uint64_t prev = progress.next - 1;
  const auto prev_term = log_.term(prev);
  if (!prev_term) {
    send_snapshot(to, progress);  // C10: what the follower needs next is compacted away
    return true;
  }
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.term = term_;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = commit_;
  if (progress.next <= log_.last_index()) {
    m.entries = log_.slice(progress.next, log_.last_index() + 1, config_.max_append_entries,
                           config_.max_append_bytes);
  }
  if (m.entries.empty() && !send_if_empty) return false;
  if (!m.entries.empty()) {
    if (progress.state == ProgressState::kReplicate) {
      // C13: pipelining. Assume success and go on; a rejection resets to the last match.
      progress.next = m.entries.back().index + 1;
      progress.inflight.push_back(m.entries.back().index);
    } else {
      progress.probe_sent = true;
    }
  }
  ++stats_.appends_sent;
  send(std::move(m));
  return true;
}

void Core::send_snapshot(const NodeId& to, Progress& progress) {
  STARLING_ASSERT(snapshot_.meta.index >= log_.offset() && snapshot_.meta.index > 0,
                  "compacted log without a snapshot covering it");
  progress.state = ProgressState::kSnapshot;
  progress.pending_snapshot = snapshot_.meta.index;
  progress.snapshot_sent_at = now_;
  progress.probe_sent = false;
  progress.inflight.clear();
  Message m;
  m.type = MessageType::kSnapshot;
  m.to = to;
  m.term = term_;
  m.snapshot = snapshot_;
  ++stats_.snapshots_sent;
  send(std::move(m));
}

void Core::broadcast_append(bool send_if_empty) {
  for (auto& [id, progress] : progress_) maybe_send_append(id, send_if_empty);
}

void Core::broadcast_heartbeat() {
  const bool learners_too = heartbeat_rounds_++ % config_.learner_heartbeat_rounds == 0;
  for (const auto& [id, progress] : progress_) {
    if (progress.learner && !learners_too) continue;
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = id;
    m.term = term_;
    m.commit = std::min(progress.match, commit_);
    m.context = static_cast<std::uint64_t>(now_.time_since_epoch().count());
    send(std::move(m));
  }
}

// --- Leader side: answers ---------------------------------------------------------------------

void Core::on_append_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& progress = it->second;
  progress.recent_active = true;
  if (m.reject) {
    ++stats_.append_rejections;
    if (maybe_decrease(progress, m)) maybe_send_append(m.from, true);
    return;
  }
  if (m.index > log_.last_index()) return reject("ack_beyond_log");
  const bool was_paused = paused(progress);
  progress.next = std::max(progress.next, m.index + 1);
  if (m.index <= progress.match) return;  // a duplicate or reordered answer
  progress.match = m.index;
  switch (progress.state) {
    case ProgressState::kProbe: become_replicate(progress); break;
    case ProgressState::kSnapshot:
      if (progress.match >= progress.pending_snapshot) become_replicate(progress);
      break;
    case ProgressState::kReplicate:
      while (!progress.inflight.empty() && progress.inflight.front() <= m.index) {
        progress.inflight.pop_front();
      }
      break;
  }
  if (maybe_commit()) {
    broadcast_append(true);  // tell everyone the new commit index now, not at the heartbeat
    after_commit();
    if (role_ != Role::kLeader) return;
  } else if (was_paused) {
    maybe_send_append(m.from, false);
  }
  while (maybe_send_append(m.from, false)) {
  }
  // Look the follower up again: a configuration change proposed above may have removed it.
  if (auto again = progress_.find(m.from); m.from == transfer_target_ &&
                                           again != progress_.end() &&
                                           again->second.match == log_.last_index()) {
    send_timeout_now(m.from);
  }
}

void Core::on_heartbeat_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& progress = it->second;
  progress.recent_active = true;
  progress.probe_sent = false;  // a probe may be retried once per heartbeat interval
  const auto sent = static_cast<std::int64_t>(m.context);
  const std::int64_t now = now_.time_since_epoch().count();
  progress.acked_send_time = std::max(progress.acked_send_time, std::min(sent, now));
  if (progress.state == ProgressState::kReplicate &&
      progress.inflight.size() >= config_.max_inflight_appends) {
    progress.inflight.pop_front();  // let one more append out: the window may hold losses
  }
  if (progress.state == ProgressState::kSnapshot &&
      now_ >= progress.snapshot_sent_at + config_.election_timeout_min) {
    become_probe(progress);  // the snapshot or its answer was probably lost: try again
    progress.next = progress.match + 1;
  }
  if (progress.match < log_.last_index()) maybe_send_append(m.from, true);
}

// --- Commit -----------------------------------------------------------------------------------

bool Core::maybe_commit() {
  if (conf_.voters.empty()) return false;
  std::vector<std::uint64_t> matches;
  for (const NodeId& voter : conf_.voters) {
    if (voter == self_) {
      matches.push_back(log_.last_index());  // persisted before anything we send (Ready)
    } else if (auto it = progress_.find(voter); it != progress_.end()) {
      matches.push_back(it->second.match);
    } else {
      matches.push_back(0);
    }
  }
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const std::uint64_t index = matches[conf_.quorum() - 1];
  if (index <= commit_) return false;
  // C8: count replicas only for an entry of the current term (Raft section 5.4.2).
  if (!config_.testing_unsafe_commit_earlier_terms && log_.term(index) != term_) return false;
  for (std::uint64_t i = commit_ + 1; i <= index; ++i) {
    uncommitted_bytes_ -= std::min<std::uint64_t>(uncommitted_bytes_, entry_size(log_.at(i)));
  }
  commit_ = index;
  return true;
}

void Core::after_commit() {
  sync_progress();  // forgets the nodes whose removal just committed
  if (!is_voter() && !has_pending_conf()) {
    // C9: a leader removed from the voters leads until its removal commits, then hands over to
    // the most up-to-date remaining voter (which holds the removal) and steps down.
    if (auto next = most_up_to_date_voter()) send_timeout_now(*next);
    become_follower(term_, NodeId{});
    return;
  }
  maybe_advance_voters();
}

void Core::maybe_advance_voters() {
  if (!voter_target_ || role_ != Role::kLeader || !transfer_target_.is_zero()) return;
  if (!committed_in_term() || has_pending_conf()) return;
  const std::vector<NodeId> target = *voter_target_;  // a copy: proposing may reset it
  auto wanted = [&](const NodeId& id) {
    return std::binary_search(target.begin(), target.end(), id);
  };
  std::optional<ConfigChange> step;
  // C9: removals first (the set exists to replace dead voters), this node's own removal last.
  for (const NodeId& voter : conf_.voters) {
    if (voter != self_ && !wanted(voter)) {
      step = ConfigChange{ConfigChangeType::kRemove, voter};
      break;
    }
  }
  // C12: a new voter joins as a learner and is promoted once it holds every committed entry.
  for (const NodeId& id : target) {
    if (step || conf_.is_voter(id)) continue;
    if (!conf_.is_learner(id)) {
      step = ConfigChange{ConfigChangeType::kAddLearner, id};
    } else if (auto p = progress_.find(id);
               p != progress_.end() && p->second.state == ProgressState::kReplicate &&
               p->second.match >= commit_) {
      step = ConfigChange{ConfigChangeType::kAddVoter, id};
    }
  }
  const bool others_done = std::all_of(target.begin(), target.end(), [&](const NodeId& id) {
    return conf_.is_voter(id);
  });
  if (!step && others_done && conf_.is_voter(self_) && !wanted(self_)) {
    step = ConfigChange{ConfigChangeType::kRemove, self_};
  }
  if (!step) {
    if (others_done && conf_.voters == target) voter_target_.reset();
    return;
  }
  if (!propose_config_change(*step).is_ok()) voter_target_.reset();
}

}  // namespace starling::consensus
