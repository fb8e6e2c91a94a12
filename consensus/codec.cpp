// Encoding and bounded decoding of consensus messages and configuration changes.
#include "consensus/codec.hpp"

#include <limits>
#include <string>

namespace starling::consensus {

namespace {

constexpr std::uint8_t kFlagReject = 1;
constexpr std::uint8_t kFlagTransfer = 2;

Status corrupt(const std::string& why) {
  return error(StatusCode::kCorrupt, "consensus message: " + why);
}

// Every ByteReader failure (truncation, or kTooLarge on a length) is reported as kCorrupt.
template <typename T>
Result<T> checked(Result<T> value) {
  if (value) return value;
  return corrupt(value.status().message());
}

void write_id(ByteWriter& w, const NodeId& id) { w.raw(ByteSpan(id.raw().data(), NodeId::kSize)); }

Result<NodeId> read_id(ByteReader& r) {
  STARLING_ASSIGN_OR_RETURN(auto raw, checked(r.fixed<NodeId::kSize>()));
  return NodeId(raw);
}

void write_data(ByteWriter& w, const Bytes& data) {
  STARLING_ASSERT(data.size() <= std::numeric_limits<std::uint32_t>::max(),
                  "consensus codec: data longer than 4 GiB");
  w.u32(static_cast<std::uint32_t>(data.size()));
  w.raw(data);
}

// A u32 length (at most `max`) and that many bytes.
Result<Bytes> read_data(ByteReader& r, std::size_t max, const char* what) {
  STARLING_ASSIGN_OR_RETURN(auto length, checked(r.u32()));
  if (length > max) {
    return corrupt(std::string(what) + " of " + std::to_string(length) +
                   " bytes exceeds the limit of " + std::to_string(max));
  }
  STARLING_ASSIGN_OR_RETURN(auto span, checked(r.raw(length)));
  return Bytes(span.begin(), span.end());
}

void write_entry(ByteWriter& w, const Entry& entry) {
  w.u64(entry.index);
  w.u64(entry.term);
  w.u8(static_cast<std::uint8_t>(entry.type));
  write_data(w, entry.data);
}

Result<Entry> read_entry(ByteReader& r, const CodecLimits& limits) {
  Entry entry;
  STARLING_ASSIGN_OR_RETURN(entry.index, checked(r.u64()));
  STARLING_ASSIGN_OR_RETURN(entry.term, checked(r.u64()));
  STARLING_ASSIGN_OR_RETURN(auto type, checked(r.u8()));
  if (type < 1 || type > 3) return corrupt("unknown entry type " + std::to_string(type));
  entry.type = static_cast<EntryType>(type);
  STARLING_ASSIGN_OR_RETURN(entry.data, read_data(r, limits.entry_bytes_max, "entry"));
  return entry;
}

void write_snapshot(ByteWriter& w, const Snapshot& snapshot) {
  STARLING_ASSERT(validate_conf(snapshot.meta.conf).is_ok(), "encoding an invalid conf");
  w.u64(snapshot.meta.index);
  w.u64(snapshot.meta.term);
  w.u8(static_cast<std::uint8_t>(snapshot.meta.conf.voters.size()));
  for (const NodeId& id : snapshot.meta.conf.voters) write_id(w, id);
  w.u16(static_cast<std::uint16_t>(snapshot.meta.conf.learners.size()));
  for (const NodeId& id : snapshot.meta.conf.learners) write_id(w, id);
  write_data(w, snapshot.data);
}

// `count` ids, after checking that they fit in what remains.
Result<std::vector<NodeId>> read_ids(ByteReader& r, std::size_t count) {
  if (count * NodeId::kSize > r.remaining()) return corrupt("node id list past the end");
  std::vector<NodeId> ids;
  ids.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    STARLING_ASSIGN_OR_RETURN(auto id, read_id(r));
    ids.push_back(id);
  }
  return ids;
}

Result<Snapshot> read_snapshot(ByteReader& r, const CodecLimits& limits) {
  Snapshot snapshot;
  STARLING_ASSIGN_OR_RETURN(snapshot.meta.index, checked(r.u64()));
  STARLING_ASSIGN_OR_RETURN(snapshot.meta.term, checked(r.u64()));
  STARLING_ASSIGN_OR_RETURN(auto voters, checked(r.u8()));
  if (voters > kVotersMax) return corrupt("more than 7 voters");
  STARLING_ASSIGN_OR_RETURN(snapshot.meta.conf.voters, read_ids(r, voters));
  STARLING_ASSIGN_OR_RETURN(auto learners, checked(r.u16()));
  if (learners > kLearnersMax) return corrupt("more than 1024 learners");
  STARLING_ASSIGN_OR_RETURN(snapshot.meta.conf.learners, read_ids(r, learners));
  if (Status valid = validate_conf(snapshot.meta.conf); !valid) return corrupt(valid.message());
  STARLING_ASSIGN_OR_RETURN(snapshot.data, read_data(r, limits.snapshot_bytes_max, "snapshot"));
  return snapshot;
}

Status read_header(ByteReader& r, Message& m) {
  STARLING_ASSIGN_OR_RETURN(auto version, checked(r.u8()));
  if (version != kCodecVersion) return corrupt("unknown version " + std::to_string(version));
  STARLING_ASSIGN_OR_RETURN(auto type, checked(r.u8()));
  if (type < 1 || type > kMessageTypeMax) {
    return corrupt("unknown message type " + std::to_string(type));
  }
  m.type = static_cast<MessageType>(type);
  STARLING_ASSIGN_OR_RETURN(auto flags, checked(r.u8()));
  if ((flags & ~(kFlagReject | kFlagTransfer)) != 0) return corrupt("unknown flags");
  m.reject = (flags & kFlagReject) != 0;
  m.transfer = (flags & kFlagTransfer) != 0;
  STARLING_ASSIGN_OR_RETURN(m.from, read_id(r));
  STARLING_ASSIGN_OR_RETURN(m.to, read_id(r));
  STARLING_ASSIGN_OR_RETURN(m.term, checked(r.u64()));
  STARLING_ASSIGN_OR_RETURN(m.index, checked(r.u64()));
  STARLING_ASSIGN_OR_RETURN(m.log_term, checked(r.u64()));
  STARLING_ASSIGN_OR_RETURN(m.commit, checked(r.u64()));
  STARLING_ASSIGN_OR_RETURN(m.hint_index, checked(r.u64()));
  STARLING_ASSIGN_OR_RETURN(m.hint_term, checked(r.u64()));
  STARLING_ASSIGN_OR_RETURN(m.context, checked(r.u64()));
  return Status::ok();
}

}  // namespace

