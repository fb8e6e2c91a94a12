// Tests of runtime::Transport over real ZeroMQ on 127.0.0.1, and of its ZAP decision. Each test
// runs one io_context on the test thread (the transports' thread); waits run the loop until a
// condition holds or a bounded deadline passes, never sleep. Raw ZeroMQ and TCP sockets play
// misbehaving peers.
#include "agent/runtime/transport.hpp"

#include <doctest/doctest.h>

#include <zmq.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/runtime/internal/zap.hpp"
#include "base/rng.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"

namespace starling::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = 10s;

// Runs `io` until `done()` holds or `limit` passes; returns done().
template <typename Predicate>
bool run_until(boost::asio::io_context& io, Predicate done, Clock::duration limit = kDeadline) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(10ms);
  }
  return true;
}

// Runs `io` for `span`, to observe that something does NOT happen within it.
void run_for(boost::asio::io_context& io, Clock::duration span) {
  (void)run_until(io, [] { return false; }, span);
}

bool allow_all(const CurvePublicKey&) { return true; }

struct Received {
  std::string peer;
  Bytes payload;
};

// One agent's transport with an inbox. Not movable: the handler captures `this`.
struct Node {
  Node(boost::asio::io_context& io, std::uint64_t index, TransportConfig config = {},
       CurveKeyAuthorizer authorize = allow_all)
      : key(crypto::SigningKey::for_simulation(testing::test_seed(), index)) {
    auto opened = Transport::open(io, config, key, std::move(authorize),
                                  [this](const std::string& peer, Bytes payload) {
                                    inbox.push_back({peer, std::move(payload)});
                                  });
    REQUIRE_OK(opened);
    transport.emplace(std::move(opened).value());
  }
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  PeerAddress address() const {
    auto address = PeerAddress::from_identity(transport->endpoint(), key.public_key());
    REQUIRE_OK(address);
    return address.value();
  }
  std::string curve_hex() const { return to_hex(transport->curve_public_key()); }
  const TransportCounters& counters() const { return transport->counters(); }

  crypto::SigningKey key;
  std::vector<Received> inbox;
  std::optional<Transport> transport;
};

Bytes text_bytes(std::string_view text) {
  const ByteSpan span = as_bytes(text);
  return Bytes(span.begin(), span.end());
}

