#include "consensus/controller.hpp"

#include <algorithm>

#include "base/assert.hpp"
#include "consensus/codec.hpp"

namespace starling::consensus {

namespace {

constexpr std::uint8_t kFrameVersion = 1;
constexpr std::size_t kReplyMessageMax = 1024;

using Key = std::pair<std::string, std::uint32_t>;

Instant later(Instant a, Instant b) { return a < b ? b : a; }

}  // namespace

std::string_view replica_run_name(ReplicaRun run) noexcept {
  switch (run) {
    case ReplicaRun::kStarting: return "starting";
    case ReplicaRun::kWaiting: return "waiting";
    case ReplicaRun::kRunning: return "running";
    case ReplicaRun::kReleasing: return "releasing";
  }
  return "unknown";
}

Status ControllerOptions::validate() const {
  STARLING_RETURN_IF_ERROR(raft.validate());
  if (voters != 1 && voters != 3 && voters != 5 && voters != 7) {
    return {StatusCode::kInvalidArgument, "voters must be 1, 3, 5 or 7"};
  }
  if (bootstrap_expect != 1 && bootstrap_expect != 3 && bootstrap_expect != 5 &&
      bootstrap_expect != 7) {
    return {StatusCode::kInvalidArgument, "bootstrap_expect must be 1, 3, 5 or 7"};
  }
  if (bootstrap_expect > voters) {
    return {StatusCode::kInvalidArgument, "bootstrap_expect must not be above voters"};
  }
  if (bootstrap_settle < Duration::zero()) {
    return {StatusCode::kInvalidArgument, "bootstrap_settle must not be negative"};
  }
  if (scheduler.lease < kLeaseMin || scheduler.lease > kLeaseMax) {
    return {StatusCode::kInvalidArgument, "lease must be between 10ms and 60s"};
  }
  if (!(scheduler.clock_rate_error >= 0 && scheduler.clock_rate_error < 0.5)) {
    return {StatusCode::kInvalidArgument, "clock_rate_error must be in [0, 0.5)"};
  }
  if (reschedule_interval <= Duration::zero() || forward_timeout <= Duration::zero() ||
      learner_grace <= Duration::zero()) {
    return {StatusCode::kInvalidArgument, "intervals must be positive"};
  }
  return Status::ok();
}

// ------------------------------------------------------------------------------------------
// Frames

Bytes encode_frame(const Frame& frame) {
  Bytes out;
  ByteWriter w(out);
  w.u8(kFrameVersion);
  w.u8(static_cast<std::uint8_t>(frame.kind));
  w.u64(frame.cluster);
  switch (frame.kind) {
    case FrameKind::kRaft: w.raw(encode_message(frame.raft)); break;
    case FrameKind::kPropose:
      w.u64(frame.request);
      w.u32(static_cast<std::uint32_t>(frame.command.size()));
      w.raw(frame.command);
      break;
    case FrameKind::kReply: {
      w.u64(frame.request);
      w.u8(static_cast<std::uint8_t>(frame.code));
      w.u64(frame.index);
      const std::string_view text =
          std::string_view(frame.message).substr(0, kReplyMessageMax);
      w.str16(text);
      break;
    }
  }
  return out;
}

Result<Frame> decode_frame(ByteSpan bytes, const CodecLimits& limits) {
  ByteReader r(bytes);
  auto version = r.u8();
  if (!version) return version.status();
  if (*version != kFrameVersion) return Status{StatusCode::kCorrupt, "frame: unknown version"};
  auto kind = r.u8();
  if (!kind) return kind.status();
  auto cluster = r.u64();
  if (!cluster) return cluster.status();
  Frame frame;
  frame.cluster = *cluster;
  switch (*kind) {
    case static_cast<std::uint8_t>(FrameKind::kRaft): {
      frame.kind = FrameKind::kRaft;
      auto rest = r.raw(r.remaining());
      if (!rest) return rest.status();
      auto message = decode_message(*rest, limits);
      if (!message) return message.status();
      frame.raft = std::move(*message);
      return frame;
    }
    case static_cast<std::uint8_t>(FrameKind::kPropose): {
      frame.kind = FrameKind::kPropose;
      auto request = r.u64();
      if (!request) return request.status();
      auto length = r.u32();
      if (!length) return length.status();
      if (*length > limits.entry_bytes_max) {
        return Status{StatusCode::kTooLarge, "frame: command too large"};
      }
      auto command = r.raw(*length);
      if (!command) return command.status();
      frame.request = *request;
      frame.command.assign(command->begin(), command->end());
      break;
    }
    case static_cast<std::uint8_t>(FrameKind::kReply): {
      frame.kind = FrameKind::kReply;
      auto request = r.u64();
      if (!request) return request.status();
      auto code = r.u8();
      if (!code) return code.status();
      if (*code > static_cast<std::uint8_t>(StatusCode::kInternal)) {
        return Status{StatusCode::kCorrupt, "frame: unknown status code"};
      }
      auto index = r.u64();
      if (!index) return index.status();
      auto text = r.str16(kReplyMessageMax);
      if (!text) return text.status();
      frame.request = *request;
      frame.code = static_cast<StatusCode>(*code);
      frame.index = *index;
      frame.message = std::move(*text);
      break;
    }
    default: return Status{StatusCode::kCorrupt, "frame: unknown kind"};
  }
  STARLING_RETURN_IF_ERROR(r.expect_end());
  return frame;
}

std::uint64_t cluster_id_of(const std::vector<NodeId>& founders) {
  std::vector<NodeId> sorted = founders;
  std::sort(sorted.begin(), sorted.end());
  Bytes bytes;
  ByteWriter w(bytes);
  for (const NodeId& id : sorted) w.raw(id.raw());
  const std::uint64_t id = fingerprint64(bytes);
  return id == 0 ? 1 : id;
}

// ------------------------------------------------------------------------------------------
// Construction

Status Controller::check_durable(const ControllerDurable& durable) {
  STARLING_RETURN_IF_ERROR(validate_durable_state(durable.raft));
  auto table = WorkloadTable::restore(durable.raft.snapshot.data);
  if (!table) return table.status();
  if (durable.cluster == 0 && durable.raft.snapshot.meta.index != 0) {
    return {StatusCode::kCorrupt, "consensus state without a cluster id"};
  }
  return Status::ok();
}

Controller::Controller(ControllerOptions options, NodeId self, ControllerDurable durable,
                       std::uint64_t seed, Instant now)
    : options_(std::move(options)), self_(self), seed_(seed), cluster_(durable.cluster),
      now_(now) {
  STARLING_ASSERT(options_.validate().is_ok(), "invalid controller options");
  STARLING_ASSERT(!self_.is_zero(), "zero node id");
  restart_commit_ =
      std::max(durable.raft.hard_state.commit, durable.raft.snapshot.meta.index);
  auto table = WorkloadTable::restore(durable.raft.snapshot.data);
  STARLING_ASSERT(table.is_ok(), "the shell checks the durable state first");
  table_ = std::move(*table);
  core_ = std::make_unique<Core>(options_.raft, self_, std::move(durable.raft), seed, now);
  for (const Assignment& a : table_.owned_by(self_)) {
    Held h;
    h.epoch = a.epoch;
    h.applied_at = now;
    h.lease = a.lease;
    h.releasing = true;  // held before the restart: released, never resumed (W8)
    held_[{a.workload, a.replica}] = h;
  }
  next_nonce_ = options_.nonce_base;
  bootstrap_view_since_ = now;
  drive(now);
}

Controller::~Controller() = default;

bool Controller::eligible_voter(const std::map<std::string, std::string>& labels) const {
  return labels_match(options_.voter_labels, labels);
}

NodeId Controller::leader() const { return core_->leader(); }
std::uint64_t Controller::term() const { return core_->term(); }

// ------------------------------------------------------------------------------------------
// Inputs

void Controller::set_peers(std::vector<PeerView> peers, Instant now) {
  now_ = now;
  std::sort(peers.begin(), peers.end(),
            [](const PeerView& a, const PeerView& b) { return a.id < b.id; });
  peers_ = std::move(peers);
  for (const PeerView& p : peers_) last_live_[p.id] = now;
  schedule_dirty_ = true;
  maybe_bootstrap(now);
  drive(now);
}

void Controller::maybe_bootstrap(Instant now) {
  if (cluster_ != 0) return;
  std::set<NodeId> view;
  if (eligible_voter(options_.labels)) view.insert(self_);
  for (const PeerView& p : peers_) {
    if (!p.suspect && eligible_voter(p.labels)) view.insert(p.id);
  }
  if (view != bootstrap_view_) {
    bootstrap_view_ = std::move(view);
    bootstrap_view_since_ = now;
  }
  if (bootstrap_view_.size() < options_.bootstrap_expect) return;
  std::vector<NodeId> founders(bootstrap_view_.begin(), bootstrap_view_.end());
  founders.resize(options_.bootstrap_expect);
  if (std::find(founders.begin(), founders.end(), self_) == founders.end()) return;
  // A founder that sees its own founding set's cluster advertised joins it at once (another
  // founder's settle period ended first); any other cluster means this node is not needed to
  // found one: it waits to be added (or to receive a founder's first message, see receive()).
  bool same_cluster_seen = false;
  for (const PeerView& p : peers_) {
    if (p.cluster == 0) continue;
    if (p.cluster != cluster_id_of(founders)) return;
    same_cluster_seen = true;
  }
  if (!same_cluster_seen && now - bootstrap_view_since_ < options_.bootstrap_settle) return;
  auto state = bootstrap_state(founders);
  STARLING_ASSERT(state.is_ok(), "founders are an odd voter set");
  cluster_ = cluster_id_of(founders);
  cluster_dirty_ = true;
  out_.snapshot = state->snapshot;
  out_.entries.clear();
  out_.hard_state = state->hard_state;
  core_ = std::make_unique<Core>(options_.raft, self_, std::move(*state), seed_, now);
  restart_commit_ = 0;
}

void Controller::receive(const NodeId& from, ByteSpan bytes, Instant now) {
  now_ = now;
  ++stats_.frames_in;
  auto frame = decode_frame(bytes);
  if (!frame) {
    ++stats_.dropped["corrupt"];
    return;
  }
  if (frame->cluster == 0) {
    ++stats_.dropped["no_cluster"];
    return;
  }
  if (cluster_ != 0 && frame->cluster != cluster_) {
    ++stats_.dropped["foreign_cluster"];
    return;
  }
  switch (frame->kind) {
    case FrameKind::kRaft: {
      if (frame->raft.from != from) {
        ++stats_.dropped["sender_mismatch"];
        return;
      }
      if (cluster_ == 0) {
        // Not in a cluster yet: join the first one that addresses this node. Its leader adds
        // learners; its founders ask the founders whose views differed for their votes (a node
        // that never held any state may vote: it has promised nothing to anyone).
        if (frame->raft.to != self_) {
          ++stats_.dropped["not_joined"];
          return;
        }
        cluster_ = frame->cluster;
        cluster_dirty_ = true;
      }
      heard_at_[from] = now;
      core_->step(frame->raft, now);
      break;
    }
    case FrameKind::kPropose: on_propose_frame(from, std::move(*frame), now); break;
    case FrameKind::kReply: {
      auto it = forwards_.find(frame->request);
      if (it == forwards_.end()) {
        ++stats_.dropped["unknown_reply"];
        return;
      }
      forwards_.erase(it);
      ProposalResult result;
      result.request = frame->request;
      if (frame->code != StatusCode::kOk) result.status = Status(frame->code, frame->message);
      result.index = frame->index;
      out_.proposals.push_back(std::move(result));
      break;
    }
  }
  drive(now);
}

void Controller::on_propose_frame(const NodeId& from, Frame frame, Instant now) {
  Frame reply;
  reply.kind = FrameKind::kReply;
  reply.cluster = cluster_;
  reply.request = frame.request;
  auto answer = [&](Status status, std::uint64_t index) {
    reply.code = status.code();
    reply.message = status.message();
    reply.index = index;
    send_frame(from, std::move(reply));
  };
  if (!is_leader()) {
    const NodeId known = core_->leader();
    answer({StatusCode::kUnavailable,
            known.is_zero() ? "no leader known" : "not the leader; leader is " + known.to_hex()},
           0);
    return;
  }
  auto command = decode_command(frame.command);
  if (!command) {
    answer(command.status(), 0);
    return;
  }
  if (Status s = validate_command(*command); !s.is_ok()) {
    answer(s, 0);
    return;
  }
  // Authorisation: a node renews, checkpoints and releases only for itself; the scheduler's
  // Assigns come from the leader alone. Operators' adds and removes may come from any member.
  if (const auto* renew = std::get_if<Renew>(&*command); renew && renew->node != from) {
    answer({StatusCode::kPermissionDenied, "a node renews only its own leases"}, 0);
    return;
  }
  if (std::holds_alternative<Assignment>(*command)) {
    answer({StatusCode::kPermissionDenied, "assignments are made by the leader"}, 0);
    return;
  }
  auto owned_by_sender = [&](const std::string& workload, std::uint32_t replica) {
    auto a = table_.assignment(workload, replica);
    return a && a->node == from;
  };
  if (const auto* c = std::get_if<Checkpoint>(&*command);
      c && !owned_by_sender(c->workload, c->replica)) {
    answer({StatusCode::kPermissionDenied, "not the owner of the replica"}, 0);
    return;
  }
  if (const auto* rel = std::get_if<Release>(&*command);
      rel && !owned_by_sender(rel->workload, rel->replica)) {
    answer({StatusCode::kPermissionDenied, "not the owner of the replica"}, 0);
    return;
  }
  ++stats_.forwards_served;
  auto index = propose_local(*command, now);
  answer(index.is_ok() ? Status::ok() : index.status(), index.is_ok() ? *index : 0);
}

Result<std::uint64_t> Controller::propose_local(const Command& command, Instant now) {
  auto index = core_->propose(encode_command(command));
  if (index.is_ok()) {
    if (const auto* renew = std::get_if<Renew>(&command)) renew_proposed_at_[renew->node] = now;
  }
  return index;
}

Result<std::uint64_t> Controller::submit(const Command& command, Instant now) {
  now_ = now;
  STARLING_RETURN_IF_ERROR(validate_command(command));
  if (cluster_ == 0) return Status{StatusCode::kUnavailable, "not in a cluster yet"};
  const std::uint64_t request = next_request_++;
  if (is_leader()) {
    auto index = propose_local(command, now);
    if (!index) return index.status();
    out_.proposals.push_back(ProposalResult{request, Status::ok(), *index});
    drive(now);
    return request;
  }
  const NodeId leader = core_->leader();
  if (leader.is_zero() || leader == self_) {
    return Status{StatusCode::kUnavailable, "no leader known"};
  }
  Frame frame;
  frame.kind = FrameKind::kPropose;
  frame.cluster = cluster_;
  frame.request = request;
  frame.command = encode_command(command);
  send_frame(leader, std::move(frame));
  forwards_[request] = Forward{now + options_.forward_timeout};
  ++stats_.forwarded;
  return request;
}

Status Controller::checkpoint(const std::string& workload, std::uint32_t replica,
                              std::uint64_t epoch, std::uint64_t position, Bytes state,
                              Instant now) {
  auto it = held_.find({workload, replica});
  if (it == held_.end() || it->second.epoch != epoch || it->second.releasing) {
    return {StatusCode::kStale, "the replica is not held under this epoch"};
  }
  Checkpoint c;
  c.workload = workload;
  c.replica = replica;
  c.epoch = epoch;
  c.position = position;
  c.state = std::move(state);
  auto request = submit(c, now);
  if (!request) return request.status();
  ++stats_.checkpoints_sent;
  return Status::ok();
}

void Controller::leave(Instant now) {
  now_ = now;
  leaving_ = true;
  for (auto& [key, h] : held_) {
    h.releasing = true;
    h.release_sent_at = Instant::min();
  }
  owner_duties(now);  // the releases go first: a transfer stops proposals
  if (is_leader()) (void)core_->transfer_leadership(NodeId{}, now);
  drive(now);
}

void Controller::tick(Instant now) {
  now_ = now;
  core_->tick(now);
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    if (it->second.deadline <= now) {
      out_.proposals.push_back(ProposalResult{
          it->first, Status{StatusCode::kUnavailable, "the leader did not answer in time"}, 0});
      it = forwards_.erase(it);
    } else {
      ++it;
    }
  }
  maybe_bootstrap(now);
  drive(now);
}

