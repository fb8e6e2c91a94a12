// Membership core, part 1: construction, records (which facts win, refutation) and member
// state. Probing is in core_probe.cpp, dissemination and anti-entropy in core_gossip.cpp.
#include "agent/membership/core.hpp"

#include <algorithm>

namespace starling::membership {

void Core::Pool::insert(const NodeId& id) {
  if (index_.count(id) != 0) return;
  index_.emplace(id, ids_.size());
  ids_.push_back(id);
}

void Core::Pool::erase(const NodeId& id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  const std::size_t at = it->second;
  index_.erase(it);
  if (at + 1 != ids_.size()) {
    ids_[at] = ids_.back();
    index_[ids_[at]] = at;
  }
  ids_.pop_back();
}

Core::Core(Config config, Self self, RecordCodec& codec, std::uint64_t seed, Instant now)
    : config_(std::move(config)), self_(std::move(self)), codec_(codec), rng_(seed) {
  STARLING_ASSERT(config_.validate().is_ok(), "invalid membership config");
  STARLING_ASSERT(validate_metadata(self_.meta).is_ok(), "invalid initial metadata");
  incarnation_ = self_.persisted_incarnation + 1;
  incarnation_dirty_ = true;
  Member me;
  me.id = self_.id;
  me.address = self_.address;
  me.status_since = now;
  auto [self_entry, inserted] = members_.emplace(self_.id, std::move(me));
  index_.emplace(self_.id, &self_entry->second);
  announce_alive(now);
  // Spread the first probe and timers over one interval so that nodes started together do not
  // probe in lockstep.
  const auto jitter = [&](Duration d) {
    return Duration(static_cast<Duration::rep>(rng_.uniform(static_cast<std::uint64_t>(d.count()) + 1)));
  };
  next_probe_at_ = now + jitter(config_.probe_interval);
  next_gossip_at_ = now + jitter(config_.gossip_interval);
  next_push_pull_at_ = now + jitter(config_.push_pull_interval);
  next_reconnect_at_ = now + config_.reconnect_interval + jitter(config_.reconnect_interval);
}

const Member* Core::find(const NodeId& id) const { return lookup(id); }

Member* Core::lookup(const NodeId& id) {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : it->second;
}

const Member* Core::lookup(const NodeId& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : it->second;
}

Member& Core::member_at(const NodeId& id) {
  Member* m = lookup(id);
  STARLING_ASSERT(m != nullptr, "member_at() of an unknown member");
  return *m;
}

std::size_t Core::count(MemberStatus status) const {
  std::size_t n = 0;
  for (const auto& [id, member] : members_) n += member.status == status ? 1 : 0;
  return n;
}

Ready Core::take_ready() {
  if (incarnation_dirty_) {
    ready_.incarnation_to_persist = incarnation_;
    incarnation_dirty_ = false;
  }
  Ready out = std::move(ready_);
  ready_ = Ready{};
  return out;
}

Status Core::set_metadata(Metadata meta, Instant now) {
  STARLING_RETURN_IF_ERROR(validate_metadata(meta));
  if (left_) return error(StatusCode::kInvalidArgument, "this node has left the swarm");
  self_.meta = std::move(meta);
  ++meta_version_;
  announce_alive(now);
  return Status::ok();
}

void Core::announce_alive(Instant now) {
  MemberRecord record;
  record.type = RecordType::kAlive;
  record.subject = self_.id;
  record.signer = self_.id;
  record.incarnation = incarnation_;
  record.meta_version = meta_version_;
  record.address = self_.address;
  record.meta = self_.meta;
  Bytes bytes = codec_.seal(record);
  Member& me = member_at(self_.id);
  me.incarnation = incarnation_;
  me.meta_version = meta_version_;
  me.meta = self_.meta;
  set_alive_record(me, bytes);
  me.status_record.clear();
  if (me.status != MemberStatus::kAlive) set_status(me, MemberStatus::kAlive, now);
  broadcast(self_.id, bytes);
}

MemberRecord Core::own_record(RecordType type, const NodeId& subject,
                             std::uint64_t incarnation) const {
  MemberRecord record;
  record.type = type;
  record.subject = subject;
  record.signer = self_.id;
  record.incarnation = incarnation;
  return record;
}

void Core::refute(std::uint64_t accused_incarnation, Instant now) {
  // Rule R5: answer any accusation about this node with a strictly higher incarnation.
  incarnation_ = std::max(incarnation_, accused_incarnation) + 1;
  incarnation_dirty_ = true;
  ++stats_.refutations;
  announce_alive(now);
}

void Core::reject(const Status& status) {
  ++stats_.records_rejected;
  ++stats_.rejected_by_reason[std::string(status_code_name(status.code()))];
}

void Core::set_alive_record(Member& member, Bytes record) {
  if (!member.alive_record.empty()) alive_fingerprints_.erase(fingerprint64(member.alive_record));
  member.alive_record = std::move(record);
  alive_fingerprints_[fingerprint64(member.alive_record)] = member.id;
}

void Core::receive_record(ByteSpan bytes, Instant now) {
  if (auto known = alive_fingerprints_.find(fingerprint64(bytes));
      known != alive_fingerprints_.end()) {
    const Member* m = lookup(known->second);
    if (m != nullptr && std::equal(bytes.begin(), bytes.end(), m->alive_record.begin(),
                                   m->alive_record.end())) {
      ++stats_.records_stale;  // exactly the alive record held: nothing to decode
      return;
    }
  }
  auto record = codec_.decode(bytes);
  if (!record) return reject(record.status());
  const bool news = record->subject == self_.id ? is_news_about_self(*record, bytes)
                                                : is_news(*record, bytes);
  if (!news && record->subject == self_.id && record->type != RecordType::kAlive) {
    stale_accusation_ = true;  // already refuted; the sender has not heard (see on_ping)
  }
  if (!news) {
    ++stats_.records_stale;  // Rule R2: only records that would change state are verified
    return;
  }
  ++stats_.verifications;
  if (Status verified = codec_.verify(bytes, *record); !verified) return reject(verified);
  apply(*record, Bytes(bytes.begin(), bytes.end()), now);
}

bool Core::is_news_about_self(const MemberRecord& record, ByteSpan bytes) const {
  if (left_) return false;
  switch (record.type) {
    case RecordType::kAlive: {
      // An alive record of ours that we did not make in this run (an earlier run's).
      const Member& me = *lookup(self_.id);
      if (std::equal(bytes.begin(), bytes.end(), me.alive_record.begin(), me.alive_record.end())) {
        return false;
      }
      return record.incarnation > incarnation_ ||
             (record.incarnation == incarnation_ && record.meta_version >= meta_version_);
    }
    case RecordType::kSuspect:
    case RecordType::kDead:
    case RecordType::kLeft:
      return record.incarnation >= incarnation_;
  }
  return false;
}

bool Core::is_news(const MemberRecord& record, ByteSpan bytes) const {
  const Member* found = lookup(record.subject);
  if (found == nullptr) return record.type == RecordType::kAlive;  // Rule R1
  const Member& m = *found;
  const bool tombstone = m.status == MemberStatus::kDead || m.status == MemberStatus::kLeft;
  switch (record.type) {
    case RecordType::kAlive:
      if (record.incarnation != m.incarnation) return record.incarnation > m.incarnation;
      return m.status == MemberStatus::kAlive && record.meta_version > m.meta_version &&
             !std::equal(bytes.begin(), bytes.end(), m.alive_record.begin(), m.alive_record.end());
    case RecordType::kSuspect:
      if (tombstone || record.incarnation < m.incarnation) return false;
      if (m.status == MemberStatus::kSuspect && record.incarnation == m.incarnation) {
        // A confirmation is news only until the timeout has reached its minimum (k of them,
        // as memberlist): later ones would change nothing but cost a dissemination wave.
        auto s = suspicions_.find(m.id);
        return s != suspicions_.end() && s->second.accusers.count(record.signer) == 0 &&
               static_cast<int>(s->second.accusers.size()) <=
                   s->second.bounds.expected_confirmations;
      }
      return true;
    case RecordType::kDead:
      return !tombstone && record.incarnation >= m.incarnation;
    case RecordType::kLeft:
      return m.status != MemberStatus::kLeft && record.incarnation >= m.incarnation;
  }
  return false;
}

void Core::apply(const MemberRecord& record, Bytes bytes, Instant now) {
  ++stats_.records_applied;
  if (record.subject == self_.id) {
    if (config_.testing_disable_refutation) return;  // the checkers' canary
    // Rule R5/R6: a fact about this node that it did not state in this run is refuted.
    refute(record.incarnation, now);
    if (record.type == RecordType::kSuspect) adjust_health(+1);
    return;
  }
  switch (record.type) {
    case RecordType::kAlive: return apply_alive(record, std::move(bytes), now);
    case RecordType::kSuspect: return apply_suspect(record, std::move(bytes), now);
    case RecordType::kDead:
    case RecordType::kLeft: return apply_dead_or_left(record, std::move(bytes), now);
  }
}

void Core::apply_alive(const MemberRecord& record, Bytes bytes, Instant now) {
  auto [it, inserted] = members_.try_emplace(record.subject);
  Member& m = it->second;
  if (inserted) index_.emplace(record.subject, &m);
  const bool meta_changed = !inserted && m.meta != record.meta;
  const MemberStatus before = m.status;
  m.id = record.subject;
  m.address = record.address;
  m.incarnation = record.incarnation;
  m.meta_version = record.meta_version;
  m.meta = record.meta;
  set_alive_record(m, bytes);
  m.status_record.clear();
  if (inserted) {
    m.status = MemberStatus::kAlive;
    m.status_since = now;
    live_.insert(m.id);
    joined_ = true;
    emit(EventType::kJoined, m, now, record.signer);
  } else if (before != MemberStatus::kAlive) {
    set_status(m, MemberStatus::kAlive, now);  // Rule R4: a higher incarnation refutes
    emit(EventType::kAlive, m, now, record.signer);
  }
  if (meta_changed) emit(EventType::kMetadataChanged, m, now, record.signer);
  broadcast(m.id, bytes);
}

void Core::apply_suspect(const MemberRecord& record, Bytes bytes, Instant now) {
  Member& m = member_at(record.subject);
  if (m.status == MemberStatus::kSuspect && record.incarnation == m.incarnation) {
    // Rule R3 (Lifeguard): an independent confirmation shortens the suspicion.
    Suspicion& s = suspicions_.at(m.id);
    s.accusers.insert(record.signer);
    suspicion_deadlines_.erase({s.deadline, m.id});
    s.deadline = s.started + suspicion_timeout(s.bounds, static_cast<int>(s.accusers.size()) - 1);
    suspicion_deadlines_.insert({s.deadline, m.id});
    broadcast(m.id, bytes);
    return;
  }
  if (auto old = suspicions_.find(m.id); old != suspicions_.end()) {  // a newer incarnation
    suspicion_deadlines_.erase({old->second.deadline, m.id});
    suspicions_.erase(old);
  }
  m.incarnation = record.incarnation;
  m.status_record = bytes;
  set_status(m, MemberStatus::kSuspect, now);
  Suspicion s{now, suspicion_bounds(config_, swarm_size()), {record.signer}, now};
  s.deadline = now + suspicion_timeout(s.bounds, 0);
  suspicion_deadlines_.insert({s.deadline, m.id});
  suspicions_[m.id] = std::move(s);
  emit(EventType::kSuspect, m, now, record.signer);
  broadcast(m.id, bytes);
}

void Core::apply_dead_or_left(const MemberRecord& record, Bytes bytes, Instant now) {
  Member& m = member_at(record.subject);
  m.incarnation = record.incarnation;
  m.status_record = bytes;
  const bool left = record.type == RecordType::kLeft;
  set_status(m, left ? MemberStatus::kLeft : MemberStatus::kDead, now);
  emit(left ? EventType::kLeft : EventType::kDead, m, now, record.signer);
  broadcast(m.id, bytes);
}

void Core::set_status(Member& member, MemberStatus status, Instant now) {
  if (member.status == MemberStatus::kSuspect && status != MemberStatus::kSuspect) {
    auto s = suspicions_.find(member.id);
    if (s != suspicions_.end()) {
      suspicion_deadlines_.erase({s->second.deadline, member.id});
      suspicions_.erase(s);
    }
  }
  member.status = status;
  member.status_since = now;
  if (member.id == self_.id) return;
  const bool live = status == MemberStatus::kAlive || status == MemberStatus::kSuspect;
  if (live) {
    live_.insert(member.id);
  } else {
    live_.erase(member.id);
  }
  if (status == MemberStatus::kDead) {
    dead_.insert(member.id);
  } else {
    dead_.erase(member.id);
  }
}

void Core::emit(EventType type, const Member& member, Instant now, const NodeId& source) {
  ready_.events.push_back(Event{type, member.id, member.incarnation, now, source});
}

void Core::adjust_health(int delta) {
  health_ = std::clamp(health_ + delta, 0, config_.awareness_max);
}

Instant Core::next_deadline() const {
  Instant next = std::min({next_probe_at_, next_gossip_at_, next_push_pull_at_,
                           next_reconnect_at_, next_join_at_});
  if (probe_) {
    next = std::min(next, probe_->indirect_sent ? probe_->end_deadline : probe_->direct_deadline);
  }
  if (!suspicion_deadlines_.empty()) next = std::min(next, suspicion_deadlines_.begin()->first);
  for (const auto& [sequence, relay] : relays_) next = std::min(next, relay.deadline);
  return next;
}

void Core::tick(Instant now) {
  tick_suspicions(now);
  tick_relays(now);
  tick_probe(now);
  tick_gossip(now);
  tick_push_pull(now);
  tick_reconnect(now);
  tick_join(now);
}

void Core::step(const Message& message, Instant now) {
  ++stats_.messages_in;
  if (message.sender == self_.id) return;
  // Rule R15: the full state that answers this node's join is what the swarm already knows;
  // re-spreading it would make every joiner re-gossip the whole membership (n^2 log n records
  // for a fleet booting at once). It is merged without being queued for dissemination.
  if (message.type == MessageType::kStateDigest) return on_state_digest(message, now);
  quiet_ = message.type == MessageType::kPushPullReply && !joined_;
  stale_accusation_ = false;
  for (const Bytes& record : message.records) receive_record(record, now);
  quiet_ = false;
  switch (message.type) {
    case MessageType::kPing: return on_ping(message);
    case MessageType::kPingRequest: return on_ping_request(message, now);
    case MessageType::kAck: return on_ack(message, now);
    case MessageType::kNack: return on_nack(message);
    case MessageType::kGossip: return;
    case MessageType::kPushPull:
    case MessageType::kPushPullReply: return on_push_pull(message, now);
    case MessageType::kStateDigest: return;  // handled above
  }
}

}  // namespace starling::membership