int port_of(const std::string& endpoint) {
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

// A port on 127.0.0.1 that nothing listens on (bound by the kernel, then released).
int dead_port(boost::asio::io_context& io) {
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

TransportConfig small_limit_config(bool curve) {
  TransportConfig config;
  config.curve = curve;
  config.message_bytes_max = 64 * 1024;
  return config;
}

}  // namespace

TEST_CASE("transport config: defaults validate and bad values are named") {
  CHECK_OK(TransportConfig{}.validate());
  TransportConfig config;
  config.bind_endpoint = "udp://127.0.0.1:1";
  CHECK_CODE(config.validate(), StatusCode::kInvalidArgument);
  config = {};
  config.send_queue_messages_max = 0;
  CHECK_CODE(config.validate(), StatusCode::kInvalidArgument);
  config = {};
  config.reconnect_interval_max_ms = 10;
  CHECK_CODE(config.validate(), StatusCode::kInvalidArgument);
  config = {};
  config.receive_batch_max = 0;
  CHECK(config.validate().message().find("receive_batch_max") != std::string::npos);
}

TEST_CASE("transport zap: admits authorised Curve keys only, with the hex key as user id") {
  CurvePublicKey key{};
  key[0] = 0xab;
  const std::string credential(key.begin(), key.end());
  const std::vector<std::string> request = {"1.0", "7", "starling", "127.0.0.1", "", "CURVE",
                                            credential};
  const auto accepted = internal::evaluate_zap_request(request, allow_all);
  CHECK(accepted.accepted);
  REQUIRE(accepted.reply.size() == 6);
  CHECK(accepted.reply[1] == "7");
  CHECK(accepted.reply[2] == "200");
  CHECK(accepted.reply[4] == to_hex(key));

  const auto refused = internal::evaluate_zap_request(
      request, [](const CurvePublicKey&) { return false; });
  CHECK_FALSE(refused.accepted);
  CHECK(refused.reply[2] == "400");

  auto plain = request;
  plain[5] = "PLAIN";
  CHECK(internal::evaluate_zap_request(plain, allow_all).reply[2] == "400");
  auto short_key = request;
  short_key[6] = "abc";
  CHECK(internal::evaluate_zap_request(short_key, allow_all).reply[2] == "400");
  const auto malformed = internal::evaluate_zap_request({"2.0"}, allow_all);
  CHECK_FALSE(malformed.accepted);
  CHECK(malformed.reply.size() == 6);
  CHECK(malformed.reply[2] == "500");
}

TEST_CASE("transport open: port 0 reports the real port, a taken port or bad input fails") {
  boost::asio::io_context io;
  Node node(io, 1);
  const std::string& endpoint = node.transport->endpoint();
  CHECK(endpoint.rfind("tcp://127.0.0.1:", 0) == 0);
  CHECK(port_of(endpoint) > 0);

  TransportConfig taken;
  taken.bind_endpoint = endpoint;
  auto again = Transport::open(io, taken, node.key, allow_all, [](const std::string&, Bytes) {});
  CHECK_CODE(again, StatusCode::kUnavailable);

  TransportConfig bad_host;
  bad_host.bind_endpoint = "tcp://no such host:0";
  auto bad = Transport::open(io, bad_host, node.key, allow_all, [](const std::string&, Bytes) {});
  CHECK_FALSE(bad.is_ok());
  auto no_handler = Transport::open(io, TransportConfig{}, node.key, allow_all, nullptr);
  CHECK_CODE(no_handler, StatusCode::kInvalidArgument);
  auto no_authorizer = Transport::open(io, TransportConfig{}, node.key, nullptr,
                                       [](const std::string&, Bytes) {});
  CHECK_CODE(no_authorizer, StatusCode::kInvalidArgument);
}

TEST_CASE("transport curve: two transports exchange messages both ways, named by their keys") {
  boost::asio::io_context io;
  std::vector<CurvePublicKey> authorised_at_b;
  Node a(io, 1);
  Node b(io, 2, {}, [&](const CurvePublicKey& key) {
    authorised_at_b.push_back(key);
    return true;
  });
  // The first message to a new peer waits in the connect backlog, not dropped by IMMEDIATE.
  REQUIRE_OK(a.transport->send(b.address(), text_bytes("hello b")));
  REQUIRE(run_until(io, [&] { return b.inbox.size() == 1; }));
  REQUIRE_OK(b.transport->send(a.address(), text_bytes("hello a")));
  REQUIRE(run_until(io, [&] { return a.inbox.size() == 1; }));

  CHECK(b.inbox[0].payload == text_bytes("hello b"));
  CHECK(a.inbox[0].payload == text_bytes("hello a"));
  // The ROUTER names the sender by the key the ZAP handler admitted: its identity's X25519 form.
  const auto a_curve = crypto::curve_public_of(a.key.public_key());
  REQUIRE_OK(a_curve);
  CHECK(b.inbox[0].peer == to_hex(a_curve.value()));
  CHECK(a.inbox[0].peer == b.curve_hex());
  REQUIRE_FALSE(authorised_at_b.empty());
  CHECK(authorised_at_b.front() == a_curve.value());
  CHECK(b.counters().zap_accepted >= 1);
  CHECK(a.counters().messages_out == 1);
  CHECK(a.counters().bytes_out == 7);
  CHECK(b.counters().messages_in == 1);
  CHECK(b.counters().bytes_in == 7);
  CHECK(a.transport->peer_count() == 1);
  CHECK(a.transport->backlog_messages() == 0);
}

TEST_CASE("transport curve: a client whose key is refused gets nothing delivered") {
  boost::asio::io_context io;
  Node client(io, 1);
  Node server(io, 2, {}, [](const CurvePublicKey&) { return false; });
  for (int i = 0; i < 3; ++i) {
    CHECK_OK(client.transport->send(server.address(), text_bytes("let me in")));
  }
  REQUIRE(run_until(io, [&] { return server.counters().zap_rejected >= 1; }));
  run_for(io, 300ms);
  CHECK(server.inbox.empty());
  CHECK(server.counters().messages_in == 0);
  CHECK(server.counters().zap_accepted == 0);
  CHECK(client.counters().messages_out == 0);  // never connected: still in the backlog
  CHECK(client.transport->backlog_messages() == 3);
  CHECK(client.transport->maybe_close_peer(server.address()));
  CHECK(client.counters().dropped_for(DropReason::kPeerClosed) == 3);
}

TEST_CASE("transport send: a dead port never blocks and what cannot be queued is dropped") {
  boost::asio::io_context io;
  Node node(io, 1);
  const auto dead = PeerAddress::from_identity(
      "tcp://127.0.0.1:" + std::to_string(dead_port(io)), node.key.public_key());
  REQUIRE_OK(dead);
  const auto started = Clock::now();
  int accepted = 0;
  for (int i = 0; i < 100; ++i) {
    const Status sent = node.transport->send(dead.value(), text_bytes("anyone?"));
    if (sent.is_ok()) {
      ++accepted;
    } else {
      CHECK_CODE(sent, StatusCode::kUnavailable);
    }
  }
  CHECK(Clock::now() - started < 1s);
  run_for(io, 200ms);
  const std::size_t backlog = TransportConfig{}.connect_backlog_messages_max;
  CHECK(accepted == static_cast<int>(backlog));
  CHECK(node.counters().dropped_for(DropReason::kQueueFull) == 100 - backlog);
  CHECK(node.transport->backlog_messages() == backlog);
  CHECK(node.counters().messages_out == 0);
  CHECK(node.transport->maybe_close_peer(dead.value()));
  CHECK(node.counters().dropped_for(DropReason::kPeerClosed) == backlog);
  CHECK(node.transport->peer_count() == 0);
  CHECK_FALSE(node.transport->maybe_close_peer(dead.value()));
}

TEST_CASE("transport send: a peer that goes away after connecting never blocks the sender") {
  boost::asio::io_context io;
  Node a(io, 1);
  std::optional<Node> b;
  b.emplace(io, 2);
  const PeerAddress b_address = b->address();
  REQUIRE_OK(a.transport->send(b_address, text_bytes("first")));
  REQUIRE(run_until(io, [&] { return b->inbox.size() == 1; }));
  b.reset();
  const auto started = Clock::now();
  int accepted = 0;
  for (int i = 0; i < 2000; ++i) accepted += a.transport->send(b_address, text_bytes("x")).is_ok();
  CHECK(Clock::now() - started < 1s);
  const auto& counters = a.counters();
  CHECK(counters.messages_out == static_cast<std::uint64_t>(accepted) + 1);
  const auto refused = 2000 - static_cast<std::uint64_t>(accepted);
  CHECK(counters.dropped_for(DropReason::kQueueFull) == refused);
  CHECK(accepted <= 2 * TransportConfig{}.send_queue_messages_max);
}

TEST_CASE("transport send: exactly the size limit passes under Curve, one byte more is refused") {
  boost::asio::io_context io;
  Node a(io, 1, small_limit_config(true));
  Node b(io, 2, small_limit_config(true));
  const std::size_t limit = small_limit_config(true).message_bytes_max;
  REQUIRE_OK(a.transport->send(b.address(), Bytes(limit, 0x5a)));
  CHECK_CODE(a.transport->send(b.address(), Bytes(limit + 1, 0x5a)), StatusCode::kTooLarge);
  REQUIRE(run_until(io, [&] { return b.inbox.size() == 1; }));
  CHECK(b.inbox[0].payload.size() == limit);
  CHECK(a.counters().dropped_for(DropReason::kTooLarge) == 1);
}

TEST_CASE("transport router: garbage TCP bytes do not crash a Curve server") {
  boost::asio::io_context io;
  Node a(io, 1);
  Node b(io, 2);
  const auto target = boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                     port_of(b.transport->endpoint()));
  Rng rng(testing::test_seed());
  INFO("seed ", testing::test_seed());
  std::vector<std::uint8_t> greeting(64, 0);  // a ZMTP 3.0 greeting asking for CURVE
  greeting[0] = 0xff;
  greeting[9] = 0x7f;
  greeting[10] = 3;
  std::memcpy(greeting.data() + 12, "CURVE", 5);
  for (int round = 0; round < 4; ++round) {
    boost::asio::ip::tcp::socket raw(io);
    raw.connect(target);
    std::vector<std::uint8_t> bytes = round % 2 == 0 ? greeting : std::vector<std::uint8_t>{};
    for (int i = 0; i < 4096; ++i) bytes.push_back(static_cast<std::uint8_t>(rng.next_u64()));
    boost::asio::write(raw, boost::asio::buffer(bytes));
    run_for(io, 50ms);
  }
  REQUIRE_OK(a.transport->send(b.address(), text_bytes("still there?")));
  REQUIRE(run_until(io, [&] { return b.inbox.size() == 1; }));
  CHECK(b.inbox[0].payload == text_bytes("still there?"));
  CHECK(b.counters().messages_in == 1);
}

