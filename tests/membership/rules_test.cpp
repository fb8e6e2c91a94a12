// One test per rule of agent/membership/DESIGN.md (R1-R16), on hand-driven clusters.
#include <doctest/doctest.h>

#include "tests/membership/cluster.hpp"

using namespace starling;
using namespace starling::membership;
using namespace starling::membership::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// Builds a record signed by node `signer` of the cluster (through that node's codec).
Bytes sealed(Cluster& c, std::size_t signer, MemberRecord record) {
  record.signer = c.id(signer);
  return c.codec(signer).seal(record);
}

Message gossip_of(Cluster& c, std::size_t from, std::vector<Bytes> records) {
  Message m;
  m.type = MessageType::kGossip;
  m.sender = c.id(from);
  m.sender_address = address_of(from);
  m.records = std::move(records);
  return m;
}

MemberRecord about(Cluster& c, std::size_t subject, RecordType type, std::uint64_t incarnation) {
  MemberRecord r;
  r.type = type;
  r.subject = c.id(subject);
  r.incarnation = incarnation;
  if (type == RecordType::kAlive) r.address = address_of(subject);
  return r;
}

}  // namespace

TEST_CASE("R1: only an alive record introduces a member") {
  Cluster c(3, Config::lan(), 1);
  c.core(0).step(gossip_of(c, 1, {sealed(c, 1, about(c, 2, RecordType::kSuspect, 1))}), c.now());
  CHECK(c.core(0).find(c.id(2)) == nullptr);
  c.core(0).step(gossip_of(c, 2, {sealed(c, 2, about(c, 2, RecordType::kAlive, 1))}), c.now());
  REQUIRE(c.core(0).find(c.id(2)) != nullptr);
  CHECK(c.core(0).find(c.id(2))->status == MemberStatus::kAlive);
}

TEST_CASE("R2: duplicates are not verified again; forgeries are rejected and counted") {
  Cluster c(2, Config::lan(), 2);
  const Bytes alive = sealed(c, 1, about(c, 1, RecordType::kAlive, 1));
  c.core(0).step(gossip_of(c, 1, {alive, alive, alive}), c.now());
  CHECK(c.core(0).stats().verifications == 1);
  CHECK(c.core(0).stats().records_stale == 2);
  Bytes forged = sealed(c, 1, about(c, 1, RecordType::kAlive, 5));
  forged[forged.size() - 1] ^= 1;
  c.core(0).step(gossip_of(c, 1, {forged}), c.now());
  CHECK(c.core(0).find(c.id(1))->incarnation == 1);
  CHECK(c.core(0).stats().rejected_by_reason.at("bad_signature") == 1);
  c.core(0).step(gossip_of(c, 1, {Bytes{1, 2, 3}}), c.now());
  CHECK(c.core(0).stats().rejected_by_reason.at("corrupt") == 1);
}

TEST_CASE("R3: precedence of alive, suspect, dead and left records") {
  Cluster c(3, Config::lan(), 3);
  auto& core = c.core(0);
  core.step(gossip_of(c, 1, {sealed(c, 1, about(c, 1, RecordType::kAlive, 3))}), c.now());
  // A suspicion at a lower incarnation is stale.
  core.step(gossip_of(c, 2, {sealed(c, 2, about(c, 1, RecordType::kSuspect, 2))}), c.now());
  CHECK(c.status(0, 1) == MemberStatus::kAlive);
  // At the same incarnation it applies, and a second accuser confirms it.
  core.step(gossip_of(c, 2, {sealed(c, 2, about(c, 1, RecordType::kSuspect, 3))}), c.now());
  CHECK(c.status(0, 1) == MemberStatus::kSuspect);
  // An alive record at the same incarnation does not clear a suspicion.
  MemberRecord meta = about(c, 1, RecordType::kAlive, 3);
  meta.meta_version = 7;
  core.step(gossip_of(c, 1, {sealed(c, 1, meta)}), c.now());
  CHECK(c.status(0, 1) == MemberStatus::kSuspect);
  // Dead at the same incarnation applies; a later suspicion is stale.
  core.step(gossip_of(c, 2, {sealed(c, 2, about(c, 1, RecordType::kDead, 3))}), c.now());
  CHECK(c.status(0, 1) == MemberStatus::kDead);
  core.step(gossip_of(c, 2, {sealed(c, 2, about(c, 1, RecordType::kSuspect, 3))}), c.now());
  CHECK(c.status(0, 1) == MemberStatus::kDead);
  // Left overrides dead at the same incarnation.
  core.step(gossip_of(c, 1, {sealed(c, 1, about(c, 1, RecordType::kLeft, 3))}), c.now());
  CHECK(c.status(0, 1) == MemberStatus::kLeft);
}

