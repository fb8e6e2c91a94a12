// Validation of the consensus configuration.
#include "consensus/config.hpp"

#include <string>

namespace starling::consensus {

using std::chrono::milliseconds;

Status Config::validate() const {
  auto bad = [](const char* field, const char* rule) {
    return error(StatusCode::kInvalidArgument,
                 std::string("consensus config: ") + field + " " + rule);
  };
  if (heartbeat_interval < milliseconds(1)) return bad("heartbeat_interval", "must be >= 1ms");
  if (election_timeout_min < heartbeat_interval * 3) {
    return bad("election_timeout_min", "must be at least 3 heartbeat intervals");
  }
  if (election_timeout_max <= election_timeout_min) {
    return bad("election_timeout_max", "must be above election_timeout_min");
  }
  if (lease_margin < Duration::zero() || lease_margin >= election_timeout_min) {
    return bad("lease_margin", "must be >= 0 and below election_timeout_min");
  }
  if (learner_heartbeat_rounds < 1 || learner_heartbeat_rounds > 1000) {
    return bad("learner_heartbeat_rounds", "must be 1-1000");
  }
  if (max_append_entries < 1 || max_append_entries > 4096) {
    return bad("max_append_entries", "must be 1-4096");
  }
  if (max_append_bytes < 1024 || max_append_bytes > 64 * 1024 * 1024) {
    return bad("max_append_bytes", "must be 1 KiB to 64 MiB");
  }
  if (max_inflight_appends < 1 || max_inflight_appends > 1024) {
    return bad("max_inflight_appends", "must be 1-1024");
  }
  if (max_entry_bytes < 1 || max_entry_bytes > 16 * 1024 * 1024) {
    return bad("max_entry_bytes", "must be 1 byte to 16 MiB");
  }
  if (max_uncommitted_bytes < max_entry_bytes) {
    return bad("max_uncommitted_bytes", "must be at least max_entry_bytes");
  }
  if (snapshot_threshold_entries < 1) return bad("snapshot_threshold_entries", "must be >= 1");
  return Status::ok();
}

}  // namespace starling::consensus
