// starling-bench-workloads: consensus and workloads of real starlingd processes on 127.0.0.1
// (sim/local/LocalSwarm), measured from outside through the control API. Subcommands:
//   failover  kill -9 a worker (an agent that owns workloads, not the leader); time until EVERY
//             workload it owned is "running" on its new owner, as that owner reports it (so the
//             new lease is held and the runner started); median and max over --kills; the
//             victim is restarted between kills.
//   leader    kill -9 the leader of a --voters cluster; time until a majority of the surviving
//             voters name the same new leader at a higher term; median and max over --kills.
//   ops       committed workload operations per second on a --voters cluster: --clients
//             requests in flight against the leader's control API, adding --batch workloads
//             and removing them again (every agent has capacity 0, so nothing is scheduled and
//             only the log is measured), reported beside the fsync rate of the same disk
//             measured in the same run (write 4 KiB + fdatasync in a loop).
// Each prints a table and, with --json, one JSON object per result. Ratios are figure / target,
// so a value at or below 1.0 meets the target of issue 5 (docs/RESULTS.md), except for ops,
// where the ratio is target / figure.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "agent/runtime/control_client.hpp"
#include "bench/bench_common.hpp"

namespace {

using namespace starling::bench;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

starling::Result<json> request(LocalSwarm& swarm, std::size_t i, json body,
                               std::chrono::milliseconds timeout = 1s) {
  body["v"] = 1;
  auto reply = starling::runtime::control_request(swarm.node(i).control, body, timeout);
  if (!reply) return reply.status();
  return starling::runtime::control_result(*reply);
}

std::optional<std::size_t> index_of(LocalSwarm& swarm, const std::string& id) {
  for (std::size_t i = 0; i < swarm.size(); ++i) {
    if (swarm.node_id_hex(i) == id) return i;
  }
  return std::nullopt;
}

json leader_view(LocalSwarm& swarm, std::size_t i) {
  auto l = request(swarm, i, {{"cmd", "leader"}});
  return l ? *l : json::object();
}

// Waits until every running agent names the same leader; returns its index.
std::size_t wait_leader(LocalSwarm& swarm, std::chrono::seconds timeout) {
  std::optional<std::size_t> leader;
  const bool ok = LocalSwarm::wait_until(
      [&] {
        std::string id;
        for (std::size_t i = 0; i < swarm.size(); ++i) {
          if (!swarm.running(i)) continue;
          const std::string l = leader_view(swarm, i).value("leader", std::string());
          if (l.empty() || (!id.empty() && l != id)) return false;
          id = l;
        }
        leader = index_of(swarm, id);
        return leader.has_value();
      },
      timeout, 50ms);
  if (!ok || !leader) die("no leader agreed by every agent within the timeout");
  return *leader;
}

json workloads_of(LocalSwarm& swarm, std::size_t i) {
  auto w = request(swarm, i, {{"cmd", "workloads"}});
  return w ? w->at("workloads") : json::array();
}

void print_result(const Common& c, const json& result) {
  if (c.json_output) std::cout << result.dump() << "\n";
}

// --- failover -------------------------------------------------------------------------------

int run_failover(const Common& c, std::size_t kills, std::size_t workloads, double target) {
  WorkDir dir(c.keep);
  LocalSwarm swarm = start_swarm(c, dir.path);
  std::size_t leader = wait_leader(swarm, 60s);
  // Long streams that keep running for the whole benchmark.
  for (std::size_t w = 0; w < workloads; ++w) {
    char name[32];
    std::snprintf(name, sizeof name, "w%03zu", w);
    json spec{{"name", name},
              {"kind", "stream"},
              {"params", {{"records", "100000000"}, {"rate", "50"}, {"checkpoint_every", "50"}}}};
    const bool added = LocalSwarm::wait_until(
        [&] { return request(swarm, leader, {{"cmd", "workload_add"}, {"spec", spec}}).is_ok(); },
        20s, 100ms);
    if (!added) die(std::string("cannot add ") + name);
  }
  auto all_running = [&](const std::set<std::string>& names) {
    // Owners as the leader's table says, then each owner's own view.
    std::map<std::string, std::string> owner_of;
    for (const json& w : workloads_of(swarm, leader)) {
      owner_of[w.at("name").get<std::string>()] = w.at("owner").get<std::string>();
    }
    std::map<std::size_t, json> views;
    for (const std::string& name : names) {
      auto owner = index_of(swarm, owner_of[name]);
      if (!owner || !swarm.running(*owner)) return false;
      if (!views.contains(*owner)) views[*owner] = workloads_of(swarm, *owner);
      bool running = false;
      for (const json& w : views[*owner]) {
        if (w.at("name").get<std::string>() == name && w.at("state") == "running") running = true;
      }
      if (!running) return false;
    }
    return true;
  };
  std::set<std::string> every;
  for (std::size_t w = 0; w < workloads; ++w) {
    char name[32];
    std::snprintf(name, sizeof name, "w%03zu", w);
    every.insert(name);
  }
  if (!LocalSwarm::wait_until([&] { return all_running(every); }, 60s, 100ms)) {
    die("the workloads did not all start within 60 s");
  }
  std::vector<double> times;
  std::vector<std::size_t> moved_counts;
  for (std::size_t k = 0; k < kills; ++k) {
    leader = wait_leader(swarm, 60s);
    // The victim: the non-leader owning the most workloads.
    std::map<std::size_t, std::set<std::string>> owned;
    for (const json& w : workloads_of(swarm, leader)) {
      if (auto o = index_of(swarm, w.at("owner").get<std::string>()); o && *o != leader) {
        owned[*o].insert(w.at("name").get<std::string>());
      }
    }
    if (owned.empty()) die("no worker owns a workload");
    auto victim = std::max_element(owned.begin(), owned.end(), [](const auto& a, const auto& b) {
      return a.second.size() < b.second.size();
    });
    const std::size_t v = victim->first;
    const std::set<std::string> names = victim->second;
    const auto killed = Clock::now();
    if (auto s = swarm.signal(v, SIGKILL); !s.is_ok()) die(s.to_string());
    (void)swarm.running(v);  // reap
    if (!LocalSwarm::wait_until([&] { return all_running(names); }, 30s, 20ms)) {
      die("kill " + std::to_string(k) + ": workloads not running elsewhere within 30 s");
    }
    const double t = seconds_since(killed);
    times.push_back(t);
    moved_counts.push_back(names.size());
    std::cerr << "kill " << (k + 1) << "/" << kills << ": " << names.size()
              << " workload(s) of the victim running elsewhere after " << t << " s\n";
    if (auto s = swarm.start(v, {swarm.node(0).seed()}); !s.is_ok()) die(s.to_string());
    const bool back = LocalSwarm::wait_until(
        [&] {
          for (std::size_t i = 0; i < swarm.size(); ++i) {
            auto status = swarm.query(i, "status");
            if (!status || status->at("members").value("alive", 0u) != c.agents) return false;
          }
          return all_running(every);
        },
        60s, 200ms);
    if (!back) die("the swarm did not settle after the restart within 60 s");
    std::this_thread::sleep_for(2s);
  }
  const double med = median(times);
  const double max = *std::max_element(times.begin(), times.end());
  std::printf("failover: %zu agents, %zu workloads, %zu kills of a worker\n", c.agents, workloads,
              kills);
  std::printf("  time until all the victim's workloads run elsewhere: median %.3f s, max %.3f s"
              " (target %.1f s: ratio median %.2f, max %.2f)\n",
              med, max, target, med / target, max / target);
  print_result(c, json{{"bench", "failover"}, {"agents", c.agents}, {"workloads", workloads},
                       {"kills", kills}, {"median_s", med}, {"max_s", max}, {"times_s", times},
                       {"moved", moved_counts}, {"target_s", target},
                       {"ratio_median", med / target}, {"ratio_max", max / target}});
  return 0;
}

// --- leader ---------------------------------------------------------------------------------

int run_leader(const Common& c, std::size_t voters_wanted, std::size_t kills,
               double target_median, double target_max) {
  WorkDir dir(c.keep);
  starling::local::NodeOptions node;
  node.extra_args = {"--voters", std::to_string(voters_wanted)};
  LocalSwarm swarm = start_swarm(c, dir.path, node);
  std::vector<double> times;
  for (std::size_t k = 0; k < kills; ++k) {
    const std::size_t leader = wait_leader(swarm, 60s);
    const json view = leader_view(swarm, leader);
    const std::uint64_t term = view.value("term", std::uint64_t{0});
    std::vector<std::size_t> voters;
    for (const json& v : view.at("voters")) {
      if (auto i = index_of(swarm, v.get<std::string>()); i && *i != leader) voters.push_back(*i);
    }
    const std::size_t majority = voters.size() / 2 + 1;  // of the survivors
    const auto killed = Clock::now();
    if (auto s = swarm.signal(leader, SIGKILL); !s.is_ok()) die(s.to_string());
    (void)swarm.running(leader);
    const bool elected = LocalSwarm::wait_until(
        [&] {
          std::map<std::string, std::size_t> votes;
          for (std::size_t i : voters) {
            const json l = leader_view(swarm, i);
            const std::string id = l.value("leader", std::string());
            if (!id.empty() && id != swarm.node_id_hex(leader) &&
                l.value("term", std::uint64_t{0}) > term) {
              if (++votes[id] >= majority) return true;
            }
          }
          return false;
        },
        30s, 10ms);
    if (!elected) die("kill " + std::to_string(k) + ": no new leader within 30 s");
    const double t = seconds_since(killed);
    times.push_back(t);
    std::cerr << "kill " << (k + 1) << "/" << kills << ": new leader after " << t << " s\n";
    if (auto s = swarm.start(leader, {swarm.node(0).seed()}); !s.is_ok()) die(s.to_string());
    const bool back = LocalSwarm::wait_until(
        [&] {
          for (std::size_t i = 0; i < swarm.size(); ++i) {
            auto status = swarm.query(i, "status");
            if (!status || status->at("members").value("alive", 0u) != c.agents) return false;
          }
          return true;
        },
        60s, 200ms);
    if (!back) die("the old leader did not come back within 60 s");
    std::this_thread::sleep_for(3s);
  }
  const double med = median(times);
  const double max = *std::max_element(times.begin(), times.end());
  std::printf("leader: %zu agents, %zu voters, kill -9 of the leader x%zu\n", c.agents,
              voters_wanted, kills);
  std::printf("  time until a majority of the surviving voters agree on a new leader: median "
              "%.3f s, max %.3f s (targets %.1f / %.1f s: ratios %.2f, %.2f)\n",
              med, max, target_median, target_max, med / target_median, max / target_max);
  print_result(c, json{{"bench", "leader"}, {"agents", c.agents}, {"voters", voters_wanted},
                       {"kills", kills},
                       {"median_s", med}, {"max_s", max}, {"times_s", times},
                       {"ratio_median", med / target_median}, {"ratio_max", max / target_max}});
  return 0;
}

// --- ops ------------------------------------------------------------------------------------

// fdatasync()s per second of 4 KiB appends in `dir` for `seconds`.
double fsync_rate(const std::filesystem::path& dir, double seconds) {
  const auto path = dir / "fsync-probe";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("cannot create " + path.string());
  std::vector<char> block(4096, 'x');
  std::size_t n = 0;
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) break;
    if (::fdatasync(fd) != 0) break;
    ++n;
  }
  const double rate = static_cast<double>(n) / seconds_since(start);
  ::close(fd);
  std::filesystem::remove(path);
  return rate;
}

