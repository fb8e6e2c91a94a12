// Implementation of the agent. Reading order: open() (loading and binding), start(), then the
// message path (on_message -> admit -> deliver -> flush), the certificate exchange, the timers,
// and the ControlSource and metrics views at the end.
#include "agent/daemon/agent.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "agent/daemon/learning.hpp"
#include "agent/daemon/peer_address.hpp"
#include "agent/daemon/workloads.hpp"
#include "agent/membership/core.hpp"
#include "agent/runtime/fleet_trust.hpp"
#include "agent/runtime/internal/socket_watch.hpp"
#include "agent/runtime/metrics.hpp"
#include "agent/runtime/metrics_http.hpp"
#include "agent/runtime/store.hpp"
#include "agent/runtime/transport.hpp"
#include "agent/wire/envelope.hpp"
#include "agent/wire/membership_codec.hpp"
#include "agent/wire/trust_messages.hpp"
#include "crypto/fleet.hpp"
#include "crypto/identity.hpp"

namespace starling::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using CurveKey = runtime::CurvePublicKey;

// How long a message waits for the certificates it needs before it is dropped.
constexpr Duration kHoldTimeout = std::chrono::seconds(3);
// Messages waiting for certificates, all peers together: a joiner's burst fits, a flood of
// unknown keys cannot grow memory.
constexpr std::size_t kHeldMessagesMax = 256;
// Point-to-point envelopes waiting for their sender's certificate: count and bytes (model
// updates are large) bounded the same way.
constexpr std::size_t kHeldDirectMax = 64;
constexpr std::size_t kHeldDirectBytesMax = 32u << 20;
// A certificate request to the same key is not repeated sooner than this.
constexpr Duration kCertRequestInterval = std::chrono::milliseconds(500);
// Housekeeping period: held-message expiry, loop-lag sampling, control socket safety poll.
constexpr auto kMaintenancePeriod = std::chrono::milliseconds(250);
// Newly met peers are written to the store at most this often (each write is an fsync'd
// transaction; nothing is written while membership is quiet).
constexpr Duration kRememberPeriod = std::chrono::seconds(2);
// Peers remembered from earlier runs and tried as seeds after the configured ones.
constexpr std::size_t kRememberedSeedsMax = 16;
// Membership events kept for `starling events`.
constexpr std::size_t kEventsKept = 10'000;
// Member metadata of consensus: the cluster a member is in (16 hex digits) and its placement
// weight when not 1.
const std::string kClusterKey = "raft";
const std::string kCapacityKey = "cap";

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<CurveKey> parse_curve_hex(const std::string& text) {
  if (text.size() != 64) return std::nullopt;
  auto bytes = from_hex(text);
  if (!bytes || bytes->size() != 32) return std::nullopt;
  CurveKey key{};
  std::copy(bytes->begin(), bytes->end(), key.begin());
  return key;
}

// An exclusive flock on DATA_DIR/agent.lock for the process's lifetime: two agents on one data
// directory would announce the same identity and fight over the store.
class DataDirLock {
 public:
  static Result<DataDirLock> acquire(const std::filesystem::path& data_dir) {
    const std::filesystem::path file = data_dir / "agent.lock";
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return error(StatusCode::kIoError, "cannot open " + file.string());
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return error(StatusCode::kUnavailable,
                   "data directory " + data_dir.string() + " is in use by another starlingd");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) == 0) (void)!::write(fd, pid.data(), pid.size());
    return DataDirLock(fd);
  }
  DataDirLock(DataDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DataDirLock& operator=(DataDirLock&&) = delete;
  ~DataDirLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// A message waiting for certificates.
struct Held {
  CurveKey key;
  wire::DecodedMessage decoded;
  Instant deadline;
};

// A point-to-point envelope (federated learning, consensus) from a key whose certificate is
// not known yet: a peer that has just joined often sends its first round update or vote before
// membership has shown it here. Kept until the certificate arrives (retry_held) or
// kHoldTimeout passes.
struct HeldDirect {
  CurveKey key;
  wire::EnvelopeHeader header;
  Bytes payload;
  Instant deadline;
};

}  // namespace

struct Agent::State final : public runtime::ControlSource {
  State(boost::asio::io_context& loop, DaemonConfig cfg, crypto::Identity id,
        crypto::Certificate certificate, DataDirLock data_lock, runtime::Store db,
        runtime::FleetTrust fleet_trust)
      : io(loop),
        config(std::move(cfg)),
        identity(std::move(id)),
        own_certificate(std::move(certificate)),
        lock(std::move(data_lock)),
        store(std::move(db)),
        trust(std::move(fleet_trust)),
        codec(this->identity, this->trust),
        core_timer(io),
        maintenance_timer(io),
        signals(io),
        epoch(Clock::now()),
        started_unix_ms(unix_ms_now()),
        probe_rtt({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0}),
        loop_lag({0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0}) {}

  // ---- time ----
  Instant now() const {
    return Instant(std::chrono::duration_cast<Duration>(Clock::now() - epoch));
  }
  std::int64_t unix_ms_of(Instant at) const {
    return started_unix_ms +
           std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  }

  // ---- message path ----
  void on_message(const std::string& peer, Bytes payload);
  void handle_membership(const CurveKey& key, wire::DecodedMessage decoded);
  // Decides a held or new message: delivered (true), or still waiting (false). Drops it (and
  // returns true) when it can never be delivered.
  bool try_deliver(const CurveKey& key, wire::DecodedMessage& decoded);
  void deliver(wire::DecodedMessage& decoded);
  void flush();
  void send_envelope(const NodeId& to, const std::string& address, const membership::Message& m);
  std::optional<runtime::PeerAddress> resolve(const NodeId& to, const std::string& address);
  bool send_bytes(const runtime::PeerAddress& peer, const Bytes& bytes, std::string_view type);
  std::uint64_t next_sequence() { return (sequence_base | ++sequence_counter); }

  // ---- certificate exchange ----
  void request_certificates(const CurveKey& key, const std::string& address,
                            std::vector<NodeId> wanted);
  void on_cert_request(const CurveKey& key, const Bytes& payload);
  void on_cert_reply(const CurveKey& key, const Bytes& payload);
  void retry_held();
  void deny(const CurveKey& key, std::string_view reason, const std::string& who);

