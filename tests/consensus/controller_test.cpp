// The consensus controller (consensus/controller.hpp): bootstrap, framing, forwarding, voters
// and learners, scheduling, owner leases and restarts, on a small in-memory network with a
// durable store per node that follows the shell's contract (persist, then send, then act).
// Randomised tests print their seed on failure.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "base/rng.hpp"
#include "consensus/controller.hpp"

namespace starling::consensus {
namespace {

using std::chrono::milliseconds;

// What a node's shell persisted.
struct Disk {
  ControllerDurable durable;
  void write(ControllerOutput& out) {
    if (out.cluster) durable.cluster = *out.cluster;
    if (out.snapshot) {
      durable.raft.snapshot = *out.snapshot;
      durable.raft.entries.clear();
    }
    if (!out.entries.empty()) {
      const std::uint64_t first = out.entries.front().index;
      auto& e = durable.raft.entries;
      while (!e.empty() && e.back().index >= first) e.pop_back();
      for (const Entry& entry : out.entries) e.push_back(entry);
    }
    if (out.hard_state) durable.raft.hard_state = *out.hard_state;
    if (out.compacted) {
      durable.raft.snapshot = *out.compacted;
      auto& e = durable.raft.entries;
      e.erase(std::remove_if(e.begin(), e.end(),
                             [&](const Entry& x) { return x.index <= out.compacted->meta.index; }),
              e.end());
    }
  }
};

struct Net {
  struct Node {
    NodeId id;
    Disk disk;
    std::unique_ptr<Controller> c;
    bool up = false;
    std::uint32_t boots = 0;
    std::vector<ProposalResult> results;
  };
  struct Packet {
    Instant at;
    NodeId from;
    NodeId to;
    Bytes bytes;
  };

  explicit Net(std::size_t n, std::uint64_t seed, ControllerOptions base = {}) : rng(seed) {
    options = base;
    options.bootstrap_settle = milliseconds(300);
    for (std::size_t i = 0; i < n; ++i) {
      Node node;
      node.id = NodeId::from_u64(i + 1);
      nodes.push_back(std::move(node));
    }
    for (std::size_t i = 0; i < n; ++i) start(i);
  }

  void start(std::size_t i) {
    Node& n = nodes[i];
    REQUIRE(Controller::check_durable(n.disk.durable).is_ok());
    ControllerOptions o = options;
    o.nonce_base = std::uint64_t{++n.boots} << 32;
    n.c = std::make_unique<Controller>(o, n.id, n.disk.durable, rng.next_u64(), now);
    n.up = true;
    flush(i);
  }
  void crash(std::size_t i) {
    nodes[i].up = false;
    nodes[i].c.reset();
  }

  std::size_t index_of(const NodeId& id) const {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].id == id) return i;
    }
    return nodes.size();
  }

  // Persist, then send (the shell's contract).
  void flush(std::size_t i) {
    Node& n = nodes[i];
    if (!n.up) return;
    auto out = n.c->take_output();
    n.disk.write(out);
    for (auto& [to, bytes] : out.messages) {
      if (drop(n.id, to)) continue;
      const auto delay = milliseconds(1 + rng.uniform(4));
      queue.push_back(Packet{now + delay, n.id, to, std::move(bytes)});
    }
    for (auto& r : out.proposals) n.results.push_back(r);
  }
  bool drop(const NodeId& from, const NodeId& to) const {
    const std::size_t a = index_of(from), b = index_of(to);
    return cut.count({a, b}) > 0 || cut.count({b, a}) > 0;
  }

  // The live peers every node sees: the up nodes (an oracle; membership's detection delay is
  // `detect` after a crash).
  void update_peers() {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (!nodes[i].up) continue;
      std::vector<PeerView> peers;
      for (std::size_t j = 0; j < nodes.size(); ++j) {
        if (j == i || !nodes[j].up) continue;
        if (cut.count({i, j}) || cut.count({j, i})) continue;
        PeerView p;
        p.id = nodes[j].id;
        p.cluster = nodes[j].c->cluster();
        peers.push_back(p);
      }
      nodes[i].c->set_peers(std::move(peers), now);
      flush(i);
    }
  }

  // Runs for `d` of virtual time in 1 ms steps.
  void run(Duration d) {
    const Instant end = now + d;
    while (now < end) {
      now += milliseconds(1);
      std::sort(queue.begin(), queue.end(),
                [](const Packet& a, const Packet& b) { return a.at < b.at; });
      while (!queue.empty() && queue.front().at <= now) {
        Packet p = std::move(queue.front());
        queue.pop_front();
        const std::size_t j = index_of(p.to);
        if (j >= nodes.size() || !nodes[j].up) continue;
        nodes[j].c->receive(p.from, p.bytes, now);
        flush(j);
      }
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (!nodes[i].up) continue;
        if (nodes[i].c->next_deadline() <= now) {
          nodes[i].c->tick(now);
          flush(i);
        }
      }
      if ((now.time_since_epoch().count() / 1000) % 100 == 0) update_peers();
    }
  }

  std::optional<std::size_t> leader() const {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].up && nodes[i].c->is_leader()) return i;
    }
    return std::nullopt;
  }
  Controller& at(std::size_t i) { return *nodes[i].c; }

  ControllerOptions options;
  std::vector<Node> nodes;
  std::deque<Packet> queue;
  std::set<std::pair<std::size_t, std::size_t>> cut;
  Rng rng;
  Instant now{};
};

