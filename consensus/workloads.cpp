// The workload table: validation, the bounded command and snapshot codecs, and apply().
#include "consensus/workloads.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

namespace starling::consensus {

namespace {

constexpr std::uint8_t kWorkloadCodecVersion = 1;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}
bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '/' ||
         c == '-';
}
bool is_printable(char c) { return c >= 0x20 && c <= 0x7e; }

bool valid_name(std::string_view name, std::size_t max_length) {
  return !name.empty() && name.size() <= max_length &&
         std::all_of(name.begin(), name.end(), is_name_char);
}

Status invalid(std::string why) { return error(StatusCode::kInvalidArgument, std::move(why)); }

Status check_pairs(const std::map<std::string, std::string>& pairs, std::size_t max_count,
                   std::size_t max_value, const char* what) {
  if (pairs.size() > max_count) {
    return invalid(std::string("at most ") + std::to_string(max_count) + " " + what +
                   " are allowed");
  }
  for (const auto& [key, value] : pairs) {
    if (key.empty() || key.size() > kSpecKeyMaxLength ||
        !std::all_of(key.begin(), key.end(), is_key_char)) {
      return invalid(std::string(what) + " key '" + key +
                     "' must be 1-63 characters of a-z 0-9 . _ / -");
    }
    if (value.size() > max_value || !std::all_of(value.begin(), value.end(), is_printable)) {
      return invalid(std::string(what) + " value for '" + key + "' must be at most " +
                     std::to_string(max_value) + " printable ASCII characters");
    }
  }
  return Status::ok();
}

Status check_workload_name(std::string_view name) {
  if (valid_name(name, kWorkloadNameMaxLength)) return Status::ok();
  return invalid("workload name '" + std::string(name) +
                 "' must be 1-64 characters of A-Z a-z 0-9 . _ -");
}

Status check_replica(std::uint32_t replica) {
  if (replica < kReplicasMax) return Status::ok();
  return invalid("replica index " + std::to_string(replica) + " must be below " +
                 std::to_string(kReplicasMax));
}

Status check_epoch(std::uint64_t epoch) {
  if (epoch >= 1 && epoch <= kEpochMax) return Status::ok();
  return invalid("epoch " + std::to_string(epoch) + " must be in 1..2^62");
}

Status check_node(const NodeId& node) {
  if (!node.is_zero()) return Status::ok();
  return invalid("node id must not be zero");
}

Status check_lease_terms(Duration lease, Duration start_delay) {
  if (lease < kLeaseMin || lease > kLeaseMax) {
    return invalid("lease " + format_duration(lease) + " must be within 10ms..60s");
  }
  if (start_delay < Duration{0} || start_delay > kStartDelayMax) {
    return invalid("start delay " + format_duration(start_delay) + " must be within 0..5m");
  }
  return Status::ok();
}

// --- Encoding.

void write_id(ByteWriter& w, const NodeId& id) { w.raw(ByteSpan(id.raw().data(), NodeId::kSize)); }

void write_pairs(ByteWriter& w, const std::map<std::string, std::string>& pairs) {
  w.u8(static_cast<std::uint8_t>(pairs.size()));
  for (const auto& [key, value] : pairs) {
    w.str16(key);
    w.str16(value);
  }
}

// REQUIRES: every field within the per-field limits (the total is checked by validate_spec).
void write_spec(ByteWriter& w, const WorkloadSpec& spec) {
  w.str16(spec.name);
  w.str16(spec.kind);
  w.u8(static_cast<std::uint8_t>(spec.replicas));
  write_pairs(w, spec.required_labels);
  write_pairs(w, spec.params);
}

void write_state(ByteWriter& w, const Bytes& state) {
  w.u32(static_cast<std::uint32_t>(state.size()));
  w.raw(state);
}

std::uint64_t micros(Duration d) { return static_cast<std::uint64_t>(d.count()); }

// --- Decoding. Every failure is kCorrupt with `context` in front.

class Decoder {
 public:
  Decoder(ByteSpan bytes, const char* context) : r_(bytes), context_(context) {}

