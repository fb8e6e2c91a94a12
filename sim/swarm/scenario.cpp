// Building, faulting and measuring a simulated membership swarm.
#include "sim/swarm/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "agent/membership/config.hpp"

namespace starling::sim {

namespace {

using std::chrono::seconds;

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = p * static_cast<double>(values.size() - 1);
  const auto low = static_cast<std::size_t>(std::floor(rank));
  const auto high = static_cast<std::size_t>(std::ceil(rank));
  return values[low] + (values[high] - values[low]) * (rank - static_cast<double>(low));
}

const char* verify_name(VerifyMode mode) {
  switch (mode) {
    case VerifyMode::kFull: return "full";
    case VerifyMode::kSharedCache: return "shared-cache";
    case VerifyMode::kOff: return "off";
  }
  return "full";
}

// Faults happen between the warm-up and 70% of the run, leaving time to settle.
struct FaultWindow {
  Duration begin;
  Duration end;
};

FaultWindow fault_window(const ScenarioConfig& c) {
  const Duration warmup = std::min<Duration>(seconds(30), c.duration / 10);
  return {warmup, c.duration * 7 / 10};
}

Duration random_in(Rng& rng, Duration low, Duration high) {
  if (high <= low) return low;
  return low + Duration(static_cast<Duration::rep>(
                   rng.uniform(static_cast<std::uint64_t>((high - low).count()))));
}

}  // namespace

Status ScenarioConfig::validate() const {
  auto bad = [](std::string why) { return error(StatusCode::kInvalidArgument, std::move(why)); };
  if (nodes < 2 || nodes > 20000) return bad("--nodes must be 2-20000");
  if (duration < seconds(1)) return bad("--duration must be at least 1s");
  if (loss < 0 || loss >= 1) return bad("--loss must be in [0, 1)");
  if (duplicate < 0 || duplicate > 1) return bad("--duplicate must be in [0, 1]");
  if (reorder < 0 || reorder > 1) return bad("--reorder must be in [0, 1]");
  if (drift_ppm < 0 || drift_ppm > 100000) return bad("--drift must be 0-100000 ppm");
  if (latency.count() < 0 || jitter.count() < 0) return bad("--latency must not be negative");
  if (seeds < 1 || seeds > nodes) return bad("seeds must be 1..nodes");
  if (crashes > nodes - seeds) {
    return bad("--crashes must be at most " + std::to_string(nodes - seeds) +
               " (the " + std::to_string(seeds) + " seed nodes never crash)");
  }
  if (restarts > crashes) return bad("--restarts must be at most --crashes");
  if (pauses && (pauses->nodes > nodes || pauses->every <= Duration::zero())) {
    return bad("--pauses K:DURATION[:EVERY] needs K <= nodes and EVERY > 0");
  }
  if (partition && (partition->fraction <= 0 || partition->fraction >= 1)) {
    return bad("--partition fraction must be in (0, 1)");
  }
  if (partition && partition->start + partition->duration > duration) {
    return bad("--partition must end before --duration");
  }
  return membership::Config::from_profile(profile).status();
}

std::string ScenarioConfig::command_line() const {
  std::string cmd = "starling-sim run --nodes " + std::to_string(nodes) + " --duration " +
                    format_duration(duration) + " --profile " + profile;
  char buffer[64];
  if (loss > 0) {
    std::snprintf(buffer, sizeof buffer, " --loss %g", loss);
    cmd += buffer;
  }
  cmd += " --latency " + format_duration(latency) + ":" + format_duration(jitter);
  if (duplicate > 0) {
    std::snprintf(buffer, sizeof buffer, " --duplicate %g", duplicate);
    cmd += buffer;
  }
  if (reorder > 0) {
    std::snprintf(buffer, sizeof buffer, " --reorder %g", reorder);
    cmd += buffer;
  }
  if (bandwidth_bytes_per_s > 0) cmd += " --bandwidth " + std::to_string(bandwidth_bytes_per_s);
  if (drift_ppm > 0) cmd += " --drift " + std::to_string(drift_ppm);
  if (crashes > 0) cmd += " --crashes " + std::to_string(crashes);
  if (restarts > 0) cmd += " --restarts " + std::to_string(restarts);
  if (pauses) {
    cmd += " --pauses " + std::to_string(pauses->nodes) + ":" + format_duration(pauses->duration) +
           ":" + format_duration(pauses->every);
  }
  if (partition) {
    std::snprintf(buffer, sizeof buffer, ":%g", partition->fraction);
    cmd += " --partition " + format_duration(partition->start) + ":" +
           format_duration(partition->duration) + buffer;
  }
  cmd += std::string(" --verify ") + verify_name(verify);
  if (canary_disable_refutation) cmd += " --canary-no-refute";
  return cmd + " --seed " + std::to_string(seed);
}