WorkloadSpec stream_spec(const std::string& name, std::uint32_t replicas = 1) {
  WorkloadSpec s;
  s.name = name;
  s.kind = "stream";
  s.replicas = replicas;
  return s;
}

// Who may run each replica right now.
std::map<std::pair<std::string, std::uint32_t>, std::vector<std::size_t>> runners(Net& net) {
  std::map<std::pair<std::string, std::uint32_t>, std::vector<std::size_t>> out;
  for (std::size_t i = 0; i < net.nodes.size(); ++i) {
    if (!net.nodes[i].up) continue;
    for (const HeldReplica& h : net.at(i).held(net.now)) {
      if (h.run == ReplicaRun::kRunning) out[{h.workload, h.replica}].push_back(i);
    }
  }
  return out;
}

TEST_CASE("controller: frames round-trip and garbage is refused") {
  Frame f;
  f.kind = FrameKind::kPropose;
  f.cluster = 42;
  f.request = 7;
  f.command = encode_command(Renew{NodeId::from_u64(3), 9});
  auto back = decode_frame(encode_frame(f));
  REQUIRE(back.is_ok());
  CHECK(back->request == 7);
  CHECK(back->command == f.command);
  Frame reply;
  reply.kind = FrameKind::kReply;
  reply.cluster = 42;
  reply.request = 7;
  reply.code = StatusCode::kUnavailable;
  reply.message = "no leader";
  auto reply_back = decode_frame(encode_frame(reply));
  REQUIRE(reply_back.is_ok());
  CHECK(reply_back->code == StatusCode::kUnavailable);
  CHECK(reply_back->message == "no leader");
  const Bytes good = encode_frame(f);
  for (std::size_t n = 0; n < good.size(); ++n) {
    CHECK_FALSE(decode_frame(ByteSpan(good.data(), n)).is_ok());
  }
  Bytes trailing = good;
  trailing.push_back(0);
  CHECK_FALSE(decode_frame(trailing).is_ok());
  Rng rng(11);
  for (int i = 0; i < 2000; ++i) {
    Bytes junk(rng.uniform(64));
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng.next_u64());
    (void)decode_frame(junk);  // must not crash
  }
  CHECK(cluster_id_of({NodeId::from_u64(2), NodeId::from_u64(1)}) ==
        cluster_id_of({NodeId::from_u64(1), NodeId::from_u64(2)}));
}

TEST_CASE("controller: options are validated") {
  ControllerOptions o;
  CHECK(o.validate().is_ok());
  o.voters = 4;
  CHECK_FALSE(o.validate().is_ok());
  o.voters = 3;
  o.bootstrap_expect = 5;
  CHECK_FALSE(o.validate().is_ok());
}

TEST_CASE("controller: the lowest ids found one cluster, the rest join as learners and voters grow") {
  ControllerOptions o;
  o.voters = 5;
  o.bootstrap_expect = 3;
  Net net(7, 1, o);
  net.run(milliseconds(6000));
  auto leader = net.leader();
  REQUIRE(leader.has_value());
  const std::uint64_t cluster = net.at(0).cluster();
  CHECK(cluster == cluster_id_of({NodeId::from_u64(1), NodeId::from_u64(2), NodeId::from_u64(3)}));
  for (std::size_t i = 0; i < 7; ++i) CHECK(net.at(i).cluster() == cluster);
  const ConfState& conf = net.at(*leader).core()->conf();
  CHECK(conf.voters.size() == 5);
  CHECK(conf.learners.size() == 2);
}

