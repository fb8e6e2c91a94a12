// Signed records: anything that crosses the swarm or is kept on behalf of another node
// (membership records, model updates, workload checkpoints) travels as a record signed by its
// author, so that any peer can check it whatever path it took. Thread-safe functions;
// ReplayWindow is single-threaded by contract (one per protocol core).
//
// Encoding (little-endian; the author's Ed25519 signature covers every byte before it):
//   u8 format=1 | u16 kind | author[16] | u64 sequence | u32 payload_length | payload
//   | signature[64]
// Opening a record checks sizes first (before any allocation), then the signature over the
// exact received bytes, and only then hands out the payload, as a view into those bytes: the
// payload is never decoded before it is authenticated, and nothing is re-serialized to verify.
#pragma once

#include <cstdint>
#include <map>

#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/status.hpp"
#include "crypto/identity.hpp"
#include "crypto/keys.hpp"

namespace starling::crypto {

inline constexpr std::size_t kRecordHeaderSize = 1 + 2 + NodeId::kSize + 8 + 4;
inline constexpr std::size_t kRecordOverhead = kRecordHeaderSize + Signature::kSize;
// The hard ceiling for any record; callers pass a tighter limit for their kind.
inline constexpr std::size_t kRecordPayloadCeiling = 64 * 1024 * 1024;

// What a record is about. Protocols own their numbers; crypto/ treats the kind as opaque
// except that it is covered by the signature (a membership record cannot pass as an update).
using RecordKind = std::uint16_t;

// The header fields, readable before verification (to look up the author's key).
struct RecordHeader {
  RecordKind kind = 0;
  NodeId author;
  std::uint64_t sequence = 0;
  std::uint32_t payload_length = 0;
};

// A verified record. `payload` points into the bytes passed to open_record().
struct RecordView {
  RecordHeader header;
  ByteSpan payload;
};

// Signs `payload` as `author`. REQUIRES: payload.size() <= kRecordPayloadCeiling.
Bytes seal_record(const Identity& author, RecordKind kind, std::uint64_t sequence,
                  ByteSpan payload);

// Parses the header and checks the sizes: kCorrupt for a wrong format or a length that does not
// match the input exactly, kTooLarge for a payload above `max_payload`. Checks no signature.
Result<RecordHeader> peek_record(ByteSpan bytes, std::size_t max_payload);

// Verifies a record signed by the holder of `author_key`: peek_record's checks, then that the
// header's author is node_id_of(author_key) (kBadSignature otherwise), then the signature over
// the exact bytes (kBadSignature).
Result<RecordView> open_record(ByteSpan bytes, const PublicKey& author_key,
                               std::size_t max_payload);

// Where a verifier finds authors' keys (the certificates it holds). nullptr: unknown author.
class KeyDirectory {
 public:
  virtual ~KeyDirectory() = default;
  virtual const PublicKey* find_key(const NodeId& author) const = 0;
};

// open_record with the author's key looked up in `keys`; kNotFound for an unknown author.
Result<RecordView> open_record(ByteSpan bytes, const KeyDirectory& keys, std::size_t max_payload);

// Rejects replays per author: a sequence number already accepted, or one more than kWindow
// below the highest accepted, returns kReplay. Sequences may arrive out of order within the
// window (an anti-replay bitmap, as in IPsec). Feed it only records whose signature verified,
// or a forger could advance an author's window and silence it.
// Memory: one entry per author ever seen; authors are enrolled devices, so it is bounded by
// the fleet.
class ReplayWindow {
 public:
  static constexpr std::uint64_t kWindow = 64;

  // Accepts `sequence` for `author` if it is new and marks it seen; kReplay otherwise.
  Status check_and_accept(const NodeId& author, std::uint64_t sequence);
  // Whether check_and_accept would accept it; changes nothing.
  bool would_accept(const NodeId& author, std::uint64_t sequence) const;
  // Forgets an author (e.g. after it left for good).
  void forget(const NodeId& author) { authors_.erase(author); }

 private:
  struct Entry {
    std::uint64_t highest = 0;
    std::uint64_t seen = 0;  // bit i set: highest - i was accepted
  };
  std::map<NodeId, Entry> authors_;
};

}  // namespace starling::crypto