  // ---- timers and lifecycle ----
  void schedule_core_timer();
  void on_maintenance();
  void remember_peers(bool force);
  void on_signal(int signal_number);
  void begin_leave();
  void reload_revocations();
  void count_reject(std::string_view reason) { ++rejected[std::string(reason)]; }
  // Federated learning: round messages in and out, peers from membership, progress out.
  void on_round_message(const CurveKey& key, const wire::EnvelopeHeader& header,
                        const Bytes& payload);
  void send_round_message(const NodeId& to, federated::RoundMessageType type, const Bytes& bytes);
  void update_learning_peers();
  // Consensus and workloads: frames in and out, peers from membership, the cluster published.
  void on_consensus_frame(const CurveKey& key, const wire::EnvelopeHeader& header,
                          const Bytes& payload);
  void send_consensus(const NodeId& to, const Bytes& frame);
  // Point-to-point messages (federated learning, consensus) outside membership: the sender's
  // key must be an admitted member's, its envelope sender that member, its sequence fresh.
  // A sender not known yet is held (HeldDirect) rather than refused: false either way.
  bool admit_direct(const CurveKey& key, const wire::EnvelopeHeader& header,
                    std::string_view untrusted_reason, const Bytes& payload);
  // After admission: hands the envelope's body to the learner or the workload shell.
  void deliver_round_message(const wire::EnvelopeHeader& header, const Bytes& payload);
  void deliver_consensus_frame(const wire::EnvelopeHeader& header, const Bytes& payload);
  // Sends `bytes` in an envelope of `envelope_type` to member `to`'s transport address.
  void send_direct(const NodeId& to, std::uint8_t envelope_type, const Bytes& bytes,
                   std::string_view label);
  void update_workload_peers();
  void publish_cluster(std::uint64_t cluster);
  void publish_progress(std::uint64_t round, double accuracy);
  void record_event(const membership::Event& event);

  // ---- views ----
  std::vector<runtime::MemberView> members() override;
  runtime::StatusView status() override;
  std::vector<runtime::EventView> events_since(std::uint64_t seq, std::size_t max) override;
  std::optional<runtime::ModelView> model() override {
    if (!learning) return std::nullopt;
    return learning->view();
  }
  std::optional<std::vector<runtime::WorkloadView>> workloads() override {
    if (!workload_shell) return std::nullopt;
    return workload_shell->workloads();
  }
  std::optional<runtime::LeaderView> leader() override {
    if (!workload_shell) return std::nullopt;
    return workload_shell->leader();
  }
  Result<std::uint64_t> add_workload(const runtime::WorkloadRequest& request) override {
    if (!workload_shell) return Status{StatusCode::kUnavailable, "consensus is off (consensus = \"off\")"};
    return workload_shell->add(request);
  }
  Result<std::uint64_t> remove_workload(const std::string& name) override {
    if (!workload_shell) return Status{StatusCode::kUnavailable, "consensus is off (consensus = \"off\")"};
    return workload_shell->remove(name);
  }
  std::string render_metrics();
  std::string name_of(const NodeId& id) const {
    const crypto::Certificate* cert = trust.certificate(id);
    return cert != nullptr ? cert->body.name : std::string();
  }

  boost::asio::io_context& io;
  DaemonConfig config;
  crypto::Identity identity;
  crypto::Certificate own_certificate;
  DataDirLock lock;
  runtime::Store store;
  runtime::FleetTrust trust;
  wire::SignedRecordCodec codec;
  wire::WireLimits limits;
  std::optional<runtime::Transport> transport;
  std::optional<runtime::ControlServer> control;
  std::unique_ptr<runtime::internal::SocketWatch> control_watch;
  std::optional<runtime::MetricsServer> metrics;
  std::unique_ptr<membership::Core> core;
  std::unique_ptr<Learning> learning;  // when a model is configured
  std::unique_ptr<WorkloadShell> workload_shell;  // unless consensus = "off"
  membership::Metadata meta;           // this node's metadata as last published
  std::string advertise;

  boost::asio::steady_timer core_timer;
  Instant core_timer_at = Instant::max();
  boost::asio::steady_timer maintenance_timer;
  Clock::time_point maintenance_due;
  boost::asio::signal_set signals;
  Clock::time_point epoch;
  std::int64_t started_unix_ms;
  bool leaving = false;
  Instant leave_deadline = Instant::max();

  std::uint64_t sequence_base = 0;  // incarnation << 32: sequences survive restarts
  std::uint64_t sequence_counter = 0;
  wire::EnvelopeReplayFilter replay;
  std::deque<Held> held;
  std::deque<HeldDirect> held_direct;
  std::size_t held_direct_bytes = 0;
  std::map<std::pair<CurveKey, NodeId>, Instant> cert_requested;
  std::set<CurveKey> denied;
  std::map<NodeId, runtime::PeerAddress> peer_cache;  // by member id, checked against address
  std::map<NodeId, std::string> to_remember;          // id -> "KEY@tcp://..."
  Instant next_remember_at;

  // Events for the control API.
  std::deque<runtime::EventView> events;
  std::uint64_t event_seq = 0;

  // Metrics.
  std::map<std::string, std::uint64_t> rejected;  // reason -> count (wire, admission, trust)
  std::map<std::string, std::uint64_t> peers_rejected;  // certificate reason -> peers refused
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> sent_by_type;  // msgs, bytes
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> received_by_type;
  std::map<std::pair<NodeId, std::uint32_t>, Clock::time_point> pings_in_flight;
  runtime::Histogram probe_rtt;
  runtime::Histogram loop_lag;
  double loop_lag_max_s = 0;
  std::uint64_t certificates_fetched = 0;
  std::uint64_t store_errors = 0;
};

// ------------------------------------------------------------------------------------------
// Message path

void Agent::State::on_message(const std::string& peer, Bytes payload) {
  wire::RejectReason reason{};
  auto header = wire::peek_envelope(payload, limits, &reason);
  if (!header) {
    count_reject(wire::reject_reason_name(reason));
    return;
  }
  const auto key = parse_curve_hex(peer);
  if (!key) {  // the transport names Curve peers by key; anything else is a misconfiguration
    count_reject("unauthenticated");
    return;
  }
  if (denied.contains(*key)) {
    count_reject("denied_key");
    return;
  }
  if (header->type == wire::kCertRequestType) {
    on_cert_request(*key, payload);
    return;
  }
  if (header->type == wire::kCertReplyType) {
    on_cert_reply(*key, payload);
    return;
  }
  if (header->type >= wire::kFederatedTypeFirst && header->type <= wire::kFederatedTypeLast) {
    on_round_message(*key, *header, payload);
    return;
  }
  if (header->type >= wire::kConsensusTypeFirst && header->type <= wire::kConsensusTypeLast) {
    on_consensus_frame(*key, *header, payload);
    return;
  }
  auto decoded = wire::decode_message(payload, limits, &reason);
  if (!decoded) {
    count_reject(wire::reject_reason_name(reason));
    return;
  }
  auto& in = received_by_type[std::string(membership::message_type_name(decoded->message.type))];
  ++in.first;
  in.second += payload.size();
  handle_membership(*key, std::move(*decoded));
}

