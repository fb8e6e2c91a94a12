// `starling-sim`: the deterministic swarm simulator. `run` executes one seeded membership
// scenario with fault injection and prints a report whose last line is one JSON object
// (`run --fl`: federated learning; `run --workloads N`: consensus with workloads, see
// workloads_command.hpp); `up` (sim/up) runs real agents on 127.0.0.1 instead.
// The only place in the simulator that reads a wall clock (for wall_s and progress).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "federated/data/idx.hpp"
#include "sim/app/workloads_command.hpp"
#include "sim/fl/fl_scenario.hpp"
#include "sim/swarm/scenario.hpp"
#include "sim/up/up_command.hpp"

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

// The options of `run --fl` that need parsing beyond CLI11's.
struct FlOptions {
  bool enabled = false;
  std::string byzantine;        // K:KIND
  std::string baselines;        // centralized,isolated
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string deadline = "60s";
};

int run_fl_command(starling::sim::FlScenarioConfig c, const FlOptions& o,
                   const std::string& partition, bool json_only) {
  if (!partition.empty()) c.partition = partition;
  if (!o.byzantine.empty()) {
    auto parts = split(o.byzantine, ':');
    try {
      c.byzantine = std::stoul(parts[0]);
    } catch (const std::exception&) {
      std::cerr << "starling-sim: --byzantine: expected K:KIND, e.g. 3:signflip\n";
      return 2;
    }
    if (parts.size() > 2) {
      std::cerr << "starling-sim: --byzantine: expected K:KIND, e.g. 3:signflip\n";
      return 2;
    }
    if (parts.size() == 2) {
      auto kind = starling::sim::parse_byzantine_kind(parts[1]);
      if (!kind) {
        std::cerr << "starling-sim: --byzantine: " << kind.status().message() << "\n";
        return 2;
      }
      c.byzantine_kind = *kind;
    }
  }
  auto deadline = duration_arg("--round-deadline", o.deadline);
  if (!deadline) {
    std::cerr << "starling-sim: " << deadline.status().message() << "\n";
    return 2;
  }
  c.round_deadline = *deadline;
  const bool centralized = o.baselines.find("centralized") != std::string::npos;
  const bool isolated = o.baselines.find("isolated") != std::string::npos;
  if (Status valid = c.validate(); !valid) {
    std::cerr << "starling-sim: " << valid.message() << "\n";
    return 2;
  }
  const double load_start = wall_seconds();
  auto data = starling::federated::load_fashion_mnist(o.data_dir);
  if (!data) {
    std::cerr << "starling-sim: " << data.status().message() << "\n";
    return 1;
  }
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  if (!json_only) {
    std::fprintf(stderr, "loaded Fashion-MNIST (%zu train, %zu test rows) in %.1f s; %zu nodes, "
                 "model %s, %llu rounds, partition %s, aggregator %s, codec %s\n",
                 data->train.rows(), data->test.rows(), wall_seconds() - load_start, c.nodes,
                 c.model.c_str(), static_cast<unsigned long long>(c.rounds), c.partition.c_str(),
                 c.aggregator.c_str(), c.codec.c_str());
  }
  const double start = wall_seconds();
  auto progress = [&](const starling::sim::FlRoundSummary& r) {
    if (json_only && !tty) return;
    std::fprintf(stderr, "round %3llu  accuracy mean %.4f  min %.4f  loss %.4f  (%.0f s)\n",
                 static_cast<unsigned long long>(r.round), r.mean_accuracy, r.min_accuracy,
                 r.mean_loss, wall_seconds() - start);
  };
  auto report = starling::sim::run_fl_scenario(c, data->train, data->test, progress, wall_seconds);
  if (!report) {
    std::cerr << "starling-sim: " << report.status().message() << "\n";
    return 1;
  }
  starling::sim::FlBaselines baselines;
  if (centralized || isolated) {
    if (!json_only) std::fprintf(stderr, "baselines (same data, same total epochs)...\n");
    auto b = starling::sim::run_fl_baselines(c, data->train, data->test, centralized, isolated);
    if (!b) {
      std::cerr << "starling-sim: " << b.status().message() << "\n";
      return 1;
    }
    baselines = *b;
  }
  if (!json_only) {
    std::printf("federated: %zu nodes (%zu Byzantine), %llu rounds: test accuracy mean %.4f, "
                "min %.4f; %llu bytes; %llu updates accepted, %llu rejected; %.1f s wall\n",
                c.nodes, c.byzantine, static_cast<unsigned long long>(report->rounds),
                report->accuracy, report->min_accuracy,
                static_cast<unsigned long long>(report->bytes),
                static_cast<unsigned long long>(report->updates_accepted),
                static_cast<unsigned long long>(report->updates_rejected), report->wall_s);
    if (baselines.centralized) std::printf("centralized: %.4f\n", *baselines.centralized);
    if (baselines.isolated_mean) std::printf("isolated (mean): %.4f\n", *baselines.isolated_mean);
  }
  std::printf("%s\n", starling::sim::fl_report_json(*report, baselines).c_str());
  return 0;
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

  // Federated learning (`run --fl`): N learning nodes with the real round protocol.
  FlOptions fl;
  starling::sim::FlScenarioConfig flc;
  run->add_flag("--fl", fl.enabled,
                "Run the federated-learning scenario instead of the membership one (then "
                "--partition is the data partition: iid, dirichlet:ALPHA or shards:K)");
  run->add_option("--model", flc.model, "--fl: model (mlp, cnn, anomaly)")->capture_default_str();
  run->add_option("--rounds", flc.rounds, "--fl: rounds")->capture_default_str();
  run->add_option("--aggregator", flc.aggregator,
                  "--fl: fedavg, median, trimmed-mean[:BETA], krum[:F], multi-krum[:F[:M]]")
      ->capture_default_str();
  run->add_option("--codec", flc.codec, "--fl: float32, float16, int8, topk[:FRACTION]")
      ->capture_default_str();
  run->add_option("--mode", flc.mode, "--fl: sync (rounds) or async (gossip learning)")
      ->capture_default_str();
  run->add_option("--byzantine", fl.byzantine,
                  "--fl: K:KIND, the last K nodes misbehave (signflip, scale, noise, labelflip)");
  run->add_option("--epochs", flc.train.local_epochs, "--fl: local epochs per round")
      ->capture_default_str();
  run->add_option("--lr", flc.train.learning_rate, "--fl: learning rate")->capture_default_str();
  run->add_option("--batch", flc.train.batch_size, "--fl: batch size")->capture_default_str();
  run->add_option("--optimizer", flc.train.optimizer, "--fl: sgd or adam")->capture_default_str();
  run->add_option("--fedprox", flc.train.fedprox_mu, "--fl: FedProx mu (0: plain FedAvg)");
  run->add_option("--fanout", flc.fanout, "--fl: peers each update is sent to")
      ->capture_default_str();
  run->add_option("--quorum", flc.quorum, "--fl: fraction of expected updates that ends a round")
      ->capture_default_str();
  run->add_option("--round-deadline", fl.deadline, "--fl: wait at most this for peers' updates")
      ->capture_default_str();
  run->add_option("--norm-bound", flc.norm_bound, "--fl: reject updates above this L2 norm (0: none)");
  run->add_option("--norm-filter", flc.norm_filter,
                  "--fl: leave out updates above this multiple of the round's median norm (0: off)");
  run->add_option("--train-rows", flc.train_rows, "--fl: use this many training rows (0: all)");
  run->add_option("--eval-rows", flc.eval_rows, "--fl: test rows for per-round progress (0: all)")
      ->capture_default_str();
  run->add_option("--threads", flc.torch_threads, "--fl: libtorch threads (1 is deterministic)")
      ->capture_default_str();
  run->add_option("--baselines", fl.baselines,
                  "--fl: also train centralized and/or isolated baselines, e.g. centralized,isolated");
  run->add_option("--data-dir", fl.data_dir, "--fl: Fashion-MNIST directory")->capture_default_str();

  // Consensus with workloads (`run --workloads N`): the controller, stream runners, checkers.
  starling::sim::WorkloadCommand wl;
  run->add_option("--workloads", wl.config.workloads,
                  "Run the consensus scenario with N stream workloads instead (then --nodes "
                  "defaults to 5, --duration to 90s, --drift to 50000 ppm)");
  run->add_option("--replicas", wl.config.replicas, "--workloads: replicas per workload")
      ->capture_default_str();
  run->add_option("--seeds", wl.seeds, "--workloads: run every seed of A..B, print failing seeds");
  run->add_option("--faults", wl.faults,
                  "--workloads: all, none, or some of crash,restart,partition,loss,pause,drift")
      ->capture_default_str();
  run->add_option("--loss-max", wl.config.loss_max, "--workloads: the highest loss drawn")
      ->capture_default_str();
  run->add_option("--quiet", wl.quiet, "--workloads: fault-free period at the end")
      ->capture_default_str();
  run->add_option("--liveness-bound", wl.bound,
                  "--workloads: every replica runs from the quiet period's start plus this")
      ->capture_default_str();
  run->add_option("--records", wl.config.records, "--workloads: records per stream")
      ->capture_default_str();
  run->add_option("--rate", wl.config.rate_per_second, "--workloads: records per second")
      ->capture_default_str();
  run->add_option("--checkpoint-every", wl.config.checkpoint_every,
                  "--workloads: records between checkpoints")->capture_default_str();
  run->add_option("--assume-clock-error", wl.config.assumed_clock_rate_error,
                  "--workloads: the clock-rate error bound nodes assume (0.05; below the drift "
                  "the leases are unsafe)");
  run->add_option("--canary", wl.canary,
                  "--workloads: skip-lease (owners ignore their leases): the checkers must fail");
  starling::up::UpCommand up_command;  // `up`: real agents on 127.0.0.1 (sim/up)
  auto* up = starling::up::add_up_command(app, up_command);
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
  if (up->parsed()) return starling::up::run_up_command(up_command);
  if (run->count("--workloads") > 0) {
    wl.config.seed = c.seed;
    if (run->count("--nodes") > 0) wl.config.nodes = c.nodes;
    if (run->count("--drift") > 0) wl.config.drift_ppm = c.drift_ppm;
    if (run->count("--duration") > 0) {
      auto d = duration_arg("--duration", duration);
      if (!d) {
        std::cerr << "starling-sim: " << d.status().message() << "\n";
        return 2;
      }
      wl.config.duration = *d;
    }
    wl.json_only = json_only;
    return starling::sim::run_workload_command(wl, wall_seconds);
  }
  if (fl.enabled) {
    flc.seed = c.seed;
    flc.nodes = run->count("--nodes") > 0 ? c.nodes : flc.nodes;
    flc.loss = c.loss;
    return run_fl_command(flc, fl, partition, json_only);
  }
  if (Status s = apply_options(c, duration, latency, pauses, partition, verify); !s) {
    std::cerr << "starling-sim: " << s.message() << "\n";
    return 2;
  }
  return run_command(c, json_only);
}