  Status corrupt(const std::string& why) const {
    return error(StatusCode::kCorrupt, std::string(context_) + ": " + why);
  }
  template <typename T>
  Result<T> checked(Result<T> value) const {
    if (value) return value;
    return corrupt(value.status().message());
  }

  Result<std::uint8_t> u8() { return checked(r_.u8()); }
  Result<std::uint16_t> u16() { return checked(r_.u16()); }
  Result<std::uint32_t> u32() { return checked(r_.u32()); }
  Result<std::uint64_t> u64() { return checked(r_.u64()); }
  Result<std::string> str(std::size_t max_length) { return checked(r_.str16(max_length)); }
  Result<NodeId> id() {
    STARLING_ASSIGN_OR_RETURN(auto raw, checked(r_.fixed<NodeId::kSize>()));
    return NodeId(raw);
  }
  // A workload name or kind: [A-Za-z0-9._-], 1..max_length characters.
  Result<std::string> name(std::size_t max_length, const char* what) {
    STARLING_ASSIGN_OR_RETURN(auto text, str(max_length));
    if (!valid_name(text, max_length)) return corrupt(std::string("bad ") + what);
    return text;
  }
  Result<std::uint32_t> replica() {
    STARLING_ASSIGN_OR_RETURN(auto replica, u8());
    if (replica >= kReplicasMax) return corrupt("replica index out of range");
    return std::uint32_t{replica};
  }
  Result<std::uint64_t> epoch() {
    STARLING_ASSIGN_OR_RETURN(auto epoch, u64());
    if (epoch < 1 || epoch > kEpochMax) return corrupt("epoch out of range");
    return epoch;
  }
  // A duration in microseconds, at most `max`.
  Result<Duration> duration(Duration max, const char* what) {
    STARLING_ASSIGN_OR_RETURN(auto us, u64());
    if (us > micros(max)) return corrupt(std::string(what) + " out of range");
    return Duration{static_cast<Duration::rep>(us)};
  }
  Result<Bytes> state() {
    STARLING_ASSIGN_OR_RETURN(auto length, u32());
    if (length > kCheckpointStateMaxBytes) return corrupt("checkpoint state too large");
    STARLING_ASSIGN_OR_RETURN(auto span, checked(r_.raw(length)));
    return Bytes(span.begin(), span.end());
  }
  Result<std::map<std::string, std::string>> pairs(std::size_t max_count, std::size_t max_value,
                                                   const char* what) {
    STARLING_ASSIGN_OR_RETURN(auto count, u8());
    if (count > max_count) return corrupt(std::string("too many ") + what);
    std::map<std::string, std::string> out;
    for (std::uint8_t i = 0; i < count; ++i) {
      STARLING_ASSIGN_OR_RETURN(auto key, str(kSpecKeyMaxLength));
      STARLING_ASSIGN_OR_RETURN(auto value, str(max_value));
      if (!out.empty() && key <= out.rbegin()->first) {
        return corrupt(std::string(what) + " keys not strictly increasing");
      }
      out.emplace_hint(out.end(), std::move(key), std::move(value));
    }
    return out;
  }
  Result<WorkloadSpec> spec() {
    WorkloadSpec spec;
    STARLING_ASSIGN_OR_RETURN(spec.name, name(kWorkloadNameMaxLength, "workload name"));
    STARLING_ASSIGN_OR_RETURN(spec.kind, name(kWorkloadKindMaxLength, "workload kind"));
    STARLING_ASSIGN_OR_RETURN(auto replicas, u8());
    spec.replicas = replicas;
    STARLING_ASSIGN_OR_RETURN(spec.required_labels,
                              pairs(kSpecLabelsMax, kSpecLabelValueMaxLength, "labels"));
    STARLING_ASSIGN_OR_RETURN(spec.params,
                              pairs(kSpecParamsMax, kSpecParamValueMaxLength, "params"));
    if (Status valid = validate_spec(spec); !valid) return corrupt(valid.message());
    return spec;
  }
  Status end() const {
    if (Status status = r_.expect_end(); !status) return corrupt(status.message());
    return Status::ok();
  }
  std::size_t remaining() const { return r_.remaining(); }

