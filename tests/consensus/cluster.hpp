// A network of consensus cores for tests, in the style of etcd raft's test network and
// TigerBeetle's packet simulator: each node has a simulated disk (what its shell persisted) and
// a state machine, messages travel as real encoded bytes (consensus/codec.hpp) with seeded
// latency, loss, duplication, partitions and targeted drops, nodes crash (losing everything not
// persisted) and restart from their disk, and time is virtual. The shell's contract of
// core.hpp is followed to the letter: persist, then send, then apply.
//
// A Checker watches every node from outside: at most one leader per term (C1), every applied
// entry equal to what every other node applied at that index (C5), entries applied exactly
// once and in order, and leader completeness (C4) at each election. Violations are collected,
// not asserted, so that a canary test can require them.
// Single-threaded; header-only.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/rng.hpp"
#include "consensus/codec.hpp"
#include "consensus/core.hpp"

namespace starling::consensus::testing {

inline Bytes bytes_of(const std::string& text) { return Bytes(text.begin(), text.end()); }
inline std::string text_of(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

// The test application: every applied entry extends a hash chain, so two nodes that applied
// the same entries in the same order hold the same hash; commands are also kept as text. Its
// snapshot is (index, hash, commands).
struct App {
  std::uint64_t applied = 0;
  std::uint64_t hash = 0;
  std::vector<std::string> commands;

  static std::uint64_t chain(std::uint64_t hash, const Entry& entry) {
    Bytes buffer;
    ByteWriter w(buffer);
    w.u64(hash);
    w.u64(entry.index);
    w.u64(entry.term);
    w.u8(static_cast<std::uint8_t>(entry.type));
    w.raw(entry.data);
    return fingerprint64(buffer);
  }
  void apply(const Entry& entry) {
    applied = entry.index;
    hash = chain(hash, entry);
    if (entry.type == EntryType::kCommand) commands.push_back(text_of(entry.data));
    if (entry.type == EntryType::kConfigChange) ++config_changes;
  }
  std::uint64_t config_changes = 0;  // applied by this node since it started (not snapshotted)
  Bytes snapshot() const {
    Bytes out;
    ByteWriter w(out);
    w.u64(applied);
    w.u64(hash);
    w.u32(static_cast<std::uint32_t>(commands.size()));
    for (const auto& c : commands) w.str16(c);
    return out;
  }
  // An empty snapshot (the bootstrap's) is the empty state at `index`.
  void restore(const Snapshot& snapshot) {
    const std::uint64_t changes = config_changes;
    *this = App{};
    config_changes = changes;
    applied = snapshot.meta.index;
    if (snapshot.data.empty()) return;
    ByteReader r(snapshot.data);
    applied = *r.u64();
    hash = *r.u64();
    const auto n = *r.u32();
    for (std::uint32_t i = 0; i < n; ++i) commands.push_back(*r.str16(65535));
  }
};

// What a node's shell persisted.
struct Disk {
  HardState hard_state;
  Snapshot snapshot;
  std::vector<Entry> entries;

  void write(const Ready& ready) {
    if (ready.snapshot) {
      snapshot = *ready.snapshot;
      entries.clear();
    }
    if (!ready.entries.empty()) {
      const std::uint64_t from = ready.entries.front().index;
      while (!entries.empty() && entries.back().index >= from) entries.pop_back();
      entries.insert(entries.end(), ready.entries.begin(), ready.entries.end());
    }
    if (ready.hard_state) hard_state = *ready.hard_state;
  }
  void compacted(const SnapshotMeta& meta, Bytes data) {
    snapshot = Snapshot{meta, std::move(data)};
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const Entry& e) { return e.index <= meta.index; }),
                  entries.end());
  }
  DurableState durable() const { return DurableState{hard_state, snapshot, entries}; }
};

class Checker {
 public:
  std::vector<std::string> violations;
  std::map<std::uint64_t, NodeId> leaders;  // term -> leader

