// The scrape endpoint's HTTP server (see metrics_http.hpp), on Boost.Beast. Every function here
// runs on the io_context's thread. Asio and Beast report errors through error codes in this
// file; every completion handler also catches std::exception (std::bad_alloc, an exception from
// the renderer), counts it in errors and closes the connection, so that nothing propagates out
// of io_context::run().
//
// Lifetimes: the server's State and each connection's Session are shared with the completion
// handlers queued on the loop (each handler holds a shared_ptr), because Beast's composed
// operations touch their buffers and parser when they complete, even with an error. Closing
// (the MetricsServer's destructor) closes every socket and marks the state closed; the queued
// handlers then run with operation_aborted, see the mark, do nothing and release their share.
// The State keeps only weak_ptrs to its Sessions, so nothing forms a cycle.
#include "agent/runtime/metrics_http.hpp"
#include "agent/runtime/internal/port.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <cerrno>
#include <chrono>
#include <exception>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>

namespace starling::runtime {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// The media type of the text exposition format, version 0.0.4.
constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kTextContentType = "text/plain; charset=utf-8";
constexpr std::string_view kServerName = "starling";
// Above this a header or body limit would only make it easier to exhaust memory.
constexpr std::size_t kLimitBytesMax = 1024 * 1024;
// After a failed accept (EMFILE, ENFILE, ENOBUFS), which would fail again at once: a pause
// instead of a busy loop, short enough that scrapes resume quickly once descriptors free up.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

constexpr std::string_view kListenExample = "127.0.0.1:PORT or [::1]:PORT";

using internal::is_port;

std::uint16_t parse_port(std::string_view text) { return internal::parse_port(text).value_or(0); }

// The endpoint to bind for `listen`, or kInvalidArgument saying why it is not acceptable.
Result<tcp::endpoint> parse_listen(std::string_view listen) {
  const std::string quoted = "metrics listen address '" + std::string(listen) + "'";
  const auto invalid = [&](std::string_view why) {
    return error(StatusCode::kInvalidArgument, quoted + " " + std::string(why));
  };
  const auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || !is_port(listen.substr(colon + 1))) {
    return invalid("must be " + std::string(kListenExample) + " (port 0 picks a free port)");
  }
  const std::string host(listen.substr(0, colon));
  const std::uint16_t port = parse_port(listen.substr(colon + 1));
  const auto not_loopback = [&] {
    return invalid("is not on a loopback address (127.0.0.0/8, [::1] or localhost): metrics "
                   "must never be reachable from the network");
  };
  if (host == "localhost") return tcp::endpoint(net::ip::address_v4::loopback(), port);
  boost::system::error_code ec;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    const auto address = net::ip::make_address_v6(host.substr(1, host.size() - 2), ec);
    if (ec) return invalid("has no valid IPv6 address between the brackets");
    if (!address.is_loopback()) return not_loopback();
    return tcp::endpoint(address, port);
  }
  if (host.find(':') != std::string::npos) {
    return invalid("must put an IPv6 address in brackets, as in [::1]:PORT");
  }
  const auto address = net::ip::make_address_v4(host, ec);
  if (ec) return invalid("must be " + std::string(kListenExample));
  if (!address.is_loopback()) return not_loopback();
  return tcp::endpoint(address, port);
}

Status status_from(const boost::system::error_code& ec, const std::string& what) {
  StatusCode code = StatusCode::kInternal;
  const bool not_available =
      ec.category() == boost::system::system_category() && ec.value() == EADDRNOTAVAIL;
  if (ec == net::error::address_in_use || not_available ||
      ec == net::error::address_family_not_supported) {
    code = StatusCode::kUnavailable;
  } else if (ec == net::error::access_denied) {
    code = StatusCode::kPermissionDenied;
  }
  return error(code, what + ": " + ec.message());
}

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

