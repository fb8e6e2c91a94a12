// `starling-sim run --workloads N`: one seed with progress and a report, or a range of seeds
// with one line per failing seed and a summary.
#include "sim/app/workloads_command.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <vector>

namespace starling::sim {

namespace {

// Parses "A..B" (or a single "A") into an inclusive range.
bool parse_range(const std::string& text, std::uint64_t& first, std::uint64_t& last) {
  try {
    const auto dots = text.find("..");
    std::size_t used = 0;
    if (dots == std::string::npos) {
      first = last = std::stoull(text, &used);
      return used == text.size();
    }
    first = std::stoull(text.substr(0, dots), &used);
    if (used != dots) return false;
    const std::string rest = text.substr(dots + 2);
    last = std::stoull(rest, &used);
    return used == rest.size() && first <= last;
  } catch (const std::exception&) {
    return false;
  }
}

void print_failure(const WorkloadReport& report) {
  for (const std::string& v : report.violations) std::printf("violation: %s\n", v.c_str());
  if (report.violation_count > report.violations.size()) {
    std::printf("violation: ... and %llu more\n",
                static_cast<unsigned long long>(report.violation_count -
                                                report.violations.size()));
  }
  std::printf("reproduce: %s\n", report.config.command_line().c_str());
}

int run_one(const WorkloadScenarioConfig& config, bool json_only,
            const std::function<double()>& wall_seconds) {
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  double last_print = 0;
  auto progress = [&](const WorkloadScenario& s) {
    if (!tty) return;
    const double wall = wall_seconds();
    if (wall - last_print < 0.5) return;
    last_print = wall;
    std::size_t running = 0;
    for (const ReplicaKey& key : s.replicas()) running += s.runner_of(key) ? 1 : 0;
    const auto leader = s.leader();
    std::fprintf(stderr, "\r  virtual %5.0f / %.0f s   leader %-4s  running %zu/%zu   "
                 "violations %llu   ",
                 to_seconds(s.now() - Instant{}), to_seconds(config.duration),
                 leader ? std::to_string(*leader).c_str() : "-", running, s.replicas().size(),
                 static_cast<unsigned long long>(s.checker().violation_count()));
    std::fflush(stderr);
  };
  const WorkloadReport r = run_workload_scenario(config, progress, wall_seconds);
  if (tty) std::fprintf(stderr, "\r%90s\r", "");
  if (!json_only) {
    std::printf("simulated %zu nodes, %zu workloads x %u replicas for %.0f s (quiet from %.0f s) "
                "in %.2f s of wall time; %llu messages\n",
                config.nodes, config.workloads, config.replicas, r.virtual_s, r.quiet_start_s,
                r.wall_s, static_cast<unsigned long long>(r.messages));
    std::printf("faults: %llu crashes, %llu restarts, %llu partitions, %llu pauses, %llu loss "
                "changes (%s)\n",
                static_cast<unsigned long long>(r.crashes),
                static_cast<unsigned long long>(r.restarts),
                static_cast<unsigned long long>(r.partitions),
                static_cast<unsigned long long>(r.pauses),
                static_cast<unsigned long long>(r.loss_changes),
                workload_faults_text(config.faults).c_str());
    std::printf("consensus: %llu terms with a leader, commit index %llu; committed %llu assigns, "
                "%llu checkpoints, %llu renews, %llu releases\n",
                static_cast<unsigned long long>(r.leader_terms),
                static_cast<unsigned long long>(r.commit_index),
                static_cast<unsigned long long>(r.committed.assigns),
                static_cast<unsigned long long>(r.committed.checkpoints),
                static_cast<unsigned long long>(r.committed.renews),
                static_cast<unsigned long long>(r.committed.releases));
    std::printf("workloads: %llu failovers (p50 %.2f s, max %.2f s), %llu lease gaps; streams "
                "complete %zu/%zu (%llu rows, %llu duplicates)\n",
                static_cast<unsigned long long>(r.failovers), r.failover_p50_s, r.failover_max_s,
                static_cast<unsigned long long>(r.lease_gaps),
                r.streams_complete, r.streams, static_cast<unsigned long long>(r.ledger_rows),
                static_cast<unsigned long long>(r.duplicate_rows));
  }
  if (r.violation_count > 0) print_failure(r);
  std::printf("%s\n", workload_report_json(r).c_str());
  return r.violation_count == 0 ? 0 : 1;
}

int run_range(WorkloadScenarioConfig config, std::uint64_t first, std::uint64_t last,
              const std::function<double()>& wall_seconds) {
  const double start = wall_seconds();
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  std::vector<std::uint64_t> failed;
  double virtual_s = 0, max_wall_s = 0;
  for (std::uint64_t seed = first;; ++seed) {
    config.seed = seed;
    const double seed_start = wall_seconds();
    const WorkloadReport r = run_workload_scenario(config, nullptr, wall_seconds);
    max_wall_s = std::max(max_wall_s, wall_seconds() - seed_start);
    virtual_s += r.virtual_s;
    if (r.violation_count > 0) {
      failed.push_back(seed);
      std::printf("FAIL seed %llu: %s\n", static_cast<unsigned long long>(seed),
                  r.violations.empty() ? "?" : r.violations.front().c_str());
      print_failure(r);
      std::fflush(stdout);
    }
    if (tty) {
      std::fprintf(stderr, "\r  seed %llu (%llu of %llu), failures %zu   ",
                   static_cast<unsigned long long>(seed),
                   static_cast<unsigned long long>(seed - first + 1),
                   static_cast<unsigned long long>(last - first + 1), failed.size());
    }
    if (seed == last) break;
  }
  if (tty) std::fprintf(stderr, "\r%70s\r", "");
  std::string list;
  for (std::uint64_t s : failed) list += (list.empty() ? "" : ",") + std::to_string(s);
  std::printf("{\"mode\":\"workloads-seeds\",\"first\":%llu,\"last\":%llu,\"seeds\":%llu,"
              "\"failures\":%zu,\"failed_seeds\":[%s],\"virtual_s\":%.0f,\"wall_s\":%.2f,"
              "\"max_seed_wall_s\":%.3f}\n",
              static_cast<unsigned long long>(first), static_cast<unsigned long long>(last),
              static_cast<unsigned long long>(last - first + 1), failed.size(), list.c_str(),
              virtual_s, wall_seconds() - start, max_wall_s);
  return failed.empty() ? 0 : 1;
}

}  // namespace

int run_workload_command(WorkloadCommand command, const std::function<double()>& wall_seconds) {
  WorkloadScenarioConfig& c = command.config;
  auto usage = [](const std::string& why) {
    std::cerr << "starling-sim: " << why << "\n";
    return 2;
  };
  auto faults = parse_workload_faults(command.faults);
  if (!faults) return usage(faults.status().message());
  c.faults = *faults;
  if (command.canary == "skip-lease") c.canary_skip_lease = true;
  else if (!command.canary.empty()) return usage("--canary must be skip-lease");
  auto quiet = parse_duration(command.quiet);
  if (!quiet) return usage("--quiet: " + quiet.status().message());
  c.quiet = *quiet;
  auto bound = parse_duration(command.bound);
  if (!bound) return usage("--liveness-bound: " + bound.status().message());
  c.liveness_bound = *bound;
  if (Status s = c.validate(); !s) return usage(s.message());
  if (command.seeds.empty()) return run_one(c, command.json_only, wall_seconds);
  std::uint64_t first = 0, last = 0;
  if (!parse_range(command.seeds, first, last)) return usage("--seeds must be A..B with A <= B");
  return run_range(c, first, last, wall_seconds);
}

}  // namespace starling::sim
