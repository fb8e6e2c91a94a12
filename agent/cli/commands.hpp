// Registration of the CLI's command groups. Each add_*_commands() adds subcommands to the
// application and stores, in `run`, the handler of the subcommand the user chose; the handler
// returns the process exit code (see output.hpp). Single-threaded.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace starling::cli {

using Handler = std::function<int()>;

// fleet init, keygen, enroll, revoke, cert show, cert verify.
void add_identity_commands(CLI::App& app, Handler& run);

// members, status, events: queries of a running agent over its control API, and the global
// options they use (--endpoint or STARLING_ENDPOINT, --timeout, --json).
void add_swarm_commands(CLI::App& app, Handler& run);

}  // namespace starling::cli
