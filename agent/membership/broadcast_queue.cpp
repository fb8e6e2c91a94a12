// Implementation of the dissemination queue.
#include "agent/membership/broadcast_queue.hpp"

namespace starling::membership {

void BroadcastQueue::push(const NodeId& subject, Bytes record) {
  auto it = by_subject_.find(subject);
  if (it != by_subject_.end()) {
    queue_.erase(key_of(subject, it->second));
    by_subject_.erase(it);
  }
  Entry entry{std::move(record), 0, next_order_++};
  queue_.insert(key_of(subject, entry));
  by_subject_.emplace(subject, std::move(entry));
}

std::vector<Bytes> BroadcastQueue::take(std::size_t bytes_budget, int limit) {
  std::vector<Bytes> out;
  std::vector<NodeId> picked;
  std::size_t used = 0;
  int misses = 0;
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    const NodeId& subject = std::get<2>(*it);
    const Entry& entry = by_subject_.at(subject);
    if (used + entry.record.size() > bytes_budget) {
      // A smaller record may still fit, but do not walk a long queue to find one.
      if (++misses > 8) break;
      continue;
    }
    used += entry.record.size();
    out.push_back(entry.record);
    picked.push_back(subject);
    if (bytes_budget - used < 64) break;  // no record is smaller than this
  }
  for (const NodeId& subject : picked) {
    Entry& entry = by_subject_.at(subject);
    queue_.erase(key_of(subject, entry));
    if (++entry.transmits >= limit) {
      by_subject_.erase(subject);
    } else {
      queue_.insert(key_of(subject, entry));
    }
  }
  return out;
}

void BroadcastQueue::clear() {
  by_subject_.clear();
  queue_.clear();
}

}  // namespace starling::membership
