// The workloads scenario's outside checker: Raft safety, table agreement and lease overlap.
#include "sim/workloads/checker.hpp"

#include <algorithm>
#include <cstdio>

#include "sim/trace.hpp"

namespace starling::sim {

namespace {

using consensus::CommandType;
using consensus::Core;
using consensus::Entry;
using consensus::EntryType;

std::uint64_t entry_hash(const Entry& entry) {
  return hash_bytes(entry.data) * 31 + static_cast<std::uint64_t>(entry.type);
}

std::string seconds_text(Instant t) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6fs", to_seconds(t - Instant{}));
  return buffer;
}

std::string replica_text(const ReplicaKey& key) {
  return key.first + "/" + std::to_string(key.second);
}

}  // namespace

WorkloadChecker::WorkloadChecker(std::vector<NodeId> ids)
    : ids_(std::move(ids)), processes_(ids_.size()) {}

std::string WorkloadChecker::name(NodeIndex node) const {
  return "node " + std::to_string(node);
}

void WorkloadChecker::report(std::string violation) {
  ++violation_count_;
  if (violations_.size() < 20) violations_.push_back(std::move(violation));
}

void WorkloadChecker::on_start(NodeIndex node) { processes_[node] = Process{}; }

void WorkloadChecker::observe(NodeIndex node, const consensus::Controller& controller,
                              Instant real_now, Instant local_now, const DriftClock& clock) {
  if (controller.cluster() != 0 && clusters_.insert(controller.cluster()).second &&
      clusters_.size() > 1) {
    report("W7: a second cluster was founded (" + name(node) + " is in another one)");
  }
  if (const Core* core = controller.core()) {
    check_raft(node, *core);
    check_table(node, controller);
  }
  check_leases(node, controller, real_now, local_now, clock);
}

void WorkloadChecker::check_raft(NodeIndex node, const Core& core) {
  Process& p = processes_[node];
  if (core.is_leader()) check_leader(node, core);
  const std::uint64_t commit = core.commit_index();
  if (commit < p.commit) {
    report("C5: the commit index of " + name(node) + " went back from " +
           std::to_string(p.commit) + " to " + std::to_string(commit));
  }
  p.commit = commit;
  max_commit_ = std::max(max_commit_, commit);
  const consensus::Log& log = core.log();
  const consensus::SnapshotMeta& meta = core.snapshot_meta();
  if (meta.index > p.checked) {
    auto it = committed_.find(meta.index);
    if (it != committed_.end() && it->second.term != meta.term) {
      report("C5: " + name(node) + " holds a snapshot at index " + std::to_string(meta.index) +
             " of term " + std::to_string(meta.term) + ", committed in term " +
             std::to_string(it->second.term));
    }
    p.checked = std::max(p.checked, std::min(meta.index, commit));
  }
  const std::uint64_t last = std::min(commit, log.last_index());
  for (std::uint64_t index = std::max(p.checked + 1, log.first_index()); index <= last; ++index) {
    const Entry& entry = log.at(index);
    record_committed(node, index, entry.term, entry, core.term());
  }
  p.checked = std::max(p.checked, commit);
}

void WorkloadChecker::check_leader(NodeIndex node, const Core& core) {
  Process& p = processes_[node];
  const std::uint64_t term = core.term();
  auto [it, inserted] = leaders_.emplace(term, node);
  if (!inserted && it->second != node) {
    report("C1: two leaders in term " + std::to_string(term) + ": " + name(it->second) +
           " and " + name(node));
  }
  if (p.last_leader_term == term) return;
  p.last_leader_term = term;
  // C4: entries known committed before this term are in the new leader's log.
  const consensus::Log& log = core.log();
  for (auto e = committed_.upper_bound(log.offset()); e != committed_.end(); ++e) {
    if (e->second.known_in_term >= term) continue;
    const auto there = log.term(e->first);
    if (!there || *there != e->second.term) {
      report("C4: leader " + name(node) + " of term " + std::to_string(term) +
             " lacks committed entry " + std::to_string(e->first));
      return;
    }
  }
}

