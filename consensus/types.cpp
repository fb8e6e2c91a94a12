// Names, configuration checks and single-server configuration changes.
#include "consensus/types.hpp"

#include <algorithm>
#include <string>

namespace starling::consensus {

std::string_view entry_type_name(EntryType type) noexcept {
  switch (type) {
    case EntryType::kCommand: return "command";
    case EntryType::kNoop: return "noop";
    case EntryType::kConfigChange: return "config_change";
  }
  return "unknown";
}

std::string_view config_change_type_name(ConfigChangeType type) noexcept {
  switch (type) {
    case ConfigChangeType::kAddVoter: return "add_voter";
    case ConfigChangeType::kAddLearner: return "add_learner";
    case ConfigChangeType::kRemove: return "remove";
  }
  return "unknown";
}

std::string_view message_type_name(MessageType type) noexcept {
  switch (type) {
    case MessageType::kPreVote: return "pre_vote";
    case MessageType::kPreVoteResponse: return "pre_vote_response";
    case MessageType::kVote: return "vote";
    case MessageType::kVoteResponse: return "vote_response";
    case MessageType::kAppend: return "append";
    case MessageType::kAppendResponse: return "append_response";
    case MessageType::kHeartbeat: return "heartbeat";
    case MessageType::kHeartbeatResponse: return "heartbeat_response";
    case MessageType::kSnapshot: return "snapshot";
    case MessageType::kTimeoutNow: return "timeout_now";
  }
  return "unknown";
}

std::string_view role_name(Role role) noexcept {
  switch (role) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre_candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "unknown";
}

std::string_view event_type_name(EventType type) noexcept {
  switch (type) {
    case EventType::kRoleChanged: return "role_changed";
    case EventType::kLeaderChanged: return "leader_changed";
    case EventType::kConfigChanged: return "config_changed";
    case EventType::kTransferAborted: return "transfer_aborted";
  }
  return "unknown";
}

bool ConfState::is_voter(const NodeId& id) const noexcept {
  return std::binary_search(voters.begin(), voters.end(), id);
}

bool ConfState::is_learner(const NodeId& id) const noexcept {
  return std::binary_search(learners.begin(), learners.end(), id);
}

namespace {

bool strictly_increasing(const std::vector<NodeId>& ids) {
  return std::adjacent_find(ids.begin(), ids.end(),
                            [](const NodeId& a, const NodeId& b) { return !(a < b); }) ==
         ids.end();
}

bool has_zero(const std::vector<NodeId>& ids) {
  return std::any_of(ids.begin(), ids.end(), [](const NodeId& id) { return id.is_zero(); });
}

void insert_sorted(std::vector<NodeId>& ids, const NodeId& id) {
  ids.insert(std::lower_bound(ids.begin(), ids.end(), id), id);
}

void erase_sorted(std::vector<NodeId>& ids, const NodeId& id) {
  auto it = std::lower_bound(ids.begin(), ids.end(), id);
  if (it != ids.end() && *it == id) ids.erase(it);
}

}  // namespace

Status validate_conf(const ConfState& conf) {
  auto bad = [](const char* why) {
    return error(StatusCode::kCorrupt, std::string("configuration: ") + why);
  };
  if (conf.voters.size() > kVotersMax) return bad("more than 7 voters");
  if (conf.learners.size() > kLearnersMax) return bad("more than 1024 learners");
  if (has_zero(conf.voters) || has_zero(conf.learners)) return bad("zero node id");
  if (!strictly_increasing(conf.voters)) return bad("voters not sorted or duplicated");
  if (!strictly_increasing(conf.learners)) return bad("learners not sorted or duplicated");
  for (const NodeId& id : conf.learners) {
    if (conf.is_voter(id)) return bad("a node is both voter and learner");
  }
  return Status::ok();
}

Status validate_voter_set(const std::vector<NodeId>& voters) {
  const std::size_t n = voters.size();
  if (n != 1 && n != 3 && n != 5 && n != 7) {
    return error(StatusCode::kInvalidArgument,
                 "a voter set must have 1, 3, 5 or 7 members, not " + std::to_string(n));
  }
  std::vector<NodeId> sorted = voters;
  std::sort(sorted.begin(), sorted.end());
  if (has_zero(sorted)) return error(StatusCode::kInvalidArgument, "voter set: zero node id");
  if (!strictly_increasing(sorted)) {
    return error(StatusCode::kInvalidArgument, "voter set: duplicate node id");
  }
  return Status::ok();
}

Result<ConfState> apply_config_change(const ConfState& conf, const ConfigChange& change) {
  if (change.node.is_zero()) {
    return error(StatusCode::kInvalidArgument, "configuration change for a zero node id");
  }
  ConfState next = conf;
  const std::string who = change.node.short_hex();
  switch (change.type) {
    case ConfigChangeType::kAddVoter:
      if (conf.is_voter(change.node)) {
        return error(StatusCode::kAlreadyExists, who + " is already a voter");
      }
      erase_sorted(next.learners, change.node);
      insert_sorted(next.voters, change.node);
      break;
    case ConfigChangeType::kAddLearner:
      if (conf.is_learner(change.node)) {
        return error(StatusCode::kAlreadyExists, who + " is already a learner");
      }
      erase_sorted(next.voters, change.node);
      insert_sorted(next.learners, change.node);
      break;
    case ConfigChangeType::kRemove:
      if (!conf.contains(change.node)) {
        return error(StatusCode::kNotFound, who + " is not in the configuration");
      }
      erase_sorted(next.voters, change.node);
      erase_sorted(next.learners, change.node);
      break;
    default:
      return error(StatusCode::kInvalidArgument, "unknown configuration change type");
  }
  if (next.voters.empty()) {
    return error(StatusCode::kInvalidArgument, "a configuration needs at least one voter");
  }
  if (next.voters.size() > kVotersMax) {
    return error(StatusCode::kInvalidArgument, "a configuration has at most 7 voters");
  }
  if (next.learners.size() > kLearnersMax) {
    return error(StatusCode::kInvalidArgument, "a configuration has at most 1024 learners");
  }
  return next;
}

}  // namespace starling::consensus
