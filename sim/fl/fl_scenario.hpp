// A federated-learning scenario for the simulator: N virtual learning nodes in one process, each
// with its own partition of Fashion-MNIST (or any Dataset), its own model (a real libtorch
// Learner), its own identity, and the real round protocol (federated::RoundCore) exchanging
// real signed, encoded updates over the simulated network. Training runs for real (on this
// thread, one node at a time) and takes modelled virtual time, so a run is deterministic for a
// seed when libtorch uses one thread. What `starling-sim run --fl` runs.
// Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "base/time.hpp"
#include "federated/data/byzantine.hpp"
#include "federated/data/dataset.hpp"
#include "federated/data/partition.hpp"
#include "federated/torch/learner.hpp"

namespace starling::sim {

// The Byzantine behaviours live in federated/data/byzantine.hpp (the agent has them too).
using federated::ByzantineKind;
using federated::byzantine_kind_name;
using federated::parse_byzantine_kind;

struct FlScenarioConfig {
  std::size_t nodes = 10;
  std::uint64_t seed = 1;
  std::string model = "mlp";
  std::uint64_t rounds = 10;
  std::string partition = "dirichlet:0.5";
  std::string aggregator = "fedavg";
  std::string codec = "float32";
  std::string mode = "sync";  // sync (rounds, F1-F5) or async (gossip learning, F6)
  federated::TrainConfig train;
  std::size_t fanout = 16;
  double quorum = 1.0;
  Duration round_deadline = std::chrono::seconds(60);
  double norm_bound = 0;
  double norm_filter = 0;  // RoundConfig::norm_filter
  std::size_t byzantine = 0;  // the last `byzantine` nodes misbehave
  ByzantineKind byzantine_kind = ByzantineKind::kSignFlip;
  // Modelled training speed (samples per virtual second) for the virtual time training takes.
  double train_samples_per_s = 2000;
  Duration latency = std::chrono::milliseconds(2);
  double loss = 0;
  // Test rows evaluated by each node after every round for progress (0 = all); the final
  // accuracy always uses the whole test set.
  std::size_t eval_rows = 1000;
  // Use only this many training rows in all (0 = all): for quick tests.
  std::size_t train_rows = 0;
  int torch_threads = 1;

  Status validate() const;
  std::string command_line() const;
};

struct FlRoundSummary {
  std::uint64_t round = 0;
  double mean_accuracy = 0;  // honest nodes, on the progress eval rows
  double min_accuracy = 0;
  double mean_loss = 0;
  double virtual_s = 0;
};

struct FlReport {
  FlScenarioConfig config;
  double accuracy = 0;      // mean final test accuracy of the honest nodes, whole test set
  double min_accuracy = 0;
  double loss = 0;
  std::uint64_t rounds = 0;  // rounds every honest node completed
  std::uint64_t bytes = 0;   // all messages on the simulated network
  std::uint64_t update_bytes = 0;  // sealed updates sent, all nodes
  double bytes_per_round_per_node = 0;
  std::uint64_t updates_accepted = 0;
  std::uint64_t updates_rejected = 0;
  std::map<std::string, std::uint64_t> rejected_by_reason;
  std::size_t parameters = 0;
  double virtual_s = 0;
  double wall_s = 0;
  std::uint64_t trace_hash = 0;
  std::vector<FlRoundSummary> history;
};

// Called after every round all honest nodes have completed.
using FlProgressFn = std::function<void(const FlRoundSummary&)>;

// Runs the scenario on `train` (partitioned across the nodes) and `test`. `wall_seconds`
// reads the caller's clock (the simulator reads none itself). kInvalidArgument for a bad
// config (named), kNotFound for an unknown model.
Result<FlReport> run_fl_scenario(const FlScenarioConfig& config, const federated::Dataset& train,
                                 const federated::Dataset& test, const FlProgressFn& progress,
                                 const std::function<double()>& wall_seconds);

// Baselines on the same data and total epochs (rounds * local epochs), for the comparisons
// of docs/RESULTS.md: one model trained on the union of the partitions, and the mean test
// accuracy of the nodes each training alone on its partition.
struct FlBaselines {
  std::optional<double> centralized;
  std::optional<double> isolated_mean;
};
Result<FlBaselines> run_fl_baselines(const FlScenarioConfig& config,
                                     const federated::Dataset& train,
                                     const federated::Dataset& test, bool centralized,
                                     bool isolated);

// The JSON report: the last line of `starling-sim run --fl`.
std::string fl_report_json(const FlReport& report, const FlBaselines& baselines);

}  // namespace starling::sim