 private:
  ByteReader r_;
  const char* context_;
};

Result<Command> read_command(Decoder& d) {
  STARLING_ASSIGN_OR_RETURN(auto version, d.u8());
  if (version != kWorkloadCodecVersion) {
    return d.corrupt("unknown version " + std::to_string(version));
  }
  STARLING_ASSIGN_OR_RETURN(auto type, d.u8());
  switch (type) {
    case static_cast<std::uint8_t>(CommandType::kAddWorkload): {
      STARLING_ASSIGN_OR_RETURN(auto spec, d.spec());
      return Command{AddWorkload{std::move(spec)}};
    }
    case static_cast<std::uint8_t>(CommandType::kRemoveWorkload): {
      STARLING_ASSIGN_OR_RETURN(auto name, d.name(kWorkloadNameMaxLength, "workload name"));
      return Command{RemoveWorkload{std::move(name)}};
    }
    case static_cast<std::uint8_t>(CommandType::kAssign): {
      Assignment a;
      STARLING_ASSIGN_OR_RETURN(a.workload, d.name(kWorkloadNameMaxLength, "workload name"));
      STARLING_ASSIGN_OR_RETURN(a.replica, d.replica());
      STARLING_ASSIGN_OR_RETURN(a.node, d.id());
      if (a.node.is_zero()) return d.corrupt("zero node id");
      STARLING_ASSIGN_OR_RETURN(a.epoch, d.epoch());
      STARLING_ASSIGN_OR_RETURN(a.lease, d.duration(kLeaseMax, "lease"));
      if (a.lease < kLeaseMin) return d.corrupt("lease out of range");
      STARLING_ASSIGN_OR_RETURN(a.start_delay, d.duration(kStartDelayMax, "start delay"));
      return Command{std::move(a)};
    }
    case static_cast<std::uint8_t>(CommandType::kCheckpoint): {
      Checkpoint c;
      STARLING_ASSIGN_OR_RETURN(c.workload, d.name(kWorkloadNameMaxLength, "workload name"));
      STARLING_ASSIGN_OR_RETURN(c.replica, d.replica());
      STARLING_ASSIGN_OR_RETURN(c.epoch, d.epoch());
      STARLING_ASSIGN_OR_RETURN(c.position, d.u64());
      STARLING_ASSIGN_OR_RETURN(c.state, d.state());
      return Command{std::move(c)};
    }
    case static_cast<std::uint8_t>(CommandType::kRelease): {
      Release rel;
      STARLING_ASSIGN_OR_RETURN(rel.workload, d.name(kWorkloadNameMaxLength, "workload name"));
      STARLING_ASSIGN_OR_RETURN(rel.replica, d.replica());
      STARLING_ASSIGN_OR_RETURN(rel.epoch, d.epoch());
      return Command{std::move(rel)};
    }
    case static_cast<std::uint8_t>(CommandType::kRenew): {
      Renew renew;
      STARLING_ASSIGN_OR_RETURN(renew.node, d.id());
      if (renew.node.is_zero()) return d.corrupt("zero node id");
      STARLING_ASSIGN_OR_RETURN(renew.nonce, d.u64());
      return Command{renew};
    }
    default:
      return d.corrupt("unknown command type " + std::to_string(type));
  }
}

}  // namespace

// --- Validation.

