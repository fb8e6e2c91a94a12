// Tests of the Prometheus exposition (runtime::MetricsText, runtime::Histogram: golden text
// checks) and of runtime::MetricsServer over real TCP on 127.0.0.1 (and ::1 when the host has
// IPv6). The server and a small raw Asio client share one io_context on the test thread; waits
// run the loop until a condition holds or a bounded deadline passes, never sleep. The raw
// client plays well-behaved and misbehaving HTTP clients alike (garbage, oversize headers,
// silence, too many connections).
#include "agent/runtime/metrics.hpp"

#include <doctest/doctest.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/runtime/metrics_http.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling::runtime {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using Clock = std::chrono::steady_clock;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr auto kDeadline = 10s;

// ---------------------------------------------------------------------------------------------
// The text format.

TEST_CASE("metrics text groups the samples of a family under one HELP and TYPE") {
  MetricsText text;
  text.counter("starling_things_total", "Things seen.", 1, {{"kind", "x"}});
  text.gauge("starling_level", "The level.", 2.5);
  text.counter("starling_things_total", "Things seen.", std::uint64_t{3}, {{"kind", "y"}});
  text.gauge("starling_level_by_site", "The level by site.", -1,
             {{"site", "a"}, {"zone", "z1"}});
  CHECK(text.str() ==
        "# HELP starling_things_total Things seen.\n"
        "# TYPE starling_things_total counter\n"
        "starling_things_total{kind=\"x\"} 1\n"
        "starling_things_total{kind=\"y\"} 3\n"
        "# HELP starling_level The level.\n"
        "# TYPE starling_level gauge\n"
        "starling_level 2.5\n"
        "# HELP starling_level_by_site The level by site.\n"
        "# TYPE starling_level_by_site gauge\n"
        "starling_level_by_site{site=\"a\",zone=\"z1\"} -1\n");
  CHECK(text.duplicates_skipped() == 0);
}

TEST_CASE("empty metrics text renders nothing") { CHECK(MetricsText().str().empty()); }

TEST_CASE("metrics text escapes label values and help text") {
  MetricsText text;
  text.gauge("starling_peer_up", "Peer \"up\" state.\nOne line \\ per peer.", 1,
             {{"name", "gw\\1 \"north\"\nline2"}});
  // In HELP only backslash and line feed are escaped; in label values the double quote too.
  CHECK(text.str() ==
        "# HELP starling_peer_up Peer \"up\" state.\\nOne line \\\\ per peer.\n"
        "# TYPE starling_peer_up gauge\n"
        "starling_peer_up{name=\"gw\\\\1 \\\"north\\\"\\nline2\"} 1\n");
}