TEST_CASE("transport router: bad framing and oversized frames from an admitted raw client") {
  boost::asio::io_context io;
  Node server(io, 1, small_limit_config(true));
  Node honest(io, 2, small_limit_config(true));
  const auto client_keys = crypto::SigningKey::for_simulation(testing::test_seed(), 3)
                               .curve_key_pair();
  REQUIRE_OK(client_keys);
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  const CurvePublicKey& server_key = server.transport->curve_public_key();
  raw.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server_key.data(), 32));
  raw.set(zmq::sockopt::curve_publickey, zmq::const_buffer(client_keys->public_key.data(), 32));
  raw.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(client_keys->secret_key.data(), 32));
  raw.connect(server.transport->endpoint());

  raw.send(zmq::str_buffer("one"), zmq::send_flags::sndmore);
  raw.send(zmq::str_buffer("two"), zmq::send_flags::none);
  raw.send(zmq::message_t(), zmq::send_flags::none);  // an empty payload is still a payload
  REQUIRE(run_until(io, [&] { return server.inbox.size() == 1; }));
  CHECK(server.counters().dropped_for(DropReason::kBadFraming) == 1);
  CHECK(server.inbox[0].payload.empty());
  CHECK(server.inbox[0].peer == to_hex(client_keys->public_key));

  // Far above ZMQ_MAXMSGSIZE: ZeroMQ drops the connection before anything reaches us.
  raw.send(zmq::message_t(std::string(1024 * 1024, 'x')), zmq::send_flags::none);
  run_for(io, 200ms);
  CHECK(server.inbox.size() == 1);
  REQUIRE_OK(honest.transport->send(server.address(), text_bytes("after")));
  REQUIRE(run_until(io, [&] { return server.inbox.size() == 2; }));
  CHECK(server.inbox[1].payload == text_bytes("after"));
}

