// What `starling-sim up` observes of a swarm of real agents: the replies of their control APIs
// (model, members, status, workloads, leader) and the faults it injected, folded into
// per-node accuracy histories, a membership timeline, failover measurements and the counters
// of the progress line, and written out as the sections of report.json.
// Pure: the caller passes every reply and the time it was taken (seconds since the scenario
// began); nothing here reads a clock or talks to a process, so it is tested with hand-made
// replies. Replies of an unexpected shape are ignored, never trusted. Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/up/chaos.hpp"

namespace starling::up {

struct RecordedNode {
  std::string name;
  std::string id;  // 32 hex digits (node id)
  std::string byzantine;  // the fault it injects (starlingd --byzantine); "" when honest
};

// The counters of the live progress line.
struct Progress {
  std::uint64_t round_min = 0;  // over agents running now (0 when none reported)
  std::uint64_t round_max = 0;
  // Latest accuracy of the honest agents running now (Byzantine ones are left out: their own
  // model is not what the swarm is judged by).
  std::optional<double> mean_accuracy;
  std::optional<double> min_accuracy;
  std::size_t alive = 0;                // members the swarm sees alive (majority view)
  std::size_t workloads_running = 0;
  std::size_t failovers_done = 0;
  std::size_t failovers_pending = 0;
};

class Recorder {
 public:
  // `zero_unix_ms`: the wall-clock time of t = 0, to place the agents' own change times
  // (members' last_change_unix_ms) on the report's time axis.
  Recorder(std::vector<RecordedNode> nodes, std::int64_t zero_unix_ms);

  // Node i's `model` result at t. Every round in its `history` not recorded yet is recorded
  // (at t), so a poll misses none; agents without a history are recorded from the rounds they
  // publish in their membership metadata (on_members).
  void on_model(std::size_t i, double t, const nlohmann::json& model);
  // Node i's `status` result at t: traffic counters (summed over the agent's restarts).
  void on_status(std::size_t i, double t, const nlohmann::json& status);
  // Observer i's `members` result at t; the timeline is updated by end_poll().
  void on_members(std::size_t observer, double t, const nlohmann::json& members);
  // Closes one polling pass at t: `answered[i]` says whether node i answered `members` in it.
  // Each node's status is what most of the other answering nodes see (ties: the worse
  // status); a change is recorded at the time the majority formed, from the observers' own
  // change times when they give them.
  void end_poll(double t, const std::vector<bool>& answered);
  // A `workloads` result at t: reassignments and the end of pending failovers.
  void on_workloads(double t, const nlohmann::json& workloads);
  // A `leader` result at t: leader changes.
  void on_leader(double t, const nlohmann::json& leader);
  // Fault `event` was injected at t (`problem` empty when it worked). Kill, pause and term
  // open a failover for every workload the node owned in the last table.
  void on_chaos(double t, const ChaosEvent& event, const std::string& problem);
  // Node i was started at t with process id `pid` (the first start and restarts).
  void on_started(std::size_t i, double t, int pid);
  // Node i, paused by a chaos event, got SIGCONT at t.
  void on_resumed(std::size_t i, double t);
  // Whether node i is running now (started and neither killed, paused nor terminated): the
  // progress counters and the failover checks use it.
  void set_running(std::size_t i, bool running) { running_.at(i) = running; }

  Progress progress() const;
  // Whether every running agent published the accuracy of round `rounds` (false when none
  // runs). Rounds are sampled by polling: an agent that finishes two rounds between two polls
  // has only the later one recorded.
  bool training_done(std::uint64_t rounds) const;
  // Whether the majority view matches what was done: running agents alive, stopped ones dead
  // or left. The scenario waits for it after its last fault, so that the report shows the
  // swarm's reaction.
  bool membership_settled() const;
  // "NAME: failed: WHY" for the first running agent whose learning failed, else nullopt.
  std::optional<std::string> learning_failure() const;
  // Human-readable lines about what changed since the last call, with their times: status
  // changes, reassignments, failovers done, leader changes (for the live progress).
  std::vector<std::pair<double, std::string>> take_events();
  // The last workload table (empty array before any).
  const nlohmann::json& workloads() const { return workloads_; }

  // The report's observed sections: nodes, accuracy, membership, views, chaos, failovers,
  // reassignments, leader, workloads. Failovers still open are listed with a null duration.
  nlohmann::json to_json() const;

 private:
  struct ModelState {
    std::uint64_t round = 0;
    std::optional<double> accuracy;
    std::optional<double> loss;
    std::uint64_t recorded_round = 0;
    std::optional<std::pair<double, double>> recorded;  // (accuracy, loss) of recorded_round
    std::string state;
    std::uint64_t updates_accepted = 0;  // peers' updates this agent aggregated
    nlohmann::json updates_rejected = nlohmann::json::object();  // reason -> count
  };
  struct Traffic {
    std::uint64_t before_restarts = 0;  // bytes of earlier lives of the agent
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t received_before = 0;
  };
  struct Failover {
    std::string workload;
    std::uint64_t replica = 0;
    std::size_t from = 0;
    std::string cause;
    double start = 0;
    std::optional<double> end;
    std::optional<std::size_t> to;
  };
  std::optional<std::size_t> index_of(const std::string& id) const;

  std::vector<RecordedNode> nodes_;
  std::int64_t zero_unix_ms_;
  std::vector<bool> running_;
  std::vector<ModelState> models_;
  std::vector<Traffic> traffic_;
  std::vector<std::vector<int>> pids_;
  // views_[observer][subject] = (status, change time) from the last members reply.
  std::vector<std::map<std::size_t, std::pair<std::string, std::optional<double>>>> views_;
  std::vector<std::string> majority_;  // current timeline status per node ("" unknown)
  std::vector<double> last_change_s_;  // when each node's timeline status last changed
  nlohmann::json accuracy_ = nlohmann::json::array();
  nlohmann::json membership_ = nlohmann::json::array();
  nlohmann::json raw_views_ = nlohmann::json::array();
  nlohmann::json chaos_ = nlohmann::json::array();
  nlohmann::json reassignments_ = nlohmann::json::array();
  nlohmann::json leaders_ = nlohmann::json::array();
  nlohmann::json workloads_ = nlohmann::json::array();
  std::map<std::string, std::string> owners_;  // "name#replica" -> owner id
  std::vector<Failover> failovers_;
  std::string leader_;
  std::vector<std::pair<double, std::string>> events_;
};

}  // namespace starling::up