Status validate_spec(const WorkloadSpec& spec) {
  STARLING_RETURN_IF_ERROR(check_workload_name(spec.name));
  if (!valid_name(spec.kind, kWorkloadKindMaxLength)) {
    return invalid("workload kind '" + spec.kind + "' must be 1-32 characters of A-Z a-z 0-9 . _ -");
  }
  if (spec.replicas < 1 || spec.replicas > kReplicasMax) {
    return invalid("replicas must be 1-" + std::to_string(kReplicasMax) + ", not " +
                   std::to_string(spec.replicas));
  }
  STARLING_RETURN_IF_ERROR(
      check_pairs(spec.required_labels, kSpecLabelsMax, kSpecLabelValueMaxLength, "label"));
  STARLING_RETURN_IF_ERROR(
      check_pairs(spec.params, kSpecParamsMax, kSpecParamValueMaxLength, "param"));
  Bytes encoded;
  ByteWriter w(encoded);
  write_spec(w, spec);
  if (encoded.size() > kSpecMaxBytes) {
    return invalid("workload spec of " + std::to_string(encoded.size()) +
                   " bytes exceeds the limit of " + std::to_string(kSpecMaxBytes));
  }
  return Status::ok();
}

CommandType command_type(const Command& command) noexcept {
  return static_cast<CommandType>(command.index() + 1);
}

std::string_view command_type_name(CommandType type) noexcept {
  switch (type) {
    case CommandType::kAddWorkload: return "add_workload";
    case CommandType::kRemoveWorkload: return "remove_workload";
    case CommandType::kAssign: return "assign";
    case CommandType::kCheckpoint: return "checkpoint";
    case CommandType::kRelease: return "release";
    case CommandType::kRenew: return "renew";
  }
  return "unknown";
}

Status validate_command(const Command& command) {
  struct Visitor {
    Status operator()(const AddWorkload& c) const { return validate_spec(c.spec); }
    Status operator()(const RemoveWorkload& c) const { return check_workload_name(c.name); }
    Status operator()(const Assignment& c) const {
      STARLING_RETURN_IF_ERROR(check_workload_name(c.workload));
      STARLING_RETURN_IF_ERROR(check_replica(c.replica));
      STARLING_RETURN_IF_ERROR(check_node(c.node));
      STARLING_RETURN_IF_ERROR(check_epoch(c.epoch));
      return check_lease_terms(c.lease, c.start_delay);
    }
    Status operator()(const Checkpoint& c) const {
      STARLING_RETURN_IF_ERROR(check_workload_name(c.workload));
      STARLING_RETURN_IF_ERROR(check_replica(c.replica));
      STARLING_RETURN_IF_ERROR(check_epoch(c.epoch));
      if (c.state.size() > kCheckpointStateMaxBytes) {
        return invalid("checkpoint state of " + std::to_string(c.state.size()) +
                       " bytes exceeds the limit of " + std::to_string(kCheckpointStateMaxBytes));
      }
      return Status::ok();
    }
    Status operator()(const Release& c) const {
      STARLING_RETURN_IF_ERROR(check_workload_name(c.workload));
      STARLING_RETURN_IF_ERROR(check_replica(c.replica));
      return check_epoch(c.epoch);
    }
    Status operator()(const Renew& c) const { return check_node(c.node); }
  };
  return std::visit(Visitor{}, command);
}

// --- Codec.

Bytes encode_command(const Command& command) {
  STARLING_ASSERT(validate_command(command).is_ok(), "encoding an invalid workload command");
  Bytes out;
  ByteWriter w(out);
  w.u8(kWorkloadCodecVersion);
  w.u8(static_cast<std::uint8_t>(command_type(command)));
  struct Visitor {
    ByteWriter& w;
    void operator()(const AddWorkload& c) const { write_spec(w, c.spec); }
    void operator()(const RemoveWorkload& c) const { w.str16(c.name); }
    void operator()(const Assignment& c) const {
      w.str16(c.workload);
      w.u8(static_cast<std::uint8_t>(c.replica));
      write_id(w, c.node);
      w.u64(c.epoch);
      w.u64(micros(c.lease));
      w.u64(micros(c.start_delay));
    }
    void operator()(const Checkpoint& c) const {
      w.str16(c.workload);
      w.u8(static_cast<std::uint8_t>(c.replica));
      w.u64(c.epoch);
      w.u64(c.position);
      write_state(w, c.state);
    }
    void operator()(const Release& c) const {
      w.str16(c.workload);
      w.u8(static_cast<std::uint8_t>(c.replica));
      w.u64(c.epoch);
    }
    void operator()(const Renew& c) const {
      write_id(w, c.node);
      w.u64(c.nonce);
    }
  };
  std::visit(Visitor{w}, command);
  return out;
}

