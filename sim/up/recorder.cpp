// The observations of `starling-sim up` (see recorder.hpp). Pure; single-threaded.
#include "sim/up/recorder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sim/up/json_access.hpp"

namespace starling::up {
namespace {

using nlohmann::json;

// Ties between observers' views go to the worse status: a death seen by half the swarm is
// worth showing.
int severity(const std::string& status) {
  if (status == "dead") return 3;
  if (status == "left") return 2;
  if (status == "suspect") return 1;
  return 0;
}

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::string workload_key(const std::string& name, std::uint64_t replica) {
  return name + "#" + std::to_string(replica);
}

}  // namespace

Recorder::Recorder(std::vector<RecordedNode> nodes, std::int64_t zero_unix_ms)
    : nodes_(std::move(nodes)),
      zero_unix_ms_(zero_unix_ms),
      running_(nodes_.size(), false),
      models_(nodes_.size()),
      traffic_(nodes_.size()),
      pids_(nodes_.size()),
      views_(nodes_.size()),
      majority_(nodes_.size()),
      last_change_s_(nodes_.size(), 0.0) {}

std::optional<std::size_t> Recorder::index_of(const std::string& id) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].id == id) return i;
  }
  return std::nullopt;
}

void Recorder::on_model(std::size_t i, double t, const json& model) {
  ModelState& m = models_.at(i);
  m.state = text_of(model, "state", m.state);
  if (auto round = count_of(model, "round")) m.round = *round;
  m.accuracy = number_of(model, "accuracy");
  m.loss = number_of(model, "loss");
  if (auto accepted = count_of(model, "updates_accepted")) m.updates_accepted = *accepted;
  if (const json& rejected = member(model, "updates_rejected"); rejected.is_object()) {
    m.updates_rejected = json::object();
    for (const auto& [reason, count] : rejected.items()) {
      if (count.is_number_unsigned()) m.updates_rejected[reason] = count;
    }
  }
  const json& history = member(model, "history");
  if (!history.is_array()) return;
  for (const json& e : history) {  // oldest first
    const auto round = count_of(e, "round");
    const auto accuracy = number_of(e, "accuracy");
    if (!round || !accuracy || *round < 1 || *round <= m.recorded_round) continue;
    m.recorded_round = *round;
    accuracy_.push_back({{"node", i},
                         {"round", *round},
                         {"accuracy", *accuracy},
                         {"loss", optional_number(number_of(e, "loss"))},
                         {"t", t}});
  }
}

void Recorder::on_status(std::size_t i, double, const json& status) {
  Traffic& traffic = traffic_.at(i);
  const json& counters = member(status, "traffic");
  const auto sent = count_of(counters, "bytes_sent");
  const auto received = count_of(counters, "bytes_received");
  if (!sent || !received) return;
  // A restarted agent counts from zero again: keep what its earlier lives sent.
  if (*sent < traffic.sent) traffic.before_restarts += traffic.sent;
  if (*received < traffic.received) traffic.received_before += traffic.received;
  traffic.sent = *sent;
  traffic.received = *received;
}

void Recorder::on_members(std::size_t observer, double t, const json& members) {
  if (!members.is_array()) return;
  for (const json& m : members) {
    const auto subject = index_of(text_of(m, "id"));
    if (!subject) continue;
    if (*subject == observer) {
      // The agent's own entry carries its evaluated round and accuracy, set together.
      const json& meta = member(m, "meta");
      const auto round = number_in_text(meta, "fl.round");
      const auto accuracy = number_in_text(meta, "fl.acc");
      ModelState& model = models_.at(observer);
      if (!round || !accuracy || *round < 1) continue;
      const auto r = static_cast<std::uint64_t>(*round);
      if (r <= model.recorded_round) continue;
      model.recorded_round = r;
      // The model reply has the full-precision accuracy and the loss of the same evaluation
      // when its accuracy rounds to the published one.
      const bool same = model.accuracy && std::abs(*model.accuracy - *accuracy) < 5.01e-5;
      accuracy_.push_back({{"node", observer},
                           {"round", r},
                           {"accuracy", same ? *model.accuracy : *accuracy},
                           {"loss", same ? optional_number(model.loss) : json(nullptr)},
                           {"t", t}});
      continue;
    }
    const std::string status = text_of(m, "status");
    if (status.empty()) continue;
    std::optional<double> changed;
    if (auto ms = number_of(m, "last_change_unix_ms"); ms && *ms > 0) {
      changed = std::clamp((*ms - static_cast<double>(zero_unix_ms_)) / 1000.0, 0.0, t);
    }
    auto& view = views_.at(observer)[*subject];
    if (view.first != status) {
      raw_views_.push_back({{"t", changed.value_or(t)},
                            {"observer", observer},
                            {"subject", *subject},
                            {"status", status}});
    }
    view = {status, changed};
  }
}

