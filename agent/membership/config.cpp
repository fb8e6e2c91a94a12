// Profiles, validation and the timeout/retransmit arithmetic of the membership core.
#include "agent/membership/config.hpp"

#include <algorithm>
#include <cmath>

namespace starling::membership {

using std::chrono::milliseconds;
using std::chrono::seconds;

Status Config::validate() const {
  auto bad = [](const char* field, const char* rule) {
    return error(StatusCode::kInvalidArgument,
                 std::string("membership config: ") + field + " " + rule);
  };
  if (probe_interval < milliseconds(10)) return bad("probe_interval", "must be at least 10ms");
  if (probe_timeout <= Duration::zero() || probe_timeout >= probe_interval) {
    return bad("probe_timeout", "must be positive and below probe_interval");
  }
  if (indirect_checks < 0 || indirect_checks > 16) return bad("indirect_checks", "must be 0-16");
  if (suspicion_multiplier < 1 || suspicion_multiplier > 100) {
    return bad("suspicion_multiplier", "must be 1-100");
  }
  if (suspicion_max_multiplier < 1 || suspicion_max_multiplier > 100) {
    return bad("suspicion_max_multiplier", "must be 1-100");
  }
  if (gossip_interval < milliseconds(1)) return bad("gossip_interval", "must be at least 1ms");
  if (gossip_nodes < 0 || gossip_nodes > 64) return bad("gossip_nodes", "must be 0-64");
  if (retransmit_multiplier < 1 || retransmit_multiplier > 64) {
    return bad("retransmit_multiplier", "must be 1-64");
  }
  if (piggyback_bytes_max < 256 || piggyback_bytes_max > 1024 * 1024) {
    return bad("piggyback_bytes_max", "must be 256 bytes to 1 MiB");
  }
  if (push_pull_interval < milliseconds(100)) return bad("push_pull_interval", "must be >= 100ms");
  if (reconnect_interval < milliseconds(100)) return bad("reconnect_interval", "must be >= 100ms");
  if (join_retry_interval < milliseconds(10)) return bad("join_retry_interval", "must be >= 10ms");
  if (awareness_max < 0 || awareness_max > 64) return bad("awareness_max", "must be 0-64");
  if (dead_retention < seconds(1)) return bad("dead_retention", "must be at least 1s");
  return Status::ok();
}

Config Config::lan() { return Config{}; }

Config Config::tuned() {
  Config c;
  c.profile = "default";
  // Loopback and LAN round trips are well under 10 ms even on a busy 2-core machine, so a probe
  // every 500 ms with a 200 ms direct-ack timeout halves the time to first suspicion.
  c.probe_interval = milliseconds(500);
  c.probe_timeout = milliseconds(200);
  // Suspicion still lasts 4 protocol periods at least (2 s at <= 10 members): a node that is
  // paused for 2 s (a long GC, SIGSTOP) gets a chance to refute. The max multiplier is lower
  // than memberlist's 6 because confirmations arrive quickly when probes are twice as frequent.
  c.suspicion_multiplier = 4;
  c.suspicion_max_multiplier = 3;
  // Gossip twice as often to one more node: ZeroMQ over TCP has no 1400-byte datagram limit,
  // so larger piggy-backs carry a whole failure burst in one message.
  c.gossip_interval = milliseconds(100);
  c.gossip_nodes = 4;
  c.piggyback_bytes_max = 8192;
  // Anti-entropy and partition healing more often: full states are cheap at fleet sizes.
  c.push_pull_interval = seconds(15);
  c.reconnect_interval = seconds(5);
  c.join_retry_interval = milliseconds(500);
  return c;
}

Result<Config> Config::from_profile(std::string_view name) {
  if (name == "lan") return lan();
  if (name == "default" || name == "tuned") return tuned();
  return error(StatusCode::kInvalidArgument,
               "unknown membership profile '" + std::string(name) + "' (use lan or default)");
}

SuspicionBounds suspicion_bounds(const Config& config, std::size_t members) {
  const double scale = std::max(1.0, std::log10(static_cast<double>(std::max<std::size_t>(members, 1))));
  const auto min = Duration(static_cast<Duration::rep>(
      std::llround(config.suspicion_multiplier * scale *
                   static_cast<double>(config.probe_interval.count()))));
  return SuspicionBounds{min, min * config.suspicion_max_multiplier,
                         std::max(config.suspicion_multiplier - 2, 0)};
}

Duration suspicion_timeout(const SuspicionBounds& bounds, int confirmations) {
  if (bounds.expected_confirmations < 1) return bounds.min;
  const double fraction = std::log(static_cast<double>(confirmations) + 1.0) /
                          std::log(static_cast<double>(bounds.expected_confirmations) + 1.0);
  const double raw = static_cast<double>(bounds.max.count()) -
                     fraction * static_cast<double>((bounds.max - bounds.min).count());
  // Round down to whole milliseconds, as memberlist does, so the arithmetic is easy to check.
  const auto timeout = Duration(static_cast<Duration::rep>(std::floor(raw / 1000.0) * 1000.0));
  return std::max(timeout, bounds.min);
}

int retransmit_limit(const Config& config, std::size_t members) {
  const double scale = std::ceil(std::log10(static_cast<double>(members) + 1.0));
  return config.retransmit_multiplier * static_cast<int>(scale);
}

Duration push_pull_interval(const Config& config, std::size_t members) {
  constexpr std::size_t kScaleThreshold = 32;
  if (members <= kScaleThreshold) return config.push_pull_interval;
  const double multiplier =
      std::ceil(std::log2(static_cast<double>(members)) - std::log2(double{kScaleThreshold})) + 1.0;
  return Duration(static_cast<Duration::rep>(
      multiplier * static_cast<double>(config.push_pull_interval.count())));
}

}  // namespace starling::membership
