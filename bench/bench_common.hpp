// Helpers shared by the benchmarks that drive real starlingd processes on 127.0.0.1
// (starling-bench-swarm, starling-bench-workloads): options every subcommand takes, a failure
// type that unwinds through the LocalSwarm (which kills its agents), a working directory, a
// median, and a swarm started and converged. Header-only; single-threaded.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/local/local_swarm.hpp"

namespace starling::bench {

using namespace std::chrono_literals;
using local::LocalSwarm;
using local::LocalSwarmOptions;

struct Common {
  std::string bin_dir;
  std::string profile = "default";
  std::size_t agents = 5;
  bool json_output = false;
  bool keep = false;
};

// Thrown on failure so that destructors run: the LocalSwarm kills its agents, burners die.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] inline void die(const std::string& message) { throw Failure(message); }

inline std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// A working directory removed at exit unless --keep.
struct WorkDir {
  std::filesystem::path path;
  bool keep = false;
  explicit WorkDir(bool k) : keep(k) {
    std::string pattern = (std::filesystem::temp_directory_path() / "starling-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) die("mkdtemp failed");
    path = pattern;
  }
  ~WorkDir() {
    if (keep) {
      std::cerr << "kept " << path << "\n";
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline LocalSwarm start_swarm(const Common& c, const std::filesystem::path& root,
                              const local::NodeOptions& node_options = {}) {
  LocalSwarmOptions options;
  options.bin_dir = c.bin_dir;
  options.root = root;
  options.profile = c.profile;
  auto swarm = LocalSwarm::create(options);
  if (!swarm) die(swarm.status().to_string());
  for (std::size_t i = 0; i < c.agents; ++i) {
    auto index = swarm->add_node("a" + std::to_string(i), node_options);
    if (!index) die(index.status().to_string());
    std::vector<std::string> join;
    if (i > 0) join.push_back(swarm->node(0).seed());
    if (auto s = swarm->start(*index, join); !s.is_ok()) die(s.to_string());
  }
  const bool converged = LocalSwarm::wait_until(
      [&] {
        for (std::size_t i = 0; i < swarm->size(); ++i) {
          auto status = swarm->query(i, "status");
          if (!status || status->at("members").value("alive", 0u) != c.agents) return false;
        }
        return true;
      },
      60s, 100ms);
  if (!converged) die("the swarm did not converge within 60 s");
  return std::move(*swarm);
}

}  // namespace starling::bench