void Recorder::end_poll(double t, const std::vector<bool>& answered) {
  for (std::size_t subject = 0; subject < nodes_.size(); ++subject) {
    std::map<std::string, std::vector<double>> seen;  // status -> observers' change times
    std::size_t total = 0;
    for (std::size_t observer = 0; observer < nodes_.size(); ++observer) {
      if (observer == subject || observer >= answered.size() || !answered[observer]) continue;
      const auto it = views_[observer].find(subject);
      if (it == views_[observer].end()) continue;
      ++total;
      seen[it->second.first].push_back(it->second.second.value_or(t));
    }
    if (total == 0) continue;
    std::string best;
    std::size_t best_count = 0;
    for (const auto& [status, times] : seen) {
      if (times.size() > best_count ||
          (times.size() == best_count && severity(status) > severity(best))) {
        best = status;
        best_count = times.size();
      }
    }
    if (best == majority_[subject]) continue;
    // When the majority formed: the k-th observer to change, k = a majority of those asked.
    std::vector<double> times = seen[best];
    std::sort(times.begin(), times.end());
    const std::size_t k = std::min(times.size(), total / 2 + 1);
    // Never before this node's previous change: its segments stay in order.
    const double at = std::max(std::min(times[k - 1], t), last_change_s_[subject]);
    last_change_s_[subject] = at;
    majority_[subject] = best;
    events_.emplace_back(at, nodes_[subject].name + " is " + best + " (seen by " +
                                 std::to_string(best_count) + " of " + std::to_string(total) + ")");
    membership_.push_back(
        {{"t", at}, {"node", subject}, {"status", best}, {"seen_by", best_count}, {"of", total}});
  }
}

void Recorder::on_workloads(double t, const json& result) {
  const json& table = member(result, "workloads");
  if (!table.is_array()) return;
  workloads_ = table;
  for (const json& w : table) {
    const std::string name = text_of(w, "name");
    const std::uint64_t replica = count_of(w, "replica").value_or(0);
    const std::string key = workload_key(name, replica);
    const std::string owner = text_of(w, "owner");
    auto [it, inserted] = owners_.try_emplace(key, "");
    if (it->second != owner) {
      const auto from = index_of(it->second);
      const auto to = index_of(owner);
      reassignments_.push_back({{"t", t},
                                {"workload", name},
                                {"replica", replica},
                                {"from", from ? json(*from) : json(nullptr)},
                                {"to", to ? json(*to) : json(nullptr)},
                                {"epoch", member(w, "epoch")},
                                {"state", text_of(w, "state")}});
      if (from) {
        events_.emplace_back(t, name + " moved from " + nodes_[*from].name + " to " +
                                    (to ? nodes_[*to].name : std::string("nobody")));
      }
      it->second = owner;
    }
    (void)inserted;
    for (Failover& f : failovers_) {
      if (f.end || f.workload != name || f.replica != replica) continue;
      const auto to = index_of(owner);
      if (text_of(w, "state") == "running" && to && *to != f.from && running_.at(*to)) {
        f.end = t;
        f.to = to;
        char took[32];
        std::snprintf(took, sizeof took, "%.2f s", t - f.start);
        events_.emplace_back(t, "failover: " + name + " running on " + nodes_[*to].name + " " +
                                    took + " after the " + f.cause + " of " + nodes_[f.from].name);
      }
    }
  }
}

void Recorder::on_leader(double t, const json& result) {
  if (!result.is_object()) return;
  const std::string leader = text_of(result, "leader");
  const auto term = count_of(result, "term");
  if (leaders_.empty() || leader != leader_ ||
      count_of(leaders_.back(), "term") != term) {
    const auto index = index_of(leader);
    leaders_.push_back({{"t", t},
                        {"leader", leader},
                        {"node", index ? json(*index) : json(nullptr)},
                        {"term", term ? json(*term) : json(nullptr)}});
    leader_ = leader;
    events_.emplace_back(t, "leader: " + (index ? nodes_[*index].name : std::string("none")) +
                                (term ? " (term " + std::to_string(*term) + ")" : std::string()));
  }
}

