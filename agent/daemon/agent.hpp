// The agent: what `starlingd` runs. It wires the membership core (agent/membership) to the
// ZeroMQ transport, the fleet's trust (certificates, revocations), the SQLite store, the
// control API and the metrics endpoint, all on ONE Boost.Asio event loop thread (DESIGN.md
// section 4): every socket, timer, signal and core call happens on the thread that runs the
// io_context given to open(), and nothing here is thread-safe by design.
//
// What the shell adds around the sans-I/O core (docs/ARCHITECTURE.md, "The agent"):
//  - admission: a message is handed to the core only when its transport key belongs to an
//    enrolled, unrevoked device, the envelope's sender is that device, its sequence is not a
//    replay, and the certificate of every record signer is known. Missing certificates are
//    fetched from the sender (wire/trust_messages.hpp) while the message waits (bounded).
//  - durability: the incarnation is written before any message announcing it is sent; peers
//    are remembered in batches so that a restart can rejoin without its seed.
//  - clocks: the core's Instants are microseconds of std::chrono::steady_clock since open().
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "agent/daemon/config.hpp"
#include "agent/runtime/control.hpp"
#include "base/status.hpp"

namespace starling::daemon {

class Agent {
 public:
  // Loads the identity, certificate, fleet key and revocation list named by `config`, takes
  // the data directory's lock, opens the store, binds the transport, the control socket and
  // (when configured) the metrics endpoint, and installs SIGTERM/SIGINT (graceful leave) and
  // SIGHUP (reload the revocation list) handlers on `io`. Nothing is sent before start().
  // Errors name what is wrong in one line: a missing identity or certificate, a certificate of
  // another key or fleet, a data directory in use by another agent, an address in use.
  static Result<std::unique_ptr<Agent>> open(boost::asio::io_context& io,
                                             const DaemonConfig& config);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts joining (through config.join, then the peers remembered from earlier runs) and the
  // timers. The agent then runs for as long as `io` runs; after a graceful leave it stops `io`.
  void start();
  // Begins a graceful leave (what SIGTERM does): others will see `left`. `io` stops once the
  // leave has spread or config.leave_timeout has passed.
  void leave();

  // The transport's bound endpoint and the control and metrics endpoints actually in use.
  const std::string& transport_endpoint() const;
  const std::string& control_endpoint() const;
  std::string metrics_endpoint() const;  // "" when metrics are off

 private:
  struct State;  // agent.cpp
  explicit Agent(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace starling::daemon
