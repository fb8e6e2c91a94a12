// Implementation of the membership checker.
#include "sim/swarm/checker.hpp"

#include <algorithm>

namespace starling::sim {

using membership::EventType;

Checker::Checker(std::vector<NodeId> ids, Duration partition_grace)
    : n_(ids.size()),
      views_(n_ * n_, kUnknown),
      up_(n_, 0),
      run_incarnation_(n_, 0),
      highest_incarnation_(n_, 0),
      row_disagreements_(n_, 0),
      side_(n_, 0),
      partition_grace_(partition_grace),
      false_positive_(n_, 0) {
  for (NodeIndex i = 0; i < n_; ++i) index_of_.emplace(ids[i], i);
}

bool Checker::agrees(NodeIndex observer, NodeIndex subject) const {
  const View v = views_[observer * n_ + subject];
  if (up_[subject] != 0) return v == kAlive;
  return v == kUnknown || v == kDead || v == kLeft;
}

void Checker::set_view(NodeIndex observer, NodeIndex subject, View v, Instant now) {
  if (up_[observer] == 0) {
    view(observer, subject) = v;
    return;
  }
  const bool before = agrees(observer, subject);
  view(observer, subject) = v;
  const bool after = agrees(observer, subject);
  if (before && !after) {
    ++row_disagreements_[observer];
    ++disagreements_;
  } else if (!before && after) {
    --row_disagreements_[observer];
    --disagreements_;
  }
  update_converged(now);
}

void Checker::recount_row(NodeIndex observer) {
  disagreements_ -= row_disagreements_[observer];
  row_disagreements_[observer] = 0;
  if (up_[observer] == 0) return;
  for (NodeIndex s = 0; s < n_; ++s) row_disagreements_[observer] += agrees(observer, s) ? 0 : 1;
  disagreements_ += row_disagreements_[observer];
}

void Checker::recount_column(NodeIndex subject) {
  // Called after up_[subject] changed; rows' counts still reflect the old truth for this
  // column, so recompute each live row's entry by flipping the truth back and forth.
  for (NodeIndex o = 0; o < n_; ++o) {
    if (up_[o] == 0 || o == subject) continue;
    const bool now_agrees = agrees(o, subject);
    up_[subject] ^= 1;
    const bool before = agrees(o, subject);
    up_[subject] ^= 1;
    if (before && !now_agrees) {
      ++row_disagreements_[o];
      ++disagreements_;
    } else if (!before && now_agrees) {
      --row_disagreements_[o];
      --disagreements_;
    }
  }
}

void Checker::update_converged(Instant now) {
  if (disagreements_ == 0) {
    if (!converged_since_) converged_since_ = now;
  } else if (converged_since_) {
    if (now > *converged_since_) agreed_.emplace_back(*converged_since_, now);
    converged_since_.reset();
  }
}

void Checker::on_start(NodeIndex node, std::uint64_t incarnation, Instant now) {
  if (highest_incarnation_[node] != 0 && incarnation <= highest_incarnation_[node]) {
    report_.violations.push_back("node " + std::to_string(node) + " restarted at incarnation " +
                                 std::to_string(incarnation) + ", not above its earlier " +
                                 std::to_string(highest_incarnation_[node]));
  }
  highest_incarnation_[node] = std::max(highest_incarnation_[node], incarnation);
  run_incarnation_[node] = incarnation;
  pending_.erase(node);  // restarted before every observer noticed: not a detection
  up_[node] = 1;
  recount_column(node);
  std::fill(views_.begin() + static_cast<std::ptrdiff_t>(node * n_),
            views_.begin() + static_cast<std::ptrdiff_t>((node + 1) * n_), kUnknown);
  view(node, node) = kAlive;
  recount_row(node);
  note_fault_end(now);
  update_converged(now);
}

void Checker::observer_gone(NodeIndex observer, Instant now) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    PendingCrash& p = it->second;
    if (p.waiting[observer] != 0) {
      p.waiting[observer] = 0;
      --p.remaining;
    }
    if (p.remaining == 0) {
      report_.detect_s.push_back(to_seconds(now - p.at));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

void Checker::on_crash(NodeIndex node, Instant now) {
  ++report_.crashes;
  up_[node] = 0;
  recount_row(node);
  recount_column(node);
  PendingCrash p{now, std::vector<std::uint8_t>(n_, 0), 0};
  for (NodeIndex o = 0; o < n_; ++o) {
    const View v = views_[o * n_ + node];
    if (up_[o] != 0 && (v == kAlive || v == kSuspect)) {
      p.waiting[o] = 1;
      ++p.remaining;
    }
  }
  if (p.remaining > 0) pending_[node] = std::move(p);
  observer_gone(node, now);
  note_fault_end(now);
  update_converged(now);
}

bool Checker::separated(NodeIndex a, NodeIndex b, Instant now) const {
  const bool recent = partitioned_ || now - healed_at_ <= partition_grace_;
  return recent && side_[a] != side_[b];
}

void Checker::on_event(NodeIndex observer, const membership::Event& event, Instant now) {
  auto it = index_of_.find(event.node);
  if (it == index_of_.end()) return;
  const NodeIndex subject = it->second;
  View v = kUnknown;
  switch (event.type) {
    case EventType::kJoined:
    case EventType::kAlive: v = kAlive; break;
    case EventType::kSuspect: v = kSuspect; break;
    case EventType::kDead: v = kDead; break;
    case EventType::kLeft: v = kLeft; break;
    case EventType::kMetadataChanged: return;
  }
  // Judged from the accuser's side: a death declared across a partition, or relayed from
  // across one when it heals, is what partitions do, not a false positive.
  auto accuser = index_of_.find(event.source);
  const NodeIndex judge = accuser == index_of_.end() ? observer : accuser->second;
  if (v == kDead && up_[subject] != 0 && event.incarnation >= run_incarnation_[subject] &&
      !separated(judge, subject, now) && !separated(observer, subject, now)) {
    ++report_.false_positive_declarations;
    false_positive_[subject] = 1;
    if (report_.false_positive_details.size() < 10) {
      report_.false_positive_details.push_back(
          "at " + format_duration(now - Instant{}) + " node " + std::to_string(observer) +
          " declared live node " + std::to_string(subject) + " dead (incarnation " +
          std::to_string(event.incarnation) + ", its run started at incarnation " +
          std::to_string(run_incarnation_[subject]) + ")");
    }
  }
  set_view(observer, subject, v, now);
  if (v != kDead && v != kLeft) return;
  auto pending = pending_.find(subject);
  if (pending == pending_.end() || pending->second.waiting[observer] == 0) return;
  pending->second.waiting[observer] = 0;
  if (--pending->second.remaining == 0) {
    report_.detect_s.push_back(to_seconds(now - pending->second.at));
    pending_.erase(pending);
  }
}

void Checker::on_partition(const std::vector<std::uint8_t>& side, Instant now) {
  side_ = side;
  partitioned_ = true;
  (void)now;
}

void Checker::on_heal(Instant now) {
  partitioned_ = false;
  healed_at_ = now;
  note_fault_end(now);
}

void Checker::note_fault_end(Instant end) { last_fault_end_ = std::max(last_fault_end_, end); }

CheckerReport Checker::finish(Instant end, Duration settle) {
  for (const auto& [node, p] : pending_) {
    if (end - p.at < settle) continue;
    ++report_.undetected;
    report_.violations.push_back("node " + std::to_string(node) + " crashed at " +
                                 format_duration(p.at - Instant{}) + " but " +
                                 std::to_string(p.remaining) +
                                 " live nodes still saw it live at the end");
  }
  if (converged_since_) agreed_.emplace_back(*converged_since_, Instant::max());
  report_.agreed_at_end = disagreements_ == 0;
  // The first agreement at or after the last fault's end; later transient disagreements (a
  // false suspicion under loss, refuted within a second) do not move it.
  for (const auto& [begin, until] : agreed_) {
    if (until <= last_fault_end_) continue;
    report_.converge_s = to_seconds(std::max(begin, last_fault_end_) - last_fault_end_);
    break;
  }
  if (!report_.converge_s && end - last_fault_end_ >= settle) {
    report_.violations.push_back("views never agreed after the last fault (" +
                                 std::to_string(disagreements_) +
                                 " observer/member pairs disagree at the end, " +
                                 format_duration(end - last_fault_end_) + " after it)");
  }
  report_.false_positive_nodes = 0;
  for (auto fp : false_positive_) report_.false_positive_nodes += fp;
  return report_;
}

}  // namespace starling::sim
