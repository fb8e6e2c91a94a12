// Implementation of the federated-learning scenario. Each simulated node is a Process that owns
// a RoundCore, a Learner and its partition; messages are the round protocol's sealed bytes with
// a one-byte type in front, carried by the simulated network.
#include "sim/fl/fl_scenario.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "agent/wire/map_key_directory.hpp"
#include "agent/wire/update_signer.hpp"
#include "base/assert.hpp"
#include "base/rng.hpp"
#include "crypto/identity.hpp"
#include "federated/core/round.hpp"
#include "federated/data/byzantine.hpp"
#include "sim/world.hpp"

namespace starling::sim {
namespace {

using federated::Dataset;
using federated::Learner;
using federated::RoundCore;
using federated::RoundMessageType;

constexpr std::uint64_t kTrainedTimer = 1;
constexpr std::uint64_t kDeadlineTimer = 2;
constexpr std::uint64_t kKeySeed = 0x464c;  // identities of the FL scenario ("FL")

// What all simulated learning nodes share.
struct FlShared {
  const FlScenarioConfig* config = nullptr;
  federated::RoundConfig round;
  std::vector<crypto::Identity> identities;
  wire::MapKeyDirectory keys;
  std::vector<Dataset> partitions;
  const Dataset* test = nullptr;
  Dataset eval;  // the progress subset of the test set
  std::vector<float> initial;  // every node starts from the same model (seeded)
  // Per node and round: accuracy and loss on the progress subset.
  std::vector<std::map<std::uint64_t, std::pair<double, double>>> evals;
  World* world = nullptr;
};

class FlNode final : public Process {
 public:
  FlNode(NodeIndex self, Context& context, FlShared& shared)
      : self_(self), context_(context), shared_(shared) {}

  void on_start() override {
    const FlScenarioConfig& c = *shared_.config;
    federated::LearnerOptions options;
    options.threads = 0;  // the process setting (set once by the scenario)
    auto learner = Learner::create(c.model, c.seed, options);
    STARLING_ASSERT(learner.is_ok(), "learner creation failed after validation");
    learner_ = std::move(*learner);
    signer_ = std::make_unique<wire::SignedUpdateSigner>(shared_.identities[self_], shared_.keys);
    // A Byzantine node runs modified software: it does not hold its own update to the norm
    // bound that honest nodes apply to what they receive.
    federated::RoundConfig round = shared_.round;
    if (byzantine()) {
      round.norm_bound = 0;
      round.norm_filter = 0;
    }
    core_ = std::make_unique<RoundCore>(round, shared_.identities[self_].node_id(),
                                        shared_.initial, *signer_,
                                        c.seed ^ (0x9e3779b97f4a7c15ULL * (self_ + 1)));
    std::vector<NodeId> peers;
    for (NodeIndex i = 0; i < shared_.identities.size(); ++i) {
      if (i != self_) peers.push_back(shared_.identities[i].node_id());
    }
    core_->set_peers(peers, now());
    core_->start(now());
    flush();
  }

  void on_message(NodeIndex from, const Bytes& payload) override {
    if (payload.empty()) return;
    const auto type = static_cast<RoundMessageType>(payload[0]);
    core_->step(shared_.identities[from].node_id(), type, ByteSpan(payload).subspan(1), now());
    flush();
  }

  void on_timer(std::uint64_t timer_id) override {
    if (timer_id == kTrainedTimer) {
      core_->on_trained(trained_round_, trained_, trained_samples_, now());
    } else {
      deadline_at_ = Instant::max();
      core_->tick(now());
    }
    flush();
  }

  const RoundCore& core() const { return *core_; }
  Learner& learner() { return *learner_; }
  bool byzantine() const {
    const FlScenarioConfig& c = *shared_.config;
    return self_ >= c.nodes - c.byzantine;
  }

 private:
  Instant now() const { return context_.local_now(); }

