// The Prometheus scrape endpoint: a minimal HTTP/1.1 server (Boost.Beast, kept out of this
// header) on a loopback address that answers GET /metrics with the text its owner renders on
// each request (a MetricsText, see metrics.hpp), GET / with a pointer to /metrics, 404 for other
// paths and 405 for other methods. HEAD is answered like GET without the body, keep-alive and
// pipelined requests are served in order.
// Loopback only, by design: the metrics reveal the swarm's shape (peers, rates, failures) and
// the endpoint has no authentication, so it must never be reachable from the network; a
// Prometheus elsewhere scrapes through an SSH tunnel or a local agent.
// Defences against a misbehaving client (a local process, or a remote one through a tunnel):
// the request header and body sizes are bounded, a request must arrive within a timeout (a
// silent, idle or trickling connection is dropped), malformed bytes get a 400 and the
// connection closed, and at most connections_max connections are served at once (beyond it new
// ones are closed at once).
// Threading contract: a MetricsServer belongs to the thread that runs its
// boost::asio::io_context; every handler, and so every call of the renderer, runs there, and
// nothing here is thread-safe by design. No exception leaves this API or the loop: Asio and
// Beast errors are caught here and returned as Status or counted, and an exception thrown by
// the renderer becomes a 500 reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "base/status.hpp"

namespace starling::runtime {

// Renders the whole exposition document; called on the loop thread once per GET or HEAD of
// /metrics. It may throw (the request gets a 500 and is counted in errors); it must not destroy
// the MetricsServer.
using MetricsRenderer = std::function<std::string()>;

struct MetricsServerLimits {
  // The request line and headers together. A scrape request is a few hundred bytes; 8 KiB is
  // what common servers allow. Beyond it the client gets a 431 and the connection is closed.
  std::size_t header_bytes_max = 8 * 1024;
  // A request body, which no valid request here has (they are GET and HEAD): a small one is
  // read and answered with a 405, a larger one gets a 413 and the connection closed.
  std::size_t body_bytes_max = 4 * 1024;
  // A request must arrive complete within this, counted from the connection's accept or from
  // the end of the previous response, and a response must be written within it; otherwise the
  // connection is closed. It also closes idle keep-alive connections (not counted as errors).
  int timeout_ms = 10'000;
  // Connections served at once. A Prometheus keeps one per target; 16 leaves room for an
  // operator's curl and a second scraper while bounding the descriptors a client can hold.
  std::size_t connections_max = 16;

  // kInvalidArgument naming the field when a value is out of range: header_bytes_max must be
  // in 1..1 MiB, body_bytes_max at most 1 MiB, timeout_ms and connections_max positive.
  // open() runs it.
  Status validate() const;
};

// Ok for "HOST:PORT" when HOST is an IPv4 loopback address (127.0.0.0/8), "[::1]" or
// "localhost" (bound as 127.0.0.1) and PORT is 0..65535 (0 picks a free port); kInvalidArgument
// with a message saying why otherwise, in particular for any address reachable from the
// network (0.0.0.0, [::], a LAN address), because metrics must never be.
Status validate_metrics_listen(std::string_view listen);

// Counters since open().
struct MetricsServerCounters {
  std::uint64_t requests = 0;     // requests answered with a status line (any status code)
  std::uint64_t errors = 0;       // malformed, oversize or timed-out requests (the connection is
                                  // closed), I/O errors, failed accepts, and exceptions caught
                                  // (the renderer's included)
  std::uint64_t connections = 0;  // connections accepted and served
  std::uint64_t rejected = 0;     // connections closed at once: connections_max were open
};

class MetricsServer {
 public:
  // Binds `listen` (see validate_metrics_listen) and starts accepting on `io`. Errors:
  // kInvalidArgument for a listen address that is malformed or not loopback, an empty renderer
  // or bad limits; kUnavailable when the address is in use or not available on this host (no
  // IPv6, say); kInternal for other socket failures.
  // REQUIRES: `io` outlives the MetricsServer; all use happens on the thread running `io`.
  static Result<MetricsServer> open(boost::asio::io_context& io, std::string_view listen,
                                    MetricsRenderer render, const MetricsServerLimits& limits = {});

  MetricsServer(MetricsServer&&) noexcept;
  MetricsServer& operator=(MetricsServer&&) noexcept;
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  // Closes the listening socket and every connection at once (a response being written is cut
  // off) and releases the renderer, which is never called again. Handlers already queued on
  // `io` hold the server's state alive until they run, and then do nothing.
  ~MetricsServer();

  // The bound port (the actual one when `listen` asked for port 0).
  std::uint16_t port() const;
  // Connections open now.
  std::size_t connection_count() const;
  const MetricsServerCounters& counters() const;

 private:
  struct State;  // defined in metrics_http.cpp; shared with the handlers queued on `io`
  explicit MetricsServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace starling::runtime
