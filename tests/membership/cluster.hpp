// A hand-driven network of membership cores for rule tests, in the style of etcd raft's test
// network: messages queue until the test delivers them, links can be cut, and time moves only
// when the test says so. Single-threaded; header-only.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/membership/core.hpp"
#include "tests/membership/fake_codec.hpp"

namespace starling::membership::testing {

inline std::string address_of(std::size_t i) { return "node-" + std::to_string(i); }

class Cluster {
 public:
  // `n` cores with ids 1..n and addresses node-0..node-(n-1), not yet joined.
  Cluster(std::size_t n, Config config, std::uint64_t seed) : config_(std::move(config)) {
    for (std::size_t i = 0; i < n; ++i) add_node(seed);
  }

  std::size_t add_node(std::uint64_t seed) {
    const std::size_t i = nodes_.size();
    auto node = std::make_unique<Node>();
    node->id = NodeId::from_u64(i + 1);
    node->codec = std::make_unique<FakeCodec>(node->id);
    node->core = std::make_unique<Core>(
        config_, Core::Self{node->id, address_of(i), {{"index", std::to_string(i)}}, 0},
        *node->codec, seed * 1000 + i, now_);
    nodes_.push_back(std::move(node));
    return i;
  }

  Core& core(std::size_t i) { return *nodes_.at(i)->core; }
  const NodeId& id(std::size_t i) const { return nodes_.at(i)->id; }
  FakeCodec& codec(std::size_t i) { return *nodes_.at(i)->codec; }
  std::size_t size() const { return nodes_.size(); }
  Instant now() const { return now_; }

  // Every node joins through node 0.
  void join_all() {
    core(0).join({}, now_);
    for (std::size_t i = 1; i < size(); ++i) core(i).join({address_of(0)}, now_);
    collect();
  }

  // Node i stops processing anything (like a crash without restart).
  void crash(std::size_t i) { down_.insert(i); }
  bool is_down(std::size_t i) const { return down_.count(i) != 0; }
  // Messages between a and b are dropped, both ways.
  void cut(std::size_t a, std::size_t b) { cut_.insert({std::min(a, b), std::max(a, b)}); }
  // Restores every cut link.
  void heal() { cut_.clear(); }
  // A filter that drops a message when it returns true (for targeted tests).
  std::function<bool(std::size_t from, std::size_t to, const Message&)> drop_if;

  // Moves every up node's outputs into the network queue.
  void collect() {
    for (std::size_t i = 0; i < size(); ++i) {
      if (is_down(i)) continue;
      Ready ready = core(i).take_ready();
      for (auto& out : ready.messages) queue_.push_back({i, std::move(out)});
      for (auto& event : ready.events) events_.push_back({i, event});
    }
  }

  // Delivers queued messages (and the ones they cause) until the network is quiet.
  void deliver_all(std::size_t max_messages = 100000) {
    collect();
    for (std::size_t n = 0; !queue_.empty() && n < max_messages; ++n) {
      auto [from, out] = std::move(queue_.front());
      queue_.pop_front();
      const std::size_t to = index_of(out.address);
      if (to >= size() || is_down(to) || is_down(from)) continue;
      if (cut_.count({std::min(from, to), std::max(from, to)}) != 0) continue;
      if (drop_if && drop_if(from, to, out.message)) continue;
      ++delivered_;
      core(to).step(out.message, now_);
      collect();
    }
  }

  // Advances time in steps of `step`, ticking every up node and delivering messages at once.
  void run_for(Duration total, Duration step = std::chrono::milliseconds(10)) {
    const Instant end = now_ + total;
    while (now_ < end) {
      now_ += step;
      for (std::size_t i = 0; i < size(); ++i) {
        if (!is_down(i) && core(i).next_deadline() <= now_) core(i).tick(now_);
      }
      deliver_all();
    }
  }

  // The status node `observer` holds for node `subject`, or nullopt if unknown.
  std::optional<MemberStatus> status(std::size_t observer, std::size_t subject) {
    const Member* m = core(observer).find(id(subject));
    if (m == nullptr) return std::nullopt;
    return m->status;
  }

  // Whether every up node sees every up node alive and every down node as `down_status`.
  bool converged(MemberStatus down_status = MemberStatus::kDead) {
    for (std::size_t o = 0; o < size(); ++o) {
      if (is_down(o)) continue;
      for (std::size_t s = 0; s < size(); ++s) {
        auto st = status(o, s);
        if (!st || *st != (is_down(s) ? down_status : MemberStatus::kAlive)) return false;
      }
    }
    return true;
  }

  std::vector<std::pair<std::size_t, Event>> events_;
  std::size_t delivered_ = 0;

 private:
  struct Node {
    NodeId id;
    std::unique_ptr<FakeCodec> codec;
    std::unique_ptr<Core> core;
  };
  std::size_t index_of(const std::string& address) const {
    if (address.rfind("node-", 0) != 0) return SIZE_MAX;
    return std::stoul(address.substr(5));
  }
  Config config_;
  Instant now_{};
  std::vector<std::unique_ptr<Node>> nodes_;
  std::deque<std::pair<std::size_t, Outbound>> queue_;
  std::set<std::size_t> down_;
  std::set<std::pair<std::size_t, std::size_t>> cut_;
};

}  // namespace starling::membership::testing
