// The end of a workloads scenario: running the streams to completion, the final checks
// (liveness over the quiet period, equal tables, complete ledgers) and the report.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sim/workloads/scenario.hpp"
#include "workloads/ledger.hpp"
#include "workloads/stream.hpp"

namespace starling::sim {

namespace {

using std::chrono::seconds;

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = p * static_cast<double>(values.size() - 1);
  const auto low = static_cast<std::size_t>(std::floor(rank));
  const auto high = static_cast<std::size_t>(std::ceil(rank));
  return values[low] + (values[high] - values[low]) * (rank - static_cast<double>(low));
}

}  // namespace

void WorkloadScenario::check_tables() {
  const auto lead = leader();
  if (!lead) return;
  const consensus::Controller& leader_controller = *controller(*lead);
  const Bytes expected = leader_controller.table().snapshot();
  for (NodeIndex i = 0; i < config_.nodes; ++i) {
    const consensus::Controller* c = controller(i);
    if (c == nullptr || c->core() == nullptr) {
      checker_.report("end: node " + std::to_string(i) + " is not in the cluster");
      continue;
    }
    if (c->table().snapshot() != expected) {
      checker_.report("end: the table of node " + std::to_string(i) + " (applied " +
                      std::to_string(c->core()->applied_index()) + ") differs from the " +
                      "leader's (node " + std::to_string(*lead) + ", applied " +
                      std::to_string(leader_controller.core()->applied_index()) + ")");
    }
  }
}

void WorkloadScenario::check_ledgers(WorkloadReport& report) {
  const auto lead = leader();
  for (const auto& [workload, replica] : replicas_) {
    const std::string name = workload + "/" + std::to_string(replica);
    auto params = workloads::parse_stream_params(
        workload, stream_spec_params(config_.records, config_.rate_per_second,
                                     config_.checkpoint_every));
    STARLING_ASSERT(params.is_ok(), "validated stream params");
    if (lead) {
      const consensus::Checkpoint* cp = controller(*lead)->table().checkpoint(workload, replica);
      if (cp == nullptr || cp->position < params->records) {
        checker_.report("end: stream " + name + " did not finish: committed position " +
                        std::to_string(cp ? cp->position : 0) + " of " +
                        std::to_string(params->records));
        continue;
      }
    }
    // The durable rows of every owner of this replica: what survives a power loss now.
    std::vector<workloads::LedgerRow> rows;
    for (const auto& [key, ledger] : shared_.ledgers) {
      if (key.workload != workload || key.replica != replica) continue;
      rows.insert(rows.end(), ledger.rows().begin(),
                  ledger.rows().begin() + static_cast<long>(ledger.durable_rows()));
    }
    const workloads::LedgerReport check = workloads::check_ledgers(*params, rows);
    ++report.streams;
    report.ledger_rows += check.rows;
    report.duplicate_rows += check.duplicates;
    if (check.complete()) {
      ++report.streams_complete;
    } else {
      checker_.report("ledger: " + name + ": " + check.summary());
    }
  }
}

WorkloadReport WorkloadScenario::finish(const std::function<double()>& wall_seconds) {
  const double wall_start = wall_seconds ? wall_seconds() : 0;
  // Scripted runs (no random faults): the quiet period starts now.
  if (!config_.faults.during_run()) start_quiet_period();
  run_until(std::max(Instant{} + config_.duration, quiet_start_ + config_.quiet));
  const Instant limit = now() + config_.finish_limit;
  while (!streams_finished() && now() < limit) run_for(seconds(1));
  run_for(seconds(2));  // every node applies the last checkpoints
  checker_.expect_leader(leader().has_value(), now(), "end");
  checker_.finish(now(), quiet_start_ + config_.liveness_bound, replicas_);
  check_tables();

  WorkloadReport report = counters_;
  report.config = config_;
  check_ledgers(report);
  report.virtual_s = to_seconds(now() - Instant{});
  report.quiet_start_s = to_seconds(quiet_start_ - Instant{});
  report.end_s = report.virtual_s;
  const NetworkStats& net = world_->network().stats();
  report.messages = net.sent;
  report.deliveries = net.delivered;
  report.bytes = net.bytes_sent;
  report.events = world_->scheduler().events_processed();
  report.trace_hash = world_->trace_hash();
  report.leader_terms = checker_.leaders().size();
  report.leader_changes = shared_.leader_changes;
  report.commit_index = checker_.max_commit();
  report.committed = checker_.committed();
  report.lease_intervals = checker_.intervals();
  report.runner_starts = shared_.runner_starts;
  report.records_processed = shared_.records_processed;
  const std::vector<double>& failovers = checker_.failovers_s();
  report.failovers = failovers.size();
  report.failover_p50_s = percentile(failovers, 0.5);
  report.failover_max_s = percentile(failovers, 1.0);
  report.lease_gaps = checker_.lease_gaps_s().size();
  report.lease_gap_max_s = percentile(checker_.lease_gaps_s(), 1.0);
  report.timer_spins = shared_.timer_spins;
  const std::vector<double>& first = checker_.first_run_s();
  report.first_run_max_s = first.empty() ? 0 : *std::max_element(first.begin(), first.end());
  report.violations = checker_.violations();
  report.violation_count = checker_.violation_count();
  report.wall_s = wall_seconds ? wall_seconds() - wall_start : 0;
  return report;
}