Status MetricsServerLimits::validate() const {
  auto invalid = [](const std::string& what) {
    return error(StatusCode::kInvalidArgument, "metrics server limits: " + what);
  };
  if (header_bytes_max == 0 || header_bytes_max > kLimitBytesMax) {
    return invalid("header_bytes_max must be in 1..1048576");
  }
  if (body_bytes_max > kLimitBytesMax) return invalid("body_bytes_max must be at most 1048576");
  if (timeout_ms <= 0) return invalid("timeout_ms must be positive");
  if (connections_max == 0) return invalid("connections_max must be positive");
  return Status::ok();
}

Status validate_metrics_listen(std::string_view listen) { return parse_listen(listen).status(); }

struct MetricsServer::State : std::enable_shared_from_this<State> {
  struct Session;

  State(net::io_context& io_in, MetricsRenderer render_in, const MetricsServerLimits& limits_in)
      : render(std::move(render_in)), limits(limits_in), acceptor(io_in), accept_retry(io_in) {}

  Status bind(const tcp::endpoint& endpoint);
  void accept();
  void on_accept(const beast::error_code& ec, tcp::socket socket);
  void retry_accept_later();
  void start_session(tcp::socket socket);
  void close() noexcept;

  MetricsRenderer render;
  const MetricsServerLimits limits;
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;
  MetricsServerCounters counters;
  std::uint16_t port = 0;
  bool closed = false;
  std::uint64_t next_session_id = 0;
  std::map<std::uint64_t, std::weak_ptr<Session>> sessions;  // the open connections
};

// One connection: reads a request, writes its response, and repeats while the client keeps
// the connection alive.
struct MetricsServer::State::Session : std::enable_shared_from_this<Session> {
  Session(std::shared_ptr<State> server_in, tcp::socket socket, std::uint64_t id_in)
      : server(std::move(server_in)),
        stream(std::move(socket)),
        id(id_in),
        buffer(server->limits.header_bytes_max + server->limits.body_bytes_max) {}

  void read_request();
  void on_read(const beast::error_code& ec);
  void answer();
  void reply_error(http::status status, std::string_view body);
  void write(bool close_after);
  void on_write(const beast::error_code& ec, bool close_after);
  std::string render_metrics(http::status& status);
  void set_body(http::status status, std::string_view content_type, std::string body);
  void close() noexcept;

  std::chrono::milliseconds timeout() const {
    return std::chrono::milliseconds(server->limits.timeout_ms);
  }

  const std::shared_ptr<State> server;
  beast::tcp_stream stream;
  const std::uint64_t id;
  beast::flat_buffer buffer;  // may hold the start of a pipelined next request
  std::optional<http::request_parser<http::string_body>> parser;  // one per request
  http::response<http::string_body> response;
  bool closed = false;
};

Status MetricsServer::State::bind(const tcp::endpoint& endpoint) {
  const std::string what = "metrics: listen on " + endpoint.address().to_string() + " port " +
                           std::to_string(endpoint.port());
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return status_from(ec, what);
  // So that a restarted agent can bind again while old connections sit in TIME_WAIT.
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return status_from(ec, what);
  acceptor.bind(endpoint, ec);
  if (ec) return status_from(ec, what);
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return status_from(ec, what);
  const tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return status_from(ec, what);
  port = bound.port();
  return Status::ok();
}

void MetricsServer::State::accept() {
  try {
    acceptor.async_accept(
        [self = shared_from_this()](const beast::error_code& ec, tcp::socket socket) {
          self->on_accept(ec, std::move(socket));
        });
  } catch (const std::exception&) {
    ++counters.errors;
    retry_accept_later();
  }
}

void MetricsServer::State::retry_accept_later() {
  try {
    accept_retry.expires_after(kAcceptRetryDelay);
    accept_retry.async_wait([self = shared_from_this()](const beast::error_code& ec) {
      if (self->closed || ec) return;
      self->accept();
    });
  } catch (const std::exception&) {
    ++counters.errors;  // nothing left to try: the endpoint stops accepting
  }
}

