// Building, faulting and finishing the workloads scenario.
#include "sim/workloads/scenario.hpp"

#include <algorithm>
#include <cstdio>

#include "workloads/ledger.hpp"
#include "workloads/stream.hpp"

namespace starling::sim {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Duration random_in(Rng& rng, Duration low, Duration high) {
  if (high <= low) return low;
  return low + Duration(static_cast<Duration::rep>(
                   rng.uniform(static_cast<std::uint64_t>((high - low).count()) + 1)));
}

std::string workload_name(std::size_t k) { return "stream-" + std::to_string(k); }

// Above this loss an election can take longer than the availability bound without anything
// being wrong (a pre-vote round needs two answers of two messages each: at 30% loss a round
// succeeds a quarter of the time), so check_availability() waits for less loss.
constexpr double kAvailabilityLossMax = 0.1;

// Node ids drawn from the seed, so that placement and bootstrap order change with it.
std::vector<NodeId> node_ids(std::uint64_t seed, std::size_t nodes) {
  std::vector<NodeId> ids;
  std::uint64_t state = seed ^ 0x6e6f64652d696473ULL;  // "node-ids"
  while (ids.size() < nodes) {
    const std::uint64_t v = splitmix64(state);
    if (v != 0) ids.push_back(NodeId::from_u64(v));
  }
  return ids;
}

}  // namespace

Result<WorkloadFaults> parse_workload_faults(std::string_view list) {
  WorkloadFaults f;
  if (list == "all") return f;
  f = WorkloadFaults{false, false, false, false, false, false};
  if (list == "none" || list.empty()) return f;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string_view item = list.substr(start, comma - start);
    if (item == "crash") f.crash = true;
    else if (item == "restart") f.restart = true;
    else if (item == "partition") f.partition = true;
    else if (item == "loss") f.loss = true;
    else if (item == "pause") f.pause = true;
    else if (item == "drift") f.drift = true;
    else {
      return error(StatusCode::kInvalidArgument,
                   "--faults: unknown fault '" + std::string(item) +
                       "' (crash, restart, partition, loss, pause, drift, all, none)");
    }
    start = comma + 1;
  }
  return f;
}

std::string workload_faults_text(const WorkloadFaults& f) {
  std::string out;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!out.empty()) out += ",";
    out += name;
  };
  add(f.crash, "crash");
  add(f.restart, "restart");
  add(f.partition, "partition");
  add(f.loss, "loss");
  add(f.pause, "pause");
  add(f.drift, "drift");
  if (out == "crash,restart,partition,loss,pause,drift") return "all";
  return out.empty() ? "none" : out;
}

Status WorkloadScenarioConfig::validate() const {
  auto bad = [](std::string why) { return error(StatusCode::kInvalidArgument, std::move(why)); };
  if (nodes < 3 || nodes > 500) return bad("--nodes must be 3-500 with --workloads");
  if (workloads < 1 || workloads > consensus::kWorkloadsMax) {
    return bad("--workloads must be 1-1024");
  }
  if (replicas < 1 || replicas > consensus::kReplicasMax || replicas > nodes) {
    return bad("--replicas must be 1-16 and at most --nodes");
  }
  if (warmup < seconds(5)) return bad("the warm-up must be at least 5s");
  if (quiet < liveness_bound + seconds(5)) return bad("--quiet must be at least the bound + 5s");
  if (duration < warmup + quiet) return bad("--duration must be at least warm-up + --quiet");
  if (liveness_bound < seconds(1)) return bad("the liveness bound must be at least 1s");
  if (loss_max < 0 || loss_max >= 1) return bad("--loss-max must be in [0, 1)");
  if (drift_ppm < 0 || drift_ppm > 50000) {
    return bad("--drift must be 0-50000 ppm with --workloads (the leases assume 5% at most)");
  }
  if (fault_gap < milliseconds(100)) return bad("the fault gap must be at least 100ms");
  const auto params = stream_spec_params(records, rate_per_second, checkpoint_every);
  if (Status s = workloads::validate_stream_spec("stream-0", params); !s) return s;
  return controller_options().validate();
}