void Recorder::on_chaos(double t, const ChaosEvent& event, const std::string& problem) {
  chaos_.push_back({{"t", t},
                    {"kind", std::string(chaos_kind_name(event.kind))},
                    {"node", event.node},
                    {"spec", event.to_string()},
                    {"at_s", to_seconds(event.at)},
                    {"duration_s", event.kind == ChaosKind::kPause
                                       ? json(to_seconds(event.duration))
                                       : json(nullptr)},
                    {"error", problem.empty() ? json(nullptr) : json(problem)}});
  if (!problem.empty() || event.kind == ChaosKind::kRestart) return;
  const std::string& id = nodes_.at(event.node).id;
  for (const json& w : workloads_) {
    const std::string state = text_of(w, "state");
    if (text_of(w, "owner") != id || (state != "running" && state != "starting")) continue;
    failovers_.push_back(Failover{text_of(w, "name"), count_of(w, "replica").value_or(0),
                                  event.node, std::string(chaos_kind_name(event.kind)), t,
                                  std::nullopt, std::nullopt});
  }
}

void Recorder::on_started(std::size_t i, double, int pid) {
  pids_.at(i).push_back(pid);
  running_.at(i) = true;
}

void Recorder::on_resumed(std::size_t i, double t) {
  running_.at(i) = true;
  chaos_.push_back({{"t", t}, {"kind", "resume"}, {"node", i}});
}

std::vector<std::pair<double, std::string>> Recorder::take_events() {
  std::vector<std::pair<double, std::string>> out;
  out.swap(events_);
  return out;
}

Progress Recorder::progress() const {
  Progress p;
  double sum = 0;
  std::size_t with_accuracy = 0;
  bool first = true;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (majority_[i] == "alive") ++p.alive;
    if (!running_[i]) continue;
    const ModelState& m = models_[i];
    p.round_min = first ? m.round : std::min(p.round_min, m.round);
    p.round_max = std::max(p.round_max, m.round);
    first = false;
    if (m.accuracy && nodes_[i].byzantine.empty()) {
      sum += *m.accuracy;
      ++with_accuracy;
      p.min_accuracy = std::min(p.min_accuracy.value_or(1.0), *m.accuracy);
    }
  }
  if (with_accuracy > 0) p.mean_accuracy = sum / static_cast<double>(with_accuracy);
  for (const json& w : workloads_) {
    if (text_of(w, "state") == "running") ++p.workloads_running;
  }
  for (const Failover& f : failovers_) (f.end ? p.failovers_done : p.failovers_pending)++;
  return p;
}

bool Recorder::training_done(std::uint64_t rounds) const {
  bool any = false;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!running_[i]) continue;
    any = true;
    // Done when the last round's accuracy was published (the report then has it), or when
    // the agent finished with nothing to evaluate (restarted after its last round).
    const ModelState& m = models_[i];
    if (m.recorded_round < rounds && !(m.state == "finished" && !m.accuracy)) return false;
  }
  return any;
}

bool Recorder::membership_settled() const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const std::string& seen = majority_[i];
    if (running_[i] ? seen != "alive" : (seen != "dead" && seen != "left" && !seen.empty())) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> Recorder::learning_failure() const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (running_[i] && models_[i].state.starts_with("failed")) {
      return nodes_[i].name + ": " + models_[i].state;
    }
  }
  return std::nullopt;
}

json Recorder::to_json() const {
  json nodes = json::array();
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const ModelState& m = models_[i];
    const Traffic& traffic = traffic_[i];
    nodes.push_back({{"index", i},
                     {"name", nodes_[i].name},
                     {"id", nodes_[i].id},
                     {"byzantine", nodes_[i].byzantine.empty() ? json(nullptr)
                                                               : json(nodes_[i].byzantine)},
                     {"pids", pids_[i]},
                     {"running", static_cast<bool>(running_[i])},
                     {"status", majority_[i]},
                     {"bytes_sent", traffic.before_restarts + traffic.sent},
                     {"bytes_received", traffic.received_before + traffic.received},
                     {"round", m.round},
                     {"state", m.state},
                     {"accuracy", optional_number(m.accuracy)},
                     {"loss", optional_number(m.loss)},
                     {"updates_accepted", m.updates_accepted},
                     {"updates_rejected", m.updates_rejected}});
  }
  json failovers = json::array();
  for (const Failover& f : failovers_) {
    failovers.push_back({{"workload", f.workload},
                         {"replica", f.replica},
                         {"from", f.from},
                         {"to", f.to ? json(*f.to) : json(nullptr)},
                         {"cause", f.cause},
                         {"start_s", f.start},
                         {"end_s", optional_number(f.end)},
                         {"duration_s", f.end ? json(*f.end - f.start) : json(nullptr)}});
  }
  return {{"nodes", nodes},           {"accuracy", accuracy_},
          {"membership", membership_}, {"views", raw_views_},
          {"chaos", chaos_},           {"failovers", failovers},
          {"reassignments", reassignments_}, {"leader", leaders_},
          {"workloads", workloads_}};
}

}  // namespace starling::up