TEST_CASE("R3: a suspicion times out into a death after the Lifeguard timeout") {
  Config config = Config::lan();
  Cluster c(4, config, 4);
  c.join_all();
  c.deliver_all();
  c.crash(3);
  // Only node 0 accuses: no confirmations, so the full max timeout applies.
  c.drop_if = [](std::size_t, std::size_t, const Message&) { return false; };
  auto& core = c.core(0);
  core.step(gossip_of(c, 1, {sealed(c, 1, about(c, 3, RecordType::kSuspect, 1))}), c.now());
  const Instant suspected = c.now();
  REQUIRE(c.status(0, 3) == MemberStatus::kSuspect);
  const Duration max = suspicion_bounds(config, 4).max;
  core.tick(suspected + max - milliseconds(1));
  CHECK(c.status(0, 3) == MemberStatus::kSuspect);
  core.tick(suspected + max);
  // The timeout ran out: one last probe, directly and through others, before the verdict.
  CHECK(c.status(0, 3) == MemberStatus::kSuspect);
  bool last_probe = false;
  for (const auto& out : core.take_ready().messages) {
    last_probe |= out.message.type == MessageType::kPing && out.message.target == c.id(3) &&
                  out.message.records.size() == 1;
  }
  CHECK(last_probe);
  core.tick(suspected + max + config.probe_timeout - milliseconds(1));
  CHECK(c.status(0, 3) == MemberStatus::kSuspect);
  core.tick(suspected + max + config.probe_timeout);
  CHECK(c.status(0, 3) == MemberStatus::kDead);
}

TEST_CASE("R3: the last probe lets a live suspect that missed the gossip refute in time") {
  Cluster c(4, Config::lan(), 41);
  c.join_all();
  c.run_for(seconds(3));
  // Node 0 alone hears the suspicion of node 3, and hears nothing else from anyone but node 3.
  c.core(0).step(gossip_of(c, 1, {sealed(c, 1, about(c, 3, RecordType::kSuspect,
                                                     c.core(3).incarnation()))}),
                 c.now());
  REQUIRE(c.status(0, 3) == MemberStatus::kSuspect);
  c.drop_if = [](std::size_t from, std::size_t to, const Message& m) {
    return to == 0 && from != 3 ? true : (m.type == MessageType::kPing && from == 0 && to == 3 &&
                                          m.records.empty());
  };
  c.run_for(seconds(40));
  CHECK(c.status(0, 3) == MemberStatus::kAlive);
}

TEST_CASE("R3: confirmations by independent accusers shorten the suspicion") {
  Config config = Config::lan();
  Cluster c(5, config, 5);
  c.join_all();
  c.deliver_all();
  auto& core = c.core(0);
  core.step(gossip_of(c, 1, {sealed(c, 1, about(c, 4, RecordType::kSuspect, 1))}), c.now());
  core.step(gossip_of(c, 2, {sealed(c, 2, about(c, 4, RecordType::kSuspect, 1))}), c.now());
  core.step(gossip_of(c, 3, {sealed(c, 3, about(c, 4, RecordType::kSuspect, 1))}), c.now());
  const Duration min = suspicion_bounds(config, 5).min;  // k = 2 confirmations reached
  core.tick(c.now() + min);
  CHECK(c.status(0, 4) == MemberStatus::kSuspect);  // the last probe is out
  core.tick(c.now() + min + config.probe_timeout);
  CHECK(c.status(0, 4) == MemberStatus::kDead);
}

