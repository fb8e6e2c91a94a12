// Implementation of a simulated node: the membership core driven by simulator events.
#include "sim/swarm/swim_node.hpp"

#include <charconv>

namespace starling::sim {

std::string sim_address(NodeIndex node) { return "sim://" + std::to_string(node); }

namespace {

// The node index in a "sim://N" address, or nullopt for anything else.
std::optional<NodeIndex> parse_sim_address(const std::string& address) {
  constexpr std::string_view kPrefix = "sim://";
  if (address.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  NodeIndex node = 0;
  const char* begin = address.data() + kPrefix.size();
  const char* end = address.data() + address.size();
  auto [ptr, ec] = std::from_chars(begin, end, node);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return node;
}

}  // namespace

class SwimNode::Codec final : public membership::RecordCodec {
 public:
  Codec(const crypto::Identity& self, SwarmShared& shared)
      : shared_(shared),
        inner_(self, shared.keys,
               wire::SignedRecordCodec::Options{shared.verify != VerifyMode::kOff, 2048}) {}

  Bytes seal(const membership::MemberRecord& record) override { return inner_.seal(record); }
  Result<membership::MemberRecord> decode(ByteSpan bytes) override { return inner_.decode(bytes); }
  Status verify(ByteSpan bytes, const membership::MemberRecord& record) override {
    if (shared_.verify != VerifyMode::kSharedCache) {
      if (shared_.verify == VerifyMode::kFull) ++shared_.verifications;
      return inner_.verify(bytes, record);
    }
    std::string key(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (shared_.verified_cache.count(key) != 0) {
      ++shared_.cache_hits;
      return Status::ok();
    }
    ++shared_.verifications;
    Status status = inner_.verify(bytes, record);
    if (status.is_ok()) shared_.verified_cache.insert(std::move(key));
    return status;
  }

 private:
  SwarmShared& shared_;
  wire::SignedRecordCodec inner_;
};

SwimNode::SwimNode(Context& context, SwarmShared& shared) : context_(context), shared_(shared) {}

SwimNode::~SwimNode() = default;

void SwimNode::on_start() {
  const NodeIndex self = context_.self();
  codec_ = std::make_unique<Codec>(shared_.identities[self], shared_);
  membership::Core::Self me{shared_.identities[self].node_id(), sim_address(self),
                            {{"node", std::to_string(self)}},
                            shared_.durable_incarnation[self]};
  core_ = std::make_unique<membership::Core>(shared_.config, std::move(me), *codec_,
                                             context_.rng().next_u64(), context_.local_now());
  if (shared_.checker != nullptr) {
    shared_.checker->on_start(self, core_->incarnation(), shared_.world->now());
  }
  core_->join(shared_.seeds, context_.local_now());
  flush();
}

void SwimNode::on_message(NodeIndex from, const Bytes& payload) {
  (void)from;
  auto decoded = wire::decode_message(payload, limits_);
  if (!decoded) {
    ++shared_.wire_rejects;
    return;
  }
  core_->step(decoded->message, context_.local_now());
  flush();
}

void SwimNode::on_timer(std::uint64_t timer_id) {
  if (timer_id != timer_generation_) return;  // superseded
  timer_at_ = Instant::max();
  core_->tick(context_.local_now());
  flush();
}

void SwimNode::flush() {
  membership::Ready ready = core_->take_ready();
  const NodeIndex self = context_.self();
  // The incarnation is durable before any message that announces it leaves (Ready contract).
  if (ready.incarnation_to_persist) shared_.durable_incarnation[self] = *ready.incarnation_to_persist;
  for (membership::Outbound& out : ready.messages) {
    auto to = parse_sim_address(out.address);
    if (!to || *to >= context_.node_count()) continue;
    Bytes bytes = wire::encode_message(out.message, ++send_sequence_);
    shared_.bytes_by_type[std::string(membership::message_type_name(out.message.type))] +=
        bytes.size();
    context_.send(*to, std::move(bytes));
  }
  for (const membership::Event& event : ready.events) {
    Bytes trace;
    ByteWriter w(trace);
    w.u8(static_cast<std::uint8_t>(event.type));
    w.raw(event.node.raw());
    w.u64(event.incarnation);
    context_.trace(self, trace);
    if (shared_.checker != nullptr) shared_.checker->on_event(self, event, shared_.world->now());
  }
  const Instant next = core_->next_deadline();
  if (next == timer_at_) return;
  context_.cancel_timer(timer_);
  const Instant now = context_.local_now();
  timer_at_ = next;
  timer_ = context_.set_timer(next > now ? next - now : Duration::zero(), ++timer_generation_);
}

}  // namespace starling::sim