void WorkloadChecker::record_committed(NodeIndex node, std::uint64_t index, std::uint64_t term,
                                       const Entry& entry, std::uint64_t now_term) {
  const std::uint64_t hash = entry_hash(entry);
  auto [it, inserted] = committed_.emplace(index, Committed{term, hash, now_term});
  if (!inserted) {
    it->second.known_in_term = std::min(it->second.known_in_term, now_term);
    if (it->second.term != term || it->second.hash != hash) {
      report("C5: " + name(node) + " holds a different committed entry at index " +
             std::to_string(index) + " (term " + std::to_string(term) + ", first seen term " +
             std::to_string(it->second.term) + ")");
    }
    return;
  }
  if (entry.type != EntryType::kCommand) {
    ++counts_.other;
    return;
  }
  auto command = consensus::decode_command(entry.data);
  if (!command) {
    ++counts_.other;
    return;
  }
  switch (consensus::command_type(*command)) {
    case CommandType::kAddWorkload: ++counts_.adds; break;
    case CommandType::kAssign: ++counts_.assigns; break;
    case CommandType::kCheckpoint: ++counts_.checkpoints; break;
    case CommandType::kRelease: ++counts_.releases; break;
    case CommandType::kRenew: ++counts_.renews; break;
    default: ++counts_.other; break;
  }
}

void WorkloadChecker::check_table(NodeIndex node, const consensus::Controller& controller) {
  Process& p = processes_[node];
  const std::uint64_t applied = controller.core()->applied_index();
  if (applied == p.applied) return;
  if (applied < p.applied) {
    report("C5: the applied index of " + name(node) + " went back from " +
           std::to_string(p.applied) + " to " + std::to_string(applied));
  }
  p.applied = applied;
  const consensus::WorkloadTable& table = controller.table();
  const std::uint64_t hash = hash_bytes(table.snapshot());
  auto [it, inserted] = tables_.emplace(std::make_pair(controller.cluster(), applied), hash);
  if (!inserted && it->second != hash) {
    report("W7: the table of " + name(node) + " at applied index " + std::to_string(applied) +
           " differs from another node's at that index");
  }
  if (Status s = table.check_invariants(); !s) {
    report("W7: the table of " + name(node) + " breaks an invariant: " + s.message());
  }
  for (const auto& [workload, state] : table.workloads()) {
    for (std::uint32_t r = 0; r < state.replicas.size(); ++r) {
      const consensus::ReplicaState& replica = state.replicas[r];
      const std::uint64_t position = replica.checkpoint ? replica.checkpoint->position : 0;
      auto& [epoch, last] = p.progress[{workload, r}];
      if (replica.epoch < epoch) {
        report("W1: the epoch of " + workload + "/" + std::to_string(r) + " went back on " +
               name(node) + " from " + std::to_string(epoch) + " to " +
               std::to_string(replica.epoch));
      }
      if (position < last) {
        report("W3: the checkpoint of " + workload + "/" + std::to_string(r) +
               " went back on " + name(node) + " from " + std::to_string(last) + " to " +
               std::to_string(position));
      }
      epoch = std::max(epoch, replica.epoch);
      last = std::max(last, position);
    }
  }
}

void WorkloadChecker::check_leases(NodeIndex node, const consensus::Controller& controller,
                                   Instant real_now, Instant local_now, const DriftClock& clock) {
  // What this node may run now, with the real time its lease ends.
  std::map<std::pair<ReplicaKey, std::uint64_t>, Instant> running;
  for (const consensus::HeldReplica& held : controller.held(local_now)) {
    const bool may = controller.may_run(held.workload, held.replica, held.epoch, local_now);
    if (may != (held.run == consensus::ReplicaRun::kRunning)) {
      report("controller: held() says " + std::string(replica_run_name(held.run)) + " but " +
             "may_run() says " + (may ? "true" : "false") + " for " + held.workload + "/" +
             std::to_string(held.replica) + " on " + name(node));
    }
    if (!may) continue;
    const Instant lease_end = held.lease_until ? clock.virtual_at(*held.lease_until)
                                               : Instant::max();
    running[{{held.workload, held.replica}, held.epoch}] = lease_end;
  }
  for (auto& [key, list] : intervals_) {
    for (LeaseInterval& interval : list) {
      if (!interval.open || interval.node != node) continue;
      auto it = running.find({key, interval.epoch});
      if (it == running.end()) {
        close(key, interval, real_now);
        continue;
      }
      interval.last_true = real_now;
      interval.lease_end = it->second;
      running.erase(it);
    }
  }
  for (const auto& [key, lease_end] : running) {
    LeaseInterval interval;
    interval.node = node;
    interval.epoch = key.second;
    interval.start = real_now;
    interval.last_true = real_now;
    interval.lease_end = lease_end;
    intervals_[key.first].push_back(interval);
    ++interval_count_;
  }
}

