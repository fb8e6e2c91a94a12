// Membership configuration: the SWIM + Lifeguard timing knobs, with a documented default for
// each and two named profiles. Value type; validate() runs at construction of the core.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.hpp"
#include "base/time.hpp"

namespace starling::membership {

struct Config {
  // How often this node probes one member (SWIM protocol period). Lifeguard multiplies it by
  // (health score + 1) while this node itself looks slow.
  Duration probe_interval = std::chrono::milliseconds(1000);
  // How long to wait for a direct ack before asking others to probe indirectly. Should be above
  // the network's 99th percentile round trip, or healthy members get indirect probes.
  Duration probe_timeout = std::chrono::milliseconds(500);
  // Members asked to probe indirectly when a direct probe times out (SWIM's k).
  int indirect_checks = 3;
  // Suspicion timeout = suspicion_multiplier * max(1, log10(n)) * probe_interval: long enough for
  // a suspect to hear about the suspicion and refute it, growing slowly with the swarm size.
  int suspicion_multiplier = 4;
  // Lifeguard: a suspicion starts at max_multiplier times the minimum timeout and shrinks towards
  // the minimum as independent accusers confirm it.
  int suspicion_max_multiplier = 6;
  // How often records are pushed to gossip_nodes random members besides piggy-backing on probes.
  Duration gossip_interval = std::chrono::milliseconds(200);
  int gossip_nodes = 3;
  // Each record is retransmitted retransmit_multiplier * ceil(log10(n + 1)) times: enough for an
  // infection-style spread to reach every member with high probability.
  int retransmit_multiplier = 4;
  // Bytes of records piggy-backed per message (a UDP-sized packet for the lan profile).
  std::size_t piggyback_bytes_max = 1400;
  // Full-state exchange with one random member (anti-entropy). Scaled up beyond 32 members as
  // memberlist does, so the swarm-wide push-pull rate stays bounded.
  Duration push_pull_interval = std::chrono::seconds(30);
  // Start each periodic push-pull with a 16-byte digest of the state (kStateDigest) and exchange
  // full states only when the digests differ. Off, every push-pull sends the full state (what
  // memberlist does): n records each way per interval even when nothing changed, which
  // dominated an idle agent's traffic (858 B/s per agent at 20 agents, docs/RESULTS.md).
  bool push_pull_digest = true;
  // How often to try a full-state exchange with one member believed dead (not left): this is how
  // two sides of a healed partition find each other again.
  Duration reconnect_interval = std::chrono::seconds(10);
  // Gossip also goes to members declared dead this recently, so that a member wrongly declared
  // dead hears of it and refutes (memberlist's GossipToTheDeadTime).
  Duration gossip_to_the_dead = std::chrono::seconds(30);
  // While not yet joined, retry the seed addresses this often.
  Duration join_retry_interval = std::chrono::seconds(1);
  // Lifeguard: the health score's ceiling; timeouts stretch by up to (max + 1)x.
  int awareness_max = 8;
  // Dead and left members are kept (as tombstones, so stale alive records cannot resurrect them)
  // this long before they are forgotten.
  Duration dead_retention = std::chrono::hours(1);

  // CANARY FOR THE SIMULATOR'S CHECKERS ONLY: when true, this node never refutes accusations
  // about itself (rule R5 disabled), so healthy members end up dead. A test runs the simulator
  // with it to prove the invariant checkers catch a broken protocol. The agent refuses it.
  bool testing_disable_refutation = false;

  // The profile's name, for reports.
  std::string profile = "lan";

  // kInvalidArgument naming the first field out of range.
  Status validate() const;

  // memberlist's DefaultLANConfig values.
  static Config lan();
  // Ours: faster detection without false positives on a LAN or loopback; see ARCHITECTURE.md.
  static Config tuned();
  // Looks a profile up by name ("lan", "default"); kInvalidArgument for other names.
  static Result<Config> from_profile(std::string_view name);
};

// Suspicion timeout bounds for a swarm of `members` members (Lifeguard).
struct SuspicionBounds {
  Duration min;
  Duration max;
  int expected_confirmations;  // k: confirmations after which the timeout reaches min
};
SuspicionBounds suspicion_bounds(const Config& config, std::size_t members);

// The remaining suspicion timeout after `confirmations` independent accusers (Lifeguard):
// max - (max - min) * log(c + 1) / log(k + 1), never below min.
Duration suspicion_timeout(const SuspicionBounds& bounds, int confirmations);

// How many times a record is retransmitted in a swarm of `members`.
int retransmit_limit(const Config& config, std::size_t members);

// The push-pull interval for a swarm of `members` (x ceil(log2(n) - log2(32)) + 1 beyond 32).
Duration push_pull_interval(const Config& config, std::size_t members);

}  // namespace starling::membership