TEST_CASE("controller: a workload added on a follower is forwarded, placed and run by one owner") {
  ControllerOptions o;
  o.voters = 3;
  Net net(5, 2, o);
  net.run(milliseconds(4000));
  auto leader = net.leader();
  REQUIRE(leader.has_value());
  const std::size_t follower = (*leader + 1) % 5;
  auto request = net.at(follower).submit(AddWorkload{stream_spec("s1", 2)}, net.now);
  REQUIRE(request.is_ok());
  net.flush(follower);
  net.run(milliseconds(3000));
  REQUIRE(!net.nodes[follower].results.empty());
  CHECK(net.nodes[follower].results.back().status.is_ok());
  auto r = runners(net);
  REQUIRE(r.size() == 2);
  CHECK(r[{"s1", 0}].size() == 1);
  CHECK(r[{"s1", 1}].size() == 1);
  CHECK(r[{"s1", 0}] != r[{"s1", 1}]);
  // Every node's table agrees.
  for (std::size_t i = 0; i < 5; ++i) CHECK(net.at(i).table() == net.at(*leader).table());
}

TEST_CASE("controller: an owner that crashes loses its replicas to live nodes, and a restart releases") {
  ControllerOptions o;
  o.voters = 3;
  Net net(5, 3, o);
  net.run(milliseconds(4000));
  auto leader = net.leader();
  REQUIRE(leader.has_value());
  for (int w = 0; w < 10; ++w) {
    REQUIRE(net.at(*leader).submit(AddWorkload{stream_spec("w" + std::to_string(w))}, net.now)
                .is_ok());
  }
  net.flush(*leader);
  net.run(milliseconds(3000));
  auto before = runners(net);
  REQUIRE(before.size() == 10);
  // Crash a node that runs something and is not the leader.
  std::optional<std::size_t> victim;
  for (auto& [key, who] : before) {
    if (who.front() != *leader) victim = who.front();
  }
  REQUIRE(victim.has_value());
  net.crash(*victim);
  net.update_peers();
  net.run(milliseconds(3000));
  auto after = runners(net);
  CHECK(after.size() == 10);
  for (auto& [key, who] : after) {
    CHECK(who.size() == 1);
    CHECK(who.front() != *victim);
  }
  // The victim comes back: it must not resume what it held, and the table settles again.
  net.start(*victim);
  net.update_peers();
  net.run(milliseconds(4000));
  auto settled = runners(net);
  CHECK(settled.size() == 10);
  for (auto& [key, who] : settled) CHECK(who.size() == 1);
}

TEST_CASE("controller: an owner restarted at once releases what it held instead of resuming it") {
  ControllerOptions o;
  o.voters = 3;
  Net net(3, 8, o);
  net.run(milliseconds(4000));
  auto leader = net.leader();
  REQUIRE(leader.has_value());
  for (int w = 0; w < 6; ++w) {
    REQUIRE(net.at(*leader).submit(AddWorkload{stream_spec("q" + std::to_string(w))}, net.now)
                .is_ok());
  }
  net.flush(*leader);
  net.run(milliseconds(2000));
  const std::size_t victim = (*leader + 1) % 3;
  std::map<std::string, std::uint64_t> epochs;
  for (const HeldReplica& h : net.at(victim).held(net.now)) epochs[h.workload] = h.epoch;
  REQUIRE(!epochs.empty());
  net.crash(victim);
  net.run(milliseconds(20));
  net.start(victim);
  // Right after the restart it holds its old replicas only to release them.
  for (const HeldReplica& h : net.at(victim).held(net.now)) {
    CHECK(h.run == ReplicaRun::kReleasing);
  }
  net.run(milliseconds(3000));
  CHECK(net.at(victim).stats().releases_sent > 0);
  auto r = runners(net);
  CHECK(r.size() == 6);
  for (auto& [key, who] : r) {
    CHECK(who.size() == 1);
    if (who.front() == victim) CHECK(net.at(victim).table().assignment(key.first, 0)->epoch > epochs[key.first]);
  }
}

