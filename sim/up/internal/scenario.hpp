// One `starling-sim up` run (private to sim/up): the agents, the clock, the chaos plan and the
// Recorder. scenario.cpp starts and polls the agents and injects faults; scenario_finish.cpp
// stops them, trains the baselines and writes the report. Single-threaded.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/local/local_swarm.hpp"
#include "sim/up/local_up.hpp"
#include "sim/up/recorder.hpp"

namespace starling::up::internal {

class Scenario {
 public:
  Scenario(const UpConfig& config, const UpHooks& hooks, local::LocalSwarm swarm,
           std::filesystem::path data_dir);
  // Runs everything; the agents are stopped (or released) when it returns.
  UpSummary run();

 private:
  using Clock = std::chrono::steady_clock;

  // scenario.cpp
  Status start_agents();
  Status wait_healthy();
  void probe_workloads();
  void add_workloads();
  Status main_loop();
  void poll(double t, bool with_status);
  void poll_workloads(double t, const std::vector<bool>& answered);
  void fire_due_chaos(double t);
  std::string fire(const ChaosEvent& event, double t);
  void reap_exited();
  void print_progress(double t, bool force);
  std::vector<std::string> live_seeds() const;
  std::optional<std::size_t> any_running() const;
  double now_s() const;
  // Whether agent i is one of the Byzantine ones (the last config_.byzantine).
  bool byzantine(std::size_t i) const { return i + config_.byzantine >= config_.nodes; }  // seconds since the swarm was healthy (negative before)
  bool stop_requested() const;
  void print(const std::string& line) const;
  void print_at(double t, const std::string& line) const;

  // scenario_finish.cpp
  void final_poll();
  void stop_agents();
  void release_agents();
  nlohmann::json train_baselines();
  nlohmann::json assemble_report(const std::string& outcome, const std::string& problem) const;
  Status write_report(const nlohmann::json& report) const;

  const UpConfig& config_;
  const UpHooks& hooks_;
  local::LocalSwarm swarm_;
  std::filesystem::path data_dir_;
  std::filesystem::path report_dir_;
  std::optional<Recorder> recorder_;
  Clock::time_point started_;
  Clock::time_point zero_;
  std::int64_t started_unix_ms_ = 0;
  double healthy_after_s_ = 0;
  bool healthy_ = false;

  std::size_t next_chaos_ = 0;
  double last_chaos_s_ = -1e9;  // when the last fault (or resume) was injected
  // Per agent: process state as this run made it.
  std::vector<bool> stopped_;                   // killed or terminated, not restarted
  std::vector<std::optional<double>> paused_until_;
  bool workloads_supported_ = false;
  std::string workloads_note_;
  std::vector<std::string> node_ids_;
  std::size_t polls_ = 0;
  double last_progress_s_ = -1e9;
  std::string last_progress_;
  nlohmann::json baselines_;
};

}  // namespace starling::up::internal