// Sends `requests` over one DEALER with at most `in_flight` outstanding; returns failures.
std::size_t pipeline(zmq::socket_t& socket, const std::vector<std::string>& requests,
                     std::size_t in_flight) {
  std::size_t sent = 0, answered = 0, failed = 0;
  while (answered < requests.size()) {
    while (sent < requests.size() && sent - answered < in_flight) {
      socket.send(zmq::message_t(), zmq::send_flags::sndmore);
      socket.send(zmq::buffer(requests[sent]), zmq::send_flags::none);
      ++sent;
    }
    zmq::message_t empty, body;
    if (!socket.recv(empty) || !socket.recv(body)) die("control socket: no reply within 10 s");
    ++answered;
    const json reply = json::parse(body.to_string(), nullptr, false);
    if (reply.is_discarded() || !reply.value("ok", false)) ++failed;
  }
  return failed;
}

int run_ops(const Common& c, double seconds, std::size_t batch, std::size_t in_flight,
            double target) {
  WorkDir dir(c.keep);
  starling::local::NodeOptions node;
  node.extra_args = {"--capacity", "0", "--voters", std::to_string(c.agents)};
  if (c.agents != 1 && c.agents != 3 && c.agents != 5 && c.agents != 7) {
    die("--agents must be 1, 3, 5 or 7 (they are all voters)");
  }
  LocalSwarm swarm = start_swarm(c, dir.path, node);
  std::size_t leader = wait_leader(swarm, 60s);
  // Wait until every agent is a voter.
  if (!LocalSwarm::wait_until(
          [&] { return leader_view(swarm, leader).at("voters").size() == c.agents; }, 60s,
          100ms)) {
    die("the voter set did not grow to every agent");
  }
  const double fsyncs = fsync_rate(dir.path, 2.0);
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::rcvtimeo, 10000);
  socket.connect(swarm.node(leader).control);
  auto table_size = [&] { return workloads_of(swarm, leader).size(); };
  std::uint64_t ops = 0;
  std::size_t failed = 0;
  const auto start = Clock::now();
  for (std::size_t round = 0; seconds_since(start) < seconds; ++round) {
    std::vector<std::string> adds, removes;
    for (std::size_t i = 0; i < batch; ++i) {
      const std::string name = "op" + std::to_string(i);
      adds.push_back(json{{"v", 1},
                          {"cmd", "workload_add"},
                          {"spec", {{"name", name}, {"kind", "stream"}}}}
                         .dump());
      removes.push_back(json{{"v", 1}, {"cmd", "workload_rm"}, {"name", name}}.dump());
    }
    failed += pipeline(socket, adds, in_flight);
    if (!LocalSwarm::wait_until([&] { return table_size() == batch; }, 30s, 5ms)) {
      die("the adds did not commit within 30 s");
    }
    failed += pipeline(socket, removes, in_flight);
    if (!LocalSwarm::wait_until([&] { return table_size() == 0; }, 30s, 5ms)) {
      die("the removes did not commit within 30 s");
    }
    ops += 2 * batch;
  }
  const double elapsed = seconds_since(start);
  const double rate = static_cast<double>(ops) / elapsed;
  const json view = leader_view(swarm, leader);
  std::printf("ops: %zu voters, %zu requests in flight, batches of %zu adds then %zu removes\n",
              c.agents, in_flight, batch, batch);
  std::printf("  %.0f committed operations/s over %.1f s (%llu ops, %zu refused); this disk: "
              "%.0f fdatasync/s (target %.0f ops/s: ratio %.2f)\n",
              rate, elapsed, static_cast<unsigned long long>(ops), failed, fsyncs, target,
              target / rate);
  print_result(c, json{{"bench", "ops"}, {"voters", c.agents}, {"ops_per_s", rate},
                       {"ops", ops}, {"refused", failed}, {"fsync_per_s", fsyncs},
                       {"commit_index", view.value("commit_index", 0)}, {"target", target},
                       {"ratio", target / rate}});
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"starling-bench-workloads: workload failover, leader election and commit "
               "throughput of real starlingd processes on 127.0.0.1"};
  Common c;
  c.bin_dir = std::filesystem::path(argv[0]).parent_path().string();
  app.add_option("--bin-dir", c.bin_dir, "Directory with starlingd and starling")
      ->capture_default_str();
  app.add_option("--profile", c.profile, "Membership profile")->capture_default_str();
  app.add_flag("--json", c.json_output, "Also print one JSON object per result");
  app.add_flag("--keep", c.keep, "Keep the working directory (logs, data dirs)");
  app.require_subcommand(1);

  std::size_t kills = 10;
  std::size_t workloads = 40;
  double failover_target = 3.0;
  auto* failover = app.add_subcommand("failover", "Kill -9 workers; time until their workloads "
                                                  "run elsewhere");
  failover->add_option("--agents", c.agents, "Swarm size")->capture_default_str();
  failover->add_option("--kills", kills, "Kills to time")->capture_default_str();
  failover->add_option("--workloads", workloads, "Stream workloads")->capture_default_str();
  failover->add_option("--target", failover_target, "Target in seconds")->capture_default_str();

  double leader_median = 1.0, leader_max = 1.5;
  std::size_t voters = 3;
  auto* leader = app.add_subcommand("leader", "Kill -9 the leader; time until a new one");
  leader->add_option("--agents", c.agents, "Swarm size")->capture_default_str();
  leader->add_option("--kills", kills, "Kills to time")->capture_default_str();
  leader->add_option("--voters", voters, "Voters (1, 3, 5 or 7)")->capture_default_str();

  double seconds = 10;
  std::size_t batch = 1000, in_flight = 256;
  double ops_target = 5000;
  auto* ops = app.add_subcommand("ops", "Committed operations per second beside the fsync rate");
  ops->add_option("--agents", c.agents, "Voters (1, 3, 5 or 7; every agent votes)")
      ->capture_default_str();
  ops->add_option("--seconds", seconds, "Measurement length")->capture_default_str();
  ops->add_option("--batch", batch, "Workloads added then removed per round (at most 1024)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  ops->add_option("--in-flight", in_flight, "Requests outstanding")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  try {
    if (failover->parsed()) return run_failover(c, kills, workloads, failover_target);
    if (leader->parsed()) return run_leader(c, voters, kills, leader_median, leader_max);
    if (ops->parsed()) return run_ops(c, seconds, batch, in_flight, ops_target);
  } catch (const std::exception& e) {
    std::cerr << "starling-bench-workloads: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