Instant Controller::next_deadline() const {
  Instant next = core_->next_deadline();
  for (const auto& [request, f] : forwards_) next = std::min(next, f.deadline);
  const Instant soon = now_ + options_.raft.heartbeat_interval;
  if (cluster_ == 0) next = std::min(next, soon);
  // A leader wakes at its next scheduling time, but never for a time already past: while its
  // scheduling is blocked (its Assigns not applied yet) that would spin; `soon` retries.
  if (is_leader()) {
    next = std::min(next, soon);
    if (next_schedule_at_ > now_) next = std::min(next, next_schedule_at_);
  }
  if (!held_.empty()) {
    next = std::min(next, next_renew_at_);
    next = std::min(next, soon);
  }
  return next;
}

// ------------------------------------------------------------------------------------------
// Driving the core

void Controller::drive(Instant now) {
  collect_ready(now);
  // Twice: entries applied by the first pass (an own Assign wants a Renew at once, a table
  // change wants scheduling) are acted on now rather than at a deadline already due.
  for (int pass = 0; pass < 2; ++pass) {
    owner_duties(now);
    leader_duties(now);
    collect_ready(now);
  }
}

void Controller::collect_ready(Instant now) {
  if (cluster_dirty_) {
    out_.cluster = cluster_;
    cluster_dirty_ = false;
  }
  while (core_->has_ready()) {
    Ready ready = core_->take_ready();
    if (ready.snapshot) {
      out_.entries.clear();
      if (out_.compacted && out_.compacted->meta.index <= ready.snapshot->meta.index) {
        out_.compacted.reset();
      }
      out_.snapshot = *ready.snapshot;
    }
    if (!ready.entries.empty()) {
      const std::uint64_t first = ready.entries.front().index;
      while (!out_.entries.empty() && out_.entries.back().index >= first) out_.entries.pop_back();
      for (Entry& e : ready.entries) out_.entries.push_back(std::move(e));
    }
    if (ready.hard_state) out_.hard_state = ready.hard_state;
    for (Message& m : ready.messages) {
      const NodeId to = m.to;
      Frame frame;
      frame.kind = FrameKind::kRaft;
      frame.cluster = cluster_;
      frame.raft = std::move(m);
      send_frame(to, std::move(frame));
    }
    for (const Event& e : ready.events) {
      if (e.type == EventType::kRoleChanged && e.role == Role::kLeader) {
        elected_at_ = now;
        term_start_index_ = core_->log().last_index();
        renew_proposed_at_.clear();
        clear_at_.clear();  // quiet_for and the election floor cover earlier leaders' moves
        schedule_dirty_ = true;
        schedule_pending_index_ = 0;
        voter_target_.clear();
        next_schedule_at_ = now;
      }
      out_.events.push_back(e);
    }
    if (ready.snapshot) restore_table(*ready.snapshot, now);
    for (const Entry& entry : ready.committed_entries) apply_entry(entry, now);
    if (ready.snapshot_due) {
      auto meta = core_->compact(core_->applied_index(), table_.snapshot());
      if (meta) {
        Snapshot s;
        s.meta = *meta;
        s.data = table_.snapshot();
        out_.compacted = std::move(s);
      }
    }
  }
}

