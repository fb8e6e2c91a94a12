// `starling-sim up`: a throwaway swarm of real `starlingd` agents on 127.0.0.1 (LocalSwarm)
// that learns together, runs workloads and goes through a chaos plan, observed through the
// agents' control APIs and written up as report.json and report.html.
//
// report.json (format "starling-up-report", version 1) holds: config (the options), outcome
// ("completed", "interrupted" or "failed", with "error"), started_unix_ms, healthy_after_s,
// scenario_s (t = 0 is the moment every agent saw all the others alive; every "t" below counts
// from it), wall_s, nodes (per agent: name, id, control, address, pids of each start, running,
// status as the others saw it at the end, round, state, accuracy, loss, bytes_sent and
// bytes_received summed over restarts), accuracy (node, round, accuracy, loss, t: one entry per
// evaluated round), membership (t, node, status, seen_by, of: each agent's status as most of
// the others saw it), views (t, observer, subject, status: every agent's own view changes),
// chaos (t, kind, node, spec, error; "resume" entries for paused agents), failovers (workload,
// replica, from, to, cause, start_s, end_s, duration_s: null while the workload had not run
// elsewhere by the end), reassignments, leader (t, leader, node, term), workloads (the last
// table), workloads_supported, workloads_note, baselines (centralized, isolated_mean, wall_s).
//
// Threading: run_up runs on the caller's thread and blocks until the scenario ends; the
// hooks are called on that thread. Every agent it started is stopped before it returns
// (SIGTERM, then SIGKILL), unless keep_running asked to leave them up after a completed run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.hpp"
#include "base/time.hpp"
#include "sim/up/chaos.hpp"

namespace starling::up {

struct UpConfig {
  // Where starlingd is (starling-sim's own directory).
  std::filesystem::path bin_dir;
  // Five agents train 10 rounds of a cnn in about 80 s on 2 cores (measured: round 1 takes
  // the 30 s round deadline, later rounds 5-7 s): membership, learning and failover shown
  // without a long wait.
  std::size_t nodes = 5;
  // Agent i listens on base_port + i; 0 = free ports picked at start.
  std::uint16_t base_port = 0;
  // The fleet and the agents' data directories: created when missing, must be empty if it
  // exists. Empty: a new directory under $TMPDIR (kept, with the report in it).
  std::filesystem::path data_dir;
  // mlp, cnn, anomaly, or "none" (no federated learning).
  std::string model = "cnn";
  // How Fashion-MNIST's training set is split among the agents (iid, dirichlet:ALPHA,
  // shards:K); Dirichlet(0.5) gives the uneven class mix of real devices.
  std::string partition = "dirichlet:0.5";
  std::uint64_t rounds = 10;
  // The agents' aggregator and norm filter (starlingd --aggregator, --norm-filter).
  std::string aggregator = "fedavg";
  double norm_filter = 0;
  // Fault injection: the last `byzantine` agents run with starlingd --byzantine KIND and send
  // corrupted updates; the progress line and the report's summary count only the honest ones.
  std::size_t byzantine = 0;
  std::string byzantine_kind = "signflip";
  // Stream workloads (stream-00, stream-01, ...) added once the swarm is healthy, each
  // `workload_records` records at `workload_rate` per second: by default they outlast the
  // scenario, so that a fault always finds workloads to move.
  std::size_t workloads = 0;
  std::uint64_t workload_records = 1'000'000;
  std::uint64_t workload_rate = 500;
  std::vector<ChaosEvent> chaos;
  std::string chaos_text;  // as given, for the report
  bool baseline_centralized = false;
  bool baseline_isolated = false;
  // Where Fashion-MNIST is, for the baselines (the agents use the same files).
  std::filesystem::path fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";
  // Where report.json and report.html go. Empty: DATA_DIR/report.
  std::filesystem::path report_dir;
  // The scenario runs at least this long (for runs without a model).
  Duration min_duration{};
  // The scenario fails when it has not ended after this long (from healthy).
  Duration timeout = std::chrono::minutes(30);
  // How long the agents may take to see each other alive after the last one started.
  Duration healthy_timeout = std::chrono::seconds(60);
  // Leave the agents running after a completed scenario (their pids and control endpoints are
  // printed and in report.json); on failure or interruption they are stopped all the same.
  bool keep_running = false;
  std::string profile = "default";

  // kInvalidArgument naming the option: nodes 1..100, rounds >= 1 with a model, a known model
  // and partition, chaos against the node count (validate_chaos), ports within 1..65535.
  Status validate() const;
  nlohmann::json to_json() const;
};

struct UpHooks {
  // Polled about every 100 ms: true ends the scenario early ("interrupted").
  std::function<bool()> stop_requested;
  // One line of live progress (no newline).
  std::function<void(const std::string&)> print;
  // Called once the agents are stopped, before the baselines train (which can take minutes
  // and need no clean-up): `starling-sim up` restores the default Ctrl-C there.
  std::function<void()> agents_stopped;
};

struct UpSummary {
  nlohmann::json report;
  std::filesystem::path report_dir;
  int exit_code = 0;  // 0 completed, 1 failed, 130 interrupted
};

// Runs the scenario. Errors before any agent started (a bad data directory, no starlingd) are
// returned as Status; once agents exist, every outcome writes the report and is a summary.
Result<UpSummary> run_up(const UpConfig& config, const UpHooks& hooks);

}  // namespace starling::up
