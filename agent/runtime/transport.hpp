// The agent's network transport over ZeroMQ: one ROUTER socket bound on the agent's address for
// everything peers send it, and one DEALER socket per peer, opened lazily on the first send and
// reused, with CurveZMQ encryption and a ZAP handler that admits only authorised client keys.
// Threading contract: a Transport belongs to the thread that runs its boost::asio::io_context;
// every call, every callback and every ZeroMQ socket stays on that thread, and nothing here is
// thread-safe by design (DESIGN.md section 4). No exception leaves this API: ZeroMQ errors are
// caught here and returned as Status or counted.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "crypto/keys.hpp"

namespace starling::runtime {

using CurvePublicKey = std::array<std::uint8_t, 32>;

// Called with every message that arrives. `peer` names the authenticated sender: under Curve,
// the 64-character lower-case hex of its X25519 public key (the ZAP User-Id), which the agent
// compares with crypto::curve_public_of(the envelope sender's Ed25519 key) before trusting the
// envelope; with curve off, "unauthenticated:" followed by the hex of the ZeroMQ routing id.
// REQUIRES: the handler does not throw and does not destroy the Transport; it may call send(),
// connect() and maybe_close_peer().
using MessageHandler = std::function<void(const std::string& peer, Bytes payload)>;

// Decides whether a client with this X25519 public key may connect (the agent checks the fleet
// certificate and the revocation list). Called on the loop thread during each handshake.
using CurveKeyAuthorizer = std::function<bool(const CurvePublicKey& curve_public)>;

struct TransportConfig {
  // Where the ROUTER listens, "tcp://HOST:PORT"; port 0 picks a free port (see endpoint()).
  // Loopback by default so that nothing is exposed unless the operator binds an address.
  std::string bind_endpoint = "tcp://127.0.0.1:0";
  // CurveZMQ encryption and ZAP authentication. false is for tests and debugging only: no
  // encryption, no authentication, peers are named by routing id, authorize is never called.
  bool curve = true;
  // Per-peer outbound queue (ZMQ_SNDHWM). A healthy peer has a handful of messages in flight;
  // 256 absorbs a few seconds of gossip to a slow peer while bounding memory, and a deeper
  // queue would only deliver staler messages later. Beyond it, sends are dropped and counted.
  int send_queue_messages_max = 256;
  // Per-connection inbound queue (ZMQ_RCVHWM): room for a burst from one peer while the loop
  // is busy; beyond it ZeroMQ stops reading that peer's TCP connection (back-pressure).
  int receive_queue_messages_max = 1024;
  // Messages held for a new DEALER until its first connection and handshake complete (with
  // ZMQ_IMMEDIATE ZeroMQ would refuse them). 32 covers a join and a probe burst; 0 disables.
  std::size_t connect_backlog_messages_max = 32;
  // The largest payload in either direction, as wire::WireLimits::message_bytes_max (keep them
  // equal). ZMQ_MAXMSGSIZE is set a little above it to leave room for CurveZMQ framing.
  std::size_t message_bytes_max = 4 * 1024 * 1024;
  // Messages handled per wakeup of one socket before yielding to the loop's other handlers,
  // so that a flood from peers cannot delay timers (a heartbeat must never be late).
  std::size_t receive_batch_max = 256;
  // First reconnection delay after a connection fails or drops (ZeroMQ's default): a peer that
  // restarts is reached again quickly.
  int reconnect_interval_ms = 100;
  // Cap of the exponential reconnection backoff: a dead peer costs one attempt per 2 s.
  int reconnect_interval_max_ms = 2000;
  // A connection must finish its handshake within this (ZMQ_HANDSHAKE_IVL, default 30 s), so a
  // client that connects and stays silent holds a session for 5 s at most.
  int handshake_timeout_ms = 5000;

  // kInvalidArgument naming the field when a value is out of range or bind_endpoint is not
  // "tcp://...". Transport::open runs it.
  Status validate() const;
};

// A peer as the transport reaches it: its ROUTER's endpoint and its X25519 public key (the
// CurveZMQ server key the DEALER must expect). With curve off the key is not used.
struct PeerAddress {
  std::string endpoint;
  CurvePublicKey curve_public{};