void Controller::send_frame(const NodeId& to, Frame frame) {
  ++stats_.frames_out;
  out_.messages.emplace_back(to, encode_frame(frame));
}

void Controller::apply_entry(const Entry& entry, Instant now) {
  if (entry.type != EntryType::kCommand) return;
  auto result = table_.apply(entry.data);
  if (!result) return;  // counted by the table; every node skips it alike
  on_applied(*result, entry.index, now);
  out_.applied.push_back(std::move(*result));
}

void Controller::on_applied(const ApplyResult& result, std::uint64_t index, Instant now) {
  if (!result.accepted()) {
    schedule_dirty_ = true;
    return;
  }
  const Command& command = result.command;
  if (const auto* a = std::get_if<Assignment>(&command)) {
    const Key key{a->workload, a->replica};
    if (a->node == self_) {
      Held h;
      h.epoch = a->epoch;
      h.applied_at = now;
      h.start_delay = a->start_delay;
      h.lease = a->lease;
      h.releasing = index <= restart_commit_ || leaving_;
      held_[key] = h;
      if (!h.releasing) next_renew_at_ = now;  // anchor the new lease at once
    } else {
      held_.erase(key);
    }
    schedule_dirty_ = true;
  } else if (const auto* rel = std::get_if<Release>(&command)) {
    auto it = held_.find({rel->workload, rel->replica});
    if (it != held_.end() && it->second.epoch == rel->epoch) held_.erase(it);
    schedule_dirty_ = true;
  } else if (const auto* rm = std::get_if<RemoveWorkload>(&command)) {
    for (auto it = held_.begin(); it != held_.end();) {
      it = it->first.first == rm->name ? held_.erase(it) : std::next(it);
    }
    schedule_dirty_ = true;
  } else if (std::holds_alternative<AddWorkload>(command)) {
    schedule_dirty_ = true;
  } else if (const auto* renew = std::get_if<Renew>(&command); renew && renew->node == self_) {
    auto it = renews_in_flight_.find(renew->nonce);
    if (it != renews_in_flight_.end()) {
      const Instant sent = it->second;
      for (auto& [key, h] : held_) {
        if (!h.releasing) h.anchor = h.anchor ? later(*h.anchor, sent) : sent;
      }
      renews_in_flight_.erase(renews_in_flight_.begin(), std::next(it));
    }
  }
}