TEST_CASE("R4: an alive record at a higher incarnation clears suspicion and death") {
  Cluster c(3, Config::lan(), 6);
  auto& core = c.core(0);
  core.step(gossip_of(c, 1, {sealed(c, 1, about(c, 1, RecordType::kAlive, 1))}), c.now());
  core.step(gossip_of(c, 2, {sealed(c, 2, about(c, 1, RecordType::kDead, 1))}), c.now());
  CHECK(c.status(0, 1) == MemberStatus::kDead);
  core.step(gossip_of(c, 1, {sealed(c, 1, about(c, 1, RecordType::kAlive, 2))}), c.now());
  CHECK(c.status(0, 1) == MemberStatus::kAlive);
  bool saw_alive_event = false;
  for (const auto& e : core.take_ready().events) {
    saw_alive_event |= e.type == EventType::kAlive && e.node == c.id(1);
  }
  CHECK(saw_alive_event);
}

TEST_CASE("R5: a node refutes a suspicion about itself with a higher, persisted incarnation") {
  Cluster c(2, Config::lan(), 7);
  auto& core = c.core(0);
  (void)core.take_ready();
  const std::uint64_t before = core.incarnation();
  core.step(gossip_of(c, 1, {sealed(c, 1, about(c, 0, RecordType::kSuspect, before + 3))}),
            c.now());
  CHECK(core.incarnation() == before + 4);
  CHECK(core.health_score() == 1);
  CHECK(core.stats().refutations == 1);
  const Ready ready = core.take_ready();
  REQUIRE(ready.incarnation_to_persist.has_value());
  CHECK(*ready.incarnation_to_persist == before + 4);
  // A stale accusation (below its incarnation) changes nothing.
  core.step(gossip_of(c, 1, {sealed(c, 1, about(c, 0, RecordType::kDead, before))}), c.now());
  CHECK(core.incarnation() == before + 4);
}

TEST_CASE("R5: a restarted node supersedes its previous run's records") {
  Cluster c(2, Config::lan(), 8);
  auto& core = c.core(0);
  // Its previous run announced incarnation 9 (e.g. persistence was lost).
  MemberRecord old = about(c, 0, RecordType::kAlive, 9);
  old.signer = c.id(0);
  Bytes old_bytes = c.codec(0).seal(old);
  core.step(gossip_of(c, 1, {old_bytes}), c.now());
  CHECK(core.incarnation() == 10);
}

TEST_CASE("R6: a graceful leave is seen as left, not dead") {
  Cluster c(4, Config::lan(), 9);
  c.join_all();
  c.run_for(seconds(3));
  c.core(3).leave(c.now());
  c.run_for(seconds(2));
  c.crash(3);
  c.run_for(seconds(60));
  for (std::size_t i = 0; i < 3; ++i) CHECK(c.status(i, 3) == MemberStatus::kLeft);
  CHECK(c.core(3).has_left());
}

TEST_CASE("R7: randomised round-robin probes every live member once per pass") {
  Cluster c(6, Config::lan(), 10);
  c.join_all();
  c.run_for(seconds(2));
  std::vector<NodeId> targets;
  c.drop_if = [&](std::size_t from, std::size_t, const Message& m) {
    if (from == 0 && m.type == MessageType::kPing) targets.push_back(m.target);
    return false;
  };
  c.run_for(seconds(30));
  REQUIRE(targets.size() >= 25);
  // Passes are permutations of the 5 others, so any 2 * 5 - 1 consecutive probes cover all.
  for (std::size_t start = 0; start + 9 <= targets.size(); ++start) {
    std::set<NodeId> window(targets.begin() + static_cast<long>(start),
                            targets.begin() + static_cast<long>(start + 9));
    CHECK(window.size() == 5);
  }
}