namespace {

// Schedules every fault of the scenario on the world's scheduler, drawn from `rng`.
// Returns when the last one ends.
Instant schedule_faults(const ScenarioConfig& c, World& world, Checker& checker, Rng& rng) {
  const FaultWindow window = fault_window(c);
  Instant last{};
  std::vector<NodeIndex> candidates;
  for (NodeIndex i = static_cast<NodeIndex>(c.seeds); i < c.nodes; ++i) candidates.push_back(i);
  rng.shuffle(candidates.begin(), candidates.end());
  for (std::size_t k = 0; k < c.crashes; ++k) {
    const NodeIndex node = candidates[k];
    const Instant at = Instant{} + random_in(rng, window.begin, window.end);
    world.scheduler().schedule_at(at, [&world, &checker, node] {
      if (!world.is_up(node)) return;
      world.crash(node);
      checker.on_crash(node, world.now());
    });
    last = std::max(last, at);
    if (k < c.restarts) {
      const Instant back = at + random_in(rng, seconds(20), seconds(60));
      world.scheduler().schedule_at(back, [&world, node] {
        if (!world.is_up(node)) world.restart(node);
      });
      last = std::max(last, back);
    }
  }
  if (c.pauses && c.pauses->nodes > 0) {
    for (Instant at = Instant{} + window.begin; at < Instant{} + window.end; at += c.pauses->every) {
      std::vector<NodeIndex> victims(c.nodes);
      for (NodeIndex i = 0; i < c.nodes; ++i) victims[i] = i;
      rng.shuffle(victims.begin(), victims.end());
      victims.resize(c.pauses->nodes);
      const Duration length = c.pauses->duration;
      world.scheduler().schedule_at(at, [&world, &checker, victims, length] {
        for (NodeIndex v : victims) {
          if (world.is_up(v)) world.pause(v, length);
        }
        checker.note_fault_end(world.now() + length);
      });
      last = std::max(last, at + length);
    }
  }
  if (c.partition) {
    std::vector<NodeIndex> order(c.nodes);
    for (NodeIndex i = 0; i < c.nodes; ++i) order[i] = i;
    rng.shuffle(order.begin(), order.end());
    const auto first = static_cast<std::size_t>(std::llround(c.partition->fraction *
                                                             static_cast<double>(c.nodes)));
    std::vector<std::uint8_t> side(c.nodes, 1);
    std::vector<NodeIndex> group(order.begin(), order.begin() + static_cast<long>(first));
    for (NodeIndex i : group) side[i] = 0;
    const Instant start = Instant{} + c.partition->start;
    const Instant end = start + c.partition->duration;
    world.scheduler().schedule_at(start, [&world, &checker, group, side] {
      world.network().partition({group});
      checker.on_partition(side, world.now());
    });
    world.scheduler().schedule_at(end, [&world, &checker] {
      world.network().heal();
      checker.on_heal(world.now());
    });
    last = std::max(last, end);
  }
  return last;
}

}  // namespace

