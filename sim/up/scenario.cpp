// The live part of a `starling-sim up` run (see internal/scenario.hpp): agents started and
// healthy, workloads added, then a loop that polls every running agent, injects the chaos plan
// on time and prints progress, until training is done, the run is interrupted or it fails.
// Single-threaded; the only waits are bounded polls of the agents.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include "agent/runtime/control_client.hpp"
#include "sim/up/internal/scenario.hpp"
#include "sim/up/json_access.hpp"

namespace starling::up::internal {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Polling: twice a second keeps the timeline's resolution under the agents' failure detection
// (about 2 s); traffic counters change slowly and are read every 4th pass.
constexpr auto kPollEvery = 500ms;
constexpr std::size_t kStatusEvery = 4;
// A busy agent answers within milliseconds (the control API is on its event loop, training on
// a worker); 1.5 s leaves room for a loaded machine without stalling the loop on a dead one.
constexpr auto kQueryTimeout = 1500ms;
// workload_add is refused with "unavailable" until the agents elect a leader.
constexpr auto kWorkloadAddDeadline = 60s;
// Failure detection takes about 2 s in the default profile; 30 s covers a loaded machine.
constexpr double kSettleMax_s = 30;

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One request with arguments. The reply's error code ("" when ok) and its result.
struct Reply {
  std::string code;
  std::string message;
  json result;
};

Result<Reply> request(const std::string& endpoint, const json& body) {
  STARLING_ASSIGN_OR_RETURN(json reply, runtime::control_request(endpoint, body, kQueryTimeout));
  Reply out;
  if (reply.value("ok", false)) {
    out.result = member(reply, "result");
    return out;
  }
  const json& details = member(reply, "error");
  out.code = text_of(details, "code", "internal");
  out.message = text_of(details, "message");
  return out;
}

std::string fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

}  // namespace

Scenario::Scenario(const UpConfig& config, const UpHooks& hooks, local::LocalSwarm swarm,
                   std::filesystem::path data_dir)
    : config_(config),
      hooks_(hooks),
      swarm_(std::move(swarm)),
      data_dir_(std::move(data_dir)),
      report_dir_(config.report_dir.empty() ? data_dir_ / "report" : config.report_dir),
      started_(Clock::now()),
      zero_(started_),
      started_unix_ms_(unix_ms_now()),
      stopped_(config.nodes, false),
      paused_until_(config.nodes) {}

double Scenario::now_s() const {
  return std::chrono::duration<double>(Clock::now() - zero_).count();
}

bool Scenario::stop_requested() const { return hooks_.stop_requested && hooks_.stop_requested(); }

void Scenario::print(const std::string& line) const {
  if (hooks_.print) {
    hooks_.print(line);
  } else {
    std::cout << line << std::endl;
  }
}

void Scenario::print_at(double t, const std::string& line) const {
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "[%7.1fs] ", t);
  print(stamp + line);
}

UpSummary Scenario::run() {
  std::string outcome = "completed";
  std::string problem;
  Status status = start_agents();
  if (status.is_ok()) status = wait_healthy();
  if (status.is_ok()) {
    poll(now_s(), true);  // the timeline from t = 0, before workloads take their time
    probe_workloads();
    if (config_.workloads > 0 && workloads_supported_) add_workloads();
    status = main_loop();
  }
  if (stop_requested()) {
    outcome = "interrupted";
    print("interrupted: stopping every agent");
  } else if (!status.is_ok()) {
    outcome = "failed";
    problem = status.message();
    print("failed: " + problem);
  }
  if (recorder_) final_poll();
  const bool keep = outcome == "completed" && config_.keep_running;
  if (keep) {
    release_agents();
  } else {
    stop_agents();
  }
  if (hooks_.agents_stopped) hooks_.agents_stopped();
  UpSummary summary;
  summary.report_dir = report_dir_;
  summary.exit_code = outcome == "completed" ? 0 : outcome == "interrupted" ? 130 : 1;
  // Written before the baselines (minutes of training) so that an interrupted baseline run
  // still leaves the swarm's report, and again with them.
  summary.report = assemble_report(outcome, problem);
  if (Status s = write_report(summary.report); !s.is_ok()) {
    print("cannot write the report: " + s.message());
    summary.exit_code = 1;
    return summary;
  }
  if (outcome == "completed" && (config_.baseline_centralized || config_.baseline_isolated)) {
    baselines_ = train_baselines();
    summary.report = assemble_report(outcome, problem);
    if (Status s = write_report(summary.report); !s.is_ok()) summary.exit_code = 1;
  }
  return summary;
}