void WorkloadChecker::on_crash(NodeIndex node, Instant real_now) {
  for (auto& [key, list] : intervals_) {
    for (LeaseInterval& interval : list) {
      if (interval.open && interval.node == node) close(key, interval, real_now);
    }
  }
}

void WorkloadChecker::close(const ReplicaKey& key, LeaseInterval& interval, Instant real_now) {
  interval.open = false;
  interval.end = std::min(real_now, std::max(interval.last_true, interval.lease_end));
  check_overlap(key, interval, real_now);
}

void WorkloadChecker::check_overlap(const ReplicaKey& key, const LeaseInterval& closed,
                                    Instant real_now) {
  for (const LeaseInterval& other : intervals_[key]) {
    if (other.node == closed.node) continue;
    // An open interval holds so far up to its last confirmation or its lease end.
    const Instant other_end =
        other.open ? std::min(real_now, std::max(other.last_true, other.lease_end)) : other.end;
    if (!(closed.start < other_end && other.start < closed.end)) continue;
    if (!overlap_reported_.insert(key).second) return;
    report("W8: " + replica_text(key) + " held by " + name(closed.node) + " (epoch " +
           std::to_string(closed.epoch) + ") over [" + seconds_text(closed.start) + ", " +
           seconds_text(closed.end) + ") and by " + name(other.node) + " (epoch " +
           std::to_string(other.epoch) + ") over [" + seconds_text(other.start) + ", " +
           seconds_text(other_end) + (other.open ? "...)" : ")"));
    return;
  }
}

void WorkloadChecker::expect_leader(bool found, Instant real_now, const std::string& when) {
  if (!found) report("liveness: no leader at " + seconds_text(real_now) + " (" + when + ")");
}

std::optional<NodeIndex> WorkloadChecker::runner_of(const ReplicaKey& replica,
                                                    Instant real_now) const {
  auto it = intervals_.find(replica);
  if (it == intervals_.end()) return std::nullopt;
  for (const LeaseInterval& interval : it->second) {
    if (interval.open && std::max(interval.last_true, interval.lease_end) >= real_now) {
      return interval.node;
    }
  }
  return std::nullopt;
}

void WorkloadChecker::finish(Instant real_now, Instant live_from,
                             const std::vector<ReplicaKey>& replicas) {
  for (auto& [key, list] : intervals_) {
    for (LeaseInterval& interval : list) {
      if (interval.open) close(key, interval, real_now);
    }
  }
  for (const ReplicaKey& key : replicas) check_coverage(key, real_now, live_from);
}

void WorkloadChecker::check_coverage(const ReplicaKey& key, Instant real_now, Instant live_from) {
  std::vector<const LeaseInterval*> spans;
  for (const LeaseInterval& interval : intervals_[key]) {
    if (interval.end > interval.start) spans.push_back(&interval);
  }
  std::sort(spans.begin(), spans.end(), [](const LeaseInterval* a, const LeaseInterval* b) {
    return a->start < b->start;
  });
  if (spans.empty()) {
    report("liveness: " + replica_text(key) + " never ran");
    return;
  }
  first_run_s_.push_back(to_seconds(spans.front()->start - Instant{}));
  // Merge the intervals; each gap is an outage, a failover when another node resumes.
  Instant covered_to = spans.front()->end;
  NodeIndex last_node = spans.front()->node;
  std::optional<Instant> hole;  // the first instant at or after live_from that nobody covered
  if (spans.front()->start > live_from) hole = live_from;
  for (std::size_t i = 1; i < spans.size(); ++i) {
    const LeaseInterval& next = *spans[i];
    if (next.start > covered_to) {
      const double gap = to_seconds(next.start - covered_to);
      (next.node == last_node ? lease_gaps_s_ : failovers_s_).push_back(gap);
      if (!hole && next.start > live_from) hole = std::max(covered_to, live_from);
    }
    if (next.end >= covered_to) {
      covered_to = next.end;
      last_node = next.node;
    }
  }
  if (!hole && covered_to < real_now) hole = std::max(covered_to, live_from);
  if (hole && *hole < real_now) {
    report("liveness: " + replica_text(key) + " was not run by any node at " +
           seconds_text(*hole) + " (every replica must run from " + seconds_text(live_from) +
           ", the quiet period's start plus the bound)");
  }
}

}  // namespace starling::sim