Result<Command> decode_command(ByteSpan bytes) {
  Decoder d(bytes, "workload command");
  STARLING_ASSIGN_OR_RETURN(auto command, read_command(d));
  STARLING_RETURN_IF_ERROR(d.end());
  // The reader enforces every limit field by field; this is the same check proposers ran.
  if (Status valid = validate_command(command); !valid) return d.corrupt(valid.message());
  return command;
}

Duration handoff_wait(Duration lease, double clock_rate_error) {
  STARLING_ASSERT(clock_rate_error >= 0.0 && clock_rate_error < 0.5,
                  "clock rate error must be in [0, 0.5)");
  STARLING_ASSERT(lease >= Duration{0}, "negative lease");
  const double us = static_cast<double>(lease.count()) * (1.0 + clock_rate_error) /
                    (1.0 - clock_rate_error);
  return Duration{static_cast<Duration::rep>(std::ceil(us))};
}

std::string_view rejection_name(Rejection reason) noexcept {
  switch (reason) {
    case Rejection::kNone: return "none";
    case Rejection::kUnknownWorkload: return "unknown_workload";
    case Rejection::kWorkloadExists: return "workload_exists";
    case Rejection::kTableFull: return "table_full";
    case Rejection::kBadReplica: return "bad_replica";
    case Rejection::kEpochNotNewer: return "epoch_not_newer";
    case Rejection::kNodeHoldsReplica: return "node_holds_replica";
    case Rejection::kStaleEpoch: return "stale_epoch";
    case Rejection::kFutureEpoch: return "future_epoch";
    case Rejection::kNotAssigned: return "not_assigned";
    case Rejection::kPositionBackwards: return "position_backwards";
  }
  return "unknown";
}

// --- The table.

Result<ApplyResult> WorkloadTable::apply(ByteSpan bytes) {
  auto command = decode_command(bytes);
  if (!command) {
    ++stats_.corrupt;
    return command.status();
  }
  return apply(*command);
}

ApplyResult WorkloadTable::apply(const Command& command) {
  STARLING_ASSERT(validate_command(command).is_ok(), "applying an invalid workload command");
  struct Visitor {
    WorkloadTable& t;
    Rejection operator()(const AddWorkload& c) const { return t.apply_add(c); }
    Rejection operator()(const RemoveWorkload& c) const { return t.apply_remove(c); }
    Rejection operator()(const Assignment& c) const { return t.apply_assign(c); }
    Rejection operator()(const Checkpoint& c) const { return t.apply_checkpoint(c); }
    Rejection operator()(const Release& c) const { return t.apply_release(c); }
    // A renewal changes nothing here: the owner's shell anchors its lease on it (W8).
    Rejection operator()(const Renew&) const { return Rejection::kNone; }
  };
  ApplyResult result{command, std::visit(Visitor{*this}, command)};
  if (result.accepted()) {
    ++stats_.applied;
  } else {
    ++stats_.rejected;
    ++stats_.rejected_by_reason[std::string(rejection_name(result.rejection))];
  }
  return result;
}

ReplicaState* WorkloadTable::replica_of(const std::string& workload, std::uint32_t replica,
                                        Rejection& rejection) {
  auto it = workloads_.find(workload);
  if (it == workloads_.end()) {
    rejection = Rejection::kUnknownWorkload;
    return nullptr;
  }
  if (replica >= it->second.replicas.size()) {
    rejection = Rejection::kBadReplica;
    return nullptr;
  }
  return &it->second.replicas[replica];
}