consensus::ControllerOptions WorkloadScenarioConfig::controller_options() const {
  consensus::ControllerOptions o;
  o.voters = 5;
  o.bootstrap_expect = 3;
  // Compact often, so that snapshots reach restarted nodes within a short run.
  o.raft.snapshot_threshold_entries = 256;
  o.raft.compaction_trailing_entries = 32;
  o.testing_skip_lease_check = canary_skip_lease;
  o.scheduler.clock_rate_error = assumed_clock_rate_error;
  return o;
}

std::string WorkloadScenarioConfig::command_line() const {
  std::string cmd = "starling-sim run --workloads " + std::to_string(workloads) + " --nodes " +
                    std::to_string(nodes) + " --replicas " + std::to_string(replicas) +
                    " --duration " + format_duration(duration) + " --quiet " +
                    format_duration(quiet) + " --faults " + workload_faults_text(faults);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, " --loss-max %g", loss_max);
  cmd += buffer;
  cmd += " --drift " + std::to_string(drift_ppm);
  const WorkloadScenarioConfig d;
  if (records != d.records) cmd += " --records " + std::to_string(records);
  if (rate_per_second != d.rate_per_second) cmd += " --rate " + std::to_string(rate_per_second);
  if (checkpoint_every != d.checkpoint_every) {
    cmd += " --checkpoint-every " + std::to_string(checkpoint_every);
  }
  if (canary_skip_lease) cmd += " --canary skip-lease";
  if (assumed_clock_rate_error != d.assumed_clock_rate_error) {
    std::snprintf(buffer, sizeof buffer, " --assume-clock-error %g", assumed_clock_rate_error);
    cmd += buffer;
  }
  return cmd + " --seed " + std::to_string(seed);
}

WorkloadScenario::WorkloadScenario(WorkloadScenarioConfig config)
    : config_(std::move(config)),
      checker_(node_ids(config_.seed, config_.nodes)),
      fault_rng_(config_.seed ^ 0x776c2d6661756c74ULL),   // "wl-fault"
      submit_rng_(config_.seed ^ 0x776c2d7375626d74ULL) {  // "wl-submt"
  STARLING_ASSERT(config_.validate().is_ok(), "WorkloadScenario needs a validated config");
  const std::size_t n = config_.nodes;
  shared_.options = config_.controller_options();
  shared_.ids = node_ids(config_.seed, n);
  for (NodeIndex i = 0; i < n; ++i) shared_.index_of[shared_.ids[i]] = i;
  shared_.disks.resize(n);
  WorldConfig wc;
  wc.node_count = n;
  wc.seed = config_.seed;
  wc.network.link.latency_base_us = 1'000;
  wc.network.link.latency_jitter_us = 4'000;
  wc.network.link.duplicate_probability = 0.01;
  wc.network.link.reorder_probability = 0.05;
  world_ = std::make_unique<World>(wc, [this](NodeIndex, Context& context) {
    return std::make_unique<WorkloadNode>(context, shared_);
  });
  oracle_ = std::make_unique<MembershipOracle>(world_->scheduler(), n, config_.oracle,
                                               Rng(config_.seed ^ 0x6f7261636c65ULL));
  shared_.world = world_.get();
  shared_.oracle = oracle_.get();
  shared_.checker = &checker_;
  // Unsynchronised clocks: each its own origin; rates within the bound when drift is on.
  for (NodeIndex i = 0; i < n; ++i) {
    // Half the clocks at an extreme of the bound, where an unsafe lease shows first.
    std::int64_t ppm = 0;
    if (config_.faults.drift) {
      ppm = fault_rng_.chance(0.5)
                ? (fault_rng_.chance(0.5) ? config_.drift_ppm : -config_.drift_ppm)
                : fault_rng_.uniform_range(-config_.drift_ppm, config_.drift_ppm);
    }
    world_->set_drift(i, ppm, random_in(fault_rng_, Duration::zero(), seconds(1000)));
  }
  for (std::size_t k = 0; k < config_.workloads; ++k) {
    for (std::uint32_t r = 0; r < config_.replicas; ++r) {
      replicas_.emplace_back(workload_name(k), r);
    }
  }
  quiet_start_ = Instant{} + config_.duration - config_.quiet;
  if (config_.faults.during_run()) {
    schedule_random_faults();
    world_->scheduler().schedule_at(quiet_start_, [this] { start_quiet_period(); });
  }
  schedule_submissions();
  world_->scheduler().schedule_after(milliseconds(500), [this] { check_availability(); });
  world_->start_all();
}

