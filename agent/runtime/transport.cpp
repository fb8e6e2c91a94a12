// Transport over ZeroMQ sockets watched through Boost.Asio (see transport.hpp). Every function
// here runs on the io_context's thread. zmq::error_t and Asio's system_error are caught in this
// file: API calls return them as Status, socket servicing counts them in socket_errors.
//
// Servicing a socket (the ZMQ_FD contract, see internal/socket_watch.hpp): read ZMQ_EVENTS,
// handle what it shows (input, or for a DEALER writability that releases its connect backlog),
// repeat until it shows nothing, then re-arm the wait. A send may consume a DEALER's edge, so
// every send is followed by a posted service of that DEALER.
#include "agent/runtime/transport.hpp"

#include <zmq.hpp>

#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <iterator>
#include <map>
#include <utility>
#include <vector>

#include "agent/runtime/internal/socket_watch.hpp"
#include "agent/runtime/internal/zap.hpp"

namespace starling::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using internal::SocketWatch;

// ZMQ_MAXMSGSIZE bounds the frame on the wire; under Curve that is the payload plus 33 bytes
// of MESSAGE framing (name, nonce, flags, MAC). The exact payload limit is checked on receipt.
constexpr std::int64_t kCurveFrameOverheadBytes = 64;
constexpr std::size_t kCurveKeyHexLength = 64;
constexpr std::string_view kUnauthenticatedPrefix = "unauthenticated:";

Status status_from(const zmq::error_t& e, const std::string& what) {
  StatusCode code = StatusCode::kInternal;
  switch (e.num()) {
    case EADDRINUSE:
    case EADDRNOTAVAIL:
      code = StatusCode::kUnavailable;
      break;
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENODEV:
    case ENOCOMPATPROTO:
      code = StatusCode::kInvalidArgument;
      break;
    default:
      break;
  }
  return error(code, what + ": " + e.what());
}

void apply_common_options(zmq::socket_t& socket, const TransportConfig& config) {
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::sndhwm, config.send_queue_messages_max);
  socket.set(zmq::sockopt::rcvhwm, config.receive_queue_messages_max);
  socket.set(zmq::sockopt::maxmsgsize,
             static_cast<std::int64_t>(config.message_bytes_max) + kCurveFrameOverheadBytes);
  socket.set(zmq::sockopt::handshake_ivl, config.handshake_timeout_ms);
  socket.set(zmq::sockopt::reconnect_ivl, config.reconnect_interval_ms);
  socket.set(zmq::sockopt::reconnect_ivl_max, config.reconnect_interval_max_ms);
}

int socket_fd(const zmq::socket_t& socket) {
  return static_cast<int>(socket.get(zmq::sockopt::fd));
}

std::string_view frame_view(const zmq::message_t& frame) {
  return {static_cast<const char*>(frame.data()), frame.size()};
}

// Receives and discards the remaining frames of a multipart message.
void discard_rest(zmq::socket_t& socket, const zmq::message_t& last) {
  bool more = last.more();
  while (more) {
    zmq::message_t frame;
    if (!socket.recv(frame, zmq::recv_flags::dontwait)) return;
    more = frame.more();
  }
}

// The ROUTER and the ZAP REP socket: sockets that live as long as the Transport.
struct WatchedSocket {
  zmq::socket_t socket;
  std::unique_ptr<SocketWatch> watch;  // declared after socket: released before it closes
};

struct Dealer {
  zmq::socket_t socket;
  std::unique_ptr<SocketWatch> watch;
  std::deque<Bytes> backlog;  // held until the first connection completes
  bool connected = false;     // ZMQ_EVENTS has shown ZMQ_POLLOUT at least once
  Clock::time_point last_used;
};

}  // namespace

std::string_view drop_reason_name(DropReason reason) noexcept {
  switch (reason) {
    case DropReason::kQueueFull: return "queue_full";
    case DropReason::kUnknownPeer: return "unknown_peer";
    case DropReason::kTooLarge: return "too_large";
    case DropReason::kBadFraming: return "bad_framing";
    case DropReason::kPeerClosed: return "peer_closed";
  }
  return "unknown_reason";
}

