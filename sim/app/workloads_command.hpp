// `starling-sim run --workloads N`: the consensus and workloads scenario (sim/workloads), for
// one seed or, with --seeds A..B, for every seed of a range in this process (what
// scripts/sim-sweep.sh runs in parallel). Single-threaded.
#pragma once

#include <functional>
#include <string>

#include "sim/workloads/scenario.hpp"

namespace starling::sim {

struct WorkloadCommand {
  WorkloadScenarioConfig config;
  std::string seeds;          // "A..B": run every seed of the range
  std::string faults = "all";
  std::string canary;         // "skip-lease"
  std::string quiet = "30s";
  std::string bound = "10s";
  bool json_only = false;
};

// Runs the command; returns the exit code (0 ok, 1 a violation, 2 a usage error).
int run_workload_command(WorkloadCommand command, const std::function<double()>& wall_seconds);

}  // namespace starling::sim
