// Membership core, part 2: failure detection. One probe at a time in randomised round-robin
// order (SWIM), indirect probes through k members when the direct ack is late, suspicion with
// Lifeguard's shrinking timeout, and Lifeguard's local health score.
#include <algorithm>

#include "agent/membership/core.hpp"

namespace starling::membership {

std::optional<NodeId> Core::next_probe_target() {
  // Rule R7: randomised round-robin: every live member is probed once per pass, so a failed
  // member is probed within (live members) protocol periods.
  for (int pass = 0; pass < 2; ++pass) {
    while (probe_index_ < probe_order_.size()) {
      const NodeId id = probe_order_[probe_index_++];
      if (live_.contains(id)) return id;
    }
    probe_order_ = live_.ids();
    std::sort(probe_order_.begin(), probe_order_.end());  // pool order depends on history
    rng_.shuffle(probe_order_.begin(), probe_order_.end());
    probe_index_ = 0;
  }
  return std::nullopt;
}

void Core::tick_probe(Instant now) {
  if (probe_ && !probe_->indirect_sent && now >= probe_->direct_deadline) {
    send_indirect_probes(now);
  }
  if (probe_ && now >= probe_->end_deadline) finish_probe(/*acked=*/false, now);
  if (now >= next_probe_at_) {
    next_probe_at_ = now + scaled(config_.probe_interval);
    if (!left_ && !probe_) start_probe(now);
  }
}

void Core::start_probe(Instant now) {
  auto target = next_probe_target();
  if (!target) return;
  const Member& m = member_at(*target);
  Probe probe;
  probe.sequence = next_sequence_++;
  probe.target = *target;
  probe.direct_deadline = now + scaled(config_.probe_timeout);
  probe.end_deadline = now + scaled(config_.probe_interval);
  Message ping;
  ping.type = MessageType::kPing;
  ping.sequence = probe.sequence;
  ping.target = *target;
  // Rule R8 (buddy system): a suspect hears of its suspicion from the next probe it receives.
  if (m.status == MemberStatus::kSuspect) ping.records.push_back(m.status_record);
  probe_ = probe;
  ++stats_.probes;
  send(m.address, m.id, std::move(ping), /*piggyback=*/true);
}

void Core::send_indirect_probes(Instant now) {
  (void)now;
  probe_->indirect_sent = true;
  const auto helpers = pick_random(live_, static_cast<std::size_t>(config_.indirect_checks),
                                   probe_->target);
  probe_->expected_nacks = static_cast<int>(helpers.size());
  for (const NodeId& helper : helpers) {
    Message request;
    request.type = MessageType::kPingRequest;
    request.sequence = probe_->sequence;
    request.target = probe_->target;
    ++stats_.indirect_probes;
    send_to(helper, std::move(request), /*piggyback=*/true);
  }
}

void Core::finish_probe(bool acked, Instant now) {
  const Probe probe = *probe_;
  probe_.reset();
  if (acked) {
    adjust_health(-1);  // Rule R9: a timely ack is evidence this node is healthy
    return;
  }
  ++stats_.probes_failed;
  // Rule R9: missing nacks mean this node's own messages are not getting through.
  adjust_health(probe.expected_nacks > 0 ? probe.expected_nacks - probe.nacks : 1);
  const Member* target = lookup(probe.target);
  if (target == nullptr) return;
  const MemberStatus status = target->status;
  if (status == MemberStatus::kAlive || status == MemberStatus::kSuspect) {
    suspect(probe.target, now);
  }
}

void Core::suspect(const NodeId& id, Instant now) {
  const Member& m = member_at(id);
  if (m.status == MemberStatus::kSuspect) {
    // Rule R3: this node's own failed probe of a suspect is an independent confirmation.
    const Suspicion& s = suspicions_.at(id);
    if (s.accusers.count(self_.id) != 0) return;
    if (static_cast<int>(s.accusers.size()) > s.bounds.expected_confirmations) return;  // enough
  }
  const MemberRecord record = own_record(RecordType::kSuspect, id, m.incarnation);
  ++stats_.suspicions_raised;
  ++stats_.records_applied;
  apply_suspect(record, codec_.seal(record), now);
}

void Core::send_last_probe(const NodeId& id, Suspicion& suspicion, Instant now) {
  const Member& m = member_at(id);
  suspicion_deadlines_.erase({suspicion.deadline, id});
  suspicion.last_probe_sent = true;
  suspicion.last_probe_sequence = next_sequence_++;
  suspicion.deadline = now + scaled(config_.probe_timeout);
  suspicion_deadlines_.insert({suspicion.deadline, id});
  Message ping;
  ping.type = MessageType::kPing;
  ping.sequence = suspicion.last_probe_sequence;
  ping.target = id;
  ping.records.push_back(m.status_record);  // so a live suspect refutes in its ack (R8)
  send(m.address, id, std::move(ping), /*piggyback=*/false);
  // And through k others, as an indirect probe: a lost ping or ack must not decide a death.
  for (const NodeId& helper : pick_random(live_, static_cast<std::size_t>(config_.indirect_checks),
                                          id)) {
    Message request;
    request.type = MessageType::kPingRequest;
    request.sequence = suspicion.last_probe_sequence;
    request.target = id;
    send_to(helper, std::move(request), /*piggyback=*/true);
  }
}

void Core::tick_suspicions(Instant now) {
  while (!suspicion_deadlines_.empty() && suspicion_deadlines_.begin()->first <= now) {
    const NodeId id = suspicion_deadlines_.begin()->second;
    Suspicion& suspicion = suspicions_.at(id);
    if (!suspicion.last_probe_sent) {
      // Rule R3: a refutation wave can miss a node (it is short: each node sends a record a
      // bounded number of times). A last direct probe lets a live suspect answer; its ack
      // piggy-backs its refutation, which it has queued as fresh news.
      send_last_probe(id, suspicion, now);
      continue;
    }
    const Member& m = member_at(id);
    // Rule R3: a suspicion not refuted in time becomes a death, signed by this node.
    const MemberRecord record = own_record(RecordType::kDead, id, m.incarnation);
    ++stats_.deaths_declared;
    ++stats_.records_applied;
    apply_dead_or_left(record, codec_.seal(record), now);  // removes the deadline
  }
}

void Core::tick_relays(Instant now) {
  for (auto it = relays_.begin(); it != relays_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    // Rule R10: the requester learns that this node, not the requester, failed to reach the
    // target, so it does not blame its own health.
    Message nack;
    nack.type = MessageType::kNack;
    nack.sequence = it->second.origin_sequence;
    send(it->second.origin_address, it->second.origin, std::move(nack), /*piggyback=*/true);
    it = relays_.erase(it);
  }
}

void Core::on_ping(const Message& message) {
  if (message.target != self_.id) return;  // meant for a previous owner of this address
  Message ack;
  ack.type = MessageType::kAck;
  ack.sequence = message.sequence;
  // Rule R8: a probe that carries an accusation this node already refuted comes from a node
  // that missed the refutation: the ack carries the current alive record, whatever the queue.
  if (stale_accusation_) ack.records.push_back(member_at(self_.id).alive_record);
  send(message.sender_address, message.sender, std::move(ack), /*piggyback=*/true);
}

void Core::on_ping_request(const Message& message, Instant now) {
  const Member* target = lookup(message.target);
  if (target == nullptr || message.target == self_.id) return;
  Relay relay{message.sender, message.sender_address, message.sequence,
              now + scaled(config_.probe_timeout)};
  const std::uint32_t sequence = next_sequence_++;
  relays_.emplace(sequence, std::move(relay));
  Message ping;
  ping.type = MessageType::kPing;
  ping.sequence = sequence;
  ping.target = message.target;
  send(target->address, target->id, std::move(ping), /*piggyback=*/true);
}

void Core::on_ack(const Message& message, Instant now) {
  if (probe_ && message.sequence == probe_->sequence) {
    finish_probe(/*acked=*/true, now);
    return;
  }
  auto relay = relays_.find(message.sequence);
  if (relay == relays_.end()) return;  // late: the probe is over
  Message ack;
  ack.type = MessageType::kAck;
  ack.sequence = relay->second.origin_sequence;
  send(relay->second.origin_address, relay->second.origin, std::move(ack), /*piggyback=*/true);
  relays_.erase(relay);
}

void Core::on_nack(const Message& message) {
  if (probe_ && message.sequence == probe_->sequence) ++probe_->nacks;
}

}  // namespace starling::membership