void Controller::restore_table(const Snapshot& snapshot, Instant now) {
  auto table = WorkloadTable::restore(snapshot.data);
  if (!table) {
    ++stats_.dropped["bad_snapshot"];
    return;
  }
  table_ = std::move(*table);
  std::map<Key, Held> held;
  for (const Assignment& a : table_.owned_by(self_)) {
    const Key key{a.workload, a.replica};
    auto it = held_.find(key);
    if (it != held_.end() && it->second.epoch == a.epoch) {
      held[key] = it->second;
      continue;
    }
    // When the Assign was applied elsewhere is unknown here: wait the whole handoff.
    Held h;
    h.epoch = a.epoch;
    h.applied_at = now;
    h.start_delay = handoff_wait(a.lease, options_.scheduler.clock_rate_error);
    h.lease = a.lease;
    h.releasing = snapshot.meta.index <= restart_commit_ || leaving_;
    if (!h.releasing) next_renew_at_ = now;
    held[key] = h;
  }
  held_ = std::move(held);
  schedule_dirty_ = true;
}

// ------------------------------------------------------------------------------------------
// Owner

ReplicaRun Controller::run_of(const Held& h, Instant now) const {
  if (h.releasing) return ReplicaRun::kReleasing;
  if (options_.testing_skip_lease_check) return ReplicaRun::kRunning;
  if (now < h.applied_at + h.start_delay) return ReplicaRun::kStarting;
  if (!h.anchor || now >= *h.anchor + h.lease) return ReplicaRun::kWaiting;
  return ReplicaRun::kRunning;
}