void Agent::State::handle_membership(const CurveKey& key, wire::DecodedMessage decoded) {
  if (try_deliver(key, decoded)) return;
  if (held.size() >= kHeldMessagesMax) {
    held.pop_front();
    count_reject("held_overflow");
  }
  held.push_back(Held{key, std::move(decoded), now() + kHoldTimeout});
}

bool Agent::State::try_deliver(const CurveKey& key, wire::DecodedMessage& decoded) {
  const membership::Message& message = decoded.message;
  const auto node = trust.node_of_curve_key(key);
  if (!node) {
    // The sender's certificate is not known yet: ask the sender for it, and wait.
    request_certificates(key, message.sender_address, {message.sender});
    return false;
  }
  if (*node != message.sender) {
    count_reject("sender_mismatch");
    return true;
  }
  // Signers of records whose certificate is unknown: fetch them from the sender first.
  std::vector<NodeId> missing;
  for (const Bytes& record : message.records) {
    auto peeked = crypto::peek_record(record, crypto::kRecordPayloadCeiling);
    if (!peeked) continue;  // the core counts it
    if (trust.find_key(peeked->author) == nullptr &&
        std::find(missing.begin(), missing.end(), peeked->author) == missing.end() &&
        missing.size() < wire::kCertificatesPerMessageMax) {
      missing.push_back(peeked->author);
    }
  }
  if (!missing.empty()) {
    request_certificates(key, message.sender_address, std::move(missing));
    return false;
  }
  if (!replay.check_and_accept(decoded).is_ok()) {
    count_reject("replay");
    return true;
  }
  deliver(decoded);
  return true;
}

void Agent::State::deliver(wire::DecodedMessage& decoded) {
  const membership::Message& message = decoded.message;
  if (message.type == membership::MessageType::kAck) {
    auto it = pings_in_flight.find({message.sender, message.sequence});
    if (it != pings_in_flight.end()) {
      probe_rtt.observe(std::chrono::duration<double>(Clock::now() - it->second).count());
      pings_in_flight.erase(it);
    }
  }
  core->step(message, now());
  flush();
}

void Agent::State::flush() {
  membership::Ready ready = core->take_ready();
  if (ready.incarnation_to_persist) {
    Status saved = store.save_incarnation(*ready.incarnation_to_persist);
    if (!saved.is_ok()) {
      // Announcing an incarnation that a restart could reuse breaks refutation: send nothing.
      ++store_errors;
      spdlog::error("cannot persist incarnation {}: {}; messages withheld",
                    *ready.incarnation_to_persist, saved.to_string());
      ready.messages.clear();
    }
  }
  for (const membership::Outbound& out : ready.messages) {
    send_envelope(out.to, out.address, out.message);
  }
  for (const membership::Event& event : ready.events) record_event(event);
  if (!ready.events.empty()) {
    update_learning_peers();
    update_workload_peers();
  }
  schedule_core_timer();
}

void Agent::State::update_learning_peers() {
  if (!learning) return;
  std::vector<NodeId> peers;
  for (const auto& [id, member] : core->members()) {
    if (id == identity.node_id()) continue;
    if (member.status != membership::MemberStatus::kAlive &&
        member.status != membership::MemberStatus::kSuspect) {
      continue;
    }
    auto it = member.meta.find("fl.model");
    if (it != member.meta.end() && it->second == learning->model()) peers.push_back(id);
  }
  learning->set_peers(std::move(peers));
}

void Agent::State::on_round_message(const CurveKey& key, const wire::EnvelopeHeader& header,
                                    const Bytes& payload) {
  const std::string type_name = "fl_" + std::to_string(header.type);
  auto& in = received_by_type[type_name];
  ++in.first;
  in.second += payload.size();
  if (!learning) {
    count_reject("unknown_type");
    return;
  }
  if (!admit_direct(key, header, "fl_untrusted_key", payload)) return;
  deliver_round_message(header, payload);
}

void Agent::State::deliver_round_message(const wire::EnvelopeHeader& header,
                                         const Bytes& payload) {
  const std::uint8_t kind = header.type - wire::kFederatedTypeFirst + 1;
  if (kind < 1 || kind > 3) {
    count_reject("unknown_type");
    return;
  }
  learning->on_message(header.sender, static_cast<federated::RoundMessageType>(kind),
                       ByteSpan(payload).subspan(wire::kEnvelopeHeaderSize));
}

void Agent::State::send_round_message(const NodeId& to, federated::RoundMessageType type,
                                      const Bytes& bytes) {
  const auto envelope_type =
      static_cast<std::uint8_t>(wire::kFederatedTypeFirst + static_cast<std::uint8_t>(type) - 1);
  send_direct(to, envelope_type, bytes, "fl_" + std::to_string(envelope_type));
}

bool Agent::State::admit_direct(const CurveKey& key, const wire::EnvelopeHeader& header,
                                std::string_view untrusted_reason, const Bytes& payload) {
  const auto node = trust.node_of_curve_key(key);
  if (!node) {
    // Membership usually admits peers first; a joiner's first messages can come before.
    held_direct.push_back(HeldDirect{key, header, payload, now() + kHoldTimeout});
    held_direct_bytes += payload.size();
    while (held_direct.size() > kHeldDirectMax || held_direct_bytes > kHeldDirectBytesMax) {
      held_direct_bytes -= held_direct.front().payload.size();
      held_direct.pop_front();
      count_reject(untrusted_reason);
    }
    return false;
  }
  if (*node != header.sender) {
    count_reject("sender_mismatch");
    return false;
  }
  wire::DecodedMessage stamp;
  stamp.sender_sequence = header.sender_sequence;
  stamp.message.sender = header.sender;
  if (!replay.check_and_accept(stamp).is_ok()) {
    count_reject("replay");
    return false;
  }
  return true;
}

void Agent::State::send_direct(const NodeId& to, std::uint8_t envelope_type, const Bytes& bytes,
                               std::string_view label) {
  const membership::Member* member = core->find(to);
  if (member == nullptr) {
    count_reject("unresolved_peer");
    return;
  }
  auto peer = resolve(to, member->address);
  if (!peer) {
    count_reject("unresolved_peer");
    return;
  }
  send_bytes(*peer, wire::encode_envelope(envelope_type, identity.node_id(), next_sequence(), bytes),
             label);
}