TEST_CASE("R8: a probe of a suspect carries the suspicion (buddy system)") {
  Cluster c(3, Config::lan(), 11);
  c.join_all();
  c.run_for(seconds(2));
  c.core(0).step(gossip_of(c, 1, {sealed(c, 1, about(c, 2, RecordType::kSuspect,
                                                     c.core(2).incarnation()))}),
                 c.now());
  REQUIRE(c.status(0, 2) == MemberStatus::kSuspect);
  bool refuted = false;
  c.run_for(seconds(3));
  refuted = c.status(0, 2) == MemberStatus::kAlive;
  CHECK(refuted);
  CHECK(c.core(2).stats().refutations >= 1);
}

TEST_CASE("R9: failed probes without nacks raise the health score, acks lower it") {
  Cluster c(5, Config::lan(), 12);
  c.join_all();
  c.run_for(seconds(2));
  // Node 0's outgoing messages are lost: probes fail and no nacks come back.
  c.drop_if = [](std::size_t from, std::size_t, const Message&) { return from == 0; };
  c.run_for(seconds(4));
  CHECK(c.core(0).health_score() >= 2);
  c.drop_if = nullptr;
  c.run_for(seconds(60));
  CHECK(c.core(0).health_score() == 0);
}

TEST_CASE("R10: indirect probes forward acks and answer nacks") {
  Cluster c(4, Config::lan(), 13);
  c.join_all();
  c.run_for(seconds(2));
  c.cut(0, 3);  // node 0 cannot reach node 3 directly, the others can
  c.run_for(seconds(30));
  CHECK(c.status(0, 3) == MemberStatus::kAlive);
  CHECK(c.core(0).stats().indirect_probes > 0);
  c.crash(3);
  std::size_t nacks = 0;
  c.drop_if = [&](std::size_t, std::size_t to, const Message& m) {
    nacks += (to == 0 && m.type == MessageType::kNack) ? 1 : 0;
    return false;
  };
  c.run_for(seconds(10));
  CHECK(nacks > 0);
}

TEST_CASE("R11: piggy-backed records respect the byte budget and retransmit limit") {
  Config config = Config::lan();
  Cluster c(3, config, 14);
  c.join_all();
  std::size_t largest = 0;
  c.drop_if = [&](std::size_t, std::size_t, const Message& m) {
    if (m.type == MessageType::kPushPull || m.type == MessageType::kPushPullReply) return false;
    std::size_t bytes = 0;
    for (const auto& r : m.records) bytes += r.size();
    largest = std::max(largest, bytes);
    return false;
  };
  c.run_for(seconds(120));
  CHECK(largest <= config.piggyback_bytes_max);
  // After two minutes with no changes nothing is left to spread.
  c.drop_if = [&](std::size_t, std::size_t, const Message& m) {
    CHECK((m.type != MessageType::kGossip));
    return false;
  };
  c.run_for(seconds(5));
}

TEST_CASE("R12: gossip spreads a change without waiting for probes") {
  Config config = Config::lan();
  config.probe_interval = seconds(100);  // effectively no probes
  config.probe_timeout = seconds(50);
  Cluster c(8, config, 15);
  c.join_all();
  c.run_for(seconds(2));
  REQUIRE(c.core(7).set_metadata({{"round", "3"}}, c.now()).is_ok());
  c.run_for(seconds(2));
  for (std::size_t i = 0; i < 7; ++i) CHECK(c.core(i).find(c.id(7))->meta.at("round") == "3");
}