Status TransportConfig::validate() const {
  auto invalid = [](const std::string& what) {
    return error(StatusCode::kInvalidArgument, "transport config: " + what);
  };
  if (bind_endpoint.rfind("tcp://", 0) != 0) {
    return invalid("bind_endpoint must be tcp://HOST:PORT");
  }
  if (send_queue_messages_max <= 0) return invalid("send_queue_messages_max must be positive");
  if (receive_queue_messages_max <= 0) {
    return invalid("receive_queue_messages_max must be positive");
  }
  if (message_bytes_max == 0 || message_bytes_max > (std::size_t{1} << 31)) {
    return invalid("message_bytes_max must be in 1..2^31");
  }
  if (receive_batch_max == 0) return invalid("receive_batch_max must be positive");
  if (reconnect_interval_ms <= 0) return invalid("reconnect_interval_ms must be positive");
  if (reconnect_interval_max_ms < reconnect_interval_ms) {
    return invalid("reconnect_interval_max_ms must be >= reconnect_interval_ms");
  }
  if (handshake_timeout_ms <= 0) return invalid("handshake_timeout_ms must be positive");
  return Status::ok();
}

Result<PeerAddress> PeerAddress::from_identity(std::string endpoint,
                                               const crypto::PublicKey& key) {
  STARLING_ASSIGN_OR_RETURN(CurvePublicKey curve_public, crypto::curve_public_of(key));
  return PeerAddress{std::move(endpoint), curve_public};
}

struct Transport::State {
  State(boost::asio::io_context& io_in, const TransportConfig& config_in,
        CurveKeyAuthorizer authorize_in, MessageHandler on_message_in)
      : io(io_in),
        config(config_in),
        authorize(std::move(authorize_in)),
        on_message(std::move(on_message_in)) {}

  Status start(const crypto::SigningKey& key);
  void start_zap();
  void start_router();
  void service_fixed(WatchedSocket& watched, void (State::*receive_one)(zmq::socket_t&));
  void answer_zap_request(zmq::socket_t& socket);
  void receive_from_router(zmq::socket_t& socket);
  void deliver(const std::string& peer, const zmq::message_t& payload);
  void drop(DropReason reason) { ++counters.dropped[static_cast<std::size_t>(reason)]; }

  Result<Dealer*> find_or_open(const PeerAddress& peer);
  Result<Dealer*> open_dealer(const PeerAddress& peer);
  void configure_dealer(zmq::socket_t& socket, const PeerAddress& peer);
  void service_dealer(const PeerAddress& peer);
  bool flush_backlog(Dealer& dealer);
  void receive_from_dealer(const PeerAddress& peer, Dealer& dealer);
  bool try_send(Dealer& dealer, ByteSpan payload);
  Status send(const PeerAddress& peer, ByteSpan payload);
  void close_dealer(std::map<PeerAddress, std::unique_ptr<Dealer>>::iterator it);

  boost::asio::io_context& io;
  const TransportConfig config;
  const CurveKeyAuthorizer authorize;
  const MessageHandler on_message;
  crypto::CurveKeyPair curve;
  TransportCounters counters;
  std::string endpoint;
  // Declared before the sockets, so destroyed after them (zmq_ctx_term waits for them).
  zmq::context_t context{1};
  std::unique_ptr<WatchedSocket> zap;
  std::unique_ptr<WatchedSocket> router;
  std::map<PeerAddress, std::unique_ptr<Dealer>> dealers;
};

Status Transport::State::start(const crypto::SigningKey& key) {
  if (config.curve) {
    STARLING_ASSIGN_OR_RETURN(curve, key.curve_key_pair());
  }
  try {
    if (config.curve) start_zap();  // first: a ROUTER without a ZAP handler admits anyone
    start_router();
  } catch (const zmq::error_t& e) {
    return status_from(e, "transport: bind " + config.bind_endpoint);
  } catch (const std::exception& e) {
    return error(StatusCode::kInternal, std::string("transport: ") + e.what());
  }
  return Status::ok();
}

void Transport::State::start_zap() {
  zap = std::make_unique<WatchedSocket>();
  zap->socket = zmq::socket_t(context, zmq::socket_type::rep);
  zap->socket.set(zmq::sockopt::linger, 0);
  zap->socket.bind(internal::kZapEndpoint);
  zap->watch = std::make_unique<SocketWatch>(io, socket_fd(zap->socket), [this] {
    service_fixed(*zap, &State::answer_zap_request);
  });
  zap->watch->post_service();
}