  void on_leader(const NodeId& id, std::uint64_t term, const Core& core) {
    auto [it, inserted] = leaders.emplace(term, id);
    if (!inserted && it->second != id) {
      fail("C1: two leaders in term " + std::to_string(term) + ": " + it->second.short_hex() +
           " and " + id.short_hex());
    }
    // C4: the new leader's log holds every entry committed in an earlier term. An entry's
    // commit term is at most the lowest term of a node that applied it (a leader applies what
    // it commits in its own term; others learn of it in that term or later).
    const Log& log = core.log();
    for (auto e = committed_.upper_bound(log.offset()); e != committed_.end(); ++e) {
      if (e->second.known_in_term >= term) continue;
      const auto term_there = log.term(e->first);
      if (!term_there || *term_there != e->second.term) {
        fail("C4: leader " + id.short_hex() + " of term " + std::to_string(term) +
             " lacks committed entry " + std::to_string(e->first));
        break;
      }
    }
  }
  // Node `id`, at term `now_term`, applied `entry`.
  void on_apply(const NodeId& id, std::uint64_t now_term, const App& before, const Entry& entry,
                const App& after) {
    if (entry.index != before.applied + 1) {
      fail("C5: " + id.short_hex() + " applied index " + std::to_string(entry.index) +
           " after " + std::to_string(before.applied));
    }
    check_state(id, now_term, entry.index, entry.term, after.hash);
  }
  void on_restore(const NodeId& id, std::uint64_t now_term, const Snapshot& snapshot,
                  const App& app) {
    check_state(id, now_term, snapshot.meta.index, snapshot.meta.term, app.hash);
  }
  // C5 and the shell's contract: an entry handed out for applying is in the durable log.
  void on_committed_handed_out(const NodeId& id, const Entry& entry, const Disk& disk) {
    const bool durable = !disk.entries.empty() && entry.index >= disk.entries.front().index &&
                         entry.index <= disk.entries.back().index &&
                         disk.entries[entry.index - disk.entries.front().index] == entry;
    if (!durable) {
      fail("C5: " + id.short_hex() + " was given entry " + std::to_string(entry.index) +
           " to apply before it was persisted");
    }
  }
  // A violation found by a test's own check.
  void report(std::string what) { fail(std::move(what)); }
  std::uint64_t max_committed() const {
    return committed_.empty() ? 0 : committed_.rbegin()->first;
  }

 private:
  struct Committed {
    std::uint64_t term;
    std::uint64_t hash;
    std::uint64_t known_in_term;
  };
  void check_state(const NodeId& id, std::uint64_t now_term, std::uint64_t index,
                   std::uint64_t term, std::uint64_t hash) {
    auto [it, inserted] = committed_.emplace(index, Committed{term, hash, now_term});
    it->second.known_in_term = std::min(it->second.known_in_term, now_term);
    if (!inserted && (it->second.term != term || it->second.hash != hash)) {
      fail("C5: " + id.short_hex() + " applied a different entry or state at index " +
           std::to_string(index) + " (term " + std::to_string(term) + ", expected " +
           std::to_string(it->second.term) + ")");
    }
  }
  void fail(std::string what) {
    if (violations.size() < 20) violations.push_back(std::move(what));
  }
  std::map<std::uint64_t, Committed> committed_;
};

class Cluster {
 public:
  struct Node {
    NodeId id;
    std::unique_ptr<Core> core;  // null while crashed
    Disk disk;
    App app;
    std::uint64_t restarts = 0;
  };
  struct InFlight {
    std::size_t from;
    std::size_t to;
    Bytes bytes;
  };