bool Controller::may_run(const std::string& workload, std::uint32_t replica,
                         std::uint64_t epoch, Instant now) const {
  auto it = held_.find({workload, replica});
  return it != held_.end() && it->second.epoch == epoch &&
         run_of(it->second, now) == ReplicaRun::kRunning;
}

std::vector<HeldReplica> Controller::held(Instant now) const {
  std::vector<HeldReplica> out;
  for (const auto& [key, h] : held_) {
    HeldReplica r;
    r.workload = key.first;
    r.replica = key.second;
    r.epoch = h.epoch;
    r.run = run_of(h, now);
    if (h.anchor && !h.releasing) r.lease_until = *h.anchor + h.lease;
    out.push_back(std::move(r));
  }
  return out;
}

void Controller::send_renew(Instant now) {
  const std::uint64_t nonce = next_nonce_++;
  renews_in_flight_[nonce] = now;
  // Renews older than any lease can anchor nothing useful: forget them.
  const Duration horizon = kLeaseMax;
  for (auto it = renews_in_flight_.begin(); it != renews_in_flight_.end();) {
    it = now - it->second > horizon ? renews_in_flight_.erase(it) : std::next(it);
  }
  if (submit(Renew{self_, nonce}, now).is_ok()) ++stats_.renews_sent;
}