void Transport::State::start_router() {
  router = std::make_unique<WatchedSocket>();
  router->socket = zmq::socket_t(context, zmq::socket_type::router);
  apply_common_options(router->socket, config);
  if (config.curve) {
    router->socket.set(zmq::sockopt::curve_server, true);
    router->socket.set(zmq::sockopt::curve_secretkey,
                       zmq::const_buffer(curve.secret_key.data(), curve.secret_key.size()));
    router->socket.set(zmq::sockopt::zap_domain, std::string(internal::kZapDomain));
  }
  router->socket.bind(config.bind_endpoint);
  endpoint = router->socket.get(zmq::sockopt::last_endpoint);
  router->watch = std::make_unique<SocketWatch>(io, socket_fd(router->socket), [this] {
    service_fixed(*router, &State::receive_from_router);
  });
  router->watch->post_service();
}

// Drains a ROUTER or ZAP socket: at most receive_batch_max messages, then yields to the loop.
void Transport::State::service_fixed(WatchedSocket& watched,
                                     void (State::*receive_one)(zmq::socket_t&)) {
  for (std::size_t handled = 0;; ++handled) {
    try {
      const int events = watched.socket.get(zmq::sockopt::events);
      if ((events & ZMQ_POLLIN) == 0) break;
      if (handled == config.receive_batch_max) {
        watched.watch->post_service();
        return;
      }
      (this->*receive_one)(watched.socket);
    } catch (const zmq::error_t&) {
      ++counters.socket_errors;
      break;
    }
  }
  watched.watch->arm();
}

void Transport::State::answer_zap_request(zmq::socket_t& socket) {
  std::vector<std::string> request;
  bool more = true;
  while (more) {
    zmq::message_t frame;
    if (!socket.recv(frame, zmq::recv_flags::dontwait)) return;
    request.emplace_back(frame_view(frame));
    more = frame.more();
  }
  internal::ZapVerdict verdict = internal::evaluate_zap_request(request, authorize);
  ++(verdict.accepted ? counters.zap_accepted : counters.zap_rejected);
  for (std::size_t i = 0; i < verdict.reply.size(); ++i) {
    const bool last = i + 1 == verdict.reply.size();
    const auto flags = last ? zmq::send_flags::dontwait
                            : zmq::send_flags::dontwait | zmq::send_flags::sndmore;
    if (!socket.send(zmq::buffer(verdict.reply[i]), flags)) {
      ++counters.socket_errors;  // the handshake then times out (handshake_timeout_ms)
      return;
    }
  }
}

void Transport::State::receive_from_router(zmq::socket_t& socket) {
  zmq::message_t routing_id;
  zmq::message_t payload;
  if (!socket.recv(routing_id, zmq::recv_flags::dontwait)) return;
  if (!routing_id.more() || !socket.recv(payload, zmq::recv_flags::dontwait)) {
    drop(DropReason::kBadFraming);
    return;
  }
  if (payload.more()) {
    discard_rest(socket, payload);
    drop(DropReason::kBadFraming);
    return;
  }
  std::string peer;
  if (config.curve) {
    const char* user_id = zmq_msg_gets(payload.handle(), "User-Id");
    if (user_id == nullptr || std::strlen(user_id) != kCurveKeyHexLength) {
      drop(DropReason::kUnknownPeer);
      return;
    }
    peer = user_id;
  } else {
    peer = std::string(kUnauthenticatedPrefix) +
           to_hex(ByteSpan(routing_id.data<std::uint8_t>(), routing_id.size()));
  }
  deliver(peer, payload);
}

void Transport::State::deliver(const std::string& peer, const zmq::message_t& payload) {
  if (payload.size() > config.message_bytes_max) {
    drop(DropReason::kTooLarge);
    return;
  }
  ++counters.messages_in;
  counters.bytes_in += payload.size();
  const auto* data = payload.data<std::uint8_t>();
  on_message(peer, Bytes(data, data + payload.size()));
}

Result<Dealer*> Transport::State::find_or_open(const PeerAddress& peer) {
  auto it = dealers.find(peer);
  if (it != dealers.end()) return it->second.get();
  return open_dealer(peer);
}

