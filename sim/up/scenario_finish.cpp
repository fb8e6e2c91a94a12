// The end of a `starling-sim up` run (see internal/scenario.hpp): a last poll for traffic and
// the workload table, stopping (or releasing) the agents, the baselines, and report.json and
// report.html. Single-threaded.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "federated/data/idx.hpp"
#include "sim/fl/fl_scenario.hpp"
#include "sim/up/internal/scenario.hpp"
#include "sim/up/json_access.hpp"
#include "sim/up/report.hpp"

namespace starling::up::internal {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// An agent's graceful leave takes at most its leave timeout (2 s by default).
constexpr auto kStopGrace = 5s;

Status write_text(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return error(StatusCode::kIoError, "cannot write " + temporary.string());
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) return error(StatusCode::kIoError, "cannot rename to " + path.string());
  return Status();
}

}  // namespace

void Scenario::final_poll() {
  if (!healthy_) return;
  const double t = now_s();
  for (std::size_t i = 0; i < config_.nodes; ++i) {
    if (stopped_[i] || paused_until_[i] || swarm_.node(i).pid <= 0) continue;
    if (auto status = swarm_.query(i, "status")) recorder_->on_status(i, t, *status);
    if (config_.model != "none") {
      if (auto model = swarm_.query(i, "model")) recorder_->on_model(i, t, *model);
    }
  }
  poll(t, false);
}

void Scenario::stop_agents() {
  // Paused agents first get SIGCONT, so that every agent can leave gracefully.
  std::vector<std::size_t> asked;
  for (std::size_t i = 0; i < swarm_.size(); ++i) {
    if (swarm_.node(i).pid <= 0 || !swarm_.running(i)) continue;
    if (paused_until_.at(i)) (void)swarm_.signal(i, SIGCONT);
    if (swarm_.signal(i, SIGTERM).is_ok()) asked.push_back(i);
  }
  const auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  for (std::size_t i : asked) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (swarm_.wait_exit(i, std::max(left, std::chrono::milliseconds(1))).is_ok()) continue;
    (void)swarm_.signal(i, SIGKILL);  // reaps it
  }
  for (std::size_t i = 0; i < swarm_.size(); ++i) {
    if (recorder_ && i < config_.nodes) recorder_->set_running(i, false);
  }
  print("stopped every agent this run started (" + std::to_string(asked.size()) +
        " were running)");
}

void Scenario::release_agents() {
  std::string pids;
  print("--keep-running: the agents stay up; query them with the starling CLI:");
  for (std::size_t i = 0; i < swarm_.size(); ++i) {
    const local::Node& node = swarm_.node(i);
    if (node.pid <= 0 || !swarm_.running(i)) continue;
    pids += (pids.empty() ? "" : " ") + std::to_string(node.pid);
    print("  " + node.name + "  pid " + std::to_string(node.pid) + "  " + node.address +
          "  starling members --endpoint " + node.control);
  }
  print("stop them with: kill " + pids);
  swarm_.release();
}

json Scenario::train_baselines() {
  sim::FlScenarioConfig c;
  c.nodes = config_.nodes;
  c.seed = 1;  // the agents' partition seed and initial model
  c.model = config_.model;
  c.rounds = config_.rounds;
  c.partition = config_.partition;
  json out = {{"centralized", nullptr}, {"isolated_mean", nullptr}};
  const auto start = std::chrono::steady_clock::now();
  print("baselines: training on the same partition, seed and total epochs (" +
        std::to_string(config_.rounds) + "); this can take a few minutes...");
  auto data = federated::load_fashion_mnist(config_.fashion_mnist_dir);
  if (!data) {
    out["note"] = "not computed: " + data.status().message();
    print("baselines: " + out["note"].get<std::string>());
    return out;
  }
  auto b = sim::run_fl_baselines(c, data->train, data->test, config_.baseline_centralized,
                                 config_.baseline_isolated);
  if (!b) {
    out["note"] = "not computed: " + b.status().message();
    print("baselines: " + out["note"].get<std::string>());
    return out;
  }
  if (b->centralized) out["centralized"] = *b->centralized;
  if (b->isolated_mean) out["isolated_mean"] = *b->isolated_mean;
  out["wall_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out["note"] = "final test accuracy after " + std::to_string(config_.rounds) + " epochs";
  char line[160];
  std::snprintf(line, sizeof line, "baselines: centralized %s, isolated (mean) %s in %.0f s",
                b->centralized ? std::to_string(*b->centralized).c_str() : "-",
                b->isolated_mean ? std::to_string(*b->isolated_mean).c_str() : "-",
                out["wall_s"].get<double>());
  print(line);
  return out;
}

json Scenario::assemble_report(const std::string& outcome, const std::string& problem) const {
  json report = recorder_ ? recorder_->to_json() : json::object();
  report["format"] = "starling-up-report";
  report["version"] = 1;
  json config = config_.to_json();
  config["data_dir"] = data_dir_.string();
  report["config"] = config;
  report["outcome"] = outcome;
  if (!problem.empty()) report["error"] = problem;
  report["started_unix_ms"] = started_unix_ms_;
  report["healthy_after_s"] = healthy_ ? json(healthy_after_s_) : json(nullptr);
  report["scenario_s"] = healthy_ ? json(now_s()) : json(0.0);
  report["wall_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  report["workloads_supported"] = workloads_supported_;
  report["workloads_note"] = workloads_note_;
  report["kept_running"] = outcome == "completed" && config_.keep_running;
  if (!baselines_.is_null()) report["baselines"] = baselines_;
  if (report.contains("nodes") && report["nodes"].is_array()) {
    for (std::size_t i = 0; i < report["nodes"].size() && i < swarm_.size(); ++i) {
      report["nodes"][i]["control"] = swarm_.node(i).control;
      report["nodes"][i]["address"] = swarm_.node(i).address;
      report["nodes"][i]["data_dir"] = swarm_.node(i).data_dir.string();
    }
  }
  return report;
}

Status Scenario::write_report(const json& report) const {
  std::error_code ec;
  std::filesystem::create_directories(report_dir_, ec);
  if (ec) return error(StatusCode::kIoError, "cannot create " + report_dir_.string());
  // Invalid UTF-8 (from an agent's error message, say) is replaced, not thrown on.
  const std::string text = report.dump(2, ' ', false, json::error_handler_t::replace);
  STARLING_RETURN_IF_ERROR(write_text(report_dir_ / "report.json", text + "\n"));
  STARLING_RETURN_IF_ERROR(write_text(report_dir_ / "report.html", render_report_html(report)));
  return Status();
}

}  // namespace starling::up::internal