WorkloadScenario::~WorkloadScenario() = default;

WorkloadNode* WorkloadScenario::node(NodeIndex index) const {
  return static_cast<WorkloadNode*>(world_->process(index));
}

const consensus::Controller* WorkloadScenario::controller(NodeIndex index) const {
  const WorkloadNode* n = node(index);
  return n != nullptr ? n->controller() : nullptr;
}

std::optional<NodeIndex> WorkloadScenario::leader() const {
  std::optional<NodeIndex> found;
  std::uint64_t term = 0;
  for (NodeIndex i = 0; i < config_.nodes; ++i) {
    const consensus::Controller* c = controller(i);
    if (c == nullptr || !c->is_leader() || c->term() < term) continue;
    found = i;
    term = c->term();
  }
  return found;
}

std::optional<NodeIndex> WorkloadScenario::index_of(const NodeId& id) const {
  auto it = shared_.index_of.find(id);
  if (it == shared_.index_of.end()) return std::nullopt;
  return it->second;
}

std::optional<NodeIndex> WorkloadScenario::runner_of(const ReplicaKey& replica) const {
  return checker_.runner_of(replica, now());
}

void WorkloadScenario::run_until(Instant t) {
  if (t > now()) world_->run_until(t);
}

bool WorkloadScenario::run_until(const std::function<bool()>& done, Duration limit,
                                 Duration step) {
  const Instant end = now() + limit;
  while (!done()) {
    if (now() >= end) return false;
    run_until(std::min(end, now() + step));
  }
  return true;
}

// --- Faults.

void WorkloadScenario::update_oracle() {
  ++topology_changes_;  // every fault passes here: check_availability() starts over
  oracle_->update([this](NodeIndex observer, NodeIndex peer) {
    const Network& net = world_->network();
    return world_->is_up(peer) && !world_->is_paused(peer) && net.connected(observer, peer) &&
           net.connected(peer, observer);
  });
}

void WorkloadScenario::crash(NodeIndex index) {
  if (!world_->is_up(index)) return;
  checker_.on_crash(index, now());
  world_->crash(index);
  for (auto& [key, ledger] : shared_.ledgers) {
    if (key.node == index) ledger.crash();  // a power loss drops unsynced rows
  }
  ++counters_.crashes;
  update_oracle();
}

void WorkloadScenario::restart(NodeIndex index) {
  if (world_->is_up(index)) return;
  world_->restart(index);
  ++counters_.restarts;
  update_oracle();
}

void WorkloadScenario::partition(const std::vector<std::vector<NodeIndex>>& groups) {
  world_->network().partition(groups);
  ++counters_.partitions;
  update_oracle();
}

void WorkloadScenario::heal() {
  world_->network().heal();
  update_oracle();
}

void WorkloadScenario::pause(NodeIndex index, Duration duration) {
  if (!world_->is_up(index)) return;
  world_->pause(index, duration);
  ++counters_.pauses;
  update_oracle();
  world_->scheduler().schedule_after(duration, [this] { update_oracle(); });
}

void WorkloadScenario::set_loss(double loss) {
  Network& net = world_->network();
  LinkConfig link = net.config().link;
  link.loss_probability = loss;
  loss_ = loss;
  ++topology_changes_;  // check_availability() starts over
  for (NodeIndex a = 0; a < config_.nodes; ++a) {
    for (NodeIndex b = 0; b < config_.nodes; ++b) {
      if (a != b) net.set_link(a, b, link);
    }
  }
  ++counters_.loss_changes;
}