Result<Dealer*> Transport::State::open_dealer(const PeerAddress& peer) {
  auto dealer = std::make_unique<Dealer>();
  try {
    dealer->socket = zmq::socket_t(context, zmq::socket_type::dealer);
    configure_dealer(dealer->socket, peer);
    dealer->socket.connect(peer.endpoint);
    dealer->watch = std::make_unique<SocketWatch>(io, socket_fd(dealer->socket),
                                                  [this, peer] { service_dealer(peer); });
  } catch (const zmq::error_t& e) {
    return status_from(e, "transport: connect " + peer.endpoint);
  } catch (const std::exception& e) {
    return error(StatusCode::kInternal, std::string("transport: ") + e.what());
  }
  dealer->last_used = Clock::now();
  Dealer* raw = dealer.get();
  dealers.emplace(peer, std::move(dealer));
  ++counters.peers_opened;
  raw->watch->arm();
  return raw;
}

void Transport::State::configure_dealer(zmq::socket_t& socket, const PeerAddress& peer) {
  apply_common_options(socket, config);
  socket.set(zmq::sockopt::immediate, true);  // no queueing on a pipe with no live connection
  if (!config.curve) return;
  socket.set(zmq::sockopt::curve_serverkey,
             zmq::const_buffer(peer.curve_public.data(), peer.curve_public.size()));
  socket.set(zmq::sockopt::curve_publickey,
             zmq::const_buffer(curve.public_key.data(), curve.public_key.size()));
  socket.set(zmq::sockopt::curve_secretkey,
             zmq::const_buffer(curve.secret_key.data(), curve.secret_key.size()));
}

// Looks the DEALER up on every round, since a handler may close it while it is being drained.
void Transport::State::service_dealer(const PeerAddress& peer) {
  for (std::size_t handled = 0;;) {
    auto it = dealers.find(peer);
    if (it == dealers.end()) return;
    Dealer& dealer = *it->second;
    bool progressed = false;
    try {
      const int events = dealer.socket.get(zmq::sockopt::events);
      if ((events & ZMQ_POLLOUT) != 0) {
        dealer.connected = true;
        progressed = flush_backlog(dealer);
      }
      if ((events & ZMQ_POLLIN) != 0) {
        if (handled == config.receive_batch_max) {
          dealer.watch->post_service();
          return;
        }
        ++handled;
        progressed = true;
        receive_from_dealer(peer, dealer);  // may close `dealer`
      }
    } catch (const zmq::error_t&) {
      ++counters.socket_errors;
    }
    if (!progressed) break;
  }
  auto it = dealers.find(peer);
  if (it != dealers.end()) it->second->watch->arm();
}

// Sends what the connect backlog holds, in order, until ZeroMQ refuses one; returns whether it
// sent anything.
bool Transport::State::flush_backlog(Dealer& dealer) {
  bool sent = false;
  while (!dealer.backlog.empty() && try_send(dealer, dealer.backlog.front())) {
    dealer.backlog.pop_front();
    sent = true;
  }
  return sent;
}

// A peer's ROUTER does not normally answer on our DEALER, but whatever it sends is delivered
// (named by its Curve key, which the handshake proved) rather than left to fill the queue.
void Transport::State::receive_from_dealer(const PeerAddress& peer, Dealer& dealer) {
  zmq::message_t payload;
  if (!dealer.socket.recv(payload, zmq::recv_flags::dontwait)) return;
  if (payload.more()) {
    discard_rest(dealer.socket, payload);
    drop(DropReason::kBadFraming);
    return;
  }
  const std::string name = config.curve ? to_hex(peer.curve_public)
                                        : std::string(kUnauthenticatedPrefix) + peer.endpoint;
  deliver(name, payload);
}

// One non-blocking send; true when ZeroMQ took the message. Throws zmq::error_t.
// A send processes the socket's pending commands only about once per millisecond, so the queue
// may look full because the "peer has read" commands are still unread: on EAGAIN, ZMQ_EVENTS
// (which processes them) decides whether a second attempt can succeed.
bool Transport::State::try_send(Dealer& dealer, ByteSpan payload) {
  const auto buffer = zmq::buffer(payload.data(), payload.size());
  if (!dealer.socket.send(buffer, zmq::send_flags::dontwait)) {
    if ((dealer.socket.get(zmq::sockopt::events) & ZMQ_POLLOUT) == 0) return false;
    if (!dealer.socket.send(buffer, zmq::send_flags::dontwait)) return false;
  }
  ++counters.messages_out;
  counters.bytes_out += payload.size();
  return true;
}

