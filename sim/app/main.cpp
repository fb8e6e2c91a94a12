// `starling-sim`: the deterministic swarm simulator. `run` executes one seeded membership
// scenario with fault injection and prints a report whose last line is one JSON object.
// The only place in the simulator that reads a wall clock (for wall_s and progress).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "sim/swarm/scenario.hpp"

namespace {

using starling::Duration;
using starling::Result;
using starling::Status;
using starling::StatusCode;
using starling::sim::ScenarioConfig;

double wall_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Splits "a:b:c" into parts.
std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto at = text.find(separator, start);
    parts.push_back(text.substr(start, at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

Result<Duration> duration_arg(const std::string& flag, const std::string& text) {
  auto d = starling::parse_duration(text);
  if (!d) return d.status().with_context(flag);
  return d;
}

// Applies the textual options that need parsing beyond CLI11's; kInvalidArgument names the flag.
Status apply_options(ScenarioConfig& c, const std::string& duration, const std::string& latency,
                     const std::string& pauses, const std::string& partition,
                     const std::string& verify) {
  STARLING_ASSIGN_OR_RETURN(c.duration, duration_arg("--duration", duration));
  auto lat = split(latency, ':');
  if (lat.size() > 2) return starling::error(StatusCode::kInvalidArgument, "--latency BASE[:JITTER]");
  STARLING_ASSIGN_OR_RETURN(c.latency, duration_arg("--latency", lat[0]));
  c.jitter = Duration::zero();
  if (lat.size() == 2) {
    STARLING_ASSIGN_OR_RETURN(c.jitter, duration_arg("--latency", lat[1]));
  }
  if (!pauses.empty()) {
    auto p = split(pauses, ':');
    if (p.size() < 2 || p.size() > 3) {
      return starling::error(StatusCode::kInvalidArgument, "--pauses K:DURATION[:EVERY]");
    }
    starling::sim::PauseSpec spec;
    try {
      spec.nodes = std::stoul(p[0]);
    } catch (const std::exception&) {
      return starling::error(StatusCode::kInvalidArgument, "--pauses: K must be a number");
    }
    STARLING_ASSIGN_OR_RETURN(spec.duration, duration_arg("--pauses", p[1]));
    if (p.size() == 3) {
      STARLING_ASSIGN_OR_RETURN(spec.every, duration_arg("--pauses", p[2]));
    }
    c.pauses = spec;
  }
  if (!partition.empty()) {
    auto p = split(partition, ':');
    if (p.size() < 2 || p.size() > 3) {
      return starling::error(StatusCode::kInvalidArgument, "--partition START:DURATION[:FRACTION]");
    }
    starling::sim::PartitionSpec spec;
    STARLING_ASSIGN_OR_RETURN(spec.start, duration_arg("--partition", p[0]));
    STARLING_ASSIGN_OR_RETURN(spec.duration, duration_arg("--partition", p[1]));
    if (p.size() == 3) {
      try {
        spec.fraction = std::stod(p[2]);
      } catch (const std::exception&) {
        return starling::error(StatusCode::kInvalidArgument, "--partition: FRACTION must be a number");
      }
    }
    c.partition = spec;
  }
  if (verify == "full") c.verify = starling::sim::VerifyMode::kFull;
  else if (verify == "shared-cache") c.verify = starling::sim::VerifyMode::kSharedCache;
  else if (verify == "off") c.verify = starling::sim::VerifyMode::kOff;
  else return starling::error(StatusCode::kInvalidArgument, "--verify must be full, shared-cache or off");
  return c.validate();
}

int run_command(const ScenarioConfig& c, bool json_only) {
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  double last_print = 0;
  auto progress = [&](starling::Instant now, std::uint64_t disagreements) {
    if (!tty) return;
    const double wall = wall_seconds();
    if (wall - last_print < 0.5) return;
    last_print = wall;
    std::fprintf(stderr, "\r  virtual %6.0f / %.0f s   views disagreeing: %-8llu",
                 starling::to_seconds(now - starling::Instant{}), starling::to_seconds(c.duration),
                 static_cast<unsigned long long>(disagreements));
    std::fflush(stderr);
  };
  const auto report = starling::sim::run_scenario(c, progress, wall_seconds);
  if (tty) std::fprintf(stderr, "\r%70s\r", "");
  const auto& k = report.checker;
  if (!json_only) {
    std::printf("simulated %zu nodes for %.0f s in %.2f s of wall time (%llu messages, %llu bytes)\n",
                c.nodes, report.virtual_s, report.wall_s,
                static_cast<unsigned long long>(report.messages),
                static_cast<unsigned long long>(report.bytes));
    std::printf("crashes %zu, detected by every live node: %zu (p50 %.2f s, p99 %.2f s, max %.2f s)\n",
                k.crashes, k.detect_s.size(), report.detect_p50_s, report.detect_p99_s,
                report.detect_max_s);
    std::printf("false positives: %zu nodes (%zu declarations); views %s\n", k.false_positive_nodes,
                k.false_positive_declarations,
                k.converge_s ? ("agreed " + std::to_string(*k.converge_s) + " s after the last fault").c_str()
                             : "did not agree at the end");
  }
  if (!json_only) {
    for (const auto& d : k.false_positive_details) std::printf("false positive: %s\n", d.c_str());
  }
  for (const auto& v : k.violations) std::printf("violation: %s\n", v.c_str());
  if (!k.violations.empty()) std::printf("reproduce: %s\n", c.command_line().c_str());
  std::printf("%s\n", starling::sim::report_json(report).c_str());
  return k.violations.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"starling-sim: the deterministic Starling swarm simulator. Exit codes: 0 ok, "
               "1 an invariant was violated, 2 usage error."};
  app.name("starling-sim");
  app.require_subcommand(1);
  ScenarioConfig c;
  std::string duration = "600s", latency = "1ms:1ms", pauses, partition, verify = "full";
  bool json_only = false;
  auto* run = app.add_subcommand("run", "Run one seeded membership scenario with faults");
  run->add_option("--nodes", c.nodes, "Number of simulated nodes")->capture_default_str();
  run->add_option("--duration", duration, "Virtual time to simulate (e.g. 600s, 10m)")
      ->capture_default_str();
  run->add_option("--seed", c.seed, "Seed of the run: same seed and binary, same run")
      ->capture_default_str();
  run->add_option("--profile", c.profile, "Membership profile: default or lan")
      ->capture_default_str();
  run->add_option("--loss", c.loss, "Probability that a message is lost")->capture_default_str();
  run->add_option("--duplicate", c.duplicate, "Probability that a message is delivered twice");
  run->add_option("--reorder", c.reorder,
                  "Probability that a message is held back up to 10 ms (reordering)");
  run->add_option("--bandwidth", c.bandwidth_bytes_per_s,
                  "Each node's uplink in bytes per second (0: unlimited)");
  run->add_option("--drift", c.drift_ppm,
                  "Clock drift: each node's clock runs fast or slow by up to this many ppm");
  run->add_option("--latency", latency, "One-way latency BASE[:JITTER], e.g. 5ms:2ms")
      ->capture_default_str();
  run->add_option("--crashes", c.crashes, "Nodes that crash at random times (never the seeds)");
  run->add_option("--restarts", c.restarts, "Crashed nodes that restart 20-60 s later");
  run->add_option("--pauses", pauses, "K:DURATION[:EVERY]: every EVERY (30s), K random nodes "
                                      "stop for DURATION");
  run->add_option("--partition", partition,
                  "START:DURATION[:FRACTION]: split the swarm (FRACTION on one side, 0.5)");
  run->add_option("--verify", verify,
                  "Signature checks: full, shared-cache (first check of each record runs "
                  "Ed25519, repeats by other nodes hit a shared cache) or off")
      ->capture_default_str();
  run->add_flag("--canary-no-refute", c.canary_disable_refutation,
                "Break the protocol on purpose (no refutation): the checkers must fail the run");
  run->add_flag("--json", json_only, "Print only the JSON report line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  if (Status s = apply_options(c, duration, latency, pauses, partition, verify); !s) {
    std::cerr << "starling-sim: " << s.message() << "\n";
    return 2;
  }
  return run_command(c, json_only);
}
