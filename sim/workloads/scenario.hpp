// The workloads scenario of the simulator (`starling-sim run --workloads N`): N virtual nodes,
// each running the real consensus::Controller over the simulated network with a durable store
// that survives crashes, a drifting clock and `stream` runners writing to in-memory ledgers;
// `workloads` stream workloads added through the controllers at the start; random faults drawn
// from the seed (crashes and restarts, partitions, 0-30% loss, pauses, clock drift) until a
// quiet period at the end; the outside checker (checker.hpp) and the ledger check at the end.
// Membership comes from the detection-delay oracle of oracle.hpp.
//
// A run is a pure function of (config, binary): the same seed gives the same trace hash. Tests
// drive a WorkloadScenario by hand (scripted crashes, partitions) through its methods;
// run_workload_scenario() runs the random-fault version end to end.
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
#include "sim/workloads/checker.hpp"
#include "sim/workloads/node.hpp"
#include "sim/workloads/oracle.hpp"
#include "sim/world.hpp"

namespace starling::sim {

// Which random faults a run draws (clock drift is set once per node at the start).
struct WorkloadFaults {
  bool crash = true;
  bool restart = true;  // crashed nodes come back after 1-20 s (else at the quiet period)
  bool partition = true;
  bool loss = true;
  bool pause = true;
  bool drift = true;

  // Whether faults are injected during the run (drift is set once at the start).
  bool during_run() const noexcept { return crash || partition || loss || pause; }
};
// "all", "none", or a comma-separated subset of crash,restart,partition,loss,pause,drift.
Result<WorkloadFaults> parse_workload_faults(std::string_view list);
std::string workload_faults_text(const WorkloadFaults& faults);

struct WorkloadScenarioConfig {
  std::size_t nodes = 5;
  std::size_t workloads = 3;
  std::uint32_t replicas = 2;
  std::uint64_t seed = 1;
  // Simulated time, faults included; the run then goes on (fault-free) until every stream
  // has finished, for at most `finish_limit` more.
  Duration duration = std::chrono::seconds(90);
  // No faults before this (the cluster forms and the workloads are placed) ...
  Duration warmup = std::chrono::seconds(10);
  // ... nor during the last `quiet` of `duration`: every node is up, connected, unpaused,
  // and the network loses nothing.
  Duration quiet = std::chrono::seconds(30);
  // Every replica must run without interruption from the quiet period's start plus this.
  Duration liveness_bound = std::chrono::seconds(10);
  // Availability during faults: nodes that are up, unpaused and connected to each other, and
  // hold a quorum of the voters of the moment they came together, must have a leader among
  // them once they have been together this long, while the loss is at most 10%.
  Duration availability_bound = std::chrono::seconds(10);
  Duration finish_limit = std::chrono::seconds(120);
  WorkloadFaults faults;
  double loss_max = 0.3;
  // Clock rates drawn in 1 +- drift_ppm / 1e6 (when faults.drift); 50000 ppm is the 5% bound
  // of SchedulerOptions::clock_rate_error that the leases rely on.
  std::int64_t drift_ppm = 50000;
  // The mean gap between two random faults.
  Duration fault_gap = std::chrono::seconds(4);
  // The `stream` params of every workload: 2000 records at 100/s take 20 s, so that faults
  // hit streams in progress and a run still finishes in seconds of wall time.
  std::uint64_t records = 2000;
  std::uint32_t rate_per_second = 100;
  std::uint64_t checkpoint_every = 50;
  // CANARY: owners run without the lease check (ControllerOptions::testing_skip_lease_check).
  bool canary_skip_lease = false;
  // The clock-rate error bound the nodes assume (SchedulerOptions::clock_rate_error). Below
  // drift_ppm / 1e6 the leases are unsafe: a weaker canary, for the checker's sensitivity.
  double assumed_clock_rate_error = 0.05;
  // Membership detection delays (OracleOptions).
  OracleOptions oracle;

  Status validate() const;
  // "starling-sim run --workloads 3 --nodes 5 ... --seed S": replays this run.
  std::string command_line() const;
  // The controller options every node gets.
  consensus::ControllerOptions controller_options() const;
};

struct WorkloadReport {
  WorkloadScenarioConfig config;
  double virtual_s = 0;
  double wall_s = 0;
  std::uint64_t events = 0;
  std::uint64_t messages = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t bytes = 0;
  std::uint64_t trace_hash = 0;
  std::uint64_t leader_terms = 0;    // terms that had a leader
  std::uint64_t leader_changes = 0;  // nodes becoming leader
  std::uint64_t commit_index = 0;    // the highest commit index seen
  CommittedCounts committed;
  std::uint64_t crashes = 0;
  std::uint64_t restarts = 0;
  std::uint64_t partitions = 0;
  std::uint64_t pauses = 0;
  std::uint64_t loss_changes = 0;
  std::uint64_t lease_intervals = 0;
  std::uint64_t runner_starts = 0;
  std::uint64_t records_processed = 0;
  std::uint64_t failovers = 0;  // another node resumed a replica after a gap
  double failover_p50_s = 0;
  double failover_max_s = 0;
  std::uint64_t lease_gaps = 0;  // the same node resumed it after a late renewal
  double lease_gap_max_s = 0;
  std::uint64_t timer_spins = 0;  // see WorkloadShared::timer_spins
  double first_run_max_s = 0;  // the latest first start of a replica
  std::size_t streams = 0;           // replicas whose ledgers were checked
  std::size_t streams_complete = 0;
  std::uint64_t ledger_rows = 0;
  std::uint64_t duplicate_rows = 0;
  double quiet_start_s = 0;
  double end_s = 0;
  std::vector<std::string> violations;
  std::uint64_t violation_count = 0;
};

class WorkloadScenario {
 public:
  // Builds the world and starts every node; schedules the random faults of config.faults.
  // REQUIRES: config.validate() is ok.
  explicit WorkloadScenario(WorkloadScenarioConfig config);
  ~WorkloadScenario();
  WorkloadScenario(const WorkloadScenario&) = delete;
  WorkloadScenario& operator=(const WorkloadScenario&) = delete;