Status Transport::State::send(const PeerAddress& peer, ByteSpan payload) {
  if (payload.size() > config.message_bytes_max) {
    drop(DropReason::kTooLarge);
    return error(StatusCode::kTooLarge, "transport: payload above message_bytes_max");
  }
  Result<Dealer*> found = find_or_open(peer);
  if (!found) {
    drop(DropReason::kUnknownPeer);
    return found.status();
  }
  Dealer& dealer = **found;
  dealer.last_used = Clock::now();
  bool taken = false;
  if (!dealer.connected || !dealer.backlog.empty()) {
    taken = dealer.backlog.size() < config.connect_backlog_messages_max;
    if (taken) dealer.backlog.emplace_back(payload.begin(), payload.end());
  } else {
    try {
      taken = try_send(dealer, payload);
    } catch (const zmq::error_t& e) {
      ++counters.socket_errors;
      return status_from(e, "transport: send to " + peer.endpoint);
    }
  }
  dealer.watch->post_service();  // the send may have consumed the edge; look at ZMQ_EVENTS
  if (taken) return Status::ok();
  drop(DropReason::kQueueFull);
  return error(StatusCode::kUnavailable, "transport: queue to " + peer.endpoint + " is full");
}

void Transport::State::close_dealer(std::map<PeerAddress, std::unique_ptr<Dealer>>::iterator it) {
  const std::size_t discarded = it->second->backlog.size();
  counters.dropped[static_cast<std::size_t>(DropReason::kPeerClosed)] += discarded;
  dealers.erase(it);  // the watch is released before the socket closes (member order)
  ++counters.peers_closed;
}

Transport::Transport(std::unique_ptr<State> state) : state_(std::move(state)) {}
Transport::Transport(Transport&&) noexcept = default;
Transport& Transport::operator=(Transport&&) noexcept = default;
Transport::~Transport() = default;

Result<Transport> Transport::open(boost::asio::io_context& io, const TransportConfig& config,
                                  const crypto::SigningKey& key, CurveKeyAuthorizer authorize,
                                  MessageHandler on_message) {
  STARLING_RETURN_IF_ERROR(config.validate());
  if (!on_message) return error(StatusCode::kInvalidArgument, "transport: no message handler");
  if (config.curve && !authorize) {
    return error(StatusCode::kInvalidArgument, "transport: curve needs an authorizer");
  }
  auto state = std::make_unique<State>(io, config, std::move(authorize), std::move(on_message));
  STARLING_RETURN_IF_ERROR(state->start(key));
  return Transport(std::move(state));
}

const std::string& Transport::endpoint() const { return state_->endpoint; }

const CurvePublicKey& Transport::curve_public_key() const { return state_->curve.public_key; }

Status Transport::send(const PeerAddress& peer, ByteSpan payload) {
  return state_->send(peer, payload);
}

Status Transport::connect(const PeerAddress& peer) {
  Result<Dealer*> found = state_->find_or_open(peer);
  if (!found) return found.status();
  (*found)->last_used = Clock::now();
  return Status::ok();
}

bool Transport::maybe_close_peer(const PeerAddress& peer) {
  auto it = state_->dealers.find(peer);
  if (it == state_->dealers.end()) return false;
  state_->close_dealer(it);
  return true;
}

std::size_t Transport::close_idle_peers(std::chrono::steady_clock::time_point now,
                                        std::chrono::milliseconds idle) {
  std::size_t closed = 0;
  for (auto it = state_->dealers.begin(); it != state_->dealers.end();) {
    auto next = std::next(it);
    if (now - it->second->last_used >= idle) {
      state_->close_dealer(it);
      ++closed;
    }
    it = next;
  }
  return closed;
}

std::size_t Transport::peer_count() const { return state_->dealers.size(); }

std::size_t Transport::backlog_messages() const {
  std::size_t total = 0;
  for (const auto& [peer, dealer] : state_->dealers) total += dealer->backlog.size();
  return total;
}

const TransportCounters& Transport::counters() const { return state_->counters; }

}  // namespace starling::runtime