  void flush() {
    federated::RoundReady ready = core_->take_ready();
    for (auto& out : ready.messages) {
      Bytes bytes;
      bytes.reserve(out.bytes.size() + 1);
      bytes.push_back(static_cast<std::uint8_t>(out.type));
      bytes.insert(bytes.end(), out.bytes.begin(), out.bytes.end());
      context_.send(index_of(out.to), std::move(bytes));
    }
    for (const auto& result : ready.completed) evaluate(result.round);
    if (ready.train) train(*ready.train);
    const Instant next = core_->next_deadline();
    if (next != Instant::max() && next != deadline_at_) {
      deadline_at_ = next;
      context_.set_timer(std::max(next - now(), Duration::zero()), kDeadlineTimer);
    }
  }

  NodeIndex index_of(const NodeId& id) const {
    for (NodeIndex i = 0; i < shared_.identities.size(); ++i) {
      if (shared_.identities[i].node_id() == id) return i;
    }
    STARLING_ASSERT(false, "message to an unknown node");
    return 0;
  }

  void train(const federated::TrainOrder& order) {
    const FlScenarioConfig& c = *shared_.config;
    const Dataset& data = shared_.partitions[self_];
    Status set = learner_->set_parameters(order.params);
    STARLING_ASSERT(set.is_ok(), "round model rejected by the learner");
    const std::uint64_t seed = c.seed * 1'000'003 + self_ * 10'007 + order.round;
    Result<federated::TrainStats> stats = error(StatusCode::kInternal, "not trained");
    if (byzantine() && c.byzantine_kind == ByzantineKind::kLabelFlip) {
      Dataset flipped = data;
      federated::flip_labels(flipped);
      stats = learner_->train(flipped, c.train, seed);
    } else {
      stats = learner_->train(data, c.train, seed);
    }
    STARLING_ASSERT(stats.is_ok(), "training failed");
    trained_.resize(order.params.size());
    learner_->get_parameters(trained_);
    if (byzantine()) federated::corrupt_update(c.byzantine_kind, order.params, trained_, seed);
    trained_round_ = order.round;
    trained_samples_ = data.rows();
    const double seconds = static_cast<double>(data.rows() * c.train.local_epochs) /
                           c.train_samples_per_s;
    context_.set_timer(Duration(static_cast<Duration::rep>(seconds * 1e6)), kTrainedTimer);
  }

  void evaluate(std::uint64_t round) {
    Status set = learner_->set_parameters(core_->params());
    STARLING_ASSERT(set.is_ok(), "aggregated model rejected by the learner");
    auto stats = learner_->evaluate(shared_.eval);
    STARLING_ASSERT(stats.is_ok(), "evaluation failed");
    shared_.evals[self_][round] = {stats->accuracy, stats->loss};
  }