TEST_CASE("controller: a leader crash elects a new leader and the work continues") {
  for (std::uint64_t seed : {4u, 5u, 6u}) {
    CAPTURE(seed);
    ControllerOptions o;
    o.voters = 3;
    Net net(5, seed, o);
    net.run(milliseconds(4000));
    auto leader = net.leader();
    REQUIRE(leader.has_value());
    REQUIRE(net.at(*leader).submit(AddWorkload{stream_spec("a", 3)}, net.now).is_ok());
    net.flush(*leader);
    net.run(milliseconds(2000));
    const std::uint64_t term = net.at(*leader).term();
    net.crash(*leader);
    net.update_peers();
    net.run(milliseconds(4000));
    auto next = net.leader();
    REQUIRE(next.has_value());
    CHECK(net.at(*next).term() > term);
    auto r = runners(net);
    CHECK(r.size() == 3);
    for (auto& [key, who] : r) {
      CHECK(who.size() == 1);
      CHECK(who.front() != *leader);
    }
  }
}

TEST_CASE("controller: a partitioned owner stops within its lease and its checkpoints are fenced") {
  ControllerOptions o;
  o.voters = 3;
  Net net(5, 7, o);
  net.run(milliseconds(4000));
  auto leader = net.leader();
  REQUIRE(leader.has_value());
  for (int w = 0; w < 6; ++w) {
    REQUIRE(net.at(*leader).submit(AddWorkload{stream_spec("p" + std::to_string(w))}, net.now)
                .is_ok());
  }
  net.flush(*leader);
  net.run(milliseconds(2000));
  // A replica owned by a node other than the leader.
  std::string name;
  std::size_t owner = 0;
  for (auto& [key, who] : runners(net)) {
    if (who.front() != *leader) {
      name = key.first;
      owner = who.front();
    }
  }
  REQUIRE(!name.empty());
  std::uint64_t epoch = 0;
  for (const HeldReplica& h : net.at(owner).held(net.now)) {
    if (h.workload == name) epoch = h.epoch;
  }
  for (std::size_t j = 0; j < 5; ++j) {
    if (j != owner) net.cut.insert({owner, j});
  }
  net.update_peers();
  net.run(o.scheduler.lease + milliseconds(50));
  CHECK_FALSE(net.at(owner).may_run(name, 0, epoch, net.now));
  net.run(milliseconds(3000));
  auto moved = runners(net);
  REQUIRE(moved.size() == 6);
  CHECK(moved[{name, 0}].front() != owner);
  // Heal: the old owner's checkpoint under its old epoch is refused by the table (W2).
  net.cut.clear();
  net.update_peers();
  net.run(milliseconds(2000));
  CHECK_FALSE(net.at(owner).checkpoint(name, 0, epoch, 10, {}, net.now).is_ok());
  CHECK_FALSE(net.at(owner).may_run(name, 0, epoch, net.now));
}

TEST_CASE("controller: random crashes and restarts never let two nodes run one replica") {
  for (std::uint64_t seed = 100; seed < 106; ++seed) {
    CAPTURE(seed);
    ControllerOptions o;
    o.voters = 3;
    Net net(5, seed, o);
    Rng rng(seed);
    net.run(milliseconds(4000));
    auto leader = net.leader();
    REQUIRE(leader.has_value());
    for (int w = 0; w < 6; ++w) {
      (void)net.at(*leader).submit(AddWorkload{stream_spec("r" + std::to_string(w))}, net.now);
    }
    net.flush(*leader);
    for (int step = 0; step < 40; ++step) {
      net.run(milliseconds(250));
      for (auto& [key, who] : runners(net)) CHECK(who.size() <= 1);
      if (rng.chance(0.1)) {
        const std::size_t i = rng.uniform(5);
        if (net.nodes[i].up) {
          net.crash(i);
        } else {
          net.start(i);
        }
        net.update_peers();
      }
    }
    for (std::size_t i = 0; i < 5; ++i) {
      if (!net.nodes[i].up) net.start(i);
    }
    net.update_peers();
    net.run(milliseconds(8000));
    auto r = runners(net);
    CHECK(r.size() == 6);
    for (auto& [key, who] : r) CHECK(who.size() == 1);
  }
}

}  // namespace
}  // namespace starling::consensus
