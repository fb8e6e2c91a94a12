// Tests of the dissemination queue: order, replacement, byte budget and retransmit limit.
#include <doctest/doctest.h>

#include "agent/membership/broadcast_queue.hpp"

using namespace starling;
using starling::membership::BroadcastQueue;

namespace {
Bytes record(std::uint8_t tag, std::size_t size = 100) { return Bytes(size, tag); }
}  // namespace

TEST_CASE("newest first among equally transmitted records, and the limit removes them") {
  BroadcastQueue q;
  q.push(NodeId::from_u64(1), record(1));
  q.push(NodeId::from_u64(2), record(2));
  auto first = q.take(150, 2);  // room for one
  REQUIRE(first.size() == 1);
  CHECK(first[0][0] == 2);  // the newest
  auto second = q.take(150, 2);
  REQUIRE(second.size() == 1);
  CHECK(second[0][0] == 1);  // now the least transmitted
  auto both = q.take(1000, 2);
  CHECK(both.size() == 2);
  CHECK(q.empty());  // each was sent twice
}

TEST_CASE("a newer record about the same subject replaces the queued one") {
  BroadcastQueue q;
  q.push(NodeId::from_u64(1), record(1));
  q.push(NodeId::from_u64(1), record(9));
  CHECK(q.size() == 1);
  auto out = q.take(1000, 5);
  REQUIRE(out.size() == 1);
  CHECK(out[0][0] == 9);
}

TEST_CASE("the byte budget is respected and smaller records fill the gap") {
  BroadcastQueue q;
  q.push(NodeId::from_u64(1), record(1, 80));
  q.push(NodeId::from_u64(2), record(2, 500));
  q.push(NodeId::from_u64(3), record(3, 300));
  auto out = q.take(400, 10);
  std::size_t total = 0;
  for (const auto& r : out) total += r.size();
  CHECK(total <= 400);
  CHECK(out.size() == 2);  // 300 + 80
  CHECK(q.size() == 3);
}
