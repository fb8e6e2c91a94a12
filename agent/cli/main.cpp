// `starling`: the operator's command-line tool. Creates fleets, enrols and revokes devices,
// inspects certificates, and queries a running agent over its control API. Links no libtorch.
#include <iostream>

#include "agent/cli/commands.hpp"
#include "agent/cli/output.hpp"

int main(int argc, char** argv) {
  using namespace starling::cli;
  CLI::App app{
      "starling: manage a Starling fleet's trust (fleets, device enrolment, revocation,\n"
      "certificates) and query running agents (members, status, events).\n"
      "Exit codes: 0 ok, 1 failure (including an agent that does not answer), 2 usage error."};
  app.name("starling");
  app.set_version_flag("--version", "starling 0.1.0");
  app.require_subcommand(1);

  Handler run;
  add_identity_commands(app, run);
  add_swarm_commands(app, run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and the relevant usage
    return kExitUsage;
  }
  if (!run) return report_usage("no command given (try --help)");
  try {
    return run();
  } catch (const std::exception& e) {
    // Third-party exceptions must not escape as a crash: report them as a failure.
    std::cerr << "starling: internal: " << e.what() << "\n";
    return kExitFailure;
  }
}
