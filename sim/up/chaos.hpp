// The chaos plan of `starling-sim up`: faults to inject into a swarm of real agents at given
// times, parsed from the command line's `--chaos kill:2@30s,pause:1@60s:10s,restart:2@90s`.
// Pure functions and value types: no processes, no clock. Single-threaded use, no shared state.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "base/time.hpp"

namespace starling::up {

enum class ChaosKind {
  kKill,     // SIGKILL: a crash; the others must detect it
  kPause,    // SIGSTOP, then SIGCONT after the event's duration: a stalled device
  kRestart,  // start a stopped agent again on its data directory, joining through live agents
  kTerm,     // SIGTERM: a graceful leave
};

std::string_view chaos_kind_name(ChaosKind kind) noexcept;

// One fault. `at` counts from the moment the swarm is healthy (every agent sees all alive).
struct ChaosEvent {
  ChaosKind kind = ChaosKind::kKill;
  std::size_t node = 0;  // 0-based index into the swarm's agents
  Duration at{};
  Duration duration{};  // pause only: how long the agent stays stopped (> 0)

  // "pause:1@60s:10s": the form the parser reads, for reports and messages.
  std::string to_string() const;
  friend bool operator==(const ChaosEvent&, const ChaosEvent&) = default;
};

// Parses a comma-separated list of `kind:node@time[:duration]` (kind one of kill, pause,
// restart, term; node a 0-based index; time and duration with a unit, as parse_duration reads
// them: 30s, 1500ms, 2m). An empty text is an empty plan. Returns the events in time order
// (stable for equal times). Errors: kInvalidArgument with a one-line message that quotes the
// offending item and says what was expected.
Result<std::vector<ChaosEvent>> parse_chaos(std::string_view text);

// Checks a parsed plan against a swarm of `nodes` agents by replaying it: every index is below
// `nodes`; kill, term and pause need a running, unpaused agent; restart needs an agent that
// was killed or terminated earlier in the plan; a pause must end before the same agent's next
// event. Errors: kInvalidArgument naming the event and the reason.
Status validate_chaos(const std::vector<ChaosEvent>& plan, std::size_t nodes);

}  // namespace starling::up
