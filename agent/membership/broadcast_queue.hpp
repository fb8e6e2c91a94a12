// The dissemination queue: records waiting to be piggy-backed on outgoing messages, each sent a
// bounded number of times (infection-style dissemination). Single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "base/bytes.hpp"
#include "base/node_id.hpp"

namespace starling::membership {

class BroadcastQueue {
 public:
  // Queues `record` about `subject`, replacing any record about the same subject still queued:
  // only the newest fact about a member is worth spreading.
  void push(const NodeId& subject, Bytes record);

  // Picks records for one message: the least-transmitted first and, among equals, the newest
  // (fresh news spreads first), up to `bytes_budget` bytes in all. Each picked record's
  // transmit count goes up by one; a record sent `limit` times leaves the queue.
  std::vector<Bytes> take(std::size_t bytes_budget, int limit);

  std::size_t size() const noexcept { return by_subject_.size(); }
  bool empty() const noexcept { return by_subject_.empty(); }
  void clear();

 private:
  struct Entry {
    Bytes record;
    int transmits = 0;
    std::uint64_t order = 0;  // higher is newer
  };
  using Key = std::tuple<int, std::uint64_t, NodeId>;  // (transmits, ~order, subject)
  static Key key_of(const NodeId& subject, const Entry& entry) {
    return {entry.transmits, ~entry.order, subject};
  }

  std::map<NodeId, Entry> by_subject_;
  std::set<Key> queue_;
  std::uint64_t next_order_ = 0;
};

}  // namespace starling::membership
