// A membership scenario for the simulator: a swarm of N nodes joining through seeds, faults
// drawn from the run's seed (crashes, restarts, pauses, one partition) on a lossy, jittery
// network, the checker watching, and a report at the end. What `starling-sim run` runs.
// Single-threaded; a run is a pure function of (config, binary).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "base/time.hpp"
#include "sim/swarm/checker.hpp"
#include "sim/swarm/swim_node.hpp"

namespace starling::sim {

struct PartitionSpec {
  Duration start{};
  Duration duration{};
  double fraction = 0.5;  // share of the nodes on the first side
};

struct PauseSpec {
  std::size_t nodes = 0;                 // this many random nodes ...
  Duration duration{};                   // ... are paused this long ...
  Duration every = std::chrono::seconds(30);  // ... this often
};

struct ScenarioConfig {
  std::size_t nodes = 64;
  Duration duration = std::chrono::seconds(600);
  std::uint64_t seed = 1;
  std::string profile = "default";
  double loss = 0.0;
  double duplicate = 0.0;              // probability a message is delivered twice
  double reorder = 0.0;                // probability a message is held back up to 10 ms
  std::uint64_t bandwidth_bytes_per_s = 0;  // each node's uplink; 0 = unlimited
  std::int64_t drift_ppm = 0;          // each node's clock drifts by a random rate in +-this
  Duration latency = std::chrono::milliseconds(1);
  Duration jitter = std::chrono::milliseconds(1);
  std::size_t crashes = 0;
  std::size_t restarts = 0;  // restarts of crashed nodes (<= crashes)
  std::optional<PauseSpec> pauses;
  std::optional<PartitionSpec> partition;
  VerifyMode verify = VerifyMode::kFull;
  std::size_t seeds = 3;  // nodes 0..seeds-1 are the seed addresses; they never crash
  bool canary_disable_refutation = false;

  // kInvalidArgument naming the bad setting.
  Status validate() const;
  // The command line that replays this run: "starling-sim run --nodes ... --seed S".
  std::string command_line() const;
};

struct ScenarioReport {
  ScenarioConfig config;
  double virtual_s = 0;
  double wall_s = 0;
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t events = 0;  // scheduler events processed
  std::uint64_t trace_hash = 0;
  std::uint64_t verifications = 0;
  std::uint64_t wire_rejects = 0;
  std::map<std::string, std::uint64_t> bytes_by_type;
  double last_fault_s = 0;
  CheckerReport checker;
  double detect_p50_s = 0;
  double detect_p99_s = 0;
  double detect_max_s = 0;
};

// Called about every `progress_every` of virtual time with (virtual now, disagreeing pairs).
using ProgressFn = std::function<void(Instant, std::uint64_t)>;

// Runs the scenario. `wall_seconds` returns the wall clock (the simulator itself never reads
// one); it only fills wall_s.
ScenarioReport run_scenario(const ScenarioConfig& config, const ProgressFn& progress,
                            const std::function<double()>& wall_seconds);

// The report as one line of JSON (keys in a fixed order).
std::string report_json(const ScenarioReport& report);

}  // namespace starling::sim