void Agent::State::on_consensus_frame(const CurveKey& key, const wire::EnvelopeHeader& header,
                                      const Bytes& payload) {
  auto& in = received_by_type["consensus"];
  ++in.first;
  in.second += payload.size();
  if (!workload_shell || header.type != wire::kConsensusTypeFirst) {
    count_reject("unknown_type");
    return;
  }
  if (!admit_direct(key, header, "consensus_untrusted_key", payload)) return;
  deliver_consensus_frame(header, payload);
}

void Agent::State::deliver_consensus_frame(const wire::EnvelopeHeader& header,
                                           const Bytes& payload) {
  workload_shell->on_frame(header.sender, ByteSpan(payload).subspan(wire::kEnvelopeHeaderSize));
}

void Agent::State::send_consensus(const NodeId& to, const Bytes& frame) {
  send_direct(to, wire::kConsensusTypeFirst, frame, "consensus");
}

void Agent::State::update_workload_peers() {
  if (!workload_shell) return;
  std::vector<consensus::PeerView> peers;
  for (const auto& [id, member] : core->members()) {
    if (id == identity.node_id()) continue;
    if (member.status != membership::MemberStatus::kAlive &&
        member.status != membership::MemberStatus::kSuspect) {
      continue;
    }
    consensus::PeerView p;
    p.id = id;
    p.suspect = member.status == membership::MemberStatus::kSuspect;
    p.labels = member.meta;
    if (auto it = member.meta.find(kCapacityKey); it != member.meta.end()) {
      std::uint32_t cap = 1;
      auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), cap);
      if (ec == std::errc() && end == it->second.data() + it->second.size()) p.capacity = cap;
    }
    if (auto it = member.meta.find(kClusterKey); it != member.meta.end()) {
      std::uint64_t cluster = 0;
      auto [end, ec] =
          std::from_chars(it->second.data(), it->second.data() + it->second.size(), cluster, 16);
      if (ec == std::errc() && end == it->second.data() + it->second.size()) p.cluster = cluster;
    }
    peers.push_back(std::move(p));
  }
  workload_shell->set_peers(std::move(peers));
}

void Agent::State::publish_cluster(std::uint64_t cluster) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(cluster));
  if (meta[std::string(kClusterKey)] == text) return;
  meta[std::string(kClusterKey)] = text;
  if (Status s = core->set_metadata(meta, now()); !s.is_ok()) {
    spdlog::warn("cannot publish the consensus cluster in metadata: {}", s.to_string());
  }
  flush();
}

void Agent::State::publish_progress(std::uint64_t round, double accuracy) {
  meta["fl.round"] = std::to_string(round);
  char text[16];
  std::snprintf(text, sizeof text, "%.4f", accuracy);
  meta["fl.acc"] = text;
  if (Status s = core->set_metadata(meta, now()); !s.is_ok()) {
    spdlog::warn("cannot publish federated progress: {}", s.to_string());
    return;
  }
  flush();
}

std::optional<runtime::PeerAddress> Agent::State::resolve(const NodeId& to,
                                                          const std::string& address) {
  if (to.is_zero()) {
    // A seed, given as KEY@tcp://HOST:PORT.
    auto seed = parse_seed(address);
    if (!seed) return std::nullopt;
    return seed->peer;
  }
  auto cached = peer_cache.find(to);
  if (cached != peer_cache.end() && cached->second.endpoint == address) return cached->second;
  const crypto::PublicKey* key = trust.find_key(to);
  if (key == nullptr) {
    auto seed = parse_seed(address);  // a seed the core learned the id of
    if (seed) return seed->peer;
    return std::nullopt;
  }
  auto peer = runtime::PeerAddress::from_identity(address, *key);
  if (!peer) return std::nullopt;
  peer_cache[to] = *peer;
  return *peer;
}

void Agent::State::send_envelope(const NodeId& to, const std::string& address,
                                 const membership::Message& message) {
  auto peer = resolve(to, address);
  if (!peer) {
    count_reject("unresolved_peer");
    return;
  }
  const Bytes bytes = wire::encode_message(message, next_sequence());
  if (message.type == membership::MessageType::kPing && !to.is_zero()) {
    if (pings_in_flight.size() > 1024) pings_in_flight.clear();  // acks lost for good
    pings_in_flight[{to, message.sequence}] = Clock::now();
  }
  send_bytes(*peer, bytes, membership::message_type_name(message.type));
}

bool Agent::State::send_bytes(const runtime::PeerAddress& peer, const Bytes& bytes,
                              std::string_view type) {
  Status sent = transport->send(peer, bytes);
  if (!sent.is_ok()) return false;  // counted by the transport
  auto& out = sent_by_type[std::string(type)];
  ++out.first;
  out.second += bytes.size();
  return true;
}

// ------------------------------------------------------------------------------------------
// Certificate exchange

void Agent::State::request_certificates(const CurveKey& key, const std::string& address,
                                        std::vector<NodeId> wanted) {
  if (!is_peer_endpoint(address)) {
    count_reject("bad_reply_address");
    return;
  }
  // Ask for each node at most once per interval and peer: a held message is retried after
  // every certificate that arrives, and a burst of messages names the same signers.
  const Instant at = now();
  std::erase_if(wanted, [&](const NodeId& id) {
    auto [it, inserted] = cert_requested.try_emplace({key, id}, at);
    if (inserted) return false;
    if (at - it->second < kCertRequestInterval) return true;
    it->second = at;
    return false;
  });
  if (wanted.empty()) return;
  wire::CertRequest request;
  request.sender = identity.node_id();
  request.sender_sequence = next_sequence();
  request.reply_address = advertise;
  request.wanted = std::move(wanted);
  send_bytes(runtime::PeerAddress{address, key}, wire::encode_cert_request(request),
             "cert_request");
}

void Agent::State::on_cert_request(const CurveKey& key, const Bytes& payload) {
  wire::RejectReason reason{};
  auto request = wire::decode_cert_request(payload, limits, &reason);
  if (!request) {
    count_reject(wire::reject_reason_name(reason));
    return;
  }
  auto& in = received_by_type["cert_request"];
  ++in.first;
  in.second += payload.size();
  if (!is_peer_endpoint(request->reply_address)) {
    count_reject("bad_reply_address");
    return;
  }
  // Certificates are public and self-authenticating: answer whoever asks, over a connection
  // that only the holder of `key` can complete.
  wire::CertReply reply;
  reply.sender = identity.node_id();
  reply.sender_sequence = next_sequence();
  reply.certificates.push_back(own_certificate.encoded);
  for (const NodeId& id : request->wanted) {
    if (id == identity.node_id()) continue;
    const crypto::Certificate* cert = trust.certificate(id);
    if (cert != nullptr && reply.certificates.size() < wire::kCertificatesPerMessageMax) {
      reply.certificates.push_back(cert->encoded);
    }
  }
  send_bytes(runtime::PeerAddress{request->reply_address, key}, wire::encode_cert_reply(reply),
             "cert_reply");
  // The asker is probably new to us too: learn its certificate as well.
  if (!trust.node_of_curve_key(key)) {
    request_certificates(key, request->reply_address, {request->sender});
  }
}

