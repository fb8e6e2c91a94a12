// The vocabulary of the membership core: member records (the signed facts that are gossiped),
// protocol messages, events, and the RecordCodec port through which the core signs and checks
// records without linking libsodium. Value types; single-threaded like the core.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/status.hpp"
#include "base/time.hpp"

namespace starling::membership {

// A member's small metadata map: labels, capacity, load, model round and accuracy.
// Limits (checked by set_metadata and by the codec): kMetadataMaxEntries entries,
// kMetadataMaxBytes of keys and values together.
using Metadata = std::map<std::string, std::string>;
inline constexpr std::size_t kMetadataMaxEntries = 32;
inline constexpr std::size_t kMetadataMaxBytes = 1024;
inline constexpr std::size_t kAddressMaxLength = 255;

Status validate_metadata(const Metadata& meta);

enum class MemberStatus : std::uint8_t { kAlive = 0, kSuspect = 1, kDead = 2, kLeft = 3 };
std::string_view member_status_name(MemberStatus status) noexcept;

enum class RecordType : std::uint8_t {
  kAlive = 1,    // signed by the subject: "I am alive at incarnation i, address a, metadata m"
  kSuspect = 2,  // signed by the accuser: "I suspect subject at incarnation i"
  kDead = 3,     // signed by the accuser: "subject at incarnation i is dead"
  kLeft = 4,     // signed by the subject: "I leave the swarm at incarnation i"
};

// A fact about one member. Who signs it: the subject for kAlive and kLeft, the accuser for
// kSuspect and kDead (`signer` holds that id).
// Ordering (which record wins) is by incarnation, then for alive records by meta_version; a
// suspicion or death at incarnation i overrides an alive record at i, and only an alive record
// at a higher incarnation overrides them (refutation).
struct MemberRecord {
  RecordType type = RecordType::kAlive;
  NodeId subject;
  NodeId signer;
  std::uint64_t incarnation = 0;
  // Alive records only:
  std::uint64_t meta_version = 0;
  std::string address;
  Metadata meta;

  friend bool operator==(const MemberRecord&, const MemberRecord&) = default;
};

// The port through which the core seals its own records and checks others'. The agent and the
// simulator implement it with agent/wire's codec over crypto/ signed records; tests may use a
// fake. REQUIRES of implementations: decode() never allocates more than its input's size
// bounds allow, and verify() checks the signature of record.signer over exactly `bytes`.
class RecordCodec {
 public:
  virtual ~RecordCodec() = default;
  // Encodes and signs a record whose signer is this node.
  virtual Bytes seal(const MemberRecord& record) = 0;
  // Parses a record without checking its signature (kCorrupt, kTooLarge, ...). The core calls
  // this first and verifies only records that would change its state, so that the many
  // duplicate and stale copies that gossip delivers cost no signature check.
  virtual Result<MemberRecord> decode(ByteSpan bytes) = 0;
  // Checks the signature (kBadSignature, or kNotFound for a signer without a known key).
  virtual Status verify(ByteSpan bytes, const MemberRecord& record) = 0;
};

enum class MessageType : std::uint8_t {
  kPing = 1,           // direct probe of `target`; the receiver answers kAck
  kPingRequest = 2,    // "probe `target` for me" (indirect probe); answered with kAck or kNack
  kAck = 3,            // answer to a probe `sequence`
  kNack = 4,           // an indirect prober did not hear from `target` in time
  kGossip = 5,         // records only
  kPushPull = 6,       // full state; the receiver merges it and answers kPushPullReply
  kPushPullReply = 7,  // full state in reply
  // Anti-entropy without the full state (rule R13): records holds exactly one 16-byte element,
  // the sender's state digest (Core::state_digest), not a member record. A receiver whose own
  // digest differs starts a full push-pull with the sender; an equal digest needs no answer.
  kStateDigest = 8,
};
std::string_view message_type_name(MessageType type) noexcept;

// One protocol message. Records travel as their exact signed bytes so that any node can relay
// them and any receiver can verify them.
struct Message {
  MessageType type = MessageType::kGossip;
  NodeId sender;
  std::string sender_address;  // where to answer (a joiner is not in anyone's table yet)
  std::uint32_t sequence = 0;  // probe sequence number (ping, ping request, ack, nack)
  NodeId target;               // ping / ping request: the node probed
  bool join = false;           // push-pull: the sender is joining (its state is tiny)
  std::vector<Bytes> records;

  friend bool operator==(const Message&, const Message&) = default;
};

struct Outbound {
  std::string address;  // the destination's address
  NodeId to;            // the destination's id, zero when unknown (seed addresses)
  Message message;
};

enum class EventType : std::uint8_t {
  kJoined,           // a member became known
  kSuspect,          // a member is suspected
  kAlive,            // a suspected or dead member is alive again (refuted)
  kDead,             // a member was declared dead
  kLeft,             // a member left gracefully
  kMetadataChanged,  // a member's metadata changed
};
std::string_view event_type_name(EventType type) noexcept;

struct Event {
  EventType type;
  NodeId node;
  std::uint64_t incarnation = 0;
  Instant at;
  // Who signed the record behind the event: the member itself for joined, alive, left and
  // metadata events; the accuser for suspect and dead (this node when it decided itself).
  NodeId source;
};

// A member as this node sees it.
struct Member {
  NodeId id;
  std::string address;
  MemberStatus status = MemberStatus::kAlive;
  std::uint64_t incarnation = 0;
  std::uint64_t meta_version = 0;
  Metadata meta;
  Instant status_since;   // when this node last changed the member's status
  Bytes alive_record;     // the newest alive record (address and metadata come from it)
  Bytes status_record;    // the suspect/dead/left record in force; empty while alive
};

}  // namespace starling::membership
