// The `starling-sim up` scenario (see local_up.hpp): start the agents, wait until they are
// healthy, add workloads, then poll every agent's control API twice a second while the chaos
// plan runs, until training is done; stop the agents and write the report. The only code of
// sim/up that reads a clock or touches processes. Single-threaded.
#include "sim/up/local_up.hpp"

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "agent/runtime/control_client.hpp"
#include "federated/core/aggregate.hpp"
#include "federated/data/byzantine.hpp"
#include "federated/data/partition.hpp"
#include "sim/local/local_swarm.hpp"
#include "sim/up/internal/scenario.hpp"
#include "sim/up/json_access.hpp"
#include "sim/up/report.hpp"

namespace starling::up {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

Result<std::filesystem::path> prepare_data_dir(const std::filesystem::path& wanted) {
  std::error_code ec;
  if (wanted.empty()) {
    std::string pattern =
        (std::filesystem::temp_directory_path(ec) / "starling-up-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return error(StatusCode::kIoError, "cannot create a directory like " + pattern);
    }
    return std::filesystem::path(pattern);
  }
  const std::filesystem::path dir = std::filesystem::absolute(wanted, ec);
  if (std::filesystem::exists(dir, ec)) {
    if (!std::filesystem::is_directory(dir, ec)) {
      return error(StatusCode::kInvalidArgument,
                   "--data-dir " + dir.string() + " is not a directory");
    }
    if (!std::filesystem::is_empty(dir, ec)) {
      return error(StatusCode::kAlreadyExists,
                   "--data-dir " + dir.string() +
                       " is not empty (a new fleet and the agents' directories go there: "
                       "give a new or empty directory)");
    }
    return dir;
  }
  if (!std::filesystem::create_directories(dir, ec)) {
    return error(StatusCode::kIoError, "cannot create --data-dir " + dir.string() + ": " +
                                           ec.message());
  }
  return dir;
}

}  // namespace

Status UpConfig::validate() const {
  auto bad = [](const std::string& what) { return error(StatusCode::kInvalidArgument, what); };
  if (nodes < 1 || nodes > 100) return bad("--nodes: 1 to 100 agents");
  if (base_port != 0 && std::size_t{base_port} + nodes - 1 > 65535) {
    return bad("--base-port: the agents' ports base-port .. base-port + nodes - 1 must be at "
               "most 65535");
  }
  if (model != "none") {
    if (model != "mlp" && model != "cnn" && model != "anomaly") {
      return bad("--model: unknown model '" + model + "' (use mlp, cnn, anomaly or none)");
    }
    if (rounds < 1) return bad("--rounds: at least 1");
    if (auto p = federated::parse_partition(partition); !p) {
      return p.status().with_context("--partition");
    }
    if (auto a = federated::parse_aggregator(aggregator); !a) {
      return a.status().with_context("--aggregator");
    }
    if (!(norm_filter == 0 || (norm_filter >= 1 && norm_filter <= 1000))) {
      return bad("--norm-filter: 0 (off) or from 1 to 1000");
    }
    if (auto k = federated::parse_byzantine_kind(byzantine_kind); !k) {
      return k.status().with_context("--byzantine");
    }
    if (byzantine >= nodes) {
      return bad("--byzantine: K must be below --nodes (at least one honest agent)");
    }
  } else if (byzantine > 0) {
    return bad("--byzantine: need a model (--model is none)");
  } else if (baseline_centralized || baseline_isolated) {
    return bad("--baselines: need a model (--model is none)");
  }
  if (workloads > 1000) return bad("--workloads: at most 1000");
  if (workloads > 0 && (workload_records < 1 || workload_rate < 1)) {
    return bad("--workload-records and --workload-rate: at least 1");
  }
  if (timeout <= Duration::zero()) return bad("--timeout: must be positive");
  return validate_chaos(chaos, nodes);
}

json UpConfig::to_json() const {
  json baselines = json::array();
  if (baseline_centralized) baselines.push_back("centralized");
  if (baseline_isolated) baselines.push_back("isolated");
  return {{"nodes", nodes},
          {"base_port", base_port},
          {"data_dir", data_dir.string()},
          {"model", model},
          {"partition", partition},
          {"rounds", rounds},
          {"aggregator", aggregator},
          {"norm_filter", norm_filter},
          {"byzantine", byzantine},
          {"byzantine_kind", byzantine > 0 ? json(byzantine_kind) : json(nullptr)},
          {"seed", 1},
          {"workloads", workloads},
          {"workload_records", workload_records},
          {"workload_rate", workload_rate},
          {"chaos", chaos_text},
          {"baselines", baselines},
          {"profile", profile},
          {"timeout_s", to_seconds(timeout)}};
}

Result<UpSummary> run_up(const UpConfig& config, const UpHooks& hooks) {
  STARLING_RETURN_IF_ERROR(config.validate());
  STARLING_ASSIGN_OR_RETURN(std::filesystem::path data_dir, prepare_data_dir(config.data_dir));
  local::LocalSwarmOptions options;
  options.bin_dir = config.bin_dir;
  options.root = data_dir;
  options.profile = config.profile;
  STARLING_ASSIGN_OR_RETURN(local::LocalSwarm swarm, local::LocalSwarm::create(options));
  internal::Scenario scenario(config, hooks, std::move(swarm), data_dir);
  return scenario.run();
}

}  // namespace starling::up
