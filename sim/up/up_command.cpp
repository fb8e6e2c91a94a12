// The `up` subcommand (see up_command.hpp). The stop flag is the one process-wide variable:
// a signal handler can only reach a global.
#include "sim/up/up_command.hpp"

#include <signal.h>

#include <csignal>
#include <iostream>

namespace starling::up {
namespace {

volatile std::sig_atomic_t g_stop_requested = 0;

extern "C" void on_stop_signal(int) { g_stop_requested = 1; }

// SIGINT and SIGTERM set the flag (no SA_RESTART: sleeps end early); the scenario loop sees it
// within 100 ms, stops every agent and writes the report.
void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

void restore_default_handlers() {
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
}

std::filesystem::path own_directory() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::current_path() : self.parent_path();
}

// Parses what CLI11 leaves as text; kInvalidArgument naming the option.
Status finish_parsing(UpCommand& c) {
  if (!c.byzantine.empty()) {
    const auto colon = c.byzantine.find(':');
    const std::string count = c.byzantine.substr(0, colon);
    const bool digits = !count.empty() && count.size() <= 3 &&
                        count.find_first_not_of("0123456789") == std::string::npos;
    if (colon == std::string::npos || !digits) {
      return error(StatusCode::kInvalidArgument,
                   "--byzantine: expected K:KIND, e.g. 1:signflip, got '" + c.byzantine + "'");
    }
    c.config.byzantine = std::stoul(count);
    c.config.byzantine_kind = c.byzantine.substr(colon + 1);
  }
  STARLING_ASSIGN_OR_RETURN(c.config.chaos, parse_chaos(c.chaos));
  c.config.chaos_text = c.chaos;
  std::size_t start = 0;
  while (start <= c.baselines.size() && !c.baselines.empty()) {
    const auto comma = c.baselines.find(',', start);
    const std::string item = c.baselines.substr(start, comma - start);
    if (item == "centralized") {
      c.config.baseline_centralized = true;
    } else if (item == "isolated") {
      c.config.baseline_isolated = true;
    } else {
      return error(StatusCode::kInvalidArgument,
                   "--baselines: unknown baseline '" + item +
                       "' (use centralized, isolated or both)");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  auto duration = parse_duration(c.duration);
  if (!duration) return duration.status().with_context("--duration");
  c.config.min_duration = *duration;
  auto timeout = parse_duration(c.timeout);
  if (!timeout) return timeout.status().with_context("--timeout");
  c.config.timeout = *timeout;
  if (c.config.bin_dir.empty()) c.config.bin_dir = own_directory();
  return c.config.validate();
}

}  // namespace

CLI::App* add_up_command(CLI::App& app, UpCommand& command) {
  UpConfig& c = command.config;
  auto* up = app.add_subcommand(
      "up", "Run a throwaway swarm of real starlingd agents on 127.0.0.1: enrol N devices, "
            "start them, train a model together, add workloads, inject faults, then stop every "
            "agent and write report.json and report.html");
  up->add_option("--nodes", c.nodes, "Agents to start (1-100)")->capture_default_str();
  up->add_option("--base-port", c.base_port,
                 "Agent i listens on 127.0.0.1:(P + i); 0 picks free ports")
      ->capture_default_str();
  up->add_option("--data-dir", c.data_dir,
                 "New or empty directory for the fleet and the agents (default: a new "
                 "$TMPDIR/starling-up-XXXXXX, kept)");
  up->add_option("--model", c.model, "Model the agents train: mlp, cnn, anomaly or none")
      ->capture_default_str();
  up->add_option("--partition", c.partition,
                 "How Fashion-MNIST is split: iid, dirichlet:ALPHA or shards:K")
      ->capture_default_str();
  up->add_option("--rounds", c.rounds, "Federated rounds")->capture_default_str();
  up->add_option("--workloads", c.workloads,
                 "Stream workloads stream-00.. added once the swarm is healthy")
      ->capture_default_str();
  up->add_option("--workload-records", c.workload_records, "Records per stream workload")
      ->capture_default_str();
  up->add_option("--workload-rate", c.workload_rate, "Records per second per stream workload")
      ->capture_default_str();
  up->add_option("--chaos", command.chaos,
                 "Faults, KIND:NODE@TIME[:DURATION],... with KIND kill (SIGKILL), pause (SIGSTOP, "
                 "SIGCONT after DURATION), restart (same data directory), term (graceful leave); "
                 "NODE a 0-based index; TIME from the moment the swarm is healthy. E.g. "
                 "kill:2@30s,pause:1@60s:10s,restart:2@90s");
  up->add_option("--aggregator", c.aggregator,
                 "The agents' aggregator: fedavg, median, trimmed-mean[:BETA], krum[:F], "
                 "multi-krum[:F[:M]]")
      ->capture_default_str();
  up->add_option("--norm-filter", c.norm_filter,
                 "The agents leave out updates above FACTOR x the round's median norm (0 = off)")
      ->capture_default_str();
  up->add_option("--byzantine", command.byzantine,
                 "K:KIND, fault injection: the last K agents send corrupted updates (KIND "
                 "signflip, scale, noise or labelflip; starlingd --byzantine); accuracy figures "
                 "count only the honest agents");
  up->add_option("--baselines", command.baselines,
                 "Also train centralized and/or isolated baselines on the same partition, seed "
                 "and total epochs, after the swarm stopped (minutes for a cnn)");
  up->add_option("--report", c.report_dir, "Where report.json and report.html go (default: "
                                           "DATA_DIR/report)");
  up->add_option("--duration", command.duration,
                 "Run at least this long after the swarm is healthy (for --model none)")
      ->capture_default_str();
  up->add_option("--timeout", command.timeout, "Fail when the scenario has not ended after this")
      ->capture_default_str();
  up->add_option("--profile", c.profile, "Membership timing profile: default or lan")
      ->capture_default_str();
  up->add_flag("--keep-running", c.keep_running,
               "Leave the agents running after a completed scenario (pids and control endpoints "
               "are printed and in report.json); they are stopped anyway on failure or Ctrl-C");
  up->footer("Ctrl-C stops every agent and still writes the report. Exit codes: 0 completed, "
             "1 failed, 2 usage error, 130 interrupted.");
  return up;
}

int run_up_command(UpCommand& command) {
  if (Status s = finish_parsing(command); !s.is_ok()) {
    std::cerr << "starling-sim up: " << s.message() << "\n";
    return 2;
  }
  install_stop_handlers();
  UpHooks hooks;
  hooks.stop_requested = [] { return g_stop_requested != 0; };
  hooks.print = [](const std::string& line) { std::cout << line << std::endl; };
  hooks.agents_stopped = restore_default_handlers;
  auto summary = run_up(command.config, hooks);
  if (!summary) {
    restore_default_handlers();
    std::cerr << "starling-sim up: " << summary.status().message() << "\n";
    return summary.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cout << "report: " << (summary->report_dir / "report.html").string() << "\n"
            << "        " << (summary->report_dir / "report.json").string() << std::endl;
  return summary->exit_code;
}

}  // namespace starling::up