  // `voters` founding voters (bootstrapped together) and `others` nodes that start empty (to
  // join later as learners). Ids are 1..n, so node i has id from_u64(i + 1).
  Cluster(std::size_t voters, Config config, std::uint64_t seed, std::size_t others = 0)
      : config_(std::move(config)), seed_(seed), rng_(seed ^ 0x5eed) {
    std::vector<NodeId> ids;
    for (std::size_t i = 0; i < voters; ++i) ids.push_back(NodeId::from_u64(i + 1));
    auto boot = bootstrap_state(ids);
    STARLING_ASSERT(boot.is_ok(), "bad test bootstrap");
    for (std::size_t i = 0; i < voters + others; ++i) {
      auto node = std::make_unique<Node>();
      node->id = NodeId::from_u64(i + 1);
      if (i < voters) {
        node->disk.snapshot = boot->snapshot;
        node->disk.hard_state = boot->hard_state;
      }
      nodes_.push_back(std::move(node));
      start(i);
    }
  }

  // --- Network controls.
  Duration latency_min = std::chrono::milliseconds(1);
  Duration latency_max = std::chrono::milliseconds(1);
  double loss = 0;
  double duplicate = 0;
  bool auto_compact = true;  // compact() when a Ready says snapshot_due
  // After every event: no node is leader of a higher term while another holds a lease (C15).
  bool check_leases = true;
  // Drops a message when it returns true (for targeted tests).
  std::function<bool(std::size_t from, std::size_t to, const Message&)> drop_if;
  // Sees every message that is delivered.
  std::function<void(std::size_t from, std::size_t to, const Message&)> on_deliver;

  void cut(std::size_t a, std::size_t b) { cut_.insert({std::min(a, b), std::max(a, b)}); }
  void isolate(std::size_t a) {
    for (std::size_t b = 0; b < size(); ++b) {
      if (b != a) cut(a, b);
    }
  }
  // Cuts every link between the two sides.
  void partition(const std::vector<std::size_t>& side) {
    for (std::size_t a : side) {
      for (std::size_t b = 0; b < size(); ++b) {
        if (std::find(side.begin(), side.end(), b) == side.end()) cut(a, b);
      }
    }
  }
  void heal() { cut_.clear(); }
  bool linked(std::size_t a, std::size_t b) const {
    return cut_.count({std::min(a, b), std::max(a, b)}) == 0;
  }

  // --- Nodes.
  std::size_t size() const { return nodes_.size(); }
  Core& core(std::size_t i) { return *nodes_.at(i)->core; }
  Node& node(std::size_t i) { return *nodes_.at(i); }
  const NodeId& id(std::size_t i) const { return nodes_.at(i)->id; }
  std::size_t index_of(const NodeId& id) const {
    for (std::size_t i = 0; i < size(); ++i) {
      if (nodes_[i]->id == id) return i;
    }
    return SIZE_MAX;
  }
  bool is_up(std::size_t i) const { return nodes_.at(i)->core != nullptr; }
  Instant now() const { return now_; }

  // Loses everything not persisted; the node's queued Ready is never processed.
  void crash(std::size_t i) { nodes_.at(i)->core.reset(); }
  void restart(std::size_t i) {
    if (!is_up(i)) start(i);
  }

  // The leader of the highest term among up nodes, if any.
  std::optional<std::size_t> leader() const {
    std::optional<std::size_t> found;
    for (std::size_t i = 0; i < size(); ++i) {
      if (!is_up(i) || !nodes_[i]->core->is_leader()) continue;
      if (!found || nodes_[i]->core->term() > nodes_[*found]->core->term()) found = i;
    }
    return found;
  }