void MetricsServer::State::on_accept(const beast::error_code& ec, tcp::socket socket) {
  if (closed) return;  // `socket`, if any, closes as it goes out of scope
  if (ec) {
    ++counters.errors;
    retry_accept_later();
    return;
  }
  if (sessions.size() >= limits.connections_max) {
    ++counters.rejected;
    boost::system::error_code ignored;
    socket.close(ignored);
  } else {
    start_session(std::move(socket));
  }
  accept();
}

void MetricsServer::State::start_session(tcp::socket socket) {
  try {
    const std::uint64_t id = next_session_id++;
    auto session = std::make_shared<Session>(shared_from_this(), std::move(socket), id);
    sessions.emplace(id, session);
    ++counters.connections;
    session->read_request();
  } catch (const std::exception&) {
    ++counters.errors;  // the session, if made, closed itself or is released here
  }
}

void MetricsServer::State::close() noexcept {
  if (closed) return;
  closed = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  try {
    accept_retry.cancel();
  } catch (const std::exception&) {
    // The timer's handler sees `closed` and does nothing anyway.
  }
  auto open = std::move(sessions);
  sessions.clear();
  for (auto& [id, weak] : open) {
    if (auto session = weak.lock()) session->close();
  }
  render = nullptr;  // what it captured may die with the MetricsServer's owner
}

void MetricsServer::State::Session::read_request() {
  try {
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(server->limits.header_bytes_max));
    parser->body_limit(static_cast<std::uint64_t>(server->limits.body_bytes_max));
    // One deadline for the whole request: a client trickling bytes cannot extend it.
    stream.expires_after(timeout());
    http::async_read(stream, buffer, *parser,
                     [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
                       self->on_read(ec);
                     });
  } catch (const std::exception&) {
    ++server->counters.errors;
    close();
  }
}

void MetricsServer::State::Session::on_read(const beast::error_code& ec) {
  if (closed) return;
  try {
    if (!ec) {
      answer();
      return;
    }
    if (ec == http::error::header_limit ||
        (ec == http::error::buffer_overflow && !parser->is_header_done())) {
      reply_error(http::status::request_header_fields_too_large,
                  "request header fields too large\n");
      return;
    }
    if (ec == http::error::body_limit || ec == http::error::buffer_overflow) {
      reply_error(http::status::payload_too_large, "payload too large\n");
      return;
    }
    if (is_http_parse_error(ec)) {
      reply_error(http::status::bad_request, "bad request\n");
      return;
    }
    // End of stream, timeout, reset: an error only if a request had begun. A client closing
    // between requests, or an idle keep-alive connection timing out, is the normal end.
    if (parser->got_some() || buffer.size() > 0) ++server->counters.errors;
    close();
  } catch (const std::exception&) {
    ++server->counters.errors;
    close();
  }
}

// Builds the response to the request in *parser and writes it.
void MetricsServer::State::Session::answer() {
  const http::request<http::string_body>& request = parser->get();
  const bool head = request.method() == http::verb::head;
  std::string_view target(request.target().data(), request.target().size());
  target = target.substr(0, target.find('?'));  // Prometheus may add scrape parameters

  response = {};
  response.version(request.version());
  if (request.method() != http::verb::get && !head) {
    set_body(http::status::method_not_allowed, kTextContentType, "method not allowed\n");
    response.set(http::field::allow, "GET, HEAD");
  } else if (target == "/metrics") {
    http::status status = http::status::ok;
    std::string body = render_metrics(status);
    set_body(status, status == http::status::ok ? kMetricsContentType : kTextContentType,
             std::move(body));
  } else if (target == "/") {
    set_body(http::status::ok, kTextContentType,
             "Starling agent. Prometheus metrics are at /metrics\n");
  } else {
    set_body(http::status::not_found, kTextContentType, "not found; metrics are at /metrics\n");
  }
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  if (head) {  // the headers of a GET, Content-Length included, and no body
    const std::size_t length = response.body().size();
    response.body().clear();
    response.content_length(length);
  }
  ++server->counters.requests;
  write(response.need_eof());
}