TEST_CASE("R13: push-pull repairs what gossip missed") {
  Config config = Config::lan();
  config.gossip_nodes = 0;  // no periodic gossip
  Cluster c(3, config, 16);
  c.join_all();
  // Node 2 joins through node 0 only; node 1 learns of it through piggy-backs or push-pull.
  c.run_for(seconds(70));
  CHECK(c.status(1, 2) == MemberStatus::kAlive);
  CHECK(c.core(1).stats().state_digests + c.core(0).stats().state_digests > 0);
}

TEST_CASE("R13: equal views exchange only digests and different views a full state") {
  Cluster c(4, Config::lan(), 19);
  c.join_all();
  c.run_for(seconds(10));
  REQUIRE(c.converged());
  for (std::size_t i = 1; i < 4; ++i) CHECK(c.core(i).state_digest() == c.core(0).state_digest());
  std::uint64_t full_before = 0;
  for (std::size_t i = 0; i < 4; ++i) full_before += c.core(i).stats().push_pulls;
  c.run_for(seconds(120));  // several push-pull intervals with nothing to repair
  std::uint64_t full_after = 0, digests = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    full_after += c.core(i).stats().push_pulls;
    digests += c.core(i).stats().state_digests;
  }
  CHECK(digests > 0);
  CHECK(full_after == full_before);
  // A metadata change that node 3 never hears of by gossip: the digests differ and a full
  // exchange repairs it.
  c.drop_if = [&](std::size_t from, std::size_t to, const Message& m) {
    return to == 3 && m.type != MessageType::kPushPull && m.type != MessageType::kPushPullReply &&
           m.type != MessageType::kStateDigest && !m.records.empty() && from != 3;
  };
  REQUIRE(c.core(0).set_metadata({{"zone", "b"}}, c.now()).is_ok());
  c.run_for(seconds(120));
  const Member* seen = c.core(3).find(c.core(0).id());
  REQUIRE(seen != nullptr);
  CHECK(seen->meta.at("zone") == "b");
  std::uint64_t full_final = 0;
  for (std::size_t i = 0; i < 4; ++i) full_final += c.core(i).stats().push_pulls;
  CHECK(full_final > full_after);
}

TEST_CASE("R14: after a partition heals, reconnects bring both sides back") {
  Cluster c(6, Config::tuned(), 17);
  c.join_all();
  c.run_for(seconds(5));
  REQUIRE(c.converged());
  for (std::size_t a = 0; a < 3; ++a)
    for (std::size_t b = 3; b < 6; ++b) c.cut(a, b);
  c.run_for(seconds(40));
  CHECK(c.status(0, 5) == MemberStatus::kDead);
  CHECK(c.status(5, 0) == MemberStatus::kDead);
  c.heal();
  c.run_for(seconds(30));
  CHECK(c.converged());
}

TEST_CASE("R15: a joiner retries its seeds until one answers") {
  Cluster c(2, Config::lan(), 18);
  c.core(0).join({}, c.now());
  bool first = true;
  c.drop_if = [&](std::size_t from, std::size_t, const Message& m) {
    if (from == 1 && m.join && first) {
      first = false;
      return true;  // the first join attempt is lost
    }
    return false;
  };
  c.core(1).join({address_of(0)}, c.now());
  c.run_for(seconds(3));
  CHECK(c.core(1).joined());
  CHECK(c.status(0, 1) == MemberStatus::kAlive);
}

TEST_CASE("R16: tombstones are forgotten after dead_retention") {
  Config config = Config::lan();
  config.dead_retention = seconds(5);
  config.push_pull_interval = seconds(1);
  Cluster c(3, config, 19);
  c.join_all();
  c.run_for(seconds(2));
  c.core(2).leave(c.now());
  c.run_for(seconds(1));
  c.crash(2);
  c.run_for(seconds(2));
  CHECK(c.status(0, 2) == MemberStatus::kLeft);
  c.run_for(seconds(10));
  CHECK(!c.status(0, 2).has_value());
}