  // One line per node (role, term, leader, log, commit, applied, configuration, progress), for
  // failure messages.
  std::string describe() const {
    std::ostringstream out;
    out << "at " << to_seconds(now_ - Instant{}) << "s\n";
    for (std::size_t i = 0; i < size(); ++i) {
      out << "node " << i << ": ";
      if (!is_up(i)) {
        out << "down\n";
        continue;
      }
      const Core& c = *nodes_[i]->core;
      out << role_name(c.role()) << " term " << c.term() << " leader "
          << (c.leader().is_zero() ? std::string("-") : std::to_string(index_of(c.leader())))
          << " log " << c.log().first_index() << ".." << c.log().last_index() << " (last term "
          << c.log().last_term() << ") commit " << c.commit_index() << " applied "
          << c.applied_index() << " voters";
      for (const auto& v : c.conf().voters) out << " " << index_of(v);
      if (!c.conf().learners.empty()) out << " learners";
      for (const auto& v : c.conf().learners) out << " " << index_of(v);
      for (const auto& [id, p] : c.progress()) {
        out << " | " << index_of(id) << ": " << progress_state_name(p.state) << " match "
            << p.match << " next " << p.next << " inflight " << p.inflight.size();
      }
      out << "\n";
    }
    return out.str();
  }

  // Proposes `command` at node i and processes its Ready.
  Result<std::uint64_t> propose(std::size_t i, const std::string& command) {
    auto result = core(i).propose(bytes_of(command));
    flush(i);
    return result;
  }

  // Asks node i to hand leadership to node `target` (to the most up-to-date voter when
  // target is SIZE_MAX) and processes its Ready.
  Status transfer(std::size_t i, std::size_t target) {
    Status status = core(i).transfer_leadership(target == SIZE_MAX ? NodeId{} : id(target), now_);
    flush(i);
    return status;
  }

  // Runs any local request on node i, then processes its Ready.
  template <typename F>
  auto on(std::size_t i, F&& request) {
    auto result = request(core(i));
    flush(i);
    return result;
  }

  // --- Time.

  // Delivers every queued message at once, and those they cause, without moving time (for
  // hand-driven tests). Returns how many were delivered.
  std::size_t deliver_all(std::size_t max_messages = 100000) {
    std::size_t delivered = 0;
    while (!queue_.empty() && delivered < max_messages) {
      auto it = queue_.begin();
      InFlight message = std::move(it->second);
      queue_.erase(it);
      delivered += deliver(message) ? 1 : 0;
    }
    return delivered;
  }

  // Runs the network and the nodes' timers until `end`, event by event.
  void run_until(Instant end) {
    for (std::size_t guard = 0; guard < 50'000'000; ++guard) {
      Instant next = end;
      if (!queue_.empty()) next = std::min(next, queue_.begin()->first.first);
      for (std::size_t i = 0; i < size(); ++i) {
        if (is_up(i)) next = std::min(next, core(i).next_deadline());
      }
      if (next >= end) {
        now_ = std::max(now_, end);
        return;
      }
      now_ = std::max(now_, next);
      while (!queue_.empty() && queue_.begin()->first.first <= now_) {
        auto it = queue_.begin();
        InFlight message = std::move(it->second);
        queue_.erase(it);
        deliver(message);
      }
      for (std::size_t i = 0; i < size(); ++i) {
        if (is_up(i) && core(i).next_deadline() <= now_) {
          core(i).tick(now_);
          flush(i);
        }
      }
      if (check_leases) check_lease_safety();
    }
    STARLING_UNREACHABLE("Cluster::run_until() made no progress");
  }
  void run_for(Duration d) { run_until(now_ + d); }

  // Runs until `done()` holds or `limit` passes; returns whether it held.
  bool run_until(const std::function<bool()>& done, Duration limit,
                 Duration step = std::chrono::milliseconds(10)) {
    const Instant end = now_ + limit;
    while (!done()) {
      if (now_ >= end) return false;
      run_for(step);
    }
    return true;
  }

  // Runs until some up node is leader (at most `limit`) and returns it.
  std::optional<std::size_t> wait_for_leader(Duration limit = std::chrono::seconds(10)) {
    run_until([&] { return leader().has_value(); }, limit);
    return leader();
  }

