// Consensus core, part 2: roles, randomised election timers, PreVote and votes, terms,
// CheckQuorum and leader stickiness, leases, and leadership transfer (rules C1, C4, C6, C7,
// C11, C15, C16 of DESIGN.md).
#include <algorithm>

#include "consensus/core.hpp"

namespace starling::consensus {

namespace {

std::int64_t micros(Instant t) { return t.time_since_epoch().count(); }

}  // namespace

// --- Roles ------------------------------------------------------------------------------------

void Core::reset_election_timer() {
  // C16: uniform in [min, max), redrawn each time, from this node's seeded generator.
  const auto span = static_cast<std::uint64_t>(
      (config_.election_timeout_max - config_.election_timeout_min).count());
  const auto jitter = Duration(static_cast<Duration::rep>(rng_.uniform(span)));
  election_deadline_ = now_ + config_.election_timeout_min + jitter;
}

void Core::become_follower(std::uint64_t term, const NodeId& leader) {
  STARLING_ASSERT(term >= term_, "become_follower() to an older term");
  if (term != term_) {
    term_ = term;
    vote_ = NodeId{};
  }
  set_role(Role::kFollower);
  set_leader(leader);
  if (!leader.is_zero()) heard_from_leader_at_ = now_;
  votes_.clear();
  progress_.clear();
  voter_target_.reset();
  transfer_target_ = NodeId{};
  transfer_deadline_ = Instant::max();
  heartbeat_deadline_ = Instant::max();
  check_quorum_deadline_ = Instant::max();
  timeout_now_sent_ = false;
  reset_election_timer();
}

void Core::start_campaign() {
  if (config_.pre_vote) {
    become_pre_candidate();
  } else {
    become_candidate(false);
  }
}

void Core::become_pre_candidate() {
  // C6: ask for votes at term + 1 without taking that term; only a quorum of grants starts a
  // real election, so a node that cannot win never raises the cluster's term.
  set_role(Role::kPreCandidate);
  set_leader(NodeId{});
  votes_.clear();
  reset_election_timer();
  ++stats_.pre_votes_started;
  if (is_voter()) votes_[self_] = true;
  for (const NodeId& voter : conf_.voters) {
    if (voter == self_) continue;
    Message m;
    m.type = MessageType::kPreVote;
    m.to = voter;
    m.term = term_ + 1;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    send(std::move(m));
  }
  std::size_t granted = 0, rejected = 0;
  count_votes(granted, rejected);
  if (granted >= conf_.quorum()) become_candidate(false);
}

void Core::become_candidate(bool transfer) {
  ++term_;
  vote_ = self_;
  set_role(Role::kCandidate);
  set_leader(NodeId{});
  votes_.clear();
  votes_[self_] = true;  // counted only while this node is a voter (count_votes)
  reset_election_timer();
  ++stats_.elections_started;
  for (const NodeId& voter : conf_.voters) {
    if (voter == self_) continue;
    Message m;
    m.type = MessageType::kVote;
    m.to = voter;
    m.term = term_;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.transfer = transfer;
    send(std::move(m));
  }
  std::size_t granted = 0, rejected = 0;
  count_votes(granted, rejected);
  if (granted >= conf_.quorum()) become_leader();
}

void Core::become_leader() {
  set_role(Role::kLeader);
  set_leader(self_);
  ++stats_.elections_won;
  votes_.clear();
  progress_.clear();
  voter_target_.reset();
  transfer_target_ = NodeId{};
  transfer_deadline_ = Instant::max();
  timeout_now_sent_ = false;
  election_deadline_ = Instant::max();
  heartbeat_deadline_ = now_ + config_.heartbeat_interval;
  check_quorum_deadline_ = now_ + config_.election_timeout_min;
  uncommitted_bytes_ = 0;
  for (std::uint64_t i = commit_ + 1; i <= log_.last_index(); ++i) {
    uncommitted_bytes_ += entry_size(log_.at(i));
  }
  sync_progress();
  for (auto& [id, progress] : progress_) progress.recent_active = false;
  // C8: entries of earlier terms commit only under an entry of this term.
  append_as_leader(EntryType::kNoop, {});
}

// --- Terms ------------------------------------------------------------------------------------

bool Core::in_lease() const {
  if (!config_.check_quorum) return false;
  if (role_ == Role::kLeader) return true;
  return now_ < heard_from_leader_at_ + config_.election_timeout_min;
}

bool Core::on_higher_term(const Message& m) {
  const bool campaign = m.type == MessageType::kPreVote || m.type == MessageType::kVote;
  if (campaign && !m.transfer && in_lease()) {
    // C7: a leader is being heard; this candidate is partitioned or removed. Ignore it without
    // taking its term, so it cannot depose a healthy leader.
    ++stats_.votes_ignored_in_lease;
    return false;
  }
  if (m.type == MessageType::kPreVote) return true;  // C6: a pre-vote never changes our term
  if (m.type == MessageType::kPreVoteResponse && !m.reject) return true;  // our own term + 1
  const bool from_leader = m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
                           m.type == MessageType::kSnapshot;
  become_follower(m.term, from_leader ? m.from : NodeId{});
  return true;
}

void Core::on_lower_term(const Message& m) {
  if ((config_.check_quorum || config_.pre_vote) &&
      (m.type == MessageType::kHeartbeat || m.type == MessageType::kAppend)) {
    // A leader of an older term (e.g. back from a partition) learns the current term from
    // this answer and steps down; without it, it would go on sending to nodes that ignore it.
    Message r;
    r.type = MessageType::kAppendResponse;
    r.term = term_;
    r.reject = true;
    respond(m, std::move(r));
  } else if (m.type == MessageType::kPreVote) {
    Message r;
    r.type = MessageType::kPreVoteResponse;
    r.term = term_;
    r.reject = true;
    respond(m, std::move(r));
  }
}

// --- Votes ------------------------------------------------------------------------------------

void Core::on_vote_request(const Message& m) {
  const bool pre = m.type == MessageType::kPreVote;
  // C1: one vote per term (persisted before the answer leaves: Ready contract).
  const bool can_vote = vote_ == m.from || (vote_.is_zero() && leader_.is_zero()) ||
                        (pre && m.term > term_);
  // C4: only for a candidate whose log is at least as up to date as ours.
  const bool up_to_date = config_.testing_unsafe_vote_without_log_check ||
                          m.log_term > log_.last_term() ||
                          (m.log_term == log_.last_term() && m.index >= log_.last_index());
  Message r;
  r.type = pre ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  if (can_vote && up_to_date) {
    r.term = m.term;
    if (!pre) {
      vote_ = m.from;
      reset_election_timer();
    }
  } else {
    r.term = term_;
    r.reject = true;
  }
  respond(m, std::move(r));
}

void Core::count_votes(std::size_t& granted, std::size_t& rejected) const {
  granted = 0;
  rejected = 0;
  for (const auto& [id, vote] : votes_) {
    if (!conf_.is_voter(id)) continue;
    ++(vote ? granted : rejected);
  }
}

void Core::on_vote_response(const Message& m) {
  if (!conf_.is_voter(m.from)) return;
  if (role_ == Role::kPreCandidate && !m.reject && m.term != term_ + 1) return;
  votes_.emplace(m.from, !m.reject);  // the first answer of each voter counts
  std::size_t granted = 0, rejected = 0;
  count_votes(granted, rejected);
  if (granted >= conf_.quorum()) {
    if (role_ == Role::kPreCandidate) {
      become_candidate(false);
    } else {
      become_leader();
    }
  } else if (rejected > conf_.voters.size() - conf_.quorum()) {
    become_follower(term_, NodeId{});  // this election cannot be won
  }
}

// --- Leader timers: heartbeats, CheckQuorum, transfer -----------------------------------------

void Core::tick_leader() {
  if (now_ >= heartbeat_deadline_) {
    heartbeat_deadline_ = now_ + config_.heartbeat_interval;
    broadcast_heartbeat();
  }
  if (now_ >= check_quorum_deadline_) {
    check_quorum_deadline_ = now_ + config_.election_timeout_min;
    if (config_.check_quorum) check_quorum();
    if (role_ != Role::kLeader) return;
  }
  if (now_ >= transfer_deadline_) abort_transfer();
  maybe_advance_voters();
}

void Core::check_quorum() {
  // C7: step down unless a quorum of voters (this node included if it votes) answered within
  // the last election timeout.
  std::size_t active = 0;
  for (const NodeId& voter : conf_.voters) {
    if (voter == self_) {
      ++active;
    } else if (auto it = progress_.find(voter); it != progress_.end() && it->second.recent_active) {
      ++active;
    }
  }
  if (active < conf_.quorum()) {
    ++stats_.check_quorum_step_downs;
    become_follower(term_, NodeId{});
    return;
  }
  for (auto& [id, progress] : progress_) progress.recent_active = false;
}

bool Core::has_lease(Instant now) const {
  if (role_ != Role::kLeader || !config_.check_quorum || !transfer_target_.is_zero() ||
      timeout_now_sent_ || !committed_in_term() || conf_.voters.empty()) {
    return false;
  }
  std::vector<std::int64_t> acked;
  for (const NodeId& voter : conf_.voters) {
    if (voter == self_) {
      acked.push_back(micros(now));
    } else if (auto it = progress_.find(voter); it != progress_.end()) {
      acked.push_back(it->second.acked_send_time);
    } else {
      acked.push_back(INT64_MIN);
    }
  }
  std::sort(acked.begin(), acked.end(), std::greater<>());
  const std::int64_t start = acked[conf_.quorum() - 1];
  if (start == INT64_MIN) return false;
  // C15: followers that heard this leader at or after `start` refuse votes until at least
  // start + election_timeout_min by their clocks; the margin covers clock-rate differences.
  return micros(now) < start + (config_.election_timeout_min - config_.lease_margin).count();
}

Status Core::transfer_leadership(const NodeId& target, Instant now) {
  now_ = now;
  if (role_ != Role::kLeader) return not_leader_status();
  NodeId to = target;
  if (to.is_zero()) {
    auto best = most_up_to_date_voter();
    if (!best) return error(StatusCode::kInvalidArgument, "no other voter to transfer to");
    to = *best;
  }
  if (to == self_ || !conf_.is_voter(to)) {
    return error(StatusCode::kInvalidArgument, to.short_hex() + " is not another voter");
  }
  if (to == transfer_target_) return Status::ok();
  abort_transfer();
  transfer_target_ = to;
  transfer_deadline_ = now_ + config_.election_timeout_min;
  ++stats_.transfers_started;
  // C11: catch the target up first; TimeoutNow goes when its log matches ours.
  if (progress_.at(to).match == log_.last_index()) {
    send_timeout_now(to);
  } else {
    maybe_send_append(to, true);
  }
  return Status::ok();
}

void Core::abort_transfer() {
  if (transfer_target_.is_zero()) return;
  ++stats_.transfers_aborted;
  Event event;
  event.type = EventType::kTransferAborted;
  event.term = term_;
  event.node = transfer_target_;
  emit(std::move(event));
  transfer_target_ = NodeId{};
  transfer_deadline_ = Instant::max();
}

void Core::send_timeout_now(const NodeId& to) {
  timeout_now_sent_ = true;
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  m.term = term_;
  send(std::move(m));
}

void Core::on_timeout_now(const Message& m) {
  (void)m;
  // C11: campaign at once, skipping PreVote; the votes carry `transfer` so that voters who hear
  // the (handing-over) leader still answer.
  if (role_ == Role::kLeader || !may_campaign()) return;
  become_candidate(true);
}

std::optional<NodeId> Core::most_up_to_date_voter() const {
  std::optional<NodeId> best;
  std::uint64_t best_match = 0;
  for (const auto& [id, progress] : progress_) {
    if (!conf_.is_voter(id)) continue;
    if (!best || progress.match > best_match) {
      best = id;
      best_match = progress.match;
    }
  }
  return best;
}

}  // namespace starling::consensus