WorkloadReport run_workload_scenario(const WorkloadScenarioConfig& config,
                                     const WorkloadProgressFn& progress,
                                     const std::function<double()>& wall_seconds) {
  const double wall_start = wall_seconds ? wall_seconds() : 0;
  WorkloadScenario scenario(config);
  const Instant end = Instant{} + config.duration;
  for (Instant t = Instant{} + seconds(1); t <= end; t += seconds(1)) {
    scenario.run_until(t);
    if (progress) progress(scenario);
  }
  WorkloadReport report = scenario.finish();
  report.wall_s = wall_seconds ? wall_seconds() - wall_start : 0;
  return report;
}

std::string workload_report_json(const WorkloadReport& r) {
  char hash[24];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(r.trace_hash));
  auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  char buffer[2048];
  std::snprintf(
      buffer, sizeof buffer,
      "{\"mode\":\"workloads\",\"seed\":%llu,\"nodes\":%zu,\"workloads\":%zu,\"replicas\":%u,"
      "\"faults\":\"%s\",\"canary\":%s,\"virtual_s\":%.1f,\"quiet_start_s\":%.1f,"
      "\"wall_s\":%.3f,\"events\":%llu,\"messages\":%llu,\"deliveries\":%llu,\"bytes\":%llu,"
      "\"trace_hash\":\"%s\",\"leader_terms\":%llu,\"leader_changes\":%llu,"
      "\"commit_index\":%llu,\"committed_adds\":%llu,\"committed_assigns\":%llu,"
      "\"committed_checkpoints\":%llu,\"committed_releases\":%llu,\"committed_renews\":%llu,"
      "\"crashes\":%llu,\"restarts\":%llu,\"partitions\":%llu,\"pauses\":%llu,"
      "\"loss_changes\":%llu,\"lease_intervals\":%llu,\"runner_starts\":%llu,"
      "\"records_processed\":%llu,\"failovers\":%llu,\"failover_p50_s\":%.3f,"
      "\"failover_max_s\":%.3f,\"lease_gaps\":%llu,\"lease_gap_max_s\":%.3f,"
      "\"first_run_max_s\":%.3f,\"timer_spins\":%llu,\"streams\":%zu,"
      "\"streams_complete\":%zu,\"ledger_rows\":%llu,\"duplicate_rows\":%llu,"
      "\"violations\":%llu}",
      u(r.config.seed), r.config.nodes, r.config.workloads, r.config.replicas,
      workload_faults_text(r.config.faults).c_str(), r.config.canary_skip_lease ? "true" : "false",
      r.virtual_s, r.quiet_start_s, r.wall_s, u(r.events), u(r.messages), u(r.deliveries),
      u(r.bytes), hash, u(r.leader_terms), u(r.leader_changes), u(r.commit_index),
      u(r.committed.adds), u(r.committed.assigns), u(r.committed.checkpoints),
      u(r.committed.releases), u(r.committed.renews), u(r.crashes), u(r.restarts),
      u(r.partitions), u(r.pauses), u(r.loss_changes), u(r.lease_intervals), u(r.runner_starts),
      u(r.records_processed), u(r.failovers), r.failover_p50_s, r.failover_max_s,
      u(r.lease_gaps), r.lease_gap_max_s, r.first_run_max_s, u(r.timer_spins),
      r.streams, r.streams_complete, u(r.ledger_rows), u(r.duplicate_rows),
      u(r.violation_count));
  return buffer;
}

}  // namespace starling::sim
