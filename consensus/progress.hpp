// What a leader knows about one follower's log (etcd's tracker.Progress): the highest index
// known to match, the next index to send, the replication state and the appends in flight.
// Exposed read-only by Core::progress() for tests, metrics and the voter-change logic.
// Value type; single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <string_view>

#include "base/time.hpp"

namespace starling::consensus {

enum class ProgressState : std::uint8_t {
  // The leader does not know where the follower's log matches: one append at a time, the
  // next one after an answer or a heartbeat interval, backtracking with the follower's hints.
  kProbe = 0,
  // The follower's log matches up to `match`: appends are sent optimistically (next advances as
  // they are sent) with up to Config::max_inflight_appends unacknowledged.
  kReplicate = 1,
  // The entries the follower needs are compacted away: a snapshot was sent and nothing else is
  // until it is acknowledged or a retry is due.
  kSnapshot = 2,
};
std::string_view progress_state_name(ProgressState state) noexcept;

struct Progress {
  std::uint64_t match = 0;  // highest index known to be in the follower's log
  std::uint64_t next = 1;   // next index to send. Invariant: match < next
  ProgressState state = ProgressState::kProbe;
  bool learner = false;
  // kProbe: an append was sent and neither an answer nor a heartbeat interval came since.
  bool probe_sent = false;
  // kReplicate: the last index of each unacknowledged append, oldest first.
  std::deque<std::uint64_t> inflight;
  // kSnapshot: the index of the snapshot sent and when.
  std::uint64_t pending_snapshot = 0;
  Instant snapshot_sent_at{};
  // CheckQuorum (C7): the follower answered since the last check.
  bool recent_active = false;
  // Lease (C15): the latest leader send time (microseconds since the epoch of Instant) that the
  // follower echoed in a heartbeat response; INT64_MIN when none this term.
  std::int64_t acked_send_time = INT64_MIN;
};

}  // namespace starling::consensus