Status Scenario::start_agents() {
  for (std::size_t i = 0; i < config_.nodes; ++i) {
    local::NodeOptions options;
    if (config_.model != "none") {
      options.extra_args = {"--model", config_.model, "--data-shard",
                            config_.partition + ":" + std::to_string(i) + "/" +
                                std::to_string(config_.nodes),
                            "--rounds", std::to_string(config_.rounds),
                            "--aggregator", config_.aggregator};
      if (config_.norm_filter > 0) {
        options.extra_args.push_back("--norm-filter");
        options.extra_args.push_back(fixed(config_.norm_filter, 3));
      }
      if (byzantine(i)) {
        options.extra_args.push_back("--byzantine");
        options.extra_args.push_back(config_.byzantine_kind);
      }
    }
    const std::string name = "n" + std::to_string(i);
    STARLING_ASSIGN_OR_RETURN(std::size_t index, swarm_.add_node(name, options));
    if (config_.base_port != 0) {
      STARLING_RETURN_IF_ERROR(
          swarm_.set_port(index, static_cast<std::uint16_t>(config_.base_port + index)));
    }
    node_ids_.push_back(swarm_.node_id_hex(index));
  }
  std::vector<RecordedNode> nodes;
  for (std::size_t i = 0; i < config_.nodes; ++i) {
    nodes.push_back({swarm_.node(i).name, node_ids_[i],
                     byzantine(i) ? config_.byzantine_kind : std::string()});
  }
  recorder_.emplace(std::move(nodes), started_unix_ms_);
  print("fleet and " + std::to_string(config_.nodes) + " enrolled devices in " +
        data_dir_.string());
  for (std::size_t i = 0; i < config_.nodes; ++i) {
    if (stop_requested()) return error(StatusCode::kUnavailable, "interrupted");
    std::vector<std::string> join;
    if (i > 0) join.push_back(swarm_.node(0).seed());
    STARLING_RETURN_IF_ERROR(swarm_.start(i, join, 20s));
    recorder_->on_started(i, -1, swarm_.node(i).pid);
    print("started " + swarm_.node(i).name + " (pid " + std::to_string(swarm_.node(i).pid) +
          ") on " + swarm_.node(i).address + ", control " + swarm_.node(i).control);
  }
  return Status();
}

Status Scenario::wait_healthy() {
  const auto deadline = Clock::now() + config_.healthy_timeout;
  std::vector<std::uint64_t> alive(config_.nodes, 0);
  while (!stop_requested()) {
    bool all = true;
    for (std::size_t i = 0; i < config_.nodes; ++i) {
      if (!swarm_.running(i)) {
        const std::string log = (swarm_.node(i).data_dir / "starlingd.log").string();
      return error(StatusCode::kUnavailable, swarm_.node(i).name + " exited; see " + log);
      }
      auto status = swarm_.query(i, "status", kQueryTimeout);
      alive[i] = status ? count_of(member(*status, "members"), "alive").value_or(0) : 0;
      all = all && alive[i] == config_.nodes;
    }
    if (all) {
      zero_ = Clock::now();
      healthy_ = true;
      healthy_after_s_ = std::chrono::duration<double>(zero_ - started_).count();
      print("healthy: every agent sees " + std::to_string(config_.nodes) + " alive, " +
            fixed(healthy_after_s_, 1) + " s after the first start; t = 0 from here");
      return Status();
    }
    if (Clock::now() > deadline) {
      std::string seen;
      for (std::size_t i = 0; i < config_.nodes; ++i) {
        seen += (i ? ", " : "") + swarm_.node(i).name + " " + std::to_string(alive[i]);
      }
      return error(StatusCode::kUnavailable,
                   "the agents did not all see each other alive within " +
                       std::to_string(to_seconds(config_.healthy_timeout)) + " s (alive seen: " +
                       seen + ")");
    }
    std::this_thread::sleep_for(200ms);
  }
  return error(StatusCode::kUnavailable, "interrupted");
}

