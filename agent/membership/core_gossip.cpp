// Membership core, part 3: dissemination (piggy-backed and periodic gossip), push-pull
// anti-entropy, reconnection to members believed dead (partition healing), join and leave.
#include <algorithm>

#include "agent/membership/core.hpp"

namespace starling::membership {

void Core::send(const std::string& address, const NodeId& to, Message message, bool piggyback) {
  if (address.empty()) return;
  message.sender = self_.id;
  // Answers to probes go to a node that just reached this one and needs no return address:
  // leaving it out saves a fifth of every ack, the most frequent message in an idle swarm.
  const bool answer = message.type == MessageType::kAck || message.type == MessageType::kNack;
  message.sender_address = answer ? std::string() : self_.address;
  if (piggyback) {
    std::size_t used = 0;
    for (const Bytes& r : message.records) used += r.size();
    if (used < config_.piggyback_bytes_max) {
      // Rule R11: every message carries the least-sent news, within the byte budget.
      auto extra = broadcasts_.take(config_.piggyback_bytes_max - used,
                                    retransmit_limit(config_, swarm_size()));
      for (Bytes& r : extra) message.records.push_back(std::move(r));
    }
  }
  ++stats_.messages_out;
  ready_.messages.push_back(Outbound{address, to, std::move(message)});
}

void Core::send_to(const NodeId& to, Message message, bool piggyback) {
  const Member* m = lookup(to);
  if (m == nullptr) return;
  send(m->address, to, std::move(message), piggyback);
}

void Core::broadcast(const NodeId& subject, const Bytes& record) {
  if (quiet_ && subject != self_.id) return;
  broadcasts_.push(subject, record);
}

std::vector<Bytes> Core::full_state() const {
  std::vector<Bytes> records;
  records.reserve(members_.size() * 2);
  for (const auto& [id, m] : members_) {
    // Tombstones travel without their alive record: a receiver that never knew the member has
    // no use for it (R1), and one that forgot it (R16) must not be made to resurrect it.
    const bool tombstone = m.status == MemberStatus::kDead || m.status == MemberStatus::kLeft;
    // Otherwise the alive record comes first: a receiver that does not know the member needs it
    // before a suspicion at the same incarnation can apply.
    if (!tombstone && !m.alive_record.empty()) records.push_back(m.alive_record);
    if (!m.status_record.empty()) records.push_back(m.status_record);
  }
  return records;
}

std::vector<NodeId> Core::pick_random(const Pool& pool, std::size_t k, const NodeId& exclude) {
  // Robert Floyd's sampling: k distinct positions, each subset equally likely, k draws. One
  // more is drawn when `exclude` is in the pool, and dropped if it was drawn.
  const std::size_t n = pool.size();
  const std::size_t want = std::min(n, k + (pool.contains(exclude) ? 1 : 0));
  std::vector<std::size_t> positions;
  positions.reserve(want);
  for (std::size_t j = n - want; j < n; ++j) {
    const auto t = static_cast<std::size_t>(rng_.uniform(j + 1));
    const bool taken = std::find(positions.begin(), positions.end(), t) != positions.end();
    positions.push_back(taken ? j : t);
  }
  std::vector<NodeId> picked;
  picked.reserve(k);
  for (std::size_t position : positions) {
    if (picked.size() < k && pool.at(position) != exclude) picked.push_back(pool.at(position));
  }
  return picked;
}

void Core::tick_gossip(Instant now) {
  if (now < next_gossip_at_) return;
  next_gossip_at_ = now + config_.gossip_interval;
  if (broadcasts_.empty()) return;
  // Rule R12: gossip also reaches members declared dead recently, so that a member wrongly
  // declared dead learns it and refutes.
  std::vector<NodeId> targets = pick_random(live_, static_cast<std::size_t>(config_.gossip_nodes),
                                            self_.id);
  if (!dead_.ids().empty() && rng_.chance(0.5)) {
    const NodeId& candidate = dead_.at(rng_.uniform(dead_.size()));
    if (now - member_at(candidate).status_since <= config_.gossip_to_the_dead) {
      targets.push_back(candidate);
    }
  }
  for (const NodeId& target : targets) {
    if (broadcasts_.empty()) break;
    Message gossip;
    gossip.type = MessageType::kGossip;
    send_to(target, std::move(gossip), /*piggyback=*/true);
  }
}

void Core::tick_push_pull(Instant now) {
  if (now < next_push_pull_at_) return;
  next_push_pull_at_ = now + push_pull_interval(config_, swarm_size());
  reap_tombstones(now);
  if (left_ || live_.size() == 0) return;
  // Rule R13: periodic full-state exchange repairs whatever gossip missed.
  const NodeId target = live_.at(rng_.uniform(live_.size()));
  Message push;
  if (config_.push_pull_digest) {
    // The full exchange happens only if the target's view differs (on_state_digest).
    push.type = MessageType::kStateDigest;
    push.records.push_back(state_digest());
    ++stats_.state_digests;
  } else {
    push.type = MessageType::kPushPull;
    push.records = full_state();
    ++stats_.push_pulls;
  }
  send_to(target, std::move(push), /*piggyback=*/false);
}

Bytes Core::state_digest() const {
  Bytes view;
  view.reserve(members_.size() * (NodeId::kSize + 17));
  ByteWriter out(view);
  for (const auto& [id, m] : members_) {
    out.raw(id.raw());
    out.u64(m.incarnation);
    out.u64(m.meta_version);
    out.u8(static_cast<std::uint8_t>(m.status));
  }
  // Two 64-bit fingerprints, the second over the view with a leading byte, make 128 bits: a
  // collision would only postpone one repair until the views change again.
  Bytes digest;
  ByteWriter d(digest);
  d.u64(fingerprint64(view));
  view.insert(view.begin(), std::uint8_t{0x5a});
  d.u64(fingerprint64(view));
  return digest;
}

void Core::on_state_digest(const Message& message, Instant now) {
  (void)now;
  if (message.records.size() != 1 || message.records[0].size() != 16) {
    reject(error(StatusCode::kCorrupt, "state digest of the wrong size"));
    return;
  }
  if (message.records[0] == state_digest()) return;
  // Rule R13: the views differ; repair them with a full exchange started from this side.
  Message push;
  push.type = MessageType::kPushPull;
  push.records = full_state();
  ++stats_.push_pulls;
  send(message.sender_address, message.sender, std::move(push), /*piggyback=*/false);
}

void Core::tick_reconnect(Instant now) {
  if (now < next_reconnect_at_) return;
  next_reconnect_at_ = now + config_.reconnect_interval;
  if (left_ || dead_.size() == 0) return;
  // Rule R14: after a partition each side believes the other dead; a full-state exchange with
  // one of them is how the two sides find each other again.
  // The push is small (this node's alive record and the death it holds about the target):
  // most targets really are dead, and a live one answers with its full state, learns of its
  // death and refutes it, and its refutation spreads to its side by gossip.
  const NodeId target = dead_.at(rng_.uniform(dead_.size()));
  const Member& m = member_at(target);
  Message push;
  push.type = MessageType::kPushPull;
  push.records.push_back(member_at(self_.id).alive_record);
  if (!m.status_record.empty()) push.records.push_back(m.status_record);
  ++stats_.push_pulls;
  send(m.address, target, std::move(push), /*piggyback=*/false);
}

void Core::join(const std::vector<std::string>& seed_addresses, Instant now) {
  // Rule R15: join through the seeds, retried until one answers.
  seeds_.clear();
  for (const auto& seed : seed_addresses) {
    if (seed != self_.address) seeds_.push_back(seed);
  }
  if (seeds_.empty()) {
    joined_ = true;  // the first node of a new swarm
    return;
  }
  send_join(now);
}

void Core::send_join(Instant now) {
  next_join_at_ = now + config_.join_retry_interval;
  for (const auto& seed : seeds_) {
    Message push;
    push.type = MessageType::kPushPull;
    push.join = true;
    push.records = full_state();
    send(seed, NodeId{}, std::move(push), /*piggyback=*/false);
  }
}

void Core::tick_join(Instant now) {
  if (now < next_join_at_) return;
  if (joined_ || left_) {
    next_join_at_ = Instant::max();
    return;
  }
  send_join(now);
}

void Core::on_push_pull(const Message& message, Instant now) {
  if (message.type == MessageType::kPushPullReply) {
    joined_ = true;
    next_join_at_ = Instant::max();
    return;
  }
  Message reply;
  reply.type = MessageType::kPushPullReply;
  reply.records = full_state();
  (void)now;
  send(message.sender_address, message.sender, std::move(reply), /*piggyback=*/false);
}

void Core::leave(Instant now) {
  if (left_) return;
  // Rule R6: a graceful leave is a record signed by the leaver at its current incarnation.
  Bytes bytes = codec_.seal(own_record(RecordType::kLeft, self_.id, incarnation_));
  Member& me = member_at(self_.id);
  me.status_record = bytes;
  set_status(me, MemberStatus::kLeft, now);
  left_ = true;
  probe_.reset();
  broadcasts_.clear();
  broadcast(self_.id, bytes);
  next_gossip_at_ = now;  // spread it at once
  tick_gossip(now);
}

void Core::reap_tombstones(Instant now) {
  // Rule R16: tombstones outlive every stale alive record that gossip may still carry.
  for (auto it = members_.begin(); it != members_.end();) {
    Member& m = it->second;
    const bool tombstone = m.status == MemberStatus::kDead || m.status == MemberStatus::kLeft;
    if (m.id != self_.id && tombstone && now - m.status_since > config_.dead_retention) {
      dead_.erase(m.id);
      index_.erase(m.id);
      if (!m.alive_record.empty()) alive_fingerprints_.erase(fingerprint64(m.alive_record));
      it = members_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace starling::membership
