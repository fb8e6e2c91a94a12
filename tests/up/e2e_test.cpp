// `starling-sim up` end to end, the ways a run ends early: the real binary starts real
// starlingd agents on 127.0.0.1 (no model: these tests are about processes), and Ctrl-C
// (SIGINT to starling-sim only) or a failing run (--timeout) must still stop every agent and
// write the report; usage errors are one line and start nothing. After each run, no agent
// process it started may remain (checked through the pids report.json records). One run
// trains (an mlp on Fashion-MNIST) with a Byzantine agent, whose updates the honest agents'
// norm filter must leave out. A training run with a kill is check_up.sh's. Waits poll with deadlines, generous for 2 loaded cores.
#include <doctest/doctest.h>

#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/common/test_support.hpp"

namespace {

using nlohmann::json;
using starling::testing::TempDir;
using namespace std::chrono_literals;

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// starling-sim up ARGS in the background, stdout and stderr to `log`.
pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& log) {
  std::vector<std::string> argv_strings = {STARLING_SIM_PATH, "up"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (std::string& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// The exit code (128 + signal when killed), or nullopt after `timeout` (then it is killed).
std::optional<int> wait_exit(pid_t pid, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(50ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return std::nullopt;
}

bool wait_for_text(const std::filesystem::path& log, const std::string& text,
                   std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (slurp(log).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// Whether `pid` is a starlingd process still running (a zombie would count as gone: only its
// parent, which has exited, could reap it, and then init does).
bool is_running_agent(int pid) {
  const std::filesystem::path proc = "/proc/" + std::to_string(pid);
  const std::string stat = slurp(proc / "stat");
  if (stat.empty()) return false;
  const auto state_at = stat.rfind(')');
  if (state_at != std::string::npos && stat.size() > state_at + 2 && stat[state_at + 2] == 'Z') {
    return false;
  }
  return slurp(proc / "cmdline").find("starlingd") != std::string::npos;
}

// Every pid report.json recorded; checks that none is still a running agent.
std::vector<int> check_no_agent_left(const json& report) {
  std::vector<int> pids;
  for (const json& node : report.at("nodes")) {
    for (const json& pid : node.at("pids")) pids.push_back(pid.get<int>());
  }
  for (int pid : pids) {
    INFO("pid " << pid);
    CHECK_FALSE(is_running_agent(pid));
  }
  return pids;
}

json read_report(const std::filesystem::path& dir) {
  const std::string text = slurp(dir / "report.json");
  REQUIRE_FALSE(text.empty());
  return json::parse(text);
}

TEST_CASE("Ctrl-C stops every agent and still writes the report") {
  TempDir dir;
  const auto log = dir / "up.log";
  const pid_t pid = spawn({"--nodes", "3", "--model", "none", "--duration", "600s",
                           "--data-dir", (dir / "swarm").string()},
                          log);
  const bool healthy = wait_for_text(log, "healthy:", 90s);
  INFO("output:\n" << slurp(log));
  if (!healthy) wait_exit(pid, 1s);
  REQUIRE(healthy);
  std::this_thread::sleep_for(1s);  // a few polls into the scenario
  REQUIRE(::kill(pid, SIGINT) == 0);
  const auto code = wait_exit(pid, 30s);
  REQUIRE(code.has_value());
  CHECK(*code == 130);
  const json report = read_report(dir / "swarm" / "report");
  CHECK(report["outcome"] == "interrupted");
  CHECK(check_no_agent_left(report).size() == 3);
}

TEST_CASE("a failing run (--timeout) stops every agent and reports why") {
  TempDir dir;
  const auto log = dir / "up.log";
  const pid_t pid = spawn({"--nodes", "2", "--model", "none", "--duration", "600s",
                           "--timeout", "2s", "--data-dir", (dir / "swarm").string()},
                          log);
  const auto code = wait_exit(pid, 120s);
  INFO("output:\n" << slurp(log));
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  const json report = read_report(dir / "swarm" / "report");
  CHECK(report["outcome"] == "failed");
  CHECK(report["error"].get<std::string>().find("timed out") != std::string::npos);
  CHECK(check_no_agent_left(report).size() == 2);
}

TEST_CASE("a Byzantine agent's scaled updates are left out by every honest agent's norm filter") {
  TempDir dir;
  const auto log = dir / "up.log";
  const pid_t pid = spawn({"--nodes", "4", "--model", "mlp", "--rounds", "2", "--byzantine",
                           "1:scale", "--norm-filter", "3", "--data-dir",
                           (dir / "swarm").string()},
                          log);
  const auto code = wait_exit(pid, 150s);
  INFO(slurp(log));
  REQUIRE(code == std::optional<int>(0));
  const json report = read_report(dir / "swarm" / "report");
  CHECK(report.at("config").at("byzantine") == 1);
  CHECK(report.at("config").at("byzantine_kind") == "scale");
  const json& nodes = report.at("nodes");
  REQUIRE(nodes.size() == 4);
  CHECK(nodes[3].at("byzantine") == "scale");
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("honest agent n" << i << ": " << nodes[i].dump());
    CHECK(nodes[i].at("byzantine").is_null());
    // One scaled update per round reached it and was left out.
    CHECK(nodes[i].at("updates_rejected").value("norm_bound", 0) >= 1);
    CHECK(nodes[i].at("round") == 2);
  }
  // The Byzantine agent filters nothing (modified software).
  CHECK(nodes[3].at("updates_rejected").value("norm_bound", 0) == 0);
  check_no_agent_left(report);
  const std::string agent_log = slurp(dir / "swarm" / "node-n3" / "starlingd.log");
  CHECK(agent_log.find("TESTING ONLY: this agent is Byzantine (scale)") != std::string::npos);
}

TEST_CASE("usage errors are one line, exit 2 and start nothing") {
  TempDir dir;
  struct Case {
    std::vector<std::string> args;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {{"--nodes", "3", "--chaos", "kill:3@5s"}, "node 3 does not exist"},
      {{"--chaos", "kill:1@5"}, "--chaos: 'kill:1@5'"},
      {{"--chaos", "restart:1@5s"}, "kill or term it before a restart"},
      {{"--byzantine", "signflip"}, "expected K:KIND"},
      {{"--byzantine", "1:evil"}, "unknown Byzantine behaviour 'evil'"},
      {{"--nodes", "3", "--byzantine", "3:scale"}, "at least one honest agent"},
      {{"--model", "none", "--byzantine", "1:scale"}, "need a model"},
      {{"--aggregator", "mean"}, "--aggregator"},
      {{"--norm-filter", "0.5"}, "--norm-filter"},
      {{"--model", "resnet"}, "unknown model 'resnet'"},
      {{"--partition", "dirichlet:x"}, "--partition"},
      {{"--baselines", "central"}, "unknown baseline 'central'"},
      {{"--timeout", "5"}, "--timeout"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"--data-dir", (dir / "never").string()});
    const auto log = dir / "usage.log";
    const auto code = wait_exit(spawn(args, log), 20s);
    const std::string out = slurp(log);
    INFO(c.fragment << " -> " << out);
    CHECK(code == std::optional<int>(2));
    CHECK(out.rfind("starling-sim up: ", 0) == 0);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    CHECK(out.find(c.fragment) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir / "never"));
  }
}

}  // namespace
