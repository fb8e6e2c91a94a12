// Shared fixtures of the wire tests: deterministic simulation identities, a key directory that
// knows some of them, sample member records and messages built from real sealed records, and a
// hand encoder of the documented layouts (so that tests pin the wire format byte for byte,
// independently of Cereal). Header-only; single-threaded like the tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/membership/types.hpp"
#include "agent/wire/envelope.hpp"
#include "agent/wire/map_key_directory.hpp"
#include "agent/wire/membership_codec.hpp"
#include "base/bytes.hpp"
#include "crypto/identity.hpp"

namespace starling::wire::testing {

inline constexpr std::uint64_t kKeySeed = 4242;
// Nodes 0..kKnownNodes-1 are in directory(); the others are unknown signers.
inline constexpr std::size_t kKnownNodes = 4;
inline constexpr std::size_t kNodeCount = 6;

inline const crypto::Identity& node(std::size_t index) {
  static const std::vector<crypto::Identity> nodes = [] {
    std::vector<crypto::Identity> out;
    for (std::size_t i = 0; i < kNodeCount; ++i) {
      out.push_back(crypto::Identity::for_simulation(kKeySeed, i));
    }
    return out;
  }();
  return nodes.at(index);
}

inline const MapKeyDirectory& directory() {
  static const MapKeyDirectory keys = [] {
    MapKeyDirectory out;
    for (std::size_t i = 0; i < kKnownNodes; ++i) out.add(node(i));
    return out;
  }();
  return keys;
}

// A typical alive record: a tcp address and four metadata entries.
inline membership::MemberRecord alive_record(std::size_t subject, std::uint64_t incarnation = 3) {
  membership::MemberRecord record;
  record.type = membership::RecordType::kAlive;
  record.subject = node(subject).node_id();
  record.signer = record.subject;
  record.incarnation = incarnation;
  record.meta_version = 9;
  record.address = "tcp://10.0.0.17:7946";
  record.meta = {{"accuracy", "0.913"}, {"capacity", "4"}, {"load", "0.42"}, {"round", "17"}};
  return record;
}

// A record of any type: alive and left are signed by the subject, suspect and dead by `accuser`.
inline membership::MemberRecord record_of(membership::RecordType type, std::size_t subject,
                                          std::size_t accuser) {
  if (type == membership::RecordType::kAlive) return alive_record(subject);
  membership::MemberRecord record;
  record.type = type;
  record.subject = node(subject).node_id();
  record.signer = type == membership::RecordType::kLeft ? record.subject : node(accuser).node_id();
  record.incarnation = 5;
  return record;
}

inline constexpr membership::RecordType kAllRecordTypes[] = {
    membership::RecordType::kAlive, membership::RecordType::kSuspect,
    membership::RecordType::kDead, membership::RecordType::kLeft};

inline constexpr membership::MessageType kAllMessageTypes[] = {
    membership::MessageType::kPing,     membership::MessageType::kPingRequest,
    membership::MessageType::kAck,      membership::MessageType::kNack,
    membership::MessageType::kGossip,   membership::MessageType::kPushPull,
    membership::MessageType::kPushPullReply};

// `count` real records sealed by known nodes (types cycling), as a message carries them.
inline std::vector<Bytes> sealed_records(std::size_t count) {
  std::vector<Bytes> out;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t signer = i % kKnownNodes;
    SignedRecordCodec codec(node(signer), directory());
    membership::MemberRecord record = record_of(kAllRecordTypes[i % 4], signer, signer);
    if (record.type == membership::RecordType::kSuspect ||
        record.type == membership::RecordType::kDead) {
      record.subject = node((signer + 1) % kNodeCount).node_id();
    }
    out.push_back(codec.seal(record));
  }
  return out;
}

inline membership::Message message_of(membership::MessageType type, std::size_t record_count) {
  membership::Message message;
  message.type = type;
  message.sender = node(0).node_id();
  message.sender_address = "tcp://192.168.1.20:7946";
  message.sequence = 0x01020304;
  message.target = node(1).node_id();
  message.join = type == membership::MessageType::kPushPull;
  message.records = sealed_records(record_count);
  return message;
}

// Hand encoding of the Cereal PortableBinary fields, as documented in docs/PROTOCOL.md.
class LayoutWriter {
 public:
  LayoutWriter() { out_.push_back(1); }  // Cereal's little-endian flag
  explicit LayoutWriter(Bytes prefix) : out_(std::move(prefix)) { out_.push_back(1); }
  LayoutWriter& u8(std::uint8_t v) { return put(v, 1); }
  LayoutWriter& u32(std::uint32_t v) { return put(v, 4); }
  LayoutWriter& u64(std::uint64_t v) { return put(v, 8); }
  LayoutWriter& id(const NodeId& node_id) {
    out_.insert(out_.end(), node_id.raw().begin(), node_id.raw().end());
    return *this;
  }
  LayoutWriter& str(std::string_view text) {
    u64(text.size());
    out_.insert(out_.end(), text.begin(), text.end());
    return *this;
  }
  LayoutWriter& bytes(ByteSpan data) {
    u64(data.size());
    out_.insert(out_.end(), data.begin(), data.end());
    return *this;
  }
  const Bytes& out() const { return out_; }

 private:
  LayoutWriter& put(std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  Bytes out_;
};

// The envelope header as documented: version, type, sender, sender sequence.
inline Bytes envelope_header(std::uint8_t version, std::uint8_t type, const NodeId& sender,
                             std::uint64_t sequence) {
  Bytes out;
  ByteWriter w(out);
  w.u8(version);
  w.u8(type);
  w.raw(sender.raw());
  w.u64(sequence);
  return out;
}

}  // namespace starling::wire::testing