void Agent::State::on_cert_reply(const CurveKey& key, const Bytes& payload) {
  wire::RejectReason reason{};
  auto reply = wire::decode_cert_reply(payload, limits, &reason);
  if (!reply) {
    count_reject(wire::reject_reason_name(reason));
    return;
  }
  auto& in = received_by_type["cert_reply"];
  ++in.first;
  in.second += payload.size();
  const std::int64_t now_s = unix_ms_now() / 1000;
  bool learned = false;
  for (const Bytes& bytes : reply->certificates) {
    auto unverified = crypto::decode_certificate_unverified(bytes);
    if (!unverified) {
      count_reject("certificate_corrupt");
      continue;
    }
    const NodeId node = unverified->node_id();
    const crypto::Certificate* known = trust.certificate(node);
    if (known != nullptr && known->encoded == bytes) continue;
    auto added = trust.add_certificate(bytes, now_s);
    // Is this the certificate of the connection's own key? Then its verdict decides the peer.
    auto curve = crypto::curve_public_of(unverified->body.device_key);
    const bool own = curve && *curve == key;
    if (!added) {
      if (added.status().code() == StatusCode::kStale) continue;
      const std::string why(status_code_name(added.status().code()));
      count_reject("certificate_" + why);
      if (own) deny(key, why, unverified->body.name + " (" + node.short_hex() + ")");
      continue;
    }
    ++certificates_fetched;
    learned = true;
    spdlog::debug("trusting certificate of {} ({}), serial {}", unverified->body.name,
                  node.short_hex(), unverified->body.serial);
  }
  if (learned) retry_held();
}

void Agent::State::deny(const CurveKey& key, std::string_view reason, const std::string& who) {
  if (!denied.insert(key).second) return;
  ++peers_rejected[std::string(reason)];
  spdlog::warn("refusing peer {}: certificate {}", who, reason);
  // Whatever it sent while we waited goes.
  std::erase_if(held, [&](const Held& h) { return h.key == key; });
  std::erase_if(held_direct, [&](const HeldDirect& h) { return h.key == key; });
  held_direct_bytes = 0;
  for (const HeldDirect& h : held_direct) held_direct_bytes += h.payload.size();
}

void Agent::State::retry_held() {
  std::deque<Held> waiting;
  waiting.swap(held);
  for (Held& h : waiting) {
    if (!try_deliver(h.key, h.decoded)) held.push_back(std::move(h));
  }
  std::deque<HeldDirect> direct;
  direct.swap(held_direct);
  held_direct_bytes = 0;
  for (HeldDirect& h : direct) {
    const bool fl = h.header.type >= wire::kFederatedTypeFirst &&
                    h.header.type <= wire::kFederatedTypeLast;
    if (!trust.node_of_curve_key(h.key)) {  // still unknown: waits on, same deadline
      held_direct_bytes += h.payload.size();
      held_direct.push_back(std::move(h));
      continue;
    }
    if (!admit_direct(h.key, h.header, fl ? "fl_untrusted_key" : "consensus_untrusted_key",
                      h.payload)) {
      continue;
    }
    if (fl && learning) deliver_round_message(h.header, h.payload);
    if (!fl && workload_shell) deliver_consensus_frame(h.header, h.payload);
  }
}

// ------------------------------------------------------------------------------------------
// Timers and lifecycle

void Agent::State::schedule_core_timer() {
  const Instant next = core->next_deadline();
  if (next == core_timer_at) return;
  core_timer_at = next;
  if (next == Instant::max()) {
    core_timer.cancel();
    return;
  }
  core_timer.expires_at(epoch + std::chrono::duration_cast<Clock::duration>(next.time_since_epoch()));
  core_timer.async_wait([this](const boost::system::error_code& e) {
    if (e) return;
    core_timer_at = Instant::max();
    core->tick(now());
    flush();
  });
}

void Agent::State::on_maintenance() {
  const auto actual = Clock::now();
  const double lag = std::chrono::duration<double>(actual - maintenance_due).count();
  loop_lag.observe(std::max(lag, 0.0));
  loop_lag_max_s = std::max(loop_lag_max_s, lag);

  const Instant at = now();
  while (!held.empty() && held.front().deadline <= at) {
    held.pop_front();
    count_reject("certificate_timeout");
  }
  while (!held_direct.empty() && held_direct.front().deadline <= at) {
    const bool fl = held_direct.front().header.type >= wire::kFederatedTypeFirst &&
                    held_direct.front().header.type <= wire::kFederatedTypeLast;
    held_direct_bytes -= held_direct.front().payload.size();
    held_direct.pop_front();
    count_reject(fl ? "fl_untrusted_key" : "consensus_untrusted_key");
  }
  std::erase_if(cert_requested, [&](const auto& entry) {
    return at - entry.second >= kCertRequestInterval;
  });
  if (control) {  // safety net for a missed edge on the control socket
    control->poll_once();
  }
  const bool nobody_to_tell = core->count(membership::MemberStatus::kAlive) +
                                  core->count(membership::MemberStatus::kSuspect) == 0;
  if (leaving && (core->leave_propagated() || nobody_to_tell || at >= leave_deadline)) {
    spdlog::info("left the swarm{}; stopping",
                 core->leave_propagated() || nobody_to_tell ? "" : " (leave timeout reached)");
    remember_peers(true);
    io.stop();
    return;
  }
  if (at >= next_remember_at) remember_peers(false);

  maintenance_due = actual + kMaintenancePeriod;
  maintenance_timer.expires_at(maintenance_due);
  maintenance_timer.async_wait([this](const boost::system::error_code& e) {
    if (!e) on_maintenance();
  });
}

void Agent::State::remember_peers(bool force) {
  next_remember_at = now() + kRememberPeriod;
  if (to_remember.empty() && !force) return;
  const std::int64_t at = unix_ms_now();
  for (const auto& [id, address] : to_remember) {
    Status saved = store.remember_peer(id, address, at);
    if (!saved.is_ok()) {
      ++store_errors;
      spdlog::warn("cannot remember peer {}: {}", id.short_hex(), saved.to_string());
      break;
    }
  }
  to_remember.clear();
}