ScenarioReport run_scenario(const ScenarioConfig& c, const ProgressFn& progress,
                            const std::function<double()>& wall_seconds) {
  const double wall_start = wall_seconds();
  STARLING_ASSERT(c.validate().is_ok(), "run_scenario needs a validated config");
  SwarmShared shared;
  shared.config = *membership::Config::from_profile(c.profile);
  shared.config.testing_disable_refutation = c.canary_disable_refutation;
  shared.verify = c.verify;
  std::vector<NodeId> ids;
  for (std::size_t i = 0; i < c.nodes; ++i) {
    shared.identities.push_back(crypto::Identity::for_simulation(c.seed, i));
    shared.keys.add(shared.identities.back());
    ids.push_back(shared.identities.back().node_id());
  }
  for (std::size_t i = 0; i < c.seeds; ++i) shared.seeds.push_back(sim_address(static_cast<NodeIndex>(i)));
  shared.durable_incarnation.assign(c.nodes, 0);

  const membership::SuspicionBounds bounds = membership::suspicion_bounds(shared.config, c.nodes);
  Checker checker(ids, bounds.max + shared.config.probe_interval * 4);
  shared.checker = &checker;

  WorldConfig wc;
  wc.node_count = c.nodes;
  wc.seed = c.seed;
  wc.network.link.latency_base_us = c.latency.count();
  wc.network.link.latency_jitter_us = c.jitter.count();
  wc.network.link.loss_probability = c.loss;
  wc.network.link.duplicate_probability = c.duplicate;
  wc.network.link.reorder_probability = c.reorder;
  wc.network.uplink_bytes_per_second = c.bandwidth_bytes_per_s;
  World world(wc, [&shared](NodeIndex, Context& context) {
    return std::make_unique<SwimNode>(context, shared);
  });
  shared.world = &world;
  Rng fault_rng(c.seed ^ 0x6661756c74ULL);  // "fault": independent of the world's streams
  const Instant last_fault = schedule_faults(c, world, checker, fault_rng);
  if (c.drift_ppm > 0) {
    for (NodeIndex i = 0; i < c.nodes; ++i) {
      world.set_drift(i, fault_rng.uniform_range(-c.drift_ppm, c.drift_ppm), Duration::zero());
    }
  }
  world.start_all();

  const Instant end = Instant{} + c.duration;
  const Duration step = std::min<Duration>(seconds(1), c.duration);
  for (Instant t = Instant{} + step; t <= end; t += step) {
    world.run_until(t);
    if (progress) progress(t, checker.disagreements());
  }
  world.run_until(end);

  ScenarioReport report;
  report.config = c;
  report.virtual_s = to_seconds(c.duration);
  const NetworkStats& net = world.network().stats();
  report.messages = net.sent;
  report.bytes = net.bytes_sent;
  report.deliveries = net.delivered;
  report.events = world.scheduler().events_processed();
  report.trace_hash = world.trace_hash();
  report.verifications = shared.verifications;
  report.wire_rejects = shared.wire_rejects;
  report.bytes_by_type = shared.bytes_by_type;
  report.last_fault_s = to_seconds(last_fault - Instant{});
  // Views must agree, and crashes be detected, once the run has left this long after a fault.
  const Duration settle = bounds.max + seconds(30);
  report.checker = checker.finish(end, settle);
  report.detect_p50_s = percentile(report.checker.detect_s, 0.50);
  report.detect_p99_s = percentile(report.checker.detect_s, 0.99);
  report.detect_max_s = report.checker.detect_s.empty()
                            ? 0
                            : *std::max_element(report.checker.detect_s.begin(),
                                                report.checker.detect_s.end());
  report.wall_s = wall_seconds() - wall_start;
  return report;
}

std::string report_json(const ScenarioReport& r) {
  char buffer[2048];
  char hash[24];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(r.trace_hash));
  std::string converge = r.checker.converge_s ? std::to_string(*r.checker.converge_s) : "null";
  std::snprintf(
      buffer, sizeof buffer,
      "{\"seed\":%llu,\"nodes\":%zu,\"profile\":\"%s\",\"verify\":\"%s\",\"virtual_s\":%.1f,"
      "\"wall_s\":%.2f,\"messages\":%llu,\"bytes\":%llu,\"deliveries\":%llu,\"events\":%llu,"
      "\"trace_hash\":\"%s\",\"violations\":%zu,\"crashes\":%zu,\"detected\":%zu,"
      "\"detect_p50_s\":%.3f,\"detect_p99_s\":%.3f,\"detect_max_s\":%.3f,"
      "\"false_positives\":%zu,\"false_positive_declarations\":%zu,\"converge_s\":%s,"
      "\"agreed_at_end\":%s,\"last_fault_s\":%.1f,\"verifications\":%llu,\"wire_rejects\":%llu}",
      static_cast<unsigned long long>(r.config.seed), r.config.nodes, r.config.profile.c_str(),
      verify_name(r.config.verify), r.virtual_s, r.wall_s,
      static_cast<unsigned long long>(r.messages), static_cast<unsigned long long>(r.bytes),
      static_cast<unsigned long long>(r.deliveries), static_cast<unsigned long long>(r.events),
      hash, r.checker.violations.size(), r.checker.crashes, r.checker.detect_s.size(),
      r.detect_p50_s, r.detect_p99_s, r.detect_max_s, r.checker.false_positive_nodes,
      r.checker.false_positive_declarations, converge.c_str(),
      r.checker.agreed_at_end ? "true" : "false", r.last_fault_s,
      static_cast<unsigned long long>(r.verifications),
      static_cast<unsigned long long>(r.wire_rejects));
  std::string out(buffer);
  out.pop_back();  // the closing brace
  out += ",\"bytes_by_type\":{";
  bool first = true;
  for (const auto& [type, bytes] : r.bytes_by_type) {
    out += (first ? "\"" : ",\"") + type + "\":" + std::to_string(bytes);
    first = false;
  }
  return out + "}}";
}

}  // namespace starling::sim
