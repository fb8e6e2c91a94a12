// Names and validation for the membership vocabulary.
#include "agent/membership/types.hpp"

namespace starling::membership {

Status validate_metadata(const Metadata& meta) {
  if (meta.size() > kMetadataMaxEntries) {
    return error(StatusCode::kTooLarge, "metadata has " + std::to_string(meta.size()) +
                                            " entries; the limit is " +
                                            std::to_string(kMetadataMaxEntries));
  }
  std::size_t bytes = 0;
  for (const auto& [key, value] : meta) {
    if (key.empty()) return error(StatusCode::kInvalidArgument, "metadata key is empty");
    bytes += key.size() + value.size();
  }
  if (bytes > kMetadataMaxBytes) {
    return error(StatusCode::kTooLarge, "metadata of " + std::to_string(bytes) +
                                            " bytes exceeds the limit of " +
                                            std::to_string(kMetadataMaxBytes));
  }
  return Status::ok();
}

std::string_view member_status_name(MemberStatus status) noexcept {
  switch (status) {
    case MemberStatus::kAlive: return "alive";
    case MemberStatus::kSuspect: return "suspect";
    case MemberStatus::kDead: return "dead";
    case MemberStatus::kLeft: return "left";
  }
  return "unknown";
}

std::string_view message_type_name(MessageType type) noexcept {
  switch (type) {
    case MessageType::kPing: return "ping";
    case MessageType::kPingRequest: return "ping_request";
    case MessageType::kAck: return "ack";
    case MessageType::kNack: return "nack";
    case MessageType::kGossip: return "gossip";
    case MessageType::kPushPull: return "push_pull";
    case MessageType::kPushPullReply: return "push_pull_reply";
    case MessageType::kStateDigest: return "state_digest";
  }
  return "unknown";
}

std::string_view event_type_name(EventType type) noexcept {
  switch (type) {
    case EventType::kJoined: return "joined";
    case EventType::kSuspect: return "suspect";
    case EventType::kAlive: return "alive";
    case EventType::kDead: return "dead";
    case EventType::kLeft: return "left";
    case EventType::kMetadataChanged: return "metadata_changed";
  }
  return "unknown";
}

}  // namespace starling::membership