void Agent::State::record_event(const membership::Event& event) {
  runtime::EventView view;
  view.seq = ++event_seq;
  view.type = std::string(membership::event_type_name(event.type));
  view.node = event.node.to_hex();
  view.incarnation = event.incarnation;
  view.unix_ms = unix_ms_of(event.at);
  events.push_back(view);
  if (events.size() > kEventsKept) events.pop_front();

  const std::string who = name_of(event.node) + " (" + event.node.short_hex() + ")";
  switch (event.type) {
    case membership::EventType::kSuspect:
    case membership::EventType::kDead:
      spdlog::warn("member {} {} at incarnation {}", who, view.type, event.incarnation);
      break;
    case membership::EventType::kMetadataChanged:
      spdlog::debug("member {} changed its metadata", who);
      break;
    default:
      spdlog::info("member {} {} at incarnation {}", who, view.type, event.incarnation);
      break;
  }
  if (event.type == membership::EventType::kJoined || event.type == membership::EventType::kAlive) {
    const membership::Member* member = core->find(event.node);
    const crypto::PublicKey* key = trust.find_key(event.node);
    if (member != nullptr && key != nullptr && is_peer_endpoint(member->address)) {
      to_remember[event.node] = seed_string(*key, member->address);
    }
  }
}

void Agent::State::on_signal(int signal_number) {
  if (signal_number == SIGHUP) {
    reload_revocations();
  } else if (leaving) {
    spdlog::warn("second stop signal: stopping without waiting for the leave to spread");
    io.stop();
    return;
  } else {
    spdlog::info("signal {}: leaving the swarm", signal_number);
    begin_leave();
  }
  signals.async_wait([this](const boost::system::error_code& e, int n) {
    if (!e) on_signal(n);
  });
}

void Agent::State::begin_leave() {
  if (leaving) return;
  leaving = true;
  leave_deadline = now() + config.leave_timeout;
  if (workload_shell) workload_shell->leave();
  core->leave(now());
  flush();
}

void Agent::State::reload_revocations() {
  if (config.revocations.empty()) {
    spdlog::info("SIGHUP: no revocation list configured");
    return;
  }
  auto list = crypto::read_revocation_file(config.revocations, trust.fleet());
  if (!list) {
    spdlog::error("SIGHUP: {}", list.status().to_string());
    return;
  }
  auto forgotten = trust.update_revocations(list->encoded());
  if (!forgotten) {
    spdlog::info("SIGHUP: revocation list not replaced: {}", forgotten.status().to_string());
    return;
  }
  peer_cache.clear();
  spdlog::info("SIGHUP: revocation list version {} in force; {} certificate(s) revoked",
               list->version(), *forgotten);
}

// ------------------------------------------------------------------------------------------
// Views

std::vector<runtime::MemberView> Agent::State::members() {
  std::vector<runtime::MemberView> out;
  auto add_self = [&] {
    runtime::MemberView self;
    self.id = identity.node_id().to_hex();
    self.name = own_certificate.body.name;
    self.addr = advertise;
    self.status = core->has_left() ? "left" : "alive";
    self.incarnation = core->incarnation();
    self.meta = core->find(identity.node_id()) ? core->find(identity.node_id())->meta
                                                : membership::Metadata{};
    self.last_change_unix_ms = started_unix_ms;
    return self;
  };
  bool self_added = false;
  for (const auto& [id, member] : core->members()) {
    if (id == identity.node_id()) {
      out.push_back(add_self());
      self_added = true;
      continue;
    }
    if (!self_added && identity.node_id() < id) {
      out.push_back(add_self());
      self_added = true;
    }
    runtime::MemberView view;
    view.id = id.to_hex();
    view.name = name_of(id);
    view.addr = member.address;
    view.status = std::string(membership::member_status_name(member.status));
    view.incarnation = member.incarnation;
    view.meta = member.meta;
    view.last_change_unix_ms = unix_ms_of(member.status_since);
    out.push_back(std::move(view));
  }
  if (!self_added) out.push_back(add_self());
  return out;
}

runtime::StatusView Agent::State::status() {
  runtime::StatusView view;
  view.id = identity.node_id().to_hex();
  view.name = own_certificate.body.name;
  view.uptime_s = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - epoch).count());
  view.members.alive = core->count(membership::MemberStatus::kAlive);
  view.members.suspect = core->count(membership::MemberStatus::kSuspect);
  view.members.dead = core->count(membership::MemberStatus::kDead);
  view.members.left = core->count(membership::MemberStatus::kLeft);
  view.addr = advertise;
  view.incarnation = core->incarnation();
  view.peers_refused = peers_rejected;
  view.rejected = rejected;
  const runtime::TransportCounters& t = transport->counters();
  view.bytes_sent = t.bytes_out;
  view.bytes_received = t.bytes_in;
  view.messages_sent = t.messages_out;
  view.messages_received = t.messages_in;
  if (learning) {
    view.round = learning->round();
    view.accuracy = learning->accuracy();
  }
  if (workload_shell) {
    if (auto lt = workload_shell->leader_and_term()) {
      view.leader = lt->first;
      view.term = lt->second;
    }
  }
  for (const auto& [reason, count] : core->stats().rejected_by_reason) {
    view.rejected["record_" + reason] += count;
  }
  return view;
}

std::vector<runtime::EventView> Agent::State::events_since(std::uint64_t seq, std::size_t max) {
  std::vector<runtime::EventView> out;
  for (const runtime::EventView& e : events) {
    if (e.seq <= seq) continue;
    if (out.size() >= max) break;
    out.push_back(e);
  }
  return out;
}