TEST_CASE("transport router: with curve off, raw garbage is counted and peers are unnamed") {
  boost::asio::io_context io;
  Node server(io, 1, small_limit_config(false));
  const std::size_t limit = small_limit_config(false).message_bytes_max;
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(server.transport->endpoint());
  // Just above the payload limit but within ZMQ_MAXMSGSIZE's framing slack: counted by us.
  raw.send(zmq::message_t(std::string(limit + 10, 'y')), zmq::send_flags::none);
  raw.send(zmq::str_buffer("ok"), zmq::send_flags::none);
  REQUIRE(run_until(io, [&] { return server.inbox.size() == 1; }));
  CHECK(server.counters().dropped_for(DropReason::kTooLarge) == 1);
  CHECK(server.inbox[0].payload == text_bytes("ok"));
  CHECK(server.inbox[0].peer.rfind("unauthenticated:", 0) == 0);
  CHECK(server.counters().zap_accepted + server.counters().zap_rejected == 0);

  raw.send(zmq::message_t(std::string(4 * limit, 'z')), zmq::send_flags::none);
  run_for(io, 200ms);
  Node client(io, 2, small_limit_config(false));
  REQUIRE_OK(client.transport->send(server.address(), text_bytes("after")));
  REQUIRE(run_until(io, [&] { return server.inbox.size() == 2; }));
  CHECK(server.inbox[1].payload == text_bytes("after"));
}