void Controller::owner_duties(Instant now) {
  if (held_.empty()) {
    next_renew_at_ = Instant::max();
    return;
  }
  Duration lease = kLeaseMax;
  bool active = false;
  std::vector<Release> releases;
  for (auto& [key, h] : held_) {
    if (h.releasing) {
      if (h.release_sent_at == Instant::min() ||
          now - h.release_sent_at >= options_.scheduler.lease / 3) {
        h.release_sent_at = now;
        releases.push_back(Release{key.first, key.second, h.epoch});
      }
      continue;
    }
    active = true;
    lease = std::min(lease, h.lease);
  }
  for (const Release& r : releases) {
    if (submit(r, now).is_ok()) ++stats_.releases_sent;
  }
  if (!active) {
    next_renew_at_ = Instant::max();
    return;
  }
  if (next_renew_at_ == Instant::max()) next_renew_at_ = now;
  if (now >= next_renew_at_) {
    next_renew_at_ = now + lease / 3;
    send_renew(now);
  }
}

// ------------------------------------------------------------------------------------------
// Leader

Duration Controller::quiet_for(const NodeId& node, Instant now) const {
  Instant ref = elected_at_;
  if (auto it = renew_proposed_at_.find(node); it != renew_proposed_at_.end()) {
    ref = later(ref, it->second);
  }
  return now > ref ? now - ref : Duration::zero();
}