std::string Agent::State::render_metrics() {
  runtime::MetricsText text;
  const char* members_help = "Members this agent knows, itself included, by status";
  text.gauge("starling_members", members_help,
             static_cast<double>(core->count(membership::MemberStatus::kAlive)),
             {{"status", "alive"}});
  text.gauge("starling_members", members_help,
             static_cast<double>(core->count(membership::MemberStatus::kSuspect)),
             {{"status", "suspect"}});
  text.gauge("starling_members", members_help,
             static_cast<double>(core->count(membership::MemberStatus::kDead)),
             {{"status", "dead"}});
  text.gauge("starling_members", members_help,
             static_cast<double>(core->count(membership::MemberStatus::kLeft)),
             {{"status", "left"}});
  text.gauge("starling_incarnation", "This agent's incarnation",
             static_cast<double>(core->incarnation()));
  text.gauge("starling_health_score", "Lifeguard local health score (0 is healthy)",
             static_cast<double>(core->health_score()));
  text.gauge("starling_uptime_seconds", "Seconds since the agent started",
             std::chrono::duration<double>(Clock::now() - epoch).count());
  for (const auto& [type, counts] : sent_by_type) {
    text.counter("starling_messages_sent_total", "Messages handed to the transport, by type",
                 static_cast<double>(counts.first), {{"type", type}});
    text.counter("starling_bytes_sent_total", "Envelope bytes handed to the transport, by type",
                 static_cast<double>(counts.second), {{"type", type}});
  }
  for (const auto& [type, counts] : received_by_type) {
    text.counter("starling_messages_received_total", "Messages decoded, by type",
                 static_cast<double>(counts.first), {{"type", type}});
    text.counter("starling_bytes_received_total", "Envelope bytes decoded, by type",
                 static_cast<double>(counts.second), {{"type", type}});
  }
  const char* rejected_help =
      "Messages, records and certificates dropped, by reason (wire decoding, admission, "
      "signatures, certificates)";
  for (const auto& [reason, count] : rejected) {
    text.counter("starling_rejected_total", rejected_help, static_cast<double>(count),
                 {{"reason", reason}});
  }
  for (const auto& [reason, count] : core->stats().rejected_by_reason) {
    text.counter("starling_rejected_total", rejected_help, static_cast<double>(count),
                 {{"reason", "record_" + reason}});
  }
  const runtime::TransportCounters& t = transport->counters();
  for (std::size_t i = 0; i < runtime::kDropReasonCount; ++i) {
    text.counter("starling_transport_dropped_total", "Messages the transport dropped, by reason",
                 static_cast<double>(t.dropped[i]),
                 {{"reason", std::string(runtime::drop_reason_name(
                                 static_cast<runtime::DropReason>(i)))}});
  }
  text.counter("starling_transport_handshakes_total", "CurveZMQ handshakes decided by ZAP",
               static_cast<double>(t.zap_accepted), {{"result", "accepted"}});
  text.counter("starling_transport_handshakes_total", "CurveZMQ handshakes decided by ZAP",
               static_cast<double>(t.zap_rejected), {{"result", "rejected"}});
  text.gauge("starling_transport_peers", "Open outbound connections",
             static_cast<double>(transport->peer_count()));
  text.gauge("starling_peers_refused", "Peer keys refused, by certificate verdict", 0,
             {{"reason", "none"}});
  for (const auto& [reason, count] : peers_rejected) {
    text.gauge("starling_peers_refused", "Peer keys refused, by certificate verdict",
               static_cast<double>(count), {{"reason", reason}});
  }
  text.gauge("starling_certificates_trusted", "Verified device certificates held",
             static_cast<double>(trust.size()));
  text.gauge("starling_messages_waiting_for_certificates",
             "Messages held until their signers' certificates arrive",
             static_cast<double>(held.size()));
  const membership::Stats& s = core->stats();
  text.counter("starling_probes_total", "Direct probes started", static_cast<double>(s.probes));
  text.counter("starling_probes_failed_total", "Probes that got no ack",
               static_cast<double>(s.probes_failed));
  text.counter("starling_suspicions_total", "Suspicions this agent raised",
               static_cast<double>(s.suspicions_raised));
  text.counter("starling_refutations_total", "Suspicions of this agent it refuted",
               static_cast<double>(s.refutations));
  text.counter("starling_store_errors_total", "Failed writes to the state database",
               static_cast<double>(store_errors));
  if (learning) {
    const runtime::ModelView m = learning->view();
    text.gauge("starling_fl_round", "Federated rounds completed", m.round);
    if (m.accuracy) text.gauge("starling_fl_accuracy", "Test accuracy of the last round", *m.accuracy);
    if (m.loss) text.gauge("starling_fl_loss", "Test loss of the last round", *m.loss);
    text.counter("starling_fl_updates_accepted_total", "Peer updates accepted",
                 m.updates_accepted);
    for (const auto& [reason, count] : m.updates_rejected) {
      text.counter("starling_fl_updates_rejected_total", "Peer updates rejected, by reason",
                   count, {{"reason", reason}});
    }
    text.gauge("starling_fl_bytes_per_round", "Update bytes sent per round, all peers",
               m.bytes_per_round);
    text.gauge("starling_fl_peers", "Peers training the same model", m.peers);
  }
  text.histogram("starling_probe_rtt_seconds", "Round trip of direct probes (ping to ack)",
                 probe_rtt);
  text.histogram("starling_event_loop_lag_seconds",
                 "How late the 250 ms housekeeping timer fired", loop_lag);
  if (workload_shell) workload_shell->metrics(text);
  return text.str();
}

// ------------------------------------------------------------------------------------------
// Opening