  NodeIndex self_;
  Context& context_;
  FlShared& shared_;
  std::unique_ptr<Learner> learner_;
  std::unique_ptr<wire::SignedUpdateSigner> signer_;
  std::unique_ptr<RoundCore> core_;
  std::vector<float> trained_;
  std::uint64_t trained_round_ = 0;
  std::uint64_t trained_samples_ = 0;
  Instant deadline_at_ = Instant::max();
};

Result<std::vector<Dataset>> make_partitions(const FlScenarioConfig& c, const Dataset& train) {
  STARLING_ASSIGN_OR_RETURN(federated::PartitionSpec spec, federated::parse_partition(c.partition));
  const Dataset* source = &train;
  Dataset limited;
  if (c.train_rows != 0 && c.train_rows < train.rows()) {
    std::vector<std::size_t> rows(train.rows());
    std::iota(rows.begin(), rows.end(), std::size_t{0});
    Rng rng(c.seed ^ 0x7261);
    rng.shuffle(rows.begin(), rows.end());
    rows.resize(c.train_rows);
    limited = train.subset(rows);
    source = &limited;
  }
  STARLING_ASSIGN_OR_RETURN(auto assignment,
                            federated::partition_dataset(*source, c.nodes, spec, c.seed));
  std::vector<Dataset> parts;
  parts.reserve(c.nodes);
  for (const auto& rows : assignment) parts.push_back(source->subset(rows));
  return parts;
}

Dataset eval_subset(const FlScenarioConfig& c, const Dataset& test) {
  if (c.eval_rows == 0 || c.eval_rows >= test.rows()) return test;
  std::vector<std::size_t> rows(test.rows());
  std::iota(rows.begin(), rows.end(), std::size_t{0});
  Rng rng(c.seed ^ 0x6576);
  rng.shuffle(rows.begin(), rows.end());
  rows.resize(c.eval_rows);
  std::sort(rows.begin(), rows.end());
  return test.subset(rows);
}

}  // namespace

Status FlScenarioConfig::validate() const {
  auto bad = [](const std::string& what) { return error(StatusCode::kInvalidArgument, what); };
  if (nodes < 1 || nodes > 1000) return bad("--nodes: 1 to 1000 learning nodes");
  if (rounds < 1) return bad("--rounds: at least 1");
  if (byzantine >= nodes) return bad("--byzantine: fewer than --nodes");
  if (!(train_samples_per_s > 0)) return bad("train_samples_per_s: must be positive");
  if (torch_threads < 1) return bad("--threads: at least 1");
  STARLING_RETURN_IF_ERROR(train.validate());
  if (auto p = federated::parse_partition(partition); !p) return p.status();
  if (auto a = federated::parse_aggregator(aggregator); !a) return a.status();
  if (auto k = federated::parse_codec(codec); !k) return k.status();
  if (auto m = federated::parse_round_mode(mode); !m) return bad("--mode: " + m.status().message());
  const auto names = Learner::model_names();
  if (std::find(names.begin(), names.end(), model) == names.end()) {
    return bad("--model: unknown model '" + model + "' (use mlp, cnn or anomaly)");
  }
  return Status();
}

std::string FlScenarioConfig::command_line() const {
  std::ostringstream out;
  out << "starling-sim run --fl --nodes " << nodes << " --model " << model << " --rounds "
      << rounds << " --partition " << partition << " --aggregator " << aggregator << " --codec "
      << codec << " --mode " << mode << " --epochs " << train.local_epochs << " --lr " << train.learning_rate
      << " --batch " << train.batch_size;
  if (norm_filter > 0) out << " --norm-filter " << norm_filter;
  if (byzantine > 0) out << " --byzantine " << byzantine << ":" << byzantine_kind_name(byzantine_kind);
  if (train_rows > 0) out << " --train-rows " << train_rows;
  out << " --seed " << seed;
  return out.str();
}

Result<FlReport> run_fl_scenario(const FlScenarioConfig& c, const Dataset& train,
                                 const Dataset& test, const FlProgressFn& progress,
                                 const std::function<double()>& wall_seconds) {
  STARLING_RETURN_IF_ERROR(c.validate());
  const double wall_start = wall_seconds();
  federated::set_torch_threads(c.torch_threads);

  FlShared shared;
  shared.config = &c;
  STARLING_ASSIGN_OR_RETURN(shared.partitions, make_partitions(c, train));
  shared.test = &test;
  shared.eval = eval_subset(c, test);
  shared.evals.resize(c.nodes);
  for (std::size_t i = 0; i < c.nodes; ++i) {
    shared.identities.push_back(crypto::Identity::for_simulation(kKeySeed ^ c.seed, i));
    shared.keys.add(shared.identities.back());
  }
  STARLING_ASSIGN_OR_RETURN(auto prototype, Learner::create(c.model, c.seed));
  shared.initial.resize(prototype->parameter_count());
  prototype->get_parameters(shared.initial);
  federated::RoundConfig& round = shared.round;
  round.layout.tensor_sizes = prototype->tensor_sizes();
  round.model_id = federated::model_id_of(c.model, round.layout);
  STARLING_ASSIGN_OR_RETURN(round.aggregator, federated::parse_aggregator(c.aggregator));
  STARLING_ASSIGN_OR_RETURN(round.codec, federated::parse_codec(c.codec));
  STARLING_ASSIGN_OR_RETURN(round.mode, federated::parse_round_mode(c.mode));
  round.fanout = c.fanout;
  round.quorum = c.quorum;
  round.round_deadline = c.round_deadline;
  round.norm_bound = c.norm_bound;
  round.norm_filter = c.norm_filter;
  round.rounds = c.rounds;
  STARLING_RETURN_IF_ERROR(round.validate());

  WorldConfig world_config;
  world_config.node_count = c.nodes;
  world_config.seed = c.seed;
  world_config.network.link.latency_base_us = c.latency.count();
  world_config.network.link.loss_probability = c.loss;
  STARLING_RETURN_IF_ERROR(world_config.validate());
  std::vector<FlNode*> nodes(c.nodes, nullptr);
  World world(world_config, [&](NodeIndex self, Context& context) {
    auto node = std::make_unique<FlNode>(self, context, shared);
    nodes[self] = node.get();
    return node;
  });
  shared.world = &world;
  world.start_all();

  const std::size_t honest = c.nodes - c.byzantine;
  // The honest nodes' accuracy and loss on the progress subset after round r.
  auto summarize = [&](std::uint64_t r) {
    FlRoundSummary summary;
    summary.round = r;
    summary.min_accuracy = 1.0;
    for (std::size_t i = 0; i < honest; ++i) {
      auto it = shared.evals[i].find(r);
      const auto [acc, loss] = it == shared.evals[i].end() ? std::pair{0.0, 0.0} : it->second;
      summary.mean_accuracy += acc / static_cast<double>(honest);
      summary.mean_loss += loss / static_cast<double>(honest);
      summary.min_accuracy = std::min(summary.min_accuracy, acc);
    }
    summary.virtual_s = to_seconds(world.now() - Instant{});
    return summary;
  };
  std::uint64_t reported = 0;
  std::vector<FlRoundSummary> history;
  // Run in slices of virtual time; report each round once every honest node completed it.
  const Duration slice = std::chrono::seconds(1);
  const Instant limit = Instant{} + std::chrono::hours(24 * 30);
  while (world.now() < limit) {
    world.run_for(slice);
    std::uint64_t done = c.rounds;
    for (std::size_t i = 0; i < honest; ++i) {
      done = std::min<std::uint64_t>(done, nodes[i]->core().stats().rounds_completed);
    }
    while (reported < done) {
      FlRoundSummary summary = summarize(++reported);
      if (progress) progress(summary);
      history.push_back(summary);
    }
    if (done >= c.rounds) break;
  }
  FlReport report;
  report.config = c;
  report.rounds = c.rounds;
  report.parameters = shared.initial.size();
  report.min_accuracy = 1.0;
  for (std::size_t i = 0; i < honest; ++i) {
    Learner& learner = nodes[i]->learner();
    STARLING_RETURN_IF_ERROR(learner.set_parameters(nodes[i]->core().params()));
    STARLING_ASSIGN_OR_RETURN(federated::EvalStats stats, learner.evaluate(test));
    report.accuracy += stats.accuracy / static_cast<double>(honest);
    report.loss += stats.loss / static_cast<double>(honest);
    report.min_accuracy = std::min(report.min_accuracy, stats.accuracy);
    report.rounds = std::min<std::uint64_t>(report.rounds, nodes[i]->core().stats().rounds_completed);
  }
  for (std::size_t i = 0; i < c.nodes; ++i) {
    const federated::RoundStats& s = nodes[i]->core().stats();
    report.update_bytes += s.update_bytes_sent;
    report.updates_accepted += s.updates_accepted;
    report.updates_rejected += s.rejected_total();
    for (const auto& [reason, count] : s.rejected) report.rejected_by_reason[reason] += count;
  }
  report.history = std::move(history);
  report.bytes = world.network().stats().bytes_sent;
  report.bytes_per_round_per_node =
      report.rounds == 0 ? 0
                         : static_cast<double>(report.update_bytes) /
                               static_cast<double>(report.rounds * c.nodes);
  report.virtual_s = to_seconds(world.now() - Instant{});
  report.trace_hash = world.trace_hash();
  report.wall_s = wall_seconds() - wall_start;
  return report;
}

Result<FlBaselines> run_fl_baselines(const FlScenarioConfig& c, const Dataset& train,
                                     const Dataset& test, bool centralized, bool isolated) {
  STARLING_RETURN_IF_ERROR(c.validate());
  federated::set_torch_threads(c.torch_threads);
  STARLING_ASSIGN_OR_RETURN(std::vector<Dataset> parts, make_partitions(c, train));
  FlBaselines out;
  federated::TrainConfig config = c.train;
  config.local_epochs = c.rounds * c.train.local_epochs;  // the same total epochs
  if (centralized) {
    // The union of the partitions (so a --train-rows limit applies to both).
    Dataset all = parts[0];
    for (std::size_t i = 1; i < parts.size(); ++i) {
      all.x.insert(all.x.end(), parts[i].x.begin(), parts[i].x.end());
      all.y.insert(all.y.end(), parts[i].y.begin(), parts[i].y.end());
    }
    STARLING_ASSIGN_OR_RETURN(auto learner, Learner::create(c.model, c.seed));
    STARLING_RETURN_IF_ERROR(learner->train(all, config, c.seed).status());
    STARLING_ASSIGN_OR_RETURN(federated::EvalStats stats, learner->evaluate(test));
    out.centralized = stats.accuracy;
  }
  if (isolated) {
    double sum = 0;
    const std::size_t honest = c.nodes - c.byzantine;
    for (std::size_t i = 0; i < honest; ++i) {
      STARLING_ASSIGN_OR_RETURN(auto learner, Learner::create(c.model, c.seed));
      STARLING_RETURN_IF_ERROR(learner->train(parts[i], config, c.seed + i).status());
      STARLING_ASSIGN_OR_RETURN(federated::EvalStats stats, learner->evaluate(test));
      sum += stats.accuracy;
    }
    out.isolated_mean = sum / static_cast<double>(honest);
  }
  return out;
}

std::string fl_report_json(const FlReport& r, const FlBaselines& baselines) {
  nlohmann::json rejected = nlohmann::json::object();
  for (const auto& [reason, count] : r.rejected_by_reason) rejected[reason] = count;
  nlohmann::json history = nlohmann::json::array();
  for (const auto& h : r.history) {
    history.push_back({{"round", h.round}, {"mean_accuracy", h.mean_accuracy},
                       {"min_accuracy", h.min_accuracy}, {"mean_loss", h.mean_loss}});
  }
  nlohmann::json j = {
      {"fl", true},
      {"seed", r.config.seed},
      {"nodes", r.config.nodes},
      {"model", r.config.model},
      {"partition", r.config.partition},
      {"aggregator", r.config.aggregator},
      {"codec", r.config.codec},
      {"mode", r.config.mode},
      {"norm_filter", r.config.norm_filter},
      {"byzantine", r.config.byzantine},
      {"byzantine_kind", std::string(byzantine_kind_name(r.config.byzantine_kind))},
      {"rounds", r.rounds},
      {"accuracy", r.accuracy},
      {"min_accuracy", r.min_accuracy},
      {"loss", r.loss},
      {"parameters", r.parameters},
      {"bytes", r.bytes},
      {"update_bytes", r.update_bytes},
      {"bytes_per_round_per_node", r.bytes_per_round_per_node},
      {"updates_accepted", r.updates_accepted},
      {"updates_rejected", r.updates_rejected},
      {"rejected_by_reason", rejected},
      {"virtual_s", r.virtual_s},
      {"wall_s", r.wall_s},
      {"trace_hash", r.trace_hash},
      {"history", history},
  };
  if (baselines.centralized) j["centralized_accuracy"] = *baselines.centralized;
  if (baselines.isolated_mean) j["isolated_mean_accuracy"] = *baselines.isolated_mean;
  return j.dump();
}

}  // namespace starling::sim