void WorkloadScenario::schedule_random_faults() {
  std::vector<int> kinds;  // 0 crash, 1 partition, 2 loss, 3 pause
  if (config_.faults.crash) kinds.push_back(0);
  if (config_.faults.partition) kinds.push_back(1);
  if (config_.faults.loss) kinds.push_back(2);
  if (config_.faults.pause) kinds.push_back(3);
  if (kinds.empty()) return;
  Instant at = Instant{} + config_.warmup;
  for (;;) {
    at += random_in(fault_rng_, config_.fault_gap / 4, config_.fault_gap * 7 / 4);
    if (at >= quiet_start_) return;
    const int kind = kinds[fault_rng_.uniform(kinds.size())];
    world_->scheduler().schedule_at(at, [this, kind] {
      const std::size_t n = config_.nodes;
      std::vector<NodeIndex> up;
      for (NodeIndex i = 0; i < n; ++i) {
        if (world_->is_up(i) && !world_->is_paused(i)) up.push_back(i);
      }
      const Duration left = quiet_start_ - now();
      switch (kind) {
        case 0: {
          if (up.size() <= 1) return;
          const NodeIndex victim = up[fault_rng_.uniform(up.size())];
          crash(victim);
          if (!config_.faults.restart) return;
          const Duration back = std::min(left, random_in(fault_rng_, seconds(1), seconds(20)));
          world_->scheduler().schedule_after(back, [this, victim] { restart(victim); });
          return;
        }
        case 1: {
          std::vector<NodeIndex> side;
          if (fault_rng_.chance(0.5)) {
            side.push_back(static_cast<NodeIndex>(fault_rng_.uniform(n)));
          } else {
            for (NodeIndex i = 0; i < n; ++i) {
              if (fault_rng_.chance(0.5)) side.push_back(i);
            }
          }
          partition({side});
          const std::uint64_t generation = counters_.partitions;
          const Duration length = std::min(left, random_in(fault_rng_, seconds(2), seconds(20)));
          world_->scheduler().schedule_after(length, [this, generation] {
            if (counters_.partitions == generation) heal();
          });
          return;
        }
        case 2:
          set_loss(fault_rng_.next_double() * config_.loss_max);
          return;
        default: {
          if (up.empty()) return;
          const NodeIndex victim = up[fault_rng_.uniform(up.size())];
          pause(victim, std::min(left, random_in(fault_rng_, milliseconds(100), seconds(5))));
          return;
        }
      }
    });
  }
}

void WorkloadScenario::start_quiet_period() {
  quiet_start_ = std::max(quiet_start_, now());
  heal();
  set_loss(0);
  for (NodeIndex i = 0; i < config_.nodes; ++i) restart(i);
  world_->scheduler().schedule_at(quiet_start_ + config_.liveness_bound, [this] {
    checker_.expect_leader(leader().has_value(), now(), "quiet period start + bound");
  });
}