std::vector<Member> Controller::live_members(Instant now) const {
  const Duration handoff =
      handoff_wait(options_.scheduler.lease, options_.scheduler.clock_rate_error);
  std::vector<Member> members;
  if (!leaving_) members.push_back(Member{self_, options_.labels, options_.capacity});
  for (const PeerView& p : peers_) {
    // A suspect that has not renewed for a whole handoff wait is treated as failed: its
    // replicas move without waiting for membership to declare it dead, and no start delay is
    // needed. A suspect that still renews keeps them.
    if (p.suspect && quiet_for(p.id, now) >= handoff) continue;
    members.push_back(Member{p.id, p.labels, p.capacity});
  }
  return members;
}

void Controller::leader_duties(Instant now) {
  if (!is_leader() || leaving_ || core_->transfer_target() != NodeId{}) return;
  if (core_->commit_index() < term_start_index_ ||
      core_->applied_index() < core_->commit_index()) {
    return;  // not caught up with its own term yet
  }
  if (now >= next_membership_change_at_) {
    next_membership_change_at_ = now + options_.raft.heartbeat_interval;
    manage_voters(now);
  }
  if ((schedule_dirty_ || now >= next_schedule_at_) &&
      core_->applied_index() >= schedule_pending_index_) {
    run_scheduler(now);
  }
}