void Scenario::probe_workloads() {
  auto reply = request(swarm_.node(0).control, {{"v", 1}, {"cmd", "workloads"}});
  if (!reply) {
    workloads_note_ = "the agent did not answer 'workloads': " + reply.status().message();
  } else if (!reply->code.empty()) {
    workloads_note_ = "this starlingd does not support workloads yet (agent: " + reply->code +
                      (reply->message.empty() ? "" : ": " + reply->message) + ")";
  } else {
    workloads_supported_ = true;
    return;
  }
  if (config_.workloads > 0) print("workloads: " + workloads_note_ + "; going on without them");
}

void Scenario::add_workloads() {
  const auto deadline = Clock::now() + kWorkloadAddDeadline;
  std::size_t attempt = 0;
  for (std::size_t w = 0; w < config_.workloads; ++w) {
    char name[32];
    std::snprintf(name, sizeof name, "stream-%02zu", w);
    const json spec = {{"name", name},
                       {"kind", "stream"},
                       {"replicas", 1},
                       {"labels", json::object()},
                       {"params", {{"records", std::to_string(config_.workload_records)},
                                   {"rate", std::to_string(config_.workload_rate)}}}};
    for (;;) {
      if (stop_requested()) return;
      // Any running agent forwards to the leader; rotate in case one is slow.
      const std::size_t i = attempt++ % config_.nodes;
      if (!swarm_.running(i)) continue;
      auto reply = request(swarm_.node(i).control,
                           {{"v", 1}, {"cmd", "workload_add"}, {"spec", spec}});
      if (reply && reply->code.empty()) break;
      const std::string why =
          reply ? reply->code + ": " + reply->message : reply.status().message();
      if (reply && reply->code != "unavailable") {
        print("workloads: adding " + std::string(name) + " failed (" + why +
              "); going on without more workloads");
        return;
      }
      if (Clock::now() > deadline) {
        print("workloads: no leader accepted " + std::string(name) + " within 60 s (" + why +
              "); going on without more workloads");
        return;
      }
      std::this_thread::sleep_for(500ms);
    }
  }
  print("added " + std::to_string(config_.workloads) + " stream workloads (stream-00..)");
}

Status Scenario::main_loop() {
  auto next_poll = Clock::now();
  for (;;) {
    if (stop_requested()) return Status();
    reap_exited();
    const double t = now_s();
    fire_due_chaos(t);
    if (Clock::now() >= next_poll) {
      poll(now_s(), polls_++ % kStatusEvery == 0);
      next_poll += kPollEvery;
      if (next_poll < Clock::now()) next_poll = Clock::now() + kPollEvery;
      for (const auto& [at, line] : recorder_->take_events()) print_at(at, line);
      print_progress(now_s(), false);
      if (auto failure = recorder_->learning_failure()) {
        return error(StatusCode::kInternal, "federated learning failed on " + *failure);
      }
      const bool chaos_done = next_chaos_ == config_.chaos.size() &&
                              std::none_of(paused_until_.begin(), paused_until_.end(),
                                           [](const auto& p) { return p.has_value(); });
      const bool learned = config_.model == "none" || recorder_->training_done(config_.rounds);
      // After the last fault, wait (a bounded while) for the swarm to see it.
      const bool settled =
          recorder_->membership_settled() || now_s() > last_chaos_s_ + kSettleMax_s;
      if (chaos_done && learned && settled && now_s() >= to_seconds(config_.min_duration)) {
        print_progress(now_s(), true);
        return Status();
      }
      if (!any_running() && chaos_done) {
        return error(StatusCode::kUnavailable, "no agent is running any more");
      }
      if (now_s() > to_seconds(config_.timeout)) {
        return error(StatusCode::kUnavailable,
                     "timed out after " + fixed(to_seconds(config_.timeout), 0) +
                         " s (--timeout) before the scenario ended");
      }
    }
    std::this_thread::sleep_for(100ms);
  }
}