Result<std::unique_ptr<Agent>> Agent::open(boost::asio::io_context& io,
                                           const DaemonConfig& config) {
  const std::filesystem::path data_dir = config.data_dir;
  auto identity = crypto::Identity::load(data_dir);
  if (!identity) {
    if (identity.status().code() == StatusCode::kNotFound) {
      return error(StatusCode::kNotFound,
                   "no identity in " + data_dir.string() + ": run 'starling keygen --data-dir " +
                       data_dir.string() + "' and enrol the device");
    }
    return identity.status();
  }
  auto fleet = crypto::load_fleet_public(config.fleet_pub);
  if (!fleet) return error(fleet.status().code(), "fleet_pub: " + fleet.status().message());
  runtime::FleetTrust trust(*fleet);
  if (!config.revocations.empty()) {
    auto list = crypto::read_revocation_file(config.revocations, *fleet);
    if (!list) {
      return error(list.status().code(), "revocations: " + list.status().message());
    }
    auto installed = trust.update_revocations(list->encoded());
    if (!installed) return installed.status();
  }
  auto cert_bytes = crypto::read_certificate_file(config.cert);
  if (!cert_bytes) return error(cert_bytes.status().code(), "cert: " + cert_bytes.status().message());
  const std::int64_t now_s = unix_ms_now() / 1000;
  auto certificate = crypto::verify_certificate(*cert_bytes, *fleet, now_s, trust.revocations());
  if (!certificate) {
    return error(certificate.status().code(),
                 "cert: " + config.cert + ": " + certificate.status().message());
  }
  if (certificate->body.device_key != identity->public_key()) {
    return error(StatusCode::kInvalidArgument,
                 "cert: " + config.cert + " was issued for another device key than " +
                     data_dir.string() + "/identity.key");
  }
  if (!config.name.empty() && config.name != certificate->body.name) {
    return error(StatusCode::kInvalidArgument,
                 "name: '" + config.name + "' differs from the certificate's name '" +
                     certificate->body.name + "'");
  }
  if (auto added = trust.add_certificate(*cert_bytes, now_s); !added) return added.status();

  STARLING_ASSIGN_OR_RETURN(DataDirLock lock, DataDirLock::acquire(data_dir));
  STARLING_ASSIGN_OR_RETURN(runtime::Store store,
                            runtime::Store::open(data_dir / runtime::Store::kFileName));
  STARLING_ASSIGN_OR_RETURN(std::uint64_t persisted, store.load_incarnation());

  auto state = std::make_unique<State>(io, config, std::move(*identity), std::move(*certificate),
                                       std::move(lock), std::move(store), std::move(trust));
  State* s = state.get();

  runtime::TransportConfig transport_config;
  transport_config.bind_endpoint = config.bind;
  transport_config.message_bytes_max = s->limits.message_bytes_max;
  auto transport = runtime::Transport::open(
      io, transport_config, s->identity.signing_key(),
      [s](const CurveKey& key) { return !s->denied.contains(key); },
      [s](const std::string& peer, Bytes payload) { s->on_message(peer, std::move(payload)); });
  if (!transport) return error(transport.status().code(), "bind: " + transport.status().message());
  s->transport.emplace(std::move(*transport));
  s->advertise = config.advertise.empty() ? s->transport->endpoint() : config.advertise;

  runtime::ControlServerConfig control_config;
  control_config.endpoint =
      config.control.empty() ? runtime::default_control_endpoint(config.data_dir) : config.control;
  if (control_config.endpoint.starts_with("ipc://")) {
    std::error_code ignored;  // a stale socket file of a crashed run
    std::filesystem::remove(control_config.endpoint.substr(6), ignored);
  }
  auto control = runtime::ControlServer::open(control_config, *s);
  if (!control) return error(control.status().code(), "control: " + control.status().message());
  s->control.emplace(std::move(*control));
  s->control_watch = std::make_unique<runtime::internal::SocketWatch>(io, s->control->fd(), [s] {
    while (s->control->poll_once() > 0) {
    }
    s->control_watch->arm();
  });

  if (!config.metrics.empty()) {
    auto metrics = runtime::MetricsServer::open(io, config.metrics, [s] { return s->render_metrics(); });
    if (!metrics) return error(metrics.status().code(), "metrics: " + metrics.status().message());
    s->metrics.emplace(std::move(*metrics));
  }

  STARLING_ASSIGN_OR_RETURN(membership::Config membership_config,
                            membership::Config::from_profile(config.profile));
  membership::Metadata meta = s->own_certificate.body.labels;
  for (const auto& [k, v] : config.labels) meta[k] = v;
  if (!config.learning.model.empty()) meta["fl.model"] = config.learning.model;
  if (config.consensus.enabled && config.consensus.capacity != 1) {
    meta[std::string(kCapacityKey)] = std::to_string(config.consensus.capacity);
  }
  s->meta = meta;
  if (Status valid = membership::validate_metadata(meta); !valid.is_ok()) {
    return error(StatusCode::kInvalidArgument,
                 "labels (certificate and config together): " + valid.message());
  }
  std::random_device entropy;
  const std::uint64_t seed = (std::uint64_t{entropy()} << 32) ^ entropy();
  s->core = std::make_unique<membership::Core>(
      membership_config,
      membership::Core::Self{s->identity.node_id(), s->advertise, meta, persisted}, s->codec,
      seed, s->now());
  s->sequence_base = s->core->incarnation() << 32;
  if (!config.learning.model.empty()) {
    auto learning = Learning::open(
        io, config.learning, data_dir, s->identity, s->trust,
        [s](const NodeId& to, federated::RoundMessageType type, const Bytes& bytes) {
          s->send_round_message(to, type, bytes);
        },
        [s](std::uint64_t round, double accuracy) { s->publish_progress(round, accuracy); });
    if (!learning) return error(learning.status().code(), "model: " + learning.status().message());
    s->learning = std::move(*learning);
  }
  if (config.consensus.enabled) {
    auto shell = WorkloadShell::open(
        io, config, s->store, s->identity.node_id(), meta,
        [s](const NodeId& to, const Bytes& frame) { s->send_consensus(to, frame); },
        [s](std::uint64_t cluster) { s->publish_cluster(cluster); },
        [s](const NodeId& id) {
          return id == s->identity.node_id() ? s->own_certificate.body.name : s->name_of(id);
        },
        [](const std::string& why) {
          // Going on would acknowledge what is not on disk: stop, and let the supervisor
          // restart the agent from what is.
          spdlog::critical("{}; stopping", why);
          spdlog::shutdown();
          std::_Exit(70);
        });
    if (!shell) return error(shell.status().code(), "consensus: " + shell.status().message());
    s->workload_shell = std::move(*shell);
  }
  return std::unique_ptr<Agent>(new Agent(std::move(state)));
}

Agent::Agent(std::unique_ptr<State> state) : state_(std::move(state)) {}

Agent::~Agent() {
  if (state_) state_->remember_peers(true);
}

void Agent::start() {
  State& s = *state_;
  std::vector<std::string> seeds;
  for (const std::string& join : s.config.join) {
    if (auto seed = parse_seed(join); seed && seed->node != s.identity.node_id()) {
      seeds.push_back(join);
    }
  }
  auto remembered = s.store.known_peers(kRememberedSeedsMax);
  if (remembered) {
    for (const runtime::KnownPeer& peer : *remembered) {
      if (peer.id == s.identity.node_id()) continue;
      if (std::find(seeds.begin(), seeds.end(), peer.address) == seeds.end()) {
        seeds.push_back(peer.address);
      }
    }
  } else {
    spdlog::warn("cannot read remembered peers: {}", remembered.status().to_string());
  }
  spdlog::info("starlingd {} ({}) listening on {} as {}, incarnation {}; joining through {} seed(s)",
               s.own_certificate.body.name, s.identity.node_id().short_hex(),
               s.transport->endpoint(), s.advertise, s.core->incarnation(), seeds.size());
  s.core->join(seeds, s.now());
  s.flush();

  s.signals.add(SIGTERM);
  s.signals.add(SIGINT);
  s.signals.add(SIGHUP);
  s.signals.async_wait([&s](const boost::system::error_code& e, int n) {
    if (!e) s.on_signal(n);
  });
  s.control_watch->arm();
  s.next_remember_at = s.now() + kRememberPeriod;
  s.maintenance_due = Clock::now();
  s.on_maintenance();
}

void Agent::leave() { state_->begin_leave(); }

const std::string& Agent::transport_endpoint() const { return state_->transport->endpoint(); }
const std::string& Agent::control_endpoint() const { return state_->control->endpoint(); }
std::string Agent::metrics_endpoint() const {
  if (!state_->metrics) return {};
  return "http://127.0.0.1:" + std::to_string(state_->metrics->port()) + "/metrics";
}

}  // namespace starling::daemon