Rejection WorkloadTable::apply_add(const AddWorkload& command) {
  if (workloads_.contains(command.spec.name)) return Rejection::kWorkloadExists;
  if (workloads_.size() >= kWorkloadsMax) return Rejection::kTableFull;
  WorkloadState state;
  state.spec = command.spec;
  // W1: start above every epoch ever issued, so that a re-added name reuses none.
  state.base_epoch = max_epoch_;
  state.replicas.resize(command.spec.replicas);
  for (ReplicaState& replica : state.replicas) replica.epoch = max_epoch_;
  workloads_.emplace(command.spec.name, std::move(state));
  return Rejection::kNone;
}

Rejection WorkloadTable::apply_remove(const RemoveWorkload& command) {
  auto it = workloads_.find(command.name);
  if (it == workloads_.end()) return Rejection::kUnknownWorkload;
  for (const ReplicaState& replica : it->second.replicas) {
    if (replica.checkpoint) state_bytes_ -= replica.checkpoint->state.size();
  }
  workloads_.erase(it);
  return Rejection::kNone;
}

Rejection WorkloadTable::apply_assign(const Assignment& command) {
  Rejection rejection = Rejection::kNone;
  ReplicaState* replica = replica_of(command.workload, command.replica, rejection);
  if (replica == nullptr) return rejection;
  if (command.epoch <= replica->epoch) return Rejection::kEpochNotNewer;  // W1
  const WorkloadState& workload = workloads_.find(command.workload)->second;
  for (std::size_t r = 0; r < workload.replicas.size(); ++r) {  // W4
    if (r != command.replica && workload.replicas[r].node == command.node) {
      return Rejection::kNodeHoldsReplica;
    }
  }
  replica->node = command.node;
  replica->epoch = command.epoch;
  replica->lease = command.lease;
  replica->start_delay = command.start_delay;
  max_epoch_ = std::max(max_epoch_, command.epoch);
  return Rejection::kNone;
}

namespace {

// W2: a Checkpoint or Release must carry the epoch of the replica's current owner.
Rejection check_fencing(const ReplicaState& replica, std::uint64_t epoch) {
  if (epoch < replica.epoch) return Rejection::kStaleEpoch;
  if (epoch > replica.epoch) return Rejection::kFutureEpoch;
  if (replica.node.is_zero()) return Rejection::kNotAssigned;
  return Rejection::kNone;
}

}  // namespace

Rejection WorkloadTable::apply_checkpoint(const Checkpoint& command) {
  Rejection rejection = Rejection::kNone;
  ReplicaState* replica = replica_of(command.workload, command.replica, rejection);
  if (replica == nullptr) return rejection;
  if (Rejection fenced = check_fencing(*replica, command.epoch); fenced != Rejection::kNone) {
    return fenced;
  }
  const std::size_t old_bytes = replica->checkpoint ? replica->checkpoint->state.size() : 0;
  if (replica->checkpoint && command.position < replica->checkpoint->position) {
    return Rejection::kPositionBackwards;  // W3
  }
  if (state_bytes_ - old_bytes + command.state.size() > kCheckpointStateTotalMaxBytes) {
    return Rejection::kTableFull;
  }
  state_bytes_ = state_bytes_ - old_bytes + command.state.size();
  replica->checkpoint = command;
  return Rejection::kNone;
}

Rejection WorkloadTable::apply_release(const Release& command) {
  Rejection rejection = Rejection::kNone;
  ReplicaState* replica = replica_of(command.workload, command.replica, rejection);
  if (replica == nullptr) return rejection;
  if (Rejection fenced = check_fencing(*replica, command.epoch); fenced != Rejection::kNone) {
    return fenced;
  }
  replica->node = NodeId{};  // the epoch stays: the next Assign must exceed it (W1)
  return Rejection::kNone;
}

// --- Queries.

const WorkloadState* WorkloadTable::find(std::string_view name) const {
  auto it = workloads_.find(name);
  return it == workloads_.end() ? nullptr : &it->second;
}

std::vector<WorkloadSpec> WorkloadTable::specs() const {
  std::vector<WorkloadSpec> out;
  out.reserve(workloads_.size());
  for (const auto& [name, workload] : workloads_) out.push_back(workload.spec);
  return out;
}