void Scenario::poll(double t, bool with_status) {
  std::vector<bool> answered(config_.nodes, false);
  for (std::size_t i = 0; i < config_.nodes; ++i) {
    if (stopped_[i] || paused_until_[i] || swarm_.node(i).pid <= 0) continue;
    if (config_.model != "none") {
      if (auto model = swarm_.query(i, "model", kQueryTimeout)) recorder_->on_model(i, t, *model);
    }
    if (auto members = swarm_.query(i, "members", kQueryTimeout)) {
      recorder_->on_members(i, t, *members);
      answered[i] = true;
    }
    if (with_status) {
      if (auto status = swarm_.query(i, "status", kQueryTimeout)) {
        recorder_->on_status(i, t, *status);
      }
    }
  }
  recorder_->end_poll(t, answered);
  if (workloads_supported_) poll_workloads(t, answered);
}

void Scenario::poll_workloads(double t, const std::vector<bool>& answered) {
  // Only a workload's owner knows whether it runs ("running"); the others see it "assigned".
  // So every answering agent is asked, and each replica is taken from its owner's table when
  // the owner answered, else from the first agent that lists it.
  std::map<std::string, std::pair<json, bool>> merged;  // "name#replica" -> (entry, from owner)
  bool any = false;
  bool leader_polled = false;
  for (std::size_t i = 0; i < config_.nodes; ++i) {
    if (!answered[i]) continue;
    auto table = request(swarm_.node(i).control, {{"v", 1}, {"cmd", "workloads"}});
    if (!table || !table->code.empty()) continue;
    const json& list = member(table->result, "workloads");
    if (!list.is_array()) continue;
    any = true;
    for (const json& w : list) {
      const std::string key =
          text_of(w, "name") + "#" + std::to_string(count_of(w, "replica").value_or(0));
      const bool from_owner = text_of(w, "owner") == node_ids_[i];
      auto [it, inserted] = merged.try_emplace(key, w, from_owner);
      if (!inserted && from_owner && !it->second.second) it->second = {w, true};
    }
    if (!leader_polled) {
      auto leader = request(swarm_.node(i).control, {{"v", 1}, {"cmd", "leader"}});
      if (leader && leader->code.empty()) recorder_->on_leader(t, leader->result);
      leader_polled = true;
    }
  }
  if (!any) return;
  json table = json::array();
  for (auto& [key, entry] : merged) table.push_back(std::move(entry.first));
  recorder_->on_workloads(t, json{{"workloads", std::move(table)}});
}

void Scenario::fire_due_chaos(double t) {
  for (std::size_t i = 0; i < config_.nodes; ++i) {
    if (!paused_until_[i] || *paused_until_[i] > t) continue;
    paused_until_[i].reset();
    if (Status s = swarm_.signal(i, SIGCONT); !s.is_ok()) {
      print_at(t, "resume " + swarm_.node(i).name + " failed: " + s.message());
      continue;
    }
    recorder_->on_resumed(i, t);
    last_chaos_s_ = t;
    print_at(t, "chaos: SIGCONT " + swarm_.node(i).name + " (end of its pause)");
  }
  while (next_chaos_ < config_.chaos.size() &&
         to_seconds(config_.chaos[next_chaos_].at) <= t) {
    const ChaosEvent& event = config_.chaos[next_chaos_++];
    const std::string problem = fire(event, t);
    last_chaos_s_ = t;
    recorder_->on_chaos(t, event, problem);
    print_at(t, "chaos: " + event.to_string() + " on " + swarm_.node(event.node).name +
                    (problem.empty() ? "" : " FAILED: " + problem));
  }
}