  // Processes node i's outputs: persist, send, apply (the shell's contract), then compaction.
  void flush(std::size_t i) {
    Node& n = *nodes_.at(i);
    while (n.core && n.core->has_ready()) {
      Ready ready = n.core->take_ready();
      n.disk.write(ready);
      for (auto& m : ready.messages) send(i, m);
      if (ready.snapshot) {
        n.app.restore(*ready.snapshot);
        checker.on_restore(n.id, n.core->term(), *ready.snapshot, n.app);
      }
      for (const Entry& entry : ready.committed_entries) {
        checker.on_committed_handed_out(n.id, entry, n.disk);
        const App before = n.app;
        n.app.apply(entry);
        checker.on_apply(n.id, n.core->term(), before, entry, n.app);
      }
      for (const Event& event : ready.events) {
        events.push_back({i, event});
        if (event.type == EventType::kRoleChanged && event.role == Role::kLeader) {
          checker.on_leader(n.id, event.term, *n.core);
        }
      }
      if (ready.snapshot_due && auto_compact) {
        auto meta = n.core->compact(n.app.applied, n.app.snapshot());
        if (meta) n.disk.compacted(*meta, n.app.snapshot());
      }
    }
  }

  Checker checker;
  std::vector<std::pair<std::size_t, Event>> events;
  std::uint64_t messages_delivered = 0;
  std::uint64_t bytes_delivered = 0;

 private:
  void start(std::size_t i) {
    Node& n = *nodes_.at(i);
    const std::uint64_t seed = seed_ * 1000003 + i * 7919 + n.restarts++;
    n.core = std::make_unique<Core>(config_, n.id, n.disk.durable(), seed, now_);
    n.app = App{};
    n.app.restore(n.disk.snapshot);
    flush(i);
  }

  void send(std::size_t from, const Message& message) {
    const std::size_t to = index_of(message.to);
    STARLING_ASSERT(to < size(), "a message to an unknown node");
    if (!linked(from, to) || (drop_if && drop_if(from, to, message))) return;
    if (loss > 0 && rng_.chance(loss)) return;
    const int copies = duplicate > 0 && rng_.chance(duplicate) ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      const auto span = (latency_max - latency_min).count();
      const Duration latency =
          latency_min + Duration(span > 0 ? static_cast<Duration::rep>(rng_.uniform(
                                                static_cast<std::uint64_t>(span) + 1))
                                          : 0);
      queue_.emplace(std::make_pair(now_ + latency, sequence_++),
                     InFlight{from, to, encode_message(message)});
    }
  }

  void check_lease_safety() {
    for (std::size_t i = 0; i < size(); ++i) {
      if (!is_up(i) || !core(i).has_lease(now_)) continue;
      for (std::size_t j = 0; j < size(); ++j) {
        if (j != i && is_up(j) && core(j).is_leader() && core(j).term() > core(i).term()) {
          checker.report("C15: node " + std::to_string(i) + " holds a lease in term " +
                         std::to_string(core(i).term()) + " while node " + std::to_string(j) +
                         " leads term " + std::to_string(core(j).term()));
          return;
        }
      }
    }
  }

  bool deliver(const InFlight& in) {
    if (!is_up(in.to) || !linked(in.from, in.to)) return false;
    auto decoded = decode_message(in.bytes);
    STARLING_ASSERT(decoded.is_ok(), "the codec failed to decode its own encoding");
    ++messages_delivered;
    bytes_delivered += in.bytes.size();
    if (on_deliver) on_deliver(in.from, in.to, *decoded);
    core(in.to).step(*decoded, now_);
    flush(in.to);
    return true;
  }

  Config config_;
  std::uint64_t seed_;
  Rng rng_;
  Instant now_{};
  std::uint64_t sequence_ = 0;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::pair<Instant, std::uint64_t>, InFlight> queue_;
  std::set<std::pair<std::size_t, std::size_t>> cut_;
};

// A configuration for tests: the defaults, with compaction early enough to be exercised.
inline Config test_config() {
  Config c;
  c.snapshot_threshold_entries = 64;
  c.compaction_trailing_entries = 8;
  return c;
}

}  // namespace starling::consensus::testing