namespace {

Assignment assignment_of(const WorkloadState& workload, std::uint32_t r) {
  const ReplicaState& replica = workload.replicas[r];
  return Assignment{workload.spec.name, r, replica.node, replica.epoch, replica.lease,
                    replica.start_delay};
}

}  // namespace

std::vector<Assignment> WorkloadTable::assignments() const {
  std::vector<Assignment> out;
  for (const auto& [name, workload] : workloads_) {
    for (std::uint32_t r = 0; r < workload.replicas.size(); ++r) {
      if (!workload.replicas[r].node.is_zero()) out.push_back(assignment_of(workload, r));
    }
  }
  return out;
}

std::optional<Assignment> WorkloadTable::assignment(std::string_view workload,
                                                    std::uint32_t replica) const {
  const WorkloadState* state = find(workload);
  if (state == nullptr || replica >= state->replicas.size() ||
      state->replicas[replica].node.is_zero()) {
    return std::nullopt;
  }
  return assignment_of(*state, replica);
}

std::vector<Assignment> WorkloadTable::owned_by(const NodeId& node) const {
  std::vector<Assignment> out;
  if (node.is_zero()) return out;
  for (const auto& [name, workload] : workloads_) {
    for (std::uint32_t r = 0; r < workload.replicas.size(); ++r) {
      if (workload.replicas[r].node == node) out.push_back(assignment_of(workload, r));
    }
  }
  return out;
}

const Checkpoint* WorkloadTable::checkpoint(std::string_view workload,
                                            std::uint32_t replica) const {
  const WorkloadState* state = find(workload);
  if (state == nullptr || replica >= state->replicas.size()) return nullptr;
  const auto& checkpoint = state->replicas[replica].checkpoint;
  return checkpoint ? &*checkpoint : nullptr;
}

// --- Snapshots.

Bytes WorkloadTable::snapshot() const {
  Bytes out;
  ByteWriter w(out);
  w.u8(kWorkloadCodecVersion);
  w.u64(max_epoch_);
  w.u16(static_cast<std::uint16_t>(workloads_.size()));
  for (const auto& [name, workload] : workloads_) {
    write_spec(w, workload.spec);
    w.u64(workload.base_epoch);
    for (const ReplicaState& replica : workload.replicas) {
      write_id(w, replica.node);
      w.u64(replica.epoch);
      w.u64(micros(replica.lease));
      w.u64(micros(replica.start_delay));
      w.u8(replica.checkpoint ? 1 : 0);
      if (replica.checkpoint) {
        w.u64(replica.checkpoint->epoch);
        w.u64(replica.checkpoint->position);
        write_state(w, replica.checkpoint->state);
      }
    }
  }
  return out;
}