TEST_CASE("metrics text replaces invalid UTF-8 in label values") {
  MetricsText text;
  // Valid: e-acute (2 bytes), euro sign (3), an emoji (4). Invalid: a lone continuation byte,
  // an overlong '/', a UTF-16 surrogate, a truncated sequence at the end.
  text.gauge("starling_names", "Names.", 1, {{"ok", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x90\x9D"}});
  text.gauge("starling_names", "Names.", 2,
             {{"ok", "a\x80" "b\xC0\xAF" "c\xED\xA0\x80" "d\xE2\x82"}});
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(text.str() ==
        "# HELP starling_names Names.\n"
        "# TYPE starling_names gauge\n"
        "starling_names{ok=\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x90\x9D\"} 1\n"
        "starling_names{ok=\"a" + fffd + "b" + fffd + fffd + "c" + fffd + fffd + fffd + "d" +
            fffd + fffd + "\"} 2\n");
}

TEST_CASE("metrics text formats integers and floating-point values") {
  CHECK(MetricValue(0).str() == "0");
  CHECK(MetricValue(std::numeric_limits<std::uint64_t>::max()).str() == "18446744073709551615");
  CHECK(MetricValue(std::numeric_limits<std::int64_t>::min()).str() == "-9223372036854775808");
  CHECK(MetricValue(true).str() == "1");
  CHECK(MetricValue(0.1).str() == "0.1");
  CHECK(MetricValue(2.0).str() == "2");
  CHECK(MetricValue(1e21).str() == "1e+21");
  CHECK(MetricValue(1.5f).str() == "1.5");
  CHECK(MetricValue(std::nan("")).str() == "NaN");
  CHECK(MetricValue(std::numeric_limits<double>::infinity()).str() == "+Inf");
  CHECK(MetricValue(-std::numeric_limits<double>::infinity()).str() == "-Inf");
}

TEST_CASE("metrics text renders a histogram with cumulative buckets") {
  Histogram rtt({0.01, 0.1, 1});
  for (double v : {0.005, 0.05, 0.07, 0.5, 3.0}) rtt.observe(v);
  Histogram empty({0.01, 0.1, 1});
  Histogram only_inf({});
  only_inf.observe(7);

  MetricsText text;
  text.histogram("starling_probe_rtt_seconds", "Probe round-trip time.", rtt,
                 {{"transport", "zmq"}});
  text.counter("starling_probes_total", "Probes sent.", 5);
  text.histogram("starling_probe_rtt_seconds", "Probe round-trip time.", empty,
                 {{"transport", "sim"}});
  text.histogram("starling_one_bucket", "No bounds.", only_inf);
  CHECK(text.str() ==
        "# HELP starling_probe_rtt_seconds Probe round-trip time.\n"
        "# TYPE starling_probe_rtt_seconds histogram\n"
        "starling_probe_rtt_seconds_bucket{transport=\"zmq\",le=\"0.01\"} 1\n"
        "starling_probe_rtt_seconds_bucket{transport=\"zmq\",le=\"0.1\"} 3\n"
        "starling_probe_rtt_seconds_bucket{transport=\"zmq\",le=\"1\"} 4\n"
        "starling_probe_rtt_seconds_bucket{transport=\"zmq\",le=\"+Inf\"} 5\n"
        "starling_probe_rtt_seconds_sum{transport=\"zmq\"} 3.625\n"
        "starling_probe_rtt_seconds_count{transport=\"zmq\"} 5\n"
        "starling_probe_rtt_seconds_bucket{transport=\"sim\",le=\"0.01\"} 0\n"
        "starling_probe_rtt_seconds_bucket{transport=\"sim\",le=\"0.1\"} 0\n"
        "starling_probe_rtt_seconds_bucket{transport=\"sim\",le=\"1\"} 0\n"
        "starling_probe_rtt_seconds_bucket{transport=\"sim\",le=\"+Inf\"} 0\n"
        "starling_probe_rtt_seconds_sum{transport=\"sim\"} 0\n"
        "starling_probe_rtt_seconds_count{transport=\"sim\"} 0\n"
        "# HELP starling_probes_total Probes sent.\n"
        "# TYPE starling_probes_total counter\n"
        "starling_probes_total 5\n"
        "# HELP starling_one_bucket No bounds.\n"
        "# TYPE starling_one_bucket histogram\n"
        "starling_one_bucket_bucket{le=\"+Inf\"} 1\n"
        "starling_one_bucket_sum 7\n"
        "starling_one_bucket_count 1\n");
}

TEST_CASE("histogram counts a value equal to a bound in the bucket of that bound") {
  Histogram h({1, 2});
  h.observe(1);                                         // le="1": less than or equal
  h.observe(1.0000001);                                 // le="2"
  h.observe(-5);                                        // le="1"
  h.observe(std::numeric_limits<double>::infinity());  // le="+Inf" only
  h.observe(std::nan(""));                              // ignored
  CHECK(h.bucket_counts() == std::vector<std::uint64_t>{2, 1, 1});
  CHECK(h.count() == 4);
  CHECK(std::isinf(h.sum()));

  CHECK(Histogram::exponential_bounds(0.0001, 10, 8) ==
        std::vector<double>{0.0001, 0.001, 0.01, 0.1, 1, 10, 100, 1000});
  CHECK(Histogram::exponential_bounds(1, 2, 3) == std::vector<double>{1, 2, 4});
}

TEST_CASE("metrics text skips a duplicate label set and counts it") {
  MetricsText text;
  text.gauge("starling_peer", "Peers.", 1, {{"name", "gw-1"}, {"site", "a"}});
  text.gauge("starling_peer", "Peers.", 2, {{"site", "a"}, {"name", "gw-1"}});  // same set
  text.gauge("starling_peer", "Peers.", 3, {{"name", "gw-1"}, {"site", "b"}});
  text.gauge("starling_plain", "Plain.", 1);
  text.gauge("starling_plain", "Plain.", 2);
  CHECK(text.duplicates_skipped() == 2);
  CHECK(text.str() ==
        "# HELP starling_peer Peers.\n"
        "# TYPE starling_peer gauge\n"
        "starling_peer{name=\"gw-1\",site=\"a\"} 1\n"
        "starling_peer{name=\"gw-1\",site=\"b\"} 3\n"
        "# HELP starling_plain Plain.\n"
        "# TYPE starling_plain gauge\n"
        "starling_plain 1\n");
}

TEST_CASE("metric and label names are validated") {
  for (const char* name : {"a", "_a", ":a", "starling_messages_in_total", "job:rate5m", "A9"}) {
    INFO(name);
    CHECK(is_valid_metric_name(name));
  }
  for (const char* name : {"", "9a", "a-b", "a b", "a.b", "caf\xC3\xA9", "a{"}) {
    INFO(name);
    CHECK_FALSE(is_valid_metric_name(name));
  }
  for (const char* name : {"a", "_a", "reason", "le", "A_9"}) {
    INFO(name);
    CHECK(is_valid_label_name(name));
  }
  for (const char* name : {"", "9a", ":a", "a:b", "__name__", "__x", "a-b"}) {
    INFO(name);
    CHECK_FALSE(is_valid_label_name(name));
  }
}

// ---------------------------------------------------------------------------------------------
// The HTTP server.

// Runs `io` until `done()` holds or `limit` passes; returns done().
template <typename Predicate>
bool run_until(net::io_context& io, Predicate done, Clock::duration limit = kDeadline) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(10ms);
  }
  return true;
}

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

std::string lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// Parses the response at the start of `data` and removes it from `data`; nullopt while it is
// incomplete. A response to HEAD has no body whatever its Content-Length says.
std::optional<HttpResponse> take_response(std::string& data, bool head) {
  const auto header_end = data.find("\r\n\r\n");
  if (header_end == std::string::npos) return std::nullopt;
  HttpResponse response;
  const auto status_end = data.find("\r\n");
  const std::string status_line = data.substr(0, status_end);
  REQUIRE(status_line.starts_with("HTTP/1."));
  response.status = std::stoi(status_line.substr(9, 3));
  std::size_t pos = status_end + 2;
  while (pos < header_end) {
    const auto line_end = data.find("\r\n", pos);
    const std::string line = data.substr(pos, line_end - pos);
    const auto colon = line.find(':');
    REQUIRE(colon != std::string::npos);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    response.headers[lower(line.substr(0, colon))] = value;
    pos = line_end + 2;
  }
  const std::size_t length = head ? 0 : std::stoul(response.header("content-length"));
  const std::size_t body_start = header_end + 4;
  if (data.size() < body_start + length) return std::nullopt;
  response.body = data.substr(body_start, length);
  data.erase(0, body_start + length);
  return response;
}

std::string get(const std::string& target, const std::string& extra_headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers + "\r\n";
}

// A raw TCP client on the test's io_context. Its socket and buffers live in a Connection that
// the pending read shares, so that destroying the Client while a read is queued is safe.
class Client {
 public:
  Client(net::io_context& io, const tcp::endpoint& server)
      : io_(io), connection_(std::make_shared<Connection>(io)) {
    boost::system::error_code ec;
    // The kernel completes the handshake against the listen backlog: no loop needed.
    connection_->socket.connect(server, ec);
    REQUIRE_MESSAGE(!ec, ec.message());
    read_more(connection_);
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send(std::string bytes) {
    auto data = std::make_shared<std::string>(std::move(bytes));
    net::async_write(connection_->socket, net::buffer(*data),
                     [data](const boost::system::error_code&, std::size_t) {});
  }
  // Runs the loop until a whole response is in (returned), the server closed the connection
  // or the deadline passed (nullopt).
  std::optional<HttpResponse> next_response(bool head = false) {
    std::optional<HttpResponse> response;
    run_until(io_, [&] {
      response = take_response(connection_->received, head);
      return response.has_value() || connection_->closed;
    });
    if (!response) response = take_response(connection_->received, head);
    return response;
  }
  // Sends `request` and returns the response, failing the test when none arrives.
  HttpResponse exchange(const std::string& request, bool head = false) {
    send(request);
    auto response = next_response(head);
    REQUIRE(response.has_value());
    return *response;
  }
  // Runs the loop until the server closed the connection; returns whether it did in time.
  bool wait_closed() { return run_until(io_, [&] { return connection_->closed; }); }
  bool closed() const { return connection_->closed; }
  // Bytes received and not consumed by a response.
  const std::string& received() const { return connection_->received; }
  void close() {
    boost::system::error_code ignored;
    connection_->socket.close(ignored);
  }

 private:
  struct Connection {
    explicit Connection(net::io_context& io) : socket(io) {}
    tcp::socket socket;
    std::array<char, 4096> chunk{};
    std::string received;
    bool closed = false;  // the read ended: end of stream, reset, or closed here
  };

  static void read_more(const std::shared_ptr<Connection>& connection) {
    connection->socket.async_read_some(
        net::buffer(connection->chunk),
        [connection](const boost::system::error_code& ec, std::size_t n) {
          connection->received.append(connection->chunk.data(), n);
          if (ec) {
            connection->closed = true;
            return;
          }
          read_more(connection);
        });
  }

  net::io_context& io_;
  std::shared_ptr<Connection> connection_;
};

// A server on 127.0.0.1:0 whose renderer counts its calls.
struct Fixture {
  explicit Fixture(MetricsServerLimits limits = {}, std::string listen = "127.0.0.1:0") {
    auto opened = MetricsServer::open(
        io, listen,
        [this] {
          ++renders;
          if (throw_on_render) throw std::runtime_error("boom");
          return document;
        },
        limits);
    REQUIRE_OK(opened);
    server.emplace(std::move(opened).value());
  }
  tcp::endpoint endpoint() const {
    return tcp::endpoint(net::ip::address_v4::loopback(), server->port());
  }

  net::io_context io;
  std::optional<MetricsServer> server;
  std::string document = "# HELP up Up.\n# TYPE up gauge\nup 1\n";
  int renders = 0;
  bool throw_on_render = false;
};

TEST_CASE("metrics server answers GET /metrics with the rendered text") {
  Fixture f;
  CHECK(f.server->port() != 0);
  Client client(f.io, f.endpoint());
  const HttpResponse response = client.exchange(get("/metrics"));
  CHECK(response.status == 200);
  CHECK(response.header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(response.header("content-length") == std::to_string(f.document.size()));
  CHECK(response.body == f.document);
  CHECK(f.renders == 1);
  CHECK(f.server->counters().requests == 1);
  CHECK(f.server->counters().connections == 1);
  CHECK(f.server->counters().errors == 0);

  // Query parameters (Prometheus's scrape "params") do not change the path.
  CHECK(client.exchange(get("/metrics?format=text")).status == 200);
  CHECK(f.renders == 2);
}

TEST_CASE("metrics server answers the root path and 404 for other paths") {
  Fixture f;
  Client client(f.io, f.endpoint());
  const HttpResponse root = client.exchange(get("/"));
  CHECK(root.status == 200);
  CHECK(root.body.find("/metrics") != std::string::npos);
  for (const char* target : {"/metric", "/metrics/", "/favicon.ico", "/../metrics", "*"}) {
    INFO(target);
    CHECK(client.exchange(get(target)).status == 404);
  }
  CHECK(f.renders == 0);
  CHECK(f.server->counters().requests == 6);
  CHECK(f.server->counters().errors == 0);
}

TEST_CASE("metrics server answers other methods with 405") {
  Fixture f;
  Client client(f.io, f.endpoint());
  const HttpResponse post = client.exchange(
      "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  CHECK(post.status == 405);
  CHECK(post.header("allow") == "GET, HEAD");
  CHECK(client.exchange("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n").status == 405);
  CHECK(client.exchange("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").status == 405);
  CHECK(f.renders == 0);
  CHECK_FALSE(client.closed());
}

TEST_CASE("metrics server answers HEAD with the headers of GET and no body") {
  Fixture f;
  Client client(f.io, f.endpoint());
  const HttpResponse head =
      client.exchange("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", /*head=*/true);
  CHECK(head.status == 200);
  CHECK(head.header("content-length") == std::to_string(f.document.size()));
  // The next response follows at once: no body bytes were sent after the HEAD response.
  CHECK(client.exchange(get("/")).status == 200);
}

TEST_CASE("metrics server keeps a connection alive across requests") {
  Fixture f;
  Client client(f.io, f.endpoint());
  CHECK(client.exchange(get("/metrics")).body == f.document);
  CHECK(client.exchange(get("/metrics")).body == f.document);
  // Pipelined: both requests in one write, answered in order.
  client.send(get("/metrics") + get("/nope"));
  const auto first = client.next_response();
  const auto second = client.next_response();
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  CHECK(first->status == 200);
  CHECK(second->status == 404);
  CHECK(f.server->counters().connections == 1);
  CHECK(f.server->connection_count() == 1);

  // "Connection: close" gets its response, then the server closes.
  const HttpResponse last = client.exchange(get("/metrics", "Connection: close\r\n"));
  CHECK(last.status == 200);
  CHECK(client.wait_closed());
  CHECK(run_until(f.io, [&] { return f.server->connection_count() == 0; }));
  CHECK(f.server->counters().requests == 5);
  CHECK(f.server->counters().errors == 0);

  // HTTP/1.0 without keep-alive: one response, then close.
  Client old(f.io, f.endpoint());
  CHECK(old.exchange("GET /metrics HTTP/1.0\r\n\r\n").status == 200);
  CHECK(old.wait_closed());
}

TEST_CASE("metrics server answers garbage with 400 and closes the connection") {
  Fixture f;
  for (const std::string& garbage :
       {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n"s,  // a TLS hello
        std::string("GET /metrics HTTP/9.9\r\n\r\n"),
        std::string("GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n"),
        std::string("GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
        std::string("\r\n\r\n\r\n\r\n")}) {
    INFO(garbage);
    Client client(f.io, f.endpoint());
    client.send(garbage);
    const auto response = client.next_response();
    REQUIRE(response.has_value());
    CHECK(response->status == 400);
    CHECK(response->header("connection") == "close");
    CHECK(client.wait_closed());
  }
  CHECK(f.server->counters().errors == 5);
  CHECK(f.renders == 0);

  // The server is unharmed.
  Client after(f.io, f.endpoint());
  CHECK(after.exchange(get("/metrics")).status == 200);
}

TEST_CASE("metrics server refuses an oversize request header") {
  MetricsServerLimits limits;
  limits.header_bytes_max = 1024;
  Fixture f(limits);
  Client client(f.io, f.endpoint());
  client.send(get("/metrics", "X-Padding: " + std::string(4096, 'a') + "\r\n"));
  CHECK(client.wait_closed());
  // The server closes with the rest of the header unread, so the kernel may reset the
  // connection before the client has read the 431: check it only when it arrived.
  std::string received = client.received();
  if (auto response = take_response(received, false)) CHECK(response->status == 431);
  CHECK(f.server->counters().errors == 1);
  CHECK(f.renders == 0);

  // A body above the limit gets 413; one below it a 405 (no method here takes a body).
  limits.body_bytes_max = 16;
  Fixture g(limits);
  Client big(g.io, g.endpoint());
  big.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b'));
  const auto too_large = big.next_response();
  REQUIRE(too_large.has_value());
  CHECK(too_large->status == 413);
  CHECK(big.wait_closed());
}

TEST_CASE("metrics server drops a silent or trickling client after the timeout") {
  MetricsServerLimits limits;
  limits.timeout_ms = 100;
  Fixture f(limits);

  Client silent(f.io, f.endpoint());
  CHECK(silent.wait_closed());
  CHECK(silent.received().empty());
  // A connection that never started a request ends normally: not an error.
  CHECK(f.server->counters().errors == 0);

  Client trickle(f.io, f.endpoint());
  trickle.send("GET /metrics HTTP/1.1\r\nHost: x\r\n");  // never finished
  CHECK(trickle.wait_closed());
  CHECK(f.server->counters().errors == 1);

  // An idle keep-alive connection is closed after a response too.
  Client idle(f.io, f.endpoint());
  CHECK(idle.exchange(get("/metrics")).status == 200);
  CHECK(idle.wait_closed());
  CHECK(f.server->counters().errors == 1);
  CHECK(run_until(f.io, [&] { return f.server->connection_count() == 0; }));
}

TEST_CASE("metrics server closes connections beyond the limit at once") {
  MetricsServerLimits limits;
  limits.connections_max = 2;
  Fixture f(limits);
  Client first(f.io, f.endpoint());
  Client second(f.io, f.endpoint());
  CHECK(first.exchange(get("/metrics")).status == 200);
  CHECK(second.exchange(get("/metrics")).status == 200);
  CHECK(f.server->connection_count() == 2);

  Client third(f.io, f.endpoint());
  CHECK(third.wait_closed());
  CHECK(third.received().empty());
  CHECK(f.server->counters().rejected == 1);
  CHECK(f.server->counters().connections == 2);

  // Once a connection ends, a new one is served again.
  first.close();
  CHECK(run_until(f.io, [&] { return f.server->connection_count() == 1; }));
  Client fourth(f.io, f.endpoint());
  CHECK(fourth.exchange(get("/metrics")).status == 200);
  CHECK(second.exchange(get("/metrics")).status == 200);
}

TEST_CASE("metrics server answers 500 when the renderer throws") {
  Fixture f;
  f.throw_on_render = true;
  Client client(f.io, f.endpoint());
  const HttpResponse failed = client.exchange(get("/metrics"));
  CHECK(failed.status == 500);
  CHECK(failed.body.find("boom") != std::string::npos);
  CHECK(f.server->counters().errors == 1);
  f.throw_on_render = false;
  CHECK(client.exchange(get("/metrics")).status == 200);
}

TEST_CASE("metrics server closes its connections when destroyed") {
  Fixture f;
  Client idle(f.io, f.endpoint());
  CHECK(idle.exchange(get("/metrics")).status == 200);
  Client half(f.io, f.endpoint());
  half.send("GET /metrics HTTP/1.1\r\n");
  CHECK(run_until(f.io, [&] { return f.server->connection_count() == 2; }));
  const std::uint16_t port = f.server->port();

  f.server.reset();
  CHECK(idle.wait_closed());
  CHECK(half.wait_closed());
  CHECK(f.renders == 1);

  // The port is free again (the listening socket closed).
  auto again = MetricsServer::open(f.io, "127.0.0.1:" + std::to_string(port),
                                   [] { return std::string(); });
  CHECK_OK(again);
}

TEST_CASE("metrics server keeps serving after a move") {
  Fixture f;
  MetricsServer moved = std::move(*f.server);
  f.server.reset();  // destroying the moved-from object must not close anything
  Client client(f.io, tcp::endpoint(net::ip::address_v4::loopback(), moved.port()));
  CHECK(client.exchange(get("/metrics")).status == 200);
  CHECK(moved.counters().requests == 1);
}

TEST_CASE("metrics server accepts only loopback listen addresses") {
  for (const char* listen :
       {"127.0.0.1:0", "127.0.0.1:9464", "127.1.2.3:65535", "[::1]:9464", "localhost:9464"}) {
    INFO(listen);
    CHECK_OK(validate_metrics_listen(listen));
  }
  for (const char* listen :
       {"0.0.0.0:9464", "10.0.0.5:9464", "192.168.1.20:9464", "[::]:9464", "[fe80::1]:9464",
        "[2001:db8::1]:9464", "[::ffff:10.0.0.1]:9464", "example.com:9464"}) {
    INFO(listen);
    const Status status = validate_metrics_listen(listen);
    CHECK_CODE(status, StatusCode::kInvalidArgument);
  }
  for (const char* listen : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                             ":9464", "::1:9464", "[::1]", "[127.0.0.1]:9464", "127.0.0.1:9x"}) {
    INFO(listen);
    CHECK_CODE(validate_metrics_listen(listen), StatusCode::kInvalidArgument);
  }

  net::io_context io;
  const auto refused = MetricsServer::open(io, "0.0.0.0:0", [] { return std::string(); });
  CHECK_CODE(refused, StatusCode::kInvalidArgument);
  CHECK(refused.status().message().find("loopback") != std::string::npos);
  CHECK_CODE(MetricsServer::open(io, "10.1.2.3:9464", [] { return std::string(); }),
             StatusCode::kInvalidArgument);
}

TEST_CASE("metrics server rejects bad limits and a missing renderer") {
  net::io_context io;
  CHECK_CODE(MetricsServer::open(io, "127.0.0.1:0", nullptr), StatusCode::kInvalidArgument);
  MetricsServerLimits limits;
  limits.timeout_ms = 0;
  CHECK_CODE(MetricsServer::open(io, "127.0.0.1:0", [] { return std::string(); }, limits),
             StatusCode::kInvalidArgument);
  limits = {};
  limits.connections_max = 0;
  CHECK_CODE(limits.validate(), StatusCode::kInvalidArgument);
  limits = {};
  limits.header_bytes_max = 0;
  CHECK_CODE(limits.validate(), StatusCode::kInvalidArgument);
  CHECK_OK(MetricsServerLimits{}.validate());
}

TEST_CASE("metrics server reports a port in use as unavailable") {
  Fixture f;
  const auto second = MetricsServer::open(f.io, "127.0.0.1:" + std::to_string(f.server->port()),
                                          [] { return std::string(); });
  CHECK_CODE(second, StatusCode::kUnavailable);
}

TEST_CASE("metrics server listens on the IPv6 loopback") {
  net::io_context io;
  auto opened = MetricsServer::open(io, "[::1]:0", [] { return std::string("up 1\n"); });
  if (!opened.is_ok() && opened.status().code() == StatusCode::kUnavailable) {
    MESSAGE("no IPv6 loopback on this host: ", opened.status().to_string());
    return;
  }
  REQUIRE_OK(opened);
  Client client(io, tcp::endpoint(net::ip::address_v6::loopback(), opened->port()));
  const HttpResponse response = client.exchange(get("/metrics"));
  CHECK(response.status == 200);
  CHECK(response.body == "up 1\n");
}

}  // namespace
}  // namespace starling::runtime
