// The chaos plan parser and its replay check (see chaos.hpp). Pure functions.
#include "sim/up/chaos.hpp"

#include <algorithm>
#include <charconv>
#include <map>

namespace starling::up {
namespace {

Status bad(std::string_view item, const std::string& why) {
  return error(StatusCode::kInvalidArgument,
               "--chaos: '" + std::string(item) + "': " + why);
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return "";
  const auto last = text.find_last_not_of(" \t");
  return std::string(text.substr(first, last - first + 1));
}

Result<ChaosKind> parse_kind(std::string_view item, std::string_view name) {
  if (name == "kill") return ChaosKind::kKill;
  if (name == "pause") return ChaosKind::kPause;
  if (name == "restart") return ChaosKind::kRestart;
  if (name == "term") return ChaosKind::kTerm;
  return bad(item, "unknown kind '" + std::string(name) + "' (use kill, pause, restart or term)");
}

// One item, "kind:node@time[:duration]".
Result<ChaosEvent> parse_item(std::string_view item) {
  const std::string_view expected = "expected KIND:NODE@TIME[:DURATION], e.g. pause:1@60s:10s";
  const auto colon = item.find(':');
  const auto at = item.find('@');
  if (colon == std::string_view::npos || at == std::string_view::npos || at < colon) {
    return bad(item, std::string(expected));
  }
  ChaosEvent event;
  STARLING_ASSIGN_OR_RETURN(event.kind, parse_kind(item, item.substr(0, colon)));
  const std::string_view node = item.substr(colon + 1, at - colon - 1);
  const auto [end, ec] = std::from_chars(node.data(), node.data() + node.size(), event.node);
  if (node.empty() || ec != std::errc() || end != node.data() + node.size()) {
    return bad(item, "node must be a 0-based index, got '" + std::string(node) + "'");
  }
  const std::string_view times = item.substr(at + 1);
  const auto second = times.find(':');
  const std::string_view when = times.substr(0, second);
  auto time = parse_duration(when);
  if (!time) return bad(item, "time '" + std::string(when) + "': " + time.status().message());
  if (*time < Duration::zero()) return bad(item, "time must not be negative");
  event.at = *time;
  if (second == std::string_view::npos) {
    if (event.kind == ChaosKind::kPause) {
      return bad(item, "pause needs a duration, e.g. pause:1@60s:10s");
    }
    return event;
  }
  if (event.kind != ChaosKind::kPause) {
    return bad(item, "only pause takes a duration (" + std::string(chaos_kind_name(event.kind)) +
                         " is instantaneous)");
  }
  const std::string_view span = times.substr(second + 1);
  auto duration = parse_duration(span);
  if (!duration) {
    return bad(item, "duration '" + std::string(span) + "': " + duration.status().message());
  }
  if (*duration <= Duration::zero()) return bad(item, "the pause duration must be positive");
  event.duration = *duration;
  return event;
}

}  // namespace

std::string_view chaos_kind_name(ChaosKind kind) noexcept {
  switch (kind) {
    case ChaosKind::kKill: return "kill";
    case ChaosKind::kPause: return "pause";
    case ChaosKind::kRestart: return "restart";
    case ChaosKind::kTerm: return "term";
  }
  return "?";
}

std::string ChaosEvent::to_string() const {
  std::string out = std::string(chaos_kind_name(kind)) + ":" + std::to_string(node) + "@" +
                    format_duration(at);
  if (kind == ChaosKind::kPause) out += ":" + format_duration(duration);
  return out;
}

Result<std::vector<ChaosEvent>> parse_chaos(std::string_view text) {
  std::vector<ChaosEvent> plan;
  if (trim(text).empty()) return plan;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    const std::string item = trim(text.substr(start, comma - start));
    if (item.empty()) {
      return error(StatusCode::kInvalidArgument, "--chaos: empty item in '" + std::string(text) +
                                                     "' (items are separated by single commas)");
    }
    STARLING_ASSIGN_OR_RETURN(ChaosEvent event, parse_item(item));
    plan.push_back(event);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  std::stable_sort(plan.begin(), plan.end(),
                   [](const ChaosEvent& a, const ChaosEvent& b) { return a.at < b.at; });
  return plan;
}

Status validate_chaos(const std::vector<ChaosEvent>& plan, std::size_t nodes) {
  enum class State { kRunning, kPaused, kStopped };
  std::map<std::size_t, State> state;        // absent: running
  std::map<std::size_t, Duration> resumes;   // paused agents: when SIGCONT comes
  for (const ChaosEvent& e : plan) {
    const std::string name = e.to_string();
    if (e.node >= nodes) {
      return error(StatusCode::kInvalidArgument,
                   "--chaos: '" + name + "': node " + std::to_string(e.node) +
                       " does not exist (nodes are 0 to " + std::to_string(nodes - 1) + ")");
    }
    State& s = state.try_emplace(e.node, State::kRunning).first->second;
    if (s == State::kPaused) {
      if (resumes[e.node] > e.at) {
        return bad(name, "node " + std::to_string(e.node) + " is still paused then (until " +
                             format_duration(resumes[e.node]) + ")");
      }
      s = State::kRunning;
    }
    switch (e.kind) {
      case ChaosKind::kKill:
      case ChaosKind::kTerm:
      case ChaosKind::kPause:
        if (s == State::kStopped) {
          return bad(name, "node " + std::to_string(e.node) +
                               " is not running then (restart it first)");
        }
        s = e.kind == ChaosKind::kPause ? State::kPaused : State::kStopped;
        if (e.kind == ChaosKind::kPause) resumes[e.node] = e.at + e.duration;
        break;
      case ChaosKind::kRestart:
        if (s != State::kStopped) {
          return bad(name, "node " + std::to_string(e.node) +
                               " is running then (kill or term it before a restart)");
        }
        s = State::kRunning;
        break;
    }
  }
  return Status();
}

}  // namespace starling::up