  // The address of a peer known by its Ed25519 identity key (converted with
  // crypto::curve_public_of); kInvalidArgument when the key is not a valid point.
  static Result<PeerAddress> from_identity(std::string endpoint, const crypto::PublicKey& key);

  friend auto operator<=>(const PeerAddress&, const PeerAddress&) = default;
};

// Why a message was dropped, in either direction.
enum class DropReason : std::uint8_t {
  kQueueFull = 0,     // outbound: the high-water mark or the connect backlog is full (would block)
  kUnknownPeer = 1,   // outbound: ZeroMQ refused the endpoint; inbound: no authenticated key
  kTooLarge = 2,      // the payload is above message_bytes_max
  kBadFraming = 3,    // inbound: not exactly one payload frame
  kPeerClosed = 4,    // outbound: still in the connect backlog when the peer's DEALER closed
};
inline constexpr std::size_t kDropReasonCount = 5;

// The stable lower_snake_case name ("queue_full"), for metrics labels.
std::string_view drop_reason_name(DropReason reason) noexcept;

// Monotonic counters since open(). Payload bytes only (no ZeroMQ or Curve framing).
struct TransportCounters {
  std::uint64_t messages_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t messages_out = 0;  // accepted by ZeroMQ for sending
  std::uint64_t bytes_out = 0;
  std::array<std::uint64_t, kDropReasonCount> dropped{};
  std::uint64_t zap_accepted = 0;  // handshakes the authorizer admitted
  std::uint64_t zap_rejected = 0;  // handshakes refused (unauthorised key or bad request)
  std::uint64_t peers_opened = 0;  // DEALER sockets created
  std::uint64_t peers_closed = 0;
  std::uint64_t socket_errors = 0;  // unexpected ZeroMQ errors while servicing sockets

  std::uint64_t dropped_for(DropReason reason) const {
    return dropped[static_cast<std::size_t>(reason)];
  }
};

class Transport {
 public:
  // Creates the ZeroMQ context, starts the ZAP handler (before binding, so that no client can
  // connect unauthenticated), binds the ROUTER and starts watching its sockets on `io`.
  // `key` is the device identity; its X25519 form is the CurveZMQ key pair. Errors: the
  // config's validate(), kInvalidArgument for a missing handler (or authorizer with curve on)
  // or an unusable bind endpoint, kUnavailable when the address is in use.
  // REQUIRES: `io` outlives the Transport; all use happens on the thread running `io`.
  static Result<Transport> open(boost::asio::io_context& io, const TransportConfig& config,
                                const crypto::SigningKey& key, CurveKeyAuthorizer authorize,
                                MessageHandler on_message);

  Transport(Transport&&) noexcept;
  Transport& operator=(Transport&&) noexcept;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  // Closes every socket at once (linger 0: queued outbound messages are discarded).
  ~Transport();

  // The ROUTER's actual endpoint (ZMQ_LAST_ENDPOINT), e.g. "tcp://127.0.0.1:41234".
  const std::string& endpoint() const;
  // This device's X25519 public key, the server key peers must use to reach it.
  const CurvePublicKey& curve_public_key() const;

  // Queues `payload` for `peer` without blocking, opening its DEALER on first use. Ok when
  // ZeroMQ (or the connect backlog of a DEALER still connecting) took the message; otherwise
  // the message is dropped, counted, and the Status says why: kTooLarge above
  // message_bytes_max, kInvalidArgument for an endpoint ZeroMQ refuses, kUnavailable when the
  // peer's queue is full or the peer, once connected, is unreachable. Ok is no delivery proof.
  Status send(const PeerAddress& peer, ByteSpan payload);
  // Opens the peer's DEALER now, so that the handshake runs before the first send.
  Status connect(const PeerAddress& peer);
  // Closes the peer's DEALER, discarding what it still queues; returns whether one was open.
  bool maybe_close_peer(const PeerAddress& peer);
  // Closes the DEALERs not used by send() or connect() since `now - idle`; returns how many.
  std::size_t close_idle_peers(std::chrono::steady_clock::time_point now,
                               std::chrono::milliseconds idle);

  // The number of open DEALERs.
  std::size_t peer_count() const;
  // Messages waiting in connect backlogs of DEALERs that have not connected yet.
  std::size_t backlog_messages() const;
  const TransportCounters& counters() const;


 private:
  struct State;  // defined in transport.cpp
  explicit Transport(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace starling::runtime