Result<WorkloadTable> WorkloadTable::restore(ByteSpan bytes) {
  WorkloadTable table;
  if (bytes.empty()) return table;
  Decoder d(bytes, "workload table snapshot");
  STARLING_ASSIGN_OR_RETURN(auto version, d.u8());
  if (version != kWorkloadCodecVersion) {
    return d.corrupt("unknown version " + std::to_string(version));
  }
  STARLING_ASSIGN_OR_RETURN(table.max_epoch_, d.u64());
  STARLING_ASSIGN_OR_RETURN(auto count, d.u16());
  if (count > kWorkloadsMax) return d.corrupt("too many workloads");
  for (std::uint16_t i = 0; i < count; ++i) {
    WorkloadState workload;
    STARLING_ASSIGN_OR_RETURN(workload.spec, d.spec());
    if (!table.workloads_.empty() && workload.spec.name <= table.workloads_.rbegin()->first) {
      return d.corrupt("workload names not strictly increasing");
    }
    STARLING_ASSIGN_OR_RETURN(workload.base_epoch, d.u64());
    workload.replicas.resize(workload.spec.replicas);
    for (std::uint32_t r = 0; r < workload.spec.replicas; ++r) {
      ReplicaState& replica = workload.replicas[r];
      STARLING_ASSIGN_OR_RETURN(replica.node, d.id());
      STARLING_ASSIGN_OR_RETURN(replica.epoch, d.u64());
      STARLING_ASSIGN_OR_RETURN(replica.lease, d.duration(kLeaseMax, "lease"));
      STARLING_ASSIGN_OR_RETURN(replica.start_delay, d.duration(kStartDelayMax, "start delay"));
      STARLING_ASSIGN_OR_RETURN(auto has_checkpoint, d.u8());
      if (has_checkpoint > 1) return d.corrupt("bad checkpoint flag");
      if (has_checkpoint == 1) {
        Checkpoint checkpoint;
        checkpoint.workload = workload.spec.name;
        checkpoint.replica = r;
        STARLING_ASSIGN_OR_RETURN(checkpoint.epoch, d.u64());
        STARLING_ASSIGN_OR_RETURN(checkpoint.position, d.u64());
        STARLING_ASSIGN_OR_RETURN(checkpoint.state, d.state());
        table.state_bytes_ += checkpoint.state.size();
        replica.checkpoint = std::move(checkpoint);
      }
    }
    std::string name = workload.spec.name;
    table.workloads_.emplace_hint(table.workloads_.end(), std::move(name), std::move(workload));
  }
  STARLING_RETURN_IF_ERROR(d.end());
  if (Status valid = table.check_invariants(); !valid) return d.corrupt(valid.message());
  return table;
}

Status WorkloadTable::check_invariants() const {
  auto bad = [](const std::string& where, const std::string& why) {
    return error(StatusCode::kCorrupt, "workload table: " + where + ": " + why);
  };
  if (max_epoch_ > kEpochMax) return bad("table", "highest epoch above 2^62");
  if (workloads_.size() > kWorkloadsMax) return bad("table", "too many workloads");
  std::size_t state_bytes = 0;
  for (const auto& [name, workload] : workloads_) {
    if (name != workload.spec.name) return bad(name, "key differs from the spec's name");
    if (Status valid = validate_spec(workload.spec); !valid) return bad(name, valid.message());
    if (workload.replicas.size() != workload.spec.replicas) {
      return bad(name, "replica count differs from the spec's");
    }
    if (workload.base_epoch > max_epoch_) return bad(name, "base epoch above the highest epoch");
    std::set<NodeId> owners;
    for (std::uint32_t r = 0; r < workload.replicas.size(); ++r) {
      const ReplicaState& replica = workload.replicas[r];
      const std::string where = name + "/" + std::to_string(r);
      if (replica.epoch < workload.base_epoch || replica.epoch > max_epoch_) {
        return bad(where, "epoch outside base epoch..highest epoch");
      }
      if (replica.epoch == workload.base_epoch) {
        // Never assigned: nothing else may be set (one encoding per table).
        if (!replica.node.is_zero() || replica.lease != Duration{0} ||
            replica.start_delay != Duration{0} || replica.checkpoint) {
          return bad(where, "a replica never assigned holds an owner, lease or checkpoint");
        }
        continue;
      }
      if (!check_lease_terms(replica.lease, replica.start_delay).is_ok()) {
        return bad(where, "lease terms out of range");
      }
      if (!replica.node.is_zero() && !owners.insert(replica.node).second) {
        return bad(where, "node holds two replicas of the workload (W4)");
      }
      if (replica.checkpoint) {
        const Checkpoint& c = *replica.checkpoint;
        if (c.workload != name || c.replica != r) return bad(where, "checkpoint misfiled");
        if (c.epoch <= workload.base_epoch || c.epoch > replica.epoch) {
          return bad(where, "checkpoint epoch outside the replica's epochs");
        }
        if (c.state.size() > kCheckpointStateMaxBytes) return bad(where, "state too large");
        state_bytes += c.state.size();
      }
    }
  }
  if (state_bytes != state_bytes_) return bad("table", "state byte count out of date");
  if (state_bytes > kCheckpointStateTotalMaxBytes) return bad("table", "state budget exceeded");
  return Status::ok();
}

}  // namespace starling::consensus