// The renderer's document; on an exception, an explanation and status 500.
std::string MetricsServer::State::Session::render_metrics(http::status& status) {
  try {
    if (!server->render) throw std::logic_error("no renderer");
    return server->render();
  } catch (const std::exception& e) {
    ++server->counters.errors;
    status = http::status::internal_server_error;
    return std::string("rendering the metrics failed: ") + e.what() + "\n";
  }
}

void MetricsServer::State::Session::set_body(http::status status, std::string_view content_type,
                                             std::string body) {
  response.result(status);
  response.set(http::field::server, beast::string_view(kServerName.data(), kServerName.size()));
  response.set(http::field::content_type,
               beast::string_view(content_type.data(), content_type.size()));
  response.body() = std::move(body);
}

// Answers a request that could not be read with `status`, then closes the connection: what
// follows in the stream cannot be trusted to start a request.
void MetricsServer::State::Session::reply_error(http::status status, std::string_view body) {
  ++server->counters.errors;
  response = {};
  response.version(11);
  set_body(status, kTextContentType, std::string(body));
  response.keep_alive(false);
  response.prepare_payload();
  ++server->counters.requests;
  write(/*close_after=*/true);
}

void MetricsServer::State::Session::write(bool close_after) {
  // A client that does not read its response is dropped after the same timeout.
  stream.expires_after(timeout());
  http::async_write(stream, response,
                    [self = shared_from_this(), close_after](const beast::error_code& ec,
                                                             std::size_t) {
                      self->on_write(ec, close_after);
                    });
}

void MetricsServer::State::Session::on_write(const beast::error_code& ec, bool close_after) {
  if (closed) return;
  if (ec) {
    ++server->counters.errors;
    close();
    return;
  }
  if (close_after) {
    // Send FIN after the response rather than reset, so the client reads the response.
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    close();
    return;
  }
  read_request();
}

void MetricsServer::State::Session::close() noexcept {
  if (closed) return;
  closed = true;
  stream.close();  // cancels the timer and the pending operation, closes the socket
  server->sessions.erase(id);
}

Result<MetricsServer> MetricsServer::open(boost::asio::io_context& io, std::string_view listen,
                                          MetricsRenderer render,
                                          const MetricsServerLimits& limits) {
  STARLING_RETURN_IF_ERROR(limits.validate());
  STARLING_ASSIGN_OR_RETURN(const tcp::endpoint endpoint, parse_listen(listen));
  if (!render) return error(StatusCode::kInvalidArgument, "metrics: no renderer given");
  std::shared_ptr<State> state;
  try {
    state = std::make_shared<State>(io, std::move(render), limits);
  } catch (const std::exception& e) {
    return error(StatusCode::kInternal, std::string("metrics: ") + e.what());
  }
  const Status bound = state->bind(endpoint);
  if (!bound) {
    state->close();
    return bound;
  }
  state->accept();
  return MetricsServer(std::move(state));
}

MetricsServer::MetricsServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
MetricsServer::MetricsServer(MetricsServer&&) noexcept = default;

MetricsServer& MetricsServer::operator=(MetricsServer&& other) noexcept {
  if (this != &other) {
    if (state_) state_->close();
    state_ = std::move(other.state_);
  }
  return *this;
}

MetricsServer::~MetricsServer() {
  if (state_) state_->close();
}

std::uint16_t MetricsServer::port() const { return state_->port; }
std::size_t MetricsServer::connection_count() const { return state_->sessions.size(); }
const MetricsServerCounters& MetricsServer::counters() const { return state_->counters; }

}  // namespace starling::runtime