std::string Scenario::fire(const ChaosEvent& event, double t) {
  const std::size_t i = event.node;
  Status s;
  switch (event.kind) {
    case ChaosKind::kKill:
      s = swarm_.signal(i, SIGKILL);
      stopped_[i] = true;
      break;
    case ChaosKind::kTerm:
      s = swarm_.signal(i, SIGTERM);
      stopped_[i] = true;
      break;
    case ChaosKind::kPause:
      s = swarm_.signal(i, SIGSTOP);
      if (s.is_ok()) paused_until_[i] = t + to_seconds(event.duration);
      break;
    case ChaosKind::kRestart: {
      if (swarm_.node(i).pid > 0) (void)swarm_.wait_exit(i, 5s);  // a terminated agent's leave
      s = swarm_.start(i, live_seeds(), 20s);
      if (s.is_ok()) {
        stopped_[i] = false;
        recorder_->on_started(i, t, swarm_.node(i).pid);
      }
      break;
    }
  }
  if (event.kind != ChaosKind::kRestart) recorder_->set_running(i, false);
  return s.is_ok() ? "" : s.message();
}

void Scenario::reap_exited() {
  for (std::size_t i = 0; i < config_.nodes; ++i) {
    if (swarm_.node(i).pid <= 0 || paused_until_[i]) continue;
    if (swarm_.running(i)) continue;
    if (!stopped_[i]) print_at(now_s(), swarm_.node(i).name + " exited by itself; see " +
                                            (swarm_.node(i).data_dir / "starlingd.log").string());
    stopped_[i] = true;
    recorder_->set_running(i, false);
  }
}

std::vector<std::string> Scenario::live_seeds() const {
  std::vector<std::string> seeds;
  for (std::size_t i = 0; i < config_.nodes; ++i) {
    if (!stopped_[i] && !paused_until_[i] && swarm_.node(i).pid > 0) {
      seeds.push_back(swarm_.node(i).seed());
    }
  }
  return seeds;
}

std::optional<std::size_t> Scenario::any_running() const {
  for (std::size_t i = 0; i < config_.nodes; ++i) {
    if (!stopped_[i] && !paused_until_[i] && swarm_.node(i).pid > 0) return i;
  }
  return std::nullopt;
}

void Scenario::print_progress(double t, bool force) {
  const Progress p = recorder_->progress();
  std::string line;
  if (config_.model != "none") {
    line += "round " + std::to_string(p.round_min) +
            (p.round_max != p.round_min ? "-" + std::to_string(p.round_max) : "") + "/" +
            std::to_string(config_.rounds) + "  accuracy mean " +
            (p.mean_accuracy ? fixed(*p.mean_accuracy, 4) : "-") + " min " +
            (p.min_accuracy ? fixed(*p.min_accuracy, 4) : "-") + "  ";
  }
  line += "alive " + std::to_string(p.alive) + "/" + std::to_string(config_.nodes);
  if (workloads_supported_) {
    line += "  workloads running " + std::to_string(p.workloads_running) + "  failovers " +
            std::to_string(p.failovers_done) +
            (p.failovers_pending ? " (" + std::to_string(p.failovers_pending) + " pending)" : "");
  }
  // One line a second at most: when something changed, or every 10 s to show it is alive.
  if (!force && (t - last_progress_s_ < 1.0 ||
                 (line == last_progress_ && t - last_progress_s_ < 10.0))) {
    return;
  }
  last_progress_s_ = t;
  last_progress_ = line;
  print_at(t, line);
}

}  // namespace starling::up::internal