void WorkloadScenario::check_availability() {
  world_->scheduler().schedule_after(milliseconds(500), [this] { check_availability(); });
  const Network& net = world_->network();
  auto live = [&](NodeIndex i) { return world_->is_up(i) && !world_->is_paused(i); };
  std::vector<NodeIndex> best;
  for (NodeIndex i = 0; i < config_.nodes; ++i) {
    if (!live(i)) continue;
    std::vector<NodeIndex> group;
    for (NodeIndex j = 0; j < config_.nodes; ++j) {
      if (live(j) && net.connected(i, j) && net.connected(j, i)) group.push_back(j);
    }
    if (group.size() > best.size()) best = std::move(group);
  }
  if (best != group_ || topology_changes_ != group_topology_) {
    group_ = std::move(best);
    group_topology_ = topology_changes_;
    group_since_ = now();
    group_reported_ = false;
    const consensus::Core* latest = latest_core();
    std::size_t held = 0;
    if (latest != nullptr) {
      for (const NodeId& voter : latest->conf().voters) {
        const auto at = index_of(voter);
        held += at && std::find(group_.begin(), group_.end(), *at) != group_.end() ? 1 : 0;
      }
    }
    group_has_quorum_ = latest != nullptr && held >= latest->conf().quorum();
    return;
  }
  if (!group_has_quorum_ || group_reported_ || loss_ > kAvailabilityLossMax ||
      now() - group_since_ < config_.availability_bound) {
    return;
  }
  for (NodeIndex i : group_) {
    const consensus::Controller* c = controller(i);
    if (c != nullptr && c->is_leader()) return;
  }
  group_reported_ = true;
  std::string nodes, voters;
  for (NodeIndex i : group_) nodes += (nodes.empty() ? "" : ",") + std::to_string(i);
  if (const consensus::Core* latest = latest_core()) {
    for (const NodeId& voter : latest->conf().voters) {
      const auto at = index_of(voter);
      voters += (voters.empty() ? "" : ",") + (at ? std::to_string(*at) : std::string("?"));
    }
  }
  char buffer[240];
  std::snprintf(buffer, sizeof buffer,
                "availability: nodes {%s} held a quorum of the voters when they came together "
                "at %.3fs and have no leader at %.3fs (voters now {%s})",
                nodes.c_str(), to_seconds(group_since_ - Instant{}), to_seconds(now() - Instant{}),
                voters.c_str());
  checker_.report(buffer);
}

const consensus::Core* WorkloadScenario::latest_core() const {
  // The configuration as the most advanced node in a cluster knows it.
  const consensus::Core* latest = nullptr;
  for (NodeIndex i = 0; i < config_.nodes; ++i) {
    const consensus::Controller* c = controller(i);
    if (c == nullptr || c->cluster() == 0) continue;
    const consensus::Core* core = c->core();
    if (latest == nullptr || core->term() > latest->term() ||
        (core->term() == latest->term() && core->commit_index() > latest->commit_index())) {
      latest = core;
    }
  }
  return latest;
}

// --- Workloads.

void WorkloadScenario::schedule_submissions() {
  world_->scheduler().schedule_after(seconds(1), [this] { submit_missing(); });
}

void WorkloadScenario::submit_missing() {
  const auto lead = leader();
  const consensus::WorkloadTable* table = lead ? &controller(*lead)->table() : nullptr;
  std::vector<std::string> missing;
  for (std::size_t k = 0; k < config_.workloads; ++k) {
    if (table == nullptr || table->find(workload_name(k)) == nullptr) {
      missing.push_back(workload_name(k));
    }
  }
  if (missing.empty()) return;
  std::vector<NodeIndex> candidates;
  for (NodeIndex i = 0; i < config_.nodes; ++i) {
    if (world_->is_up(i) && !world_->is_paused(i) && controller(i) != nullptr) {
      candidates.push_back(i);
    }
  }
  if (!candidates.empty()) {
    WorkloadNode* at = node(candidates[submit_rng_.uniform(candidates.size())]);
    for (const std::string& name : missing) {
      consensus::WorkloadSpec spec;
      spec.name = name;
      spec.kind = std::string(workloads::kStreamKind);
      spec.replicas = config_.replicas;
      spec.params = stream_spec_params(config_.records, config_.rate_per_second,
                                       config_.checkpoint_every);
      (void)at->submit(consensus::AddWorkload{spec});  // retried until it is in the table
    }
  }
  schedule_submissions();
}

bool WorkloadScenario::streams_finished() const {
  const auto lead = leader();
  if (!lead) return false;
  const consensus::WorkloadTable& table = controller(*lead)->table();
  for (const auto& [workload, replica] : replicas_) {
    const consensus::Checkpoint* cp = table.checkpoint(workload, replica);
    if (table.find(workload) == nullptr || cp == nullptr || cp->position < config_.records) {
      return false;
    }
  }
  return true;
}

}  // namespace starling::sim
