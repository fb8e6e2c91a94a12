// The `up` subcommand of starling-sim: its options (CLI11), the Ctrl-C handling, and the
// call to run_up. Kept here so that sim/app/main.cpp only registers it and dispatches.
// Single-threaded; installs process-wide SIGINT and SIGTERM handlers while a run lasts.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "sim/up/local_up.hpp"

namespace starling::up {

// The options as typed, before parsing beyond CLI11's.
struct UpCommand {
  UpConfig config;
  std::string chaos;
  std::string byzantine;
  std::string baselines;
  std::string duration = "0s";
  std::string timeout = "30m";
};

// Adds `up` with its options (bound to `command`) to `app`; returns the subcommand.
CLI::App* add_up_command(CLI::App& app, UpCommand& command);

// Runs `up` as parsed. Exit codes: 0 completed, 1 failed, 2 usage error, 130 interrupted.
int run_up_command(UpCommand& command);

}  // namespace starling::up