void Controller::manage_voters(Instant now) {
  const ConfState& conf = core_->conf();
  // Only what this leader heard itself counts: membership views differ between nodes (one may
  // still call a partitioned voter alive), and removing a voter that answers while keeping one
  // that does not can cost the quorum. So wait one election timeout after the election before
  // judging, count a voter as live only if a frame came from it within that timeout, and
  // never remove a live voter to reach an odd size.
  const Duration window = options_.raft.election_timeout_min;
  if (now - elected_at_ < window) return;
  auto heard_within = [&](const NodeId& id, Duration d) {
    if (id == self_) return true;
    auto it = heard_at_.find(id);
    return it != heard_at_.end() && now - it->second <= d;
  };
  auto eligible_peer = [&](const NodeId& id) {
    for (const PeerView& p : peers_) {
      if (p.id == id) return !p.suspect && eligible_voter(p.labels);
    }
    return false;
  };
  std::vector<NodeId> target;
  if (conf.is_voter(self_) && eligible_voter(options_.labels) && !leaving_) target.push_back(self_);
  for (const NodeId& v : conf.voters) {
    if (v != self_ && eligible_peer(v) && heard_within(v, window)) target.push_back(v);
  }
  std::vector<NodeId> spares;  // learners answer a heartbeat a second: a wider window
  for (const PeerView& p : peers_) {
    if (!conf.is_voter(p.id) && conf.is_learner(p.id) && eligible_peer(p.id) &&
        heard_within(p.id, window * 4)) {
      spares.push_back(p.id);
    }
  }
  std::size_t desired = std::min(options_.voters, target.size() + spares.size());
  if (desired % 2 == 0 && desired > 0) --desired;
  if (target.size() > options_.voters) target.resize(options_.voters);  // self stays first
  for (const NodeId& id : spares) {
    if (target.size() >= desired) break;
    target.push_back(id);
  }
  std::sort(target.begin(), target.end());
  const bool odd = target.size() % 2 == 1;
  // Shrinking below three voters gains no fault tolerance and loses the chance that a voter
  // comes back: keep the configuration until replacements are live.
  const bool too_small = target.size() < 3 && target.size() < conf.voters.size();
  if (odd && !too_small && target != conf.voters) {
    if (target != voter_target_ || now - voter_target_at_ > std::chrono::seconds(5)) {
      if (core_->propose_voters(target).is_ok()) {
        voter_target_ = target;
        voter_target_at_ = now;
      }
    }
    return;  // learners wait until the voters are settled
  }
  // Every other live member follows as a learner; learners dead for long are removed.
  for (const PeerView& p : peers_) {
    if (!p.suspect && !conf.contains(p.id)) {
      (void)core_->propose_config_change(ConfigChange{ConfigChangeType::kAddLearner, p.id});
      return;  // one change at a time (C9)
    }
  }
  for (const NodeId& id : conf.learners) {
    auto it = last_live_.find(id);
    const Instant seen = it == last_live_.end() ? elected_at_ : later(it->second, elected_at_);
    const bool live = std::any_of(peers_.begin(), peers_.end(),
                                  [&](const PeerView& p) { return p.id == id; });
    if (!live && now - seen >= options_.learner_grace) {
      (void)core_->propose_config_change(ConfigChange{ConfigChangeType::kRemove, id});
      return;
    }
  }
}

void Controller::run_scheduler(Instant now) {
  schedule_dirty_ = false;
  next_schedule_at_ = now + options_.reschedule_interval;
  if (table_.workloads().empty()) return;
  SchedulerInput input;
  input.members = live_members(now);
  input.options = options_.scheduler;
  for (const auto& [name, w] : table_.workloads()) {
    for (const ReplicaState& r : w.replicas) {
      if (!r.node.is_zero()) input.quiet_for[r.node] = quiet_for(r.node, now);
    }
  }
  for (const Member& m : input.members) input.quiet_for[m.id] = quiet_for(m.id, now);
  Schedule s = schedule(table_, input);
  if (s.assigns.empty()) return;
  ++stats_.schedules;
  const Duration handoff =
      handoff_wait(options_.scheduler.lease, options_.scheduler.clock_rate_error);
  const Duration since_election = now - elected_at_;
  for (Assignment a : s.assigns) {
    // The scheduler measures the start delay against the current owner only. Two more floors
    // keep every earlier owner's lease disjoint too (W8 across several moves):
    //  - an earlier Assign of this leader whose owner never started (partitioned, declared
    //    dead, or released at once): the new owner may not start before that one could have,
    //    so the delay is at least what remains of that one's (t1 + d1 - now on the leader's
    //    clock, the same bound the W8 proof gives for one move);
    //  - a lease anchored before this leader's election ends within handoff_wait of it, so a
    //    replica released (delay 0 by W8) soon after an election still waits for the rest.
    const Key key{a.workload, a.replica};
    Duration floor = since_election < handoff ? handoff - since_election : Duration::zero();
    if (auto it = clear_at_.find(key); it != clear_at_.end() && it->second > now) {
      floor = std::max(floor, it->second - now);
    }
    a.start_delay = std::min(std::max(a.start_delay, floor), kStartDelayMax);
    auto index = propose_local(a, now);
    if (!index) break;  // flow control or a transfer: the next run proposes the rest
    ++stats_.assigns_proposed;
    schedule_pending_index_ = std::max(schedule_pending_index_, *index);
    Instant& clear = clear_at_[key];
    clear = std::max(clear, now + a.start_delay);
  }
}

// ------------------------------------------------------------------------------------------
// Outputs

ControllerOutput Controller::take_output() {
  collect_ready(now_);
  ControllerOutput out = std::move(out_);
  out_ = ControllerOutput{};
  return out;
}

bool Controller::has_output() const { return !out_.empty() || core_->has_ready() || cluster_dirty_; }

}  // namespace starling::consensus
