// Integration tests of consensus and workloads with real `starlingd` processes on 127.0.0.1:
// five agents found a cluster, twenty `stream` workloads are added through a follower, the
// leader and a worker are killed with SIGKILL at the same moment, every workload runs again
// on a survivor, and the union of all ledgers (the dead nodes' included) holds every record of
// every stream exactly once by key. Deadlines are generous (shared 2-core machines); the
// benchmarks measure the real failover times (scripts/bench.sh workloads).
#include <doctest/doctest.h>

#include <signal.h>

#include <deque>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/runtime/control_client.hpp"
#include "sim/local/local_swarm.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"
#include "workloads/ledger.hpp"
#include "workloads/stream.hpp"

namespace starling::local {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr auto kConverge = 30s;

Result<json> request(LocalSwarm& swarm, std::size_t i, json body) {
  body["v"] = 1;
  auto reply = runtime::control_request(swarm.node(i).control, body, 2s);
  if (!reply) return reply.status();
  return runtime::control_result(*reply);
}

std::string leader_of(LocalSwarm& swarm, std::size_t i) {
  auto l = swarm.query(i, "leader");
  if (!l) return {};
  return l->value("leader", std::string());
}

std::optional<std::size_t> index_of(LocalSwarm& swarm, const std::string& id_hex) {
  for (std::size_t i = 0; i < swarm.size(); ++i) {
    if (swarm.node_id_hex(i) == id_hex) return i;
  }
  return std::nullopt;
}

// The workload table as node i sees it.
json table_of(LocalSwarm& swarm, std::size_t i) {
  auto w = swarm.query(i, "workloads");
  if (!w) return json::array();
  return w->at("workloads");
}

TEST_CASE("five agents run twenty stream workloads through the loss of the leader and a worker") {
  testing::TempDir dir;
  LocalSwarmOptions options;
  options.bin_dir = STARLING_BIN_DIR;
  options.root = dir.path();
  options.log_level = "debug";
  auto created = LocalSwarm::create(options);
  REQUIRE_OK(created);
  LocalSwarm swarm = std::move(*created);
  for (std::size_t i = 0; i < 5; ++i) {
    auto index = swarm.add_node("n" + std::to_string(i));
    REQUIRE_OK(index);
    std::vector<std::string> join;
    if (i > 0) join.push_back(swarm.node(0).seed());
    REQUIRE_OK(swarm.start(*index, join));
  }
  // A cluster forms and every agent knows the same leader.
  std::string leader;
  REQUIRE(LocalSwarm::wait_until(
      [&] {
        leader = leader_of(swarm, 0);
        if (leader.empty()) return false;
        for (std::size_t i = 1; i < 5; ++i) {
          if (leader_of(swarm, i) != leader) return false;
        }
        return true;
      },
      kConverge));
  auto leader_index = index_of(swarm, leader);
  REQUIRE(leader_index.has_value());

  // Twenty streams of 1,500 records at 300 records/s, added through a follower.
  const std::size_t follower = (*leader_index + 1) % 5;
  const std::map<std::string, std::string> params{
      {"records", "1500"}, {"rate", "300"}, {"checkpoint_every", "250"}};
  for (int w = 0; w < 20; ++w) {
    char name[16];
    std::snprintf(name, sizeof name, "s%02d", w);
    json spec{{"name", name}, {"kind", "stream"}, {"params", params}};
    Result<json> added = Status{StatusCode::kUnavailable, "not tried"};
    const bool accepted = LocalSwarm::wait_until(
        [&] {
          added = request(swarm, follower, {{"cmd", "workload_add"}, {"spec", spec}});
          return added.is_ok();
        },
        10s, 200ms);
    INFO("workload_add: " << added.status().to_string());
    REQUIRE(accepted);
  }
  // All twenty run somewhere and make progress.
  INFO("table: " << table_of(swarm, follower).dump());
  REQUIRE(LocalSwarm::wait_until(
      [&] {
        const json table = table_of(swarm, follower);
        if (table.size() != 20) return false;
        for (const json& w : table) {
          if (w.at("owner").get<std::string>().empty() || w.at("progress").get<std::uint64_t>() == 0) {
            return false;
          }
        }
        return true;
      },
      kConverge));

  // Kill the leader and a worker (another owner) at the same moment.
  leader = leader_of(swarm, follower);
  leader_index = index_of(swarm, leader);
  REQUIRE(leader_index.has_value());
  std::optional<std::size_t> worker;
  for (const json& w : table_of(swarm, follower)) {
    auto owner = index_of(swarm, w.at("owner").get<std::string>());
    if (owner && *owner != *leader_index) worker = owner;
  }
  REQUIRE(worker.has_value());
  MESSAGE("killing leader n" << *leader_index << " and worker n" << *worker);
  REQUIRE_OK(swarm.signal(*leader_index, SIGKILL));
  REQUIRE_OK(swarm.signal(*worker, SIGKILL));
  std::vector<std::size_t> survivors;
  std::set<std::string> survivor_ids;
  for (std::size_t i = 0; i < 5; ++i) {
    if (i != *leader_index && i != *worker) {
      survivors.push_back(i);
      survivor_ids.insert(swarm.node_id_hex(i));
    }
  }

  // Every workload is owned by a survivor, which runs it, and all streams finish.
  bool moved = LocalSwarm::wait_until(
      [&] {
        const json table = table_of(swarm, survivors.front());
        if (table.size() != 20) return false;
        for (const json& w : table) {
          if (!survivor_ids.contains(w.at("owner").get<std::string>())) return false;
        }
        return true;
      },
      kConverge);
  CHECK(moved);
  if (!moved) {
    for (std::size_t i = 0; i < 5; ++i) {
      std::ifstream log(swarm.node(i).data_dir / "starlingd.log");
      std::deque<std::string> tail;
      for (std::string line; std::getline(log, line);) {
        tail.push_back(line);
        if (tail.size() > 12) tail.pop_front();
      }
      std::string text;
      for (const auto& line : tail) text += line + "\n";
      MESSAGE("n" << i << " running=" << swarm.running(i) << " log tail:\n" << text);
    }
  }
  bool finished = LocalSwarm::wait_until(
      [&] {
        for (const json& w : table_of(swarm, survivors.front())) {
          if (w.at("state").get<std::string>() != "done") return false;
        }
        return true;
      },
      60s, 250ms);
  CHECK(finished);
  for (const json& w : table_of(swarm, survivors.front())) {
    INFO("workload " << w.dump());
    CHECK(w.at("progress").get<std::uint64_t>() == 1500);
    CHECK(w.at("epoch").get<std::uint64_t>() >= 1);
  }

  // The union of the ledgers of every node, the dead ones included, is complete.
  for (int w = 0; w < 20; ++w) {
    char name[16];
    std::snprintf(name, sizeof name, "s%02d", w);
    auto stream = workloads::parse_stream_params(name, params);
    REQUIRE_OK(stream);
    std::vector<workloads::LedgerRow> rows;
    for (std::size_t i = 0; i < 5; ++i) {
      const auto path = workloads::ledger_path(swarm.node(i).data_dir, name, 0);
      if (!std::filesystem::exists(path)) continue;
      auto read = workloads::read_ledger(path);
      REQUIRE_OK(read);
      rows.insert(rows.end(), read->begin(), read->end());
    }
    const workloads::LedgerReport report = workloads::check_ledgers(*stream, rows);
    INFO("workload " << name << ": " << report.summary());
    CHECK(report.complete());
  }
}

}  // namespace
}  // namespace starling::local
