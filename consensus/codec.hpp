// Byte encodings of consensus messages and configuration changes, with a bounded decoder, so
// that the simulator (and later the agent's wire layer) passes real bytes between cores.
// Decoding is strict and defensive: every length is checked against a limit and against the
// bytes that remain before anything is allocated, unknown types, flags and versions are
// refused, and trailing bytes are an error, so each message has exactly one encoding. Hostile
// input gives kCorrupt, never a crash or a large allocation. Free functions; thread-safe.
//
// Message layout (little-endian, ByteWriter/ByteReader):
//   u8 version (1) | u8 type (1-10) | u8 flags (bit 0 reject, bit 1 transfer; others 0)
//   | from[16] | to[16] | u64 term | u64 index | u64 log_term | u64 commit
//   | u64 hint_index | u64 hint_term | u64 context
//   | u32 entry count (0 unless type is append), then per entry:
//       u64 index | u64 term | u8 entry type (1-3) | u32 length | data[length]
//   | type snapshot only: u64 index | u64 term | u8 voter count (<= 7) | voters[16 each]
//       | u16 learner count (<= 1024) | learners[16 each] | u32 length | data[length]
//     (voters and learners strictly increasing, disjoint, non-zero: validate_conf)
// Configuration change layout (an entry's data): u8 version (1) | u8 type (1-3) | node[16],
// with a non-zero node.
#pragma once

#include <cstddef>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "consensus/types.hpp"

namespace starling::consensus {

inline constexpr std::uint8_t kCodecVersion = 1;
// The fixed part of a message: 3 + 2 * 16 + 7 * 8 + 4 bytes.
inline constexpr std::size_t kMessageHeaderBytes = 3 + 2 * NodeId::kSize + 7 * 8 + 4;
// The fixed part of one entry.
inline constexpr std::size_t kEntryHeaderBytes = 8 + 8 + 1 + 4;

struct CodecLimits {
  // Entries in one append (Config::max_append_entries is at most 4096).
  std::size_t entries_max = 4096;
  // Data bytes of one entry (Config::max_entry_bytes is at most 16 MiB).
  std::size_t entry_bytes_max = 16 * 1024 * 1024;
  // Data bytes of a snapshot. The workload table is kilobytes; 64 MiB is far above it and
  // still bounded for a device with 1 GiB of memory.
  std::size_t snapshot_bytes_max = 64 * 1024 * 1024;
};

// Encodes `message` in the layout above. REQUIRES: the message is encodable (entries only in
// an append, a snapshot exactly in a snapshot message, a conf that passes validate_conf, types
// in range, at most 2^32 - 1 entries and data bytes); asserted.
Bytes encode_message(const Message& message);

// Decodes and checks one message: kCorrupt (with the reason) for anything but exactly one
// valid encoding within `limits`.
Result<Message> decode_message(ByteSpan bytes, const CodecLimits& limits = {});

Bytes encode_config_change(const ConfigChange& change);
// kCorrupt unless `bytes` is exactly one valid configuration change.
Result<ConfigChange> decode_config_change(ByteSpan bytes);

}  // namespace starling::consensus
