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
  // every 400 ms with a 150 ms direct-ack timeout (memberlist: 1 s and 500 ms) cuts the time
  // to the first failed probe by more than half; an idle agent sends ~2.5 pings and ~2.5 acks
  // per second (about 350 bytes/s).
  c.probe_interval = milliseconds(400);
  c.probe_timeout = milliseconds(150);
  // Suspicion lasts 2 protocol periods (0.8 s at <= 10 members, 1.04 s at 20, 2.4 s at 1,000):
  // on a LAN a suspect hears of its suspicion and refutes within a few gossip rounds (100 ms
  // each). What keeps a slow-but-alive member from being declared dead is not a long timeout
  // but the indirect probes through 3 others, the last direct probe before death (R3) and
  // Lifeguard's local health (a slow prober stretches its own timeouts). With multiplier 2,
  // Lifeguard's dynamic suspicion expects k = 0 confirmations: the timeout is the minimum.
  // Measured on loopback (docs/RESULTS.md): detection median 1.x s at 5 agents, 0 false
  // positives in 10 minutes with both cores saturated by other processes.
  c.suspicion_multiplier = 2;
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