  void run_until(Instant t);
  void run_for(Duration d) { run_until(now() + d); }
  // Runs until `done()` holds (checked every `step`) or `limit` passes; whether it held.
  bool run_until(const std::function<bool()>& done, Duration limit,
                 Duration step = std::chrono::milliseconds(100));
  Instant now() const { return world_->now(); }

  // Scripted faults (tests). Each keeps the membership oracle in step.
  void crash(NodeIndex node);
  void restart(NodeIndex node);
  void partition(const std::vector<std::vector<NodeIndex>>& groups);
  void heal();
  void pause(NodeIndex node, Duration duration);
  void set_loss(double loss);

  // Queries.
  std::size_t size() const noexcept { return config_.nodes; }
  bool is_up(NodeIndex node) const { return world_->is_up(node); }
  const consensus::Controller* controller(NodeIndex node) const;
  // The up node that leads the highest term, if any.
  std::optional<NodeIndex> leader() const;
  std::optional<NodeIndex> index_of(const NodeId& id) const;
  const NodeId& id(NodeIndex node) const { return shared_.ids[node]; }
  // Every (workload, replica) of the scenario, and the node running it now (checker's view).
  const std::vector<ReplicaKey>& replicas() const noexcept { return replicas_; }
  std::optional<NodeIndex> runner_of(const ReplicaKey& replica) const;
  // Whether every workload was added and every replica's checkpoint reached the stream's end
  // in the leader's table.
  bool streams_finished() const;
  const WorkloadChecker& checker() const noexcept { return checker_; }
  WorkloadChecker& checker() noexcept { return checker_; }
  World& world() noexcept { return *world_; }
  const WorkloadShared& shared() const noexcept { return shared_; }
  Instant quiet_start() const noexcept { return quiet_start_; }

  // Runs to the end of `duration`, then until the streams finish (at most finish_limit), and
  // makes the final checks: liveness over the quiet period, equal tables, complete ledgers.
  WorkloadReport finish(const std::function<double()>& wall_seconds = nullptr);

 private:
  void schedule_random_faults();
  void schedule_submissions();
  void submit_missing();
  void start_quiet_period();
  void check_availability();
  const consensus::Core* latest_core() const;
  void update_oracle();
  WorkloadNode* node(NodeIndex node) const;
  void check_ledgers(WorkloadReport& report);
  void check_tables();

  WorkloadScenarioConfig config_;
  WorkloadShared shared_;
  WorkloadChecker checker_;
  std::unique_ptr<World> world_;
  std::unique_ptr<MembershipOracle> oracle_;
  // Faults draw only from fault_rng_, and only at times fixed by the seed or by earlier
  // faults, so that a seed injects the same faults whatever the protocol does (a fix can be
  // checked against the seed that found the bug). Submissions draw from their own.
  Rng fault_rng_;
  Rng submit_rng_;
  std::vector<ReplicaKey> replicas_;
  Instant quiet_start_{};
  WorkloadReport counters_;
  // The largest group of up, unpaused, connected nodes, since when, and whether it holds a
  // quorum of the voters of that moment (check_availability()).
  std::vector<NodeIndex> group_;
  Instant group_since_{};
  bool group_has_quorum_ = false;
  bool group_reported_ = false;
  std::uint64_t topology_changes_ = 0;  // faults so far (update_oracle(), set_loss())
  double loss_ = 0;                      // the loss of every link now
  std::uint64_t group_topology_ = 0;
};

// Called about every virtual second with the scenario (for progress lines).
using WorkloadProgressFn = std::function<void(const WorkloadScenario&)>;

// Runs the random-fault scenario end to end. `wall_seconds` reads the caller's clock (the
// simulator reads none itself); it only fills wall_s.
WorkloadReport run_workload_scenario(const WorkloadScenarioConfig& config,
                                     const WorkloadProgressFn& progress,
                                     const std::function<double()>& wall_seconds);

// The report as one line of JSON (keys in a fixed order).
std::string workload_report_json(const WorkloadReport& report);

}  // namespace starling::sim