TEST_CASE("transport order: 10000 messages arrive complete and in order") {
  boost::asio::io_context io;
  Node a(io, 1);
  Node b(io, 2);
  constexpr std::uint32_t kCount = 10000;
  // In flight at most: the default high-water mark (256) less the 128 messages by which
  // ZeroMQ's view of the reader's progress can lag (it is reported in steps of hwm / 2).
  constexpr std::uint32_t kWindow = 128;
  const PeerAddress b_address = b.address();
  // Connect first: until the handshake completes only the connect backlog takes messages.
  REQUIRE_OK(a.transport->send(b_address, text_bytes("hello")));
  REQUIRE(run_until(io, [&] { return b.inbox.size() == 1; }));
  b.inbox.clear();
  std::uint32_t next = 0;
  const bool done = run_until(io, [&] {
    while (next < kCount && next - b.inbox.size() < kWindow) {
      Bytes payload(64, 0);
      std::memcpy(payload.data(), &next, sizeof next);
      if (!a.transport->send(b_address, payload).is_ok()) break;
      ++next;
    }
    return b.inbox.size() == kCount;
  }, 60s);
  REQUIRE(done);
  for (std::uint32_t i = 0; i < kCount; ++i) {
    std::uint32_t sequence = 0;
    std::memcpy(&sequence, b.inbox[i].payload.data(), sizeof sequence);
    REQUIRE(sequence == i);
  }
  const auto& counters = a.counters();
  for (std::size_t reason = 0; reason < kDropReasonCount; ++reason) {
    CHECK(counters.dropped[reason] == 0);
  }
  CHECK(counters.messages_out == kCount + 1);
  CHECK(b.counters().messages_in == kCount + 1);
}

TEST_CASE("transport handler: may send from inside the callback (ping-pong)") {
  boost::asio::io_context io;
  const auto a_key = crypto::SigningKey::for_simulation(testing::test_seed(), 1);
  const auto b_key = crypto::SigningKey::for_simulation(testing::test_seed(), 2);
  std::optional<Transport> a;
  std::optional<Transport> b;
  std::optional<PeerAddress> a_address;
  std::optional<PeerAddress> b_address;
  int pongs = 0;
  auto opened_a = Transport::open(io, {}, a_key, allow_all, [&](const std::string&, Bytes p) {
    if (++pongs < 100) CHECK_OK(a->send(*b_address, p));
  });
  auto opened_b = Transport::open(io, {}, b_key, allow_all, [&](const std::string&, Bytes p) {
    CHECK_OK(b->send(*a_address, p));
  });
  REQUIRE_OK(opened_a);
  REQUIRE_OK(opened_b);
  a.emplace(std::move(opened_a).value());
  b.emplace(std::move(opened_b).value());
  a_address = PeerAddress::from_identity(a->endpoint(), a_key.public_key()).value();
  b_address = PeerAddress::from_identity(b->endpoint(), b_key.public_key()).value();
  REQUIRE_OK(a->send(*b_address, text_bytes("ping")));
  REQUIRE(run_until(io, [&] { return pongs == 100; }));
  CHECK(a->counters().messages_out == 100);
  CHECK(b->counters().messages_out == 100);
}

TEST_CASE("transport peers: idle DEALERs close and reopen on the next send") {
  boost::asio::io_context io;
  Node a(io, 1);
  Node b(io, 2);
  REQUIRE_OK(a.transport->connect(b.address()));
  CHECK(a.transport->peer_count() == 1);
  CHECK(a.transport->close_idle_peers(Clock::now(), 1h) == 0);
  CHECK(a.transport->close_idle_peers(Clock::now() + 2h, 1h) == 1);
  CHECK(a.transport->peer_count() == 0);
  REQUIRE_OK(a.transport->send(b.address(), text_bytes("back")));
  REQUIRE(run_until(io, [&] { return b.inbox.size() == 1; }));
  CHECK(a.counters().peers_opened == 2);
  CHECK(a.counters().peers_closed == 1);
}

}  // namespace starling::runtime