Bytes encode_message(const Message& m) {
  STARLING_ASSERT(m.entries.empty() || m.type == MessageType::kAppend,
                  "entries outside an append message");
  STARLING_ASSERT(m.snapshot.has_value() == (m.type == MessageType::kSnapshot),
                  "a snapshot message needs exactly its snapshot");
  STARLING_ASSERT(m.entries.size() <= std::numeric_limits<std::uint32_t>::max(),
                  "too many entries");
  Bytes out;
  std::size_t reserve = kMessageHeaderBytes;
  for (const Entry& e : m.entries) reserve += kEntryHeaderBytes + e.data.size();
  if (m.snapshot) reserve += 64 + m.snapshot->data.size();
  out.reserve(reserve);
  ByteWriter w(out);
  w.u8(kCodecVersion);
  w.u8(static_cast<std::uint8_t>(m.type));
  w.u8(static_cast<std::uint8_t>((m.reject ? kFlagReject : 0) |
                                 (m.transfer ? kFlagTransfer : 0)));
  write_id(w, m.from);
  write_id(w, m.to);
  for (std::uint64_t v : {m.term, m.index, m.log_term, m.commit, m.hint_index, m.hint_term,
                          m.context}) {
    w.u64(v);
  }
  w.u32(static_cast<std::uint32_t>(m.entries.size()));
  for (const Entry& e : m.entries) write_entry(w, e);
  if (m.snapshot) write_snapshot(w, *m.snapshot);
  return out;
}

Result<Message> decode_message(ByteSpan bytes, const CodecLimits& limits) {
  ByteReader r(bytes);
  Message m;
  STARLING_RETURN_IF_ERROR(read_header(r, m));
  STARLING_ASSIGN_OR_RETURN(auto count, checked(r.u32()));
  if (count != 0 && m.type != MessageType::kAppend) return corrupt("entries outside an append");
  if (count > limits.entries_max) {
    return corrupt(std::to_string(count) + " entries exceed the limit of " +
                   std::to_string(limits.entries_max));
  }
  // Each entry takes at least its header: refuse counts the input cannot hold before reserving.
  if (count > r.remaining() / kEntryHeaderBytes) return corrupt("entry count past the end");
  m.entries.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    STARLING_ASSIGN_OR_RETURN(auto entry, read_entry(r, limits));
    m.entries.push_back(std::move(entry));
  }
  if (m.type == MessageType::kSnapshot) {
    STARLING_ASSIGN_OR_RETURN(auto snapshot, read_snapshot(r, limits));
    m.snapshot = std::move(snapshot);
  }
  if (Status end = r.expect_end(); !end) return corrupt(end.message());
  return m;
}

Bytes encode_config_change(const ConfigChange& change) {
  Bytes out;
  ByteWriter w(out);
  w.u8(kCodecVersion);
  w.u8(static_cast<std::uint8_t>(change.type));
  write_id(w, change.node);
  return out;
}

Result<ConfigChange> decode_config_change(ByteSpan bytes) {
  auto bad = [](const std::string& why) {
    return error(StatusCode::kCorrupt, "configuration change: " + why);
  };
  ByteReader r(bytes);
  auto version = r.u8();
  if (!version || *version != kCodecVersion) return bad("unknown version or truncated");
  auto type = r.u8();
  if (!type || *type < 1 || *type > 3) return bad("unknown type or truncated");
  auto node = r.fixed<NodeId::kSize>();
  if (!node) return bad("truncated node id");
  if (!r.expect_end()) return bad("trailing bytes");
  ConfigChange change{static_cast<ConfigChangeType>(*type), NodeId(*node)};
  if (change.node.is_zero()) return bad("zero node id");
  return change;
}

}  // namespace starling::consensus
