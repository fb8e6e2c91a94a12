// `starlingd`: the Starling agent. Parses its configuration (flags, TOML file, defaults), sets
// up logging and runs the Agent on one Boost.Asio event loop until a graceful leave (SIGTERM or
// SIGINT) completes. Exit codes: 0 after a graceful stop, 1 when the agent cannot start or
// fails, 2 for an invalid command line or configuration.
#include <cstdio>
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "agent/daemon/agent.hpp"
#include "agent/daemon/config.hpp"
#include "agent/daemon/logging.hpp"
#include "crypto/keys.hpp"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int run(int argc, char** argv) {
  using namespace starling;
  auto parsed = daemon::parse_config(argc, argv, daemon::Environment::process());
  if (!parsed) {
    std::cerr << "starlingd: " << parsed.status().message() << "\n";
    return kExitUsage;
  }
  switch (parsed->kind) {
    case daemon::ParseOutcome::kHelp:
    case daemon::ParseOutcome::kVersion:
    case daemon::ParseOutcome::kCheckConfig:
      std::cout << parsed->text;
      return 0;
    case daemon::ParseOutcome::kRun:
      break;
  }
  const daemon::DaemonConfig& config = parsed->config;
  if (Status logging = daemon::setup_logging(config.log_level, config.log_format);
      !logging.is_ok()) {
    std::cerr << "starlingd: " << logging.message() << "\n";
    return kExitUsage;
  }
  if (Status sodium = crypto::ensure_sodium(); !sodium.is_ok()) {
    std::cerr << "starlingd: " << sodium.message() << "\n";
    return kExitFailure;
  }
  boost::asio::io_context io(1);
  auto agent = daemon::Agent::open(io, config);
  if (!agent) {
    std::cerr << "starlingd: " << agent.status().message() << "\n";
    return kExitFailure;
  }
  spdlog::info("control API on {}{}", (*agent)->control_endpoint(),
               (*agent)->metrics_endpoint().empty()
                   ? std::string()
                   : "; metrics on " + (*agent)->metrics_endpoint());
  (*agent)->start();
  io.run();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    // A third-party exception is a bug; report it as a failure, not a crash.
    std::cerr << "starlingd: internal: " << e.what() << "\n";
    return kExitFailure;
  }
}
