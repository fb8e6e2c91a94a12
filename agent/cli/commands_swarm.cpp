// The swarm query commands of the CLI: members, status and events, which ask a running agent
// over its control API (runtime/control_client.hpp), plus the global options they share:
// --endpoint (or STARLING_ENDPOINT), --timeout and --json. Single-threaded; an agent that does
// not answer within --timeout is one line on stderr and exit code 1.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/cli/commands.hpp"
#include "agent/cli/output.hpp"
#include "agent/runtime/control_client.hpp"
#include "base/time.hpp"

namespace starling::cli {

using nlohmann::json;

namespace {

// The daemon's default control socket, for a data directory in /var/lib/starling.
constexpr const char* kDefaultEndpoint = "ipc:///var/lib/starling/control.sock";
// How often `events --follow` asks for new events: fast enough to feel live, and a request
// every 500 ms costs the agent nothing measurable.
constexpr auto kFollowInterval = std::chrono::milliseconds(500);
// A --timeout above this is surely a mistake (a unit left out of "2h" meaning 2 s, say).
constexpr auto kTimeoutMax = std::chrono::hours(1);

struct SwarmOptions {
  std::string endpoint = kDefaultEndpoint;
  std::string timeout = "2s";
  bool json = false;
  bool follow = false;
  // workload add / rm
  std::string name;
  std::string kind = "stream";
  std::uint32_t replicas = 1;
  std::vector<std::string> labels;
  std::vector<std::string> params;
  std::string wait = "10s";
  bool no_wait = false;
};

// "300" (milliseconds) or a duration with a unit ("300ms", "2s"); positive, at most an hour.
Result<std::chrono::milliseconds> parse_timeout(const std::string& text) {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  const bool bare =
      !text.empty() && text.size() <= 9 && std::all_of(text.begin(), text.end(), is_digit);
  std::chrono::milliseconds timeout{0};
  if (bare) {
    timeout = std::chrono::milliseconds(std::stoll(text));
  } else {
    auto parsed = parse_duration(text);
    if (!parsed) return parsed.status().with_context("--timeout");
    timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*parsed);
  }
  if (timeout.count() <= 0 || timeout > kTimeoutMax) {
    return error(StatusCode::kInvalidArgument,
                 "--timeout '" + text + "' must be between 1ms and 1h");
  }
  return timeout;
}

// Sends one request and returns the reply's result, or why there is none.
Result<json> query(const SwarmOptions& o, std::chrono::milliseconds timeout, json request) {
  request["v"] = 1;
  auto reply = runtime::control_request(o.endpoint, request, timeout);
  if (!reply) return reply.status();
  return runtime::control_result(*reply);
}

// Runs `render` and turns a reply of an unexpected shape (a json exception) into a failure.
template <typename Render>
int guarded(Render render) {
  try {
    return render();
  } catch (const json::exception& e) {
    return report_failure(
        error(StatusCode::kCorrupt, std::string("unexpected reply from the agent: ") + e.what()));
  }
}

std::string labels_text(const json& meta) {
  std::string text;
  for (const auto& [key, value] : meta.items()) {
    if (!text.empty()) text += ",";
    text += key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
  }
  return text.empty() ? "-" : text;
}

// Prints rows as left-aligned columns two spaces apart; the first row is the header.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

int print_members(const json& members) {
  std::vector<std::vector<std::string>> rows{
      {"NAME", "ID", "ADDRESS", "STATUS", "INCARNATION", "LABELS", "LAST CHANGE"}};
  for (const json& m : members) {
    rows.push_back({m.at("name").get<std::string>(), m.at("id").get<std::string>().substr(0, 8),
                    m.at("addr").get<std::string>(), m.at("status").get<std::string>(),
                    std::to_string(m.at("incarnation").get<std::uint64_t>()),
                    labels_text(m.value("meta", json::object())),
                    format_utc(m.value("last_change_unix_ms", std::int64_t{0}) / 1000)});
  }
  print_table(rows);
  return kExitOk;
}

int run_members(const SwarmOptions& o, std::chrono::milliseconds timeout) {
  auto members = query(o, timeout, {{"cmd", "members"}});
  if (!members) return report_failure(members.status());
  if (o.json) {
    print_json(*members);
    return kExitOk;
  }
  return guarded([&] { return print_members(*members); });
}

int print_status(const json& status) {
  const json& counts = status.at("members");
  std::cout << "id:      " << status.at("id").get<std::string>() << "\n"
            << "name:    " << status.at("name").get<std::string>() << "\n"
            << "uptime:  " << status.at("uptime_s").get<std::uint64_t>() << " s\n"
            << "members: " << counts.value("alive", 0) << " alive, "
            << counts.value("suspect", 0) << " suspect, " << counts.value("dead", 0)
            << " dead, " << counts.value("left", 0) << " left\n";
  if (status.contains("addr")) {
    std::cout << "address: " << status.at("addr").get<std::string>() << "\n"
              << "incarnation: " << status.value("incarnation", std::uint64_t{0}) << "\n";
  }
  if (status.contains("peers_refused") && !status.at("peers_refused").empty()) {
    std::cout << "refused peers:";
    for (const auto& [reason, count] : status.at("peers_refused").items()) {
      std::cout << " " << reason << "=" << count.get<std::uint64_t>();
    }
    std::cout << "\n";
  }
  if (status.contains("term")) {
    const std::string leader = status.value("leader", std::string());
    std::cout << "leader:  " << (leader.empty() ? std::string("none known") : leader.substr(0, 8))
              << " (term " << status.at("term").get<std::uint64_t>() << ")\n";
  }
  if (status.contains("round")) {
    std::cout << "round:   " << status.at("round").get<std::uint64_t>();
    if (status.contains("accuracy")) {
      std::cout << " (test accuracy " << status.at("accuracy").get<double>() << ")";
    }
    std::cout << "\n";
  }
  return kExitOk;
}

int print_model(const json& m) {
  auto optional_number = [&](const char* key) {
    const json& v = m.at(key);
    return v.is_null() ? std::string("-") : std::to_string(v.get<double>());
  };
  std::cout << "model:      " << m.at("model").get<std::string>() << " ("
            << m.at("params").get<std::uint64_t>() << " parameters, "
            << m.at("samples").get<std::uint64_t>() << " training rows)\n"
            << "state:      " << m.at("state").get<std::string>() << "\n"
            << "round:      " << m.at("round").get<std::uint64_t>() << "\n"
            << "accuracy:   " << optional_number("accuracy") << "\n"
            << "loss:       " << optional_number("loss") << "\n"
            << "peers:      " << m.at("peers").get<std::uint64_t>() << "\n"
            << "codec:      " << m.at("codec").get<std::string>() << ", "
            << m.at("bytes_per_round").get<std::uint64_t>() << " bytes sent per round\n"
            << "aggregator: " << m.at("aggregator").get<std::string>() << "\n"
            << "updates:    " << m.at("updates_accepted").get<std::uint64_t>() << " accepted";
  for (const auto& [reason, count] : m.at("updates_rejected").items()) {
    std::cout << ", " << count.get<std::uint64_t>() << " " << reason;
  }
  std::cout << "\n";
  if (const auto it = m.find("byzantine"); it != m.end() && it->is_string()) {
    std::cout << "BYZANTINE:  " << it->get<std::string>()
              << " (fault injection: this agent sends corrupted updates)\n";
  }
  return kExitOk;
}

int run_model(const SwarmOptions& o, std::chrono::milliseconds timeout) {
  auto model = query(o, timeout, {{"cmd", "model"}});
  if (!model) return report_failure(model.status());
  if (o.json) {
    print_json(*model);
    return kExitOk;
  }
  return guarded([&] { return print_model(*model); });
}

int run_status(const SwarmOptions& o, std::chrono::milliseconds timeout) {
  auto status = query(o, timeout, {{"cmd", "status"}});
  if (!status) return report_failure(status.status());
  if (o.json) {
    print_json(*status);
    return kExitOk;
  }
  return guarded([&] { return print_status(*status); });
}

void print_event(const json& e, bool as_json) {
  if (as_json) {
    std::cout << e.dump() << "\n";
    return;
  }
  std::cout << format_utc(e.at("unix_ms").get<std::int64_t>() / 1000) << "  #"
            << e.at("seq").get<std::uint64_t>() << "  " << e.at("type").get<std::string>()
            << "  " << e.at("node").get<std::string>().substr(0, 8) << "  incarnation "
            << e.at("incarnation").get<std::uint64_t>() << "\n";
}

// Prints every event after `since` (several pages if need be); returns the last seq seen.
Result<std::uint64_t> print_events_since(const SwarmOptions& o,
                                         std::chrono::milliseconds timeout,
                                         std::uint64_t since, json* collected) {
  while (true) {
    auto page = query(o, timeout, {{"cmd", "events"}, {"since", since}});
    if (!page) return page.status();
    const json& events = page->at("events");
    for (const json& e : events) {
      if (collected != nullptr) {
        collected->push_back(e);
      } else {
        print_event(e, o.json);
      }
    }
    const auto last = page->at("last_seq").get<std::uint64_t>();
    if (events.empty() || last <= since) return last;
    since = last;
  }
}

int run_events(const SwarmOptions& o, std::chrono::milliseconds timeout) {
  return guarded([&] {
    if (!o.follow) {
      json events = json::array();
      auto last = print_events_since(o, timeout, 0, o.json ? &events : nullptr);
      if (!last) return report_failure(last.status());
      if (o.json) print_json(events);
      return kExitOk;
    }
    std::uint64_t since = 0;
    while (true) {  // until interrupted (SIGINT ends the process) or the agent goes away
      auto last = print_events_since(o, timeout, since, nullptr);
      if (!last) return report_failure(last.status());
      since = *last;
      std::cout << std::flush;
      std::this_thread::sleep_for(kFollowInterval);
    }
  });
}

int print_workloads(const json& reply) {
  std::vector<std::vector<std::string>> rows{
      {"NAME", "KIND", "REPLICA", "OWNER", "EPOCH", "STATE", "PROGRESS", "BAD"}};
  for (const json& w : reply.at("workloads")) {
    const std::string owner = w.at("owner").get<std::string>();
    const std::string owner_name = w.value("owner_name", std::string());
    std::string progress = std::to_string(w.at("progress").get<std::uint64_t>());
    if (w.contains("total") && !w.at("total").is_null()) {
      progress += "/" + std::to_string(w.at("total").get<std::uint64_t>());
    }
    const json counters = w.value("counters", json::object());
    rows.push_back({w.at("name").get<std::string>(), w.at("kind").get<std::string>(),
                    std::to_string(w.at("replica").get<std::uint32_t>()) + "/" +
                        std::to_string(w.at("replicas").get<std::uint32_t>()),
                    owner.empty() ? std::string("-")
                                  : (owner_name.empty() ? owner.substr(0, 8) : owner_name),
                    std::to_string(w.at("epoch").get<std::uint64_t>()),
                    w.at("state").get<std::string>(), progress,
                    counters.contains("bad") ? std::to_string(counters.at("bad").get<std::uint64_t>())
                                             : std::string("-")});
  }
  if (rows.size() == 1) {
    std::cout << "no workloads (add one with: starling workload add NAME --kind stream)\n";
    return kExitOk;
  }
  print_table(rows);
  return kExitOk;
}

int run_workloads(const SwarmOptions& o, std::chrono::milliseconds timeout) {
  auto reply = query(o, timeout, {{"cmd", "workloads"}});
  if (!reply) return report_failure(reply.status());
  if (o.json) {
    print_json(reply->at("workloads"));
    return kExitOk;
  }
  return guarded([&] { return print_workloads(*reply); });
}

int run_leader(const SwarmOptions& o, std::chrono::milliseconds timeout) {
  auto reply = query(o, timeout, {{"cmd", "leader"}});
  if (!reply) return report_failure(reply.status());
  if (o.json) {
    print_json(*reply);
    return kExitOk;
  }
  return guarded([&] {
    const json& l = *reply;
    const std::string leader = l.at("leader").get<std::string>();
    const std::string name = l.value("leader_name", std::string());
    std::cout << "cluster:  " << (l.at("cluster").get<std::string>().empty()
                                      ? std::string("none yet (waiting for bootstrap_expect members)")
                                      : l.at("cluster").get<std::string>())
              << "\n"
              << "leader:   "
              << (leader.empty() ? std::string("none known")
                                 : (name.empty() ? leader : name + " (" + leader.substr(0, 8) + ")"))
              << "\n"
              << "term:     " << l.at("term").get<std::uint64_t>() << "\n"
              << "role:     " << l.at("role").get<std::string>() << "\n"
              << "voters:  ";
    for (const json& v : l.at("voters")) std::cout << " " << v.get<std::string>().substr(0, 8);
    std::cout << "\n"
              << "learners: " << l.at("learners").get<std::uint64_t>() << "\n"
              << "commit:   " << l.at("commit_index").get<std::uint64_t>() << " (applied "
              << l.at("applied_index").get<std::uint64_t>() << ")\n";
    return kExitOk;
  });
}

// "k=v" pairs into an object; an error names the option.
Result<json> pairs_object(const std::vector<std::string>& pairs, const char* option) {
  json out = json::object();
  for (const std::string& p : pairs) {
    const auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return error(StatusCode::kInvalidArgument,
                   std::string(option) + " '" + p + "' must be KEY=VALUE");
    }
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return out;
}

// Polls `workloads` until `present` says the name is (or is no longer) in the table.
int wait_for_table(const SwarmOptions& o, std::chrono::milliseconds timeout, bool present) {
  auto wait = parse_timeout(o.wait);
  if (!wait) return report_usage(wait.status().message());
  const auto deadline = std::chrono::steady_clock::now() + *wait;
  while (true) {
    auto reply = query(o, timeout, {{"cmd", "workloads"}});
    if (!reply) return report_failure(reply.status());
    bool found = false;
    for (const json& w : reply->at("workloads")) {
      if (w.at("name").get<std::string>() == o.name) found = true;
    }
    if (found == present) {
      std::cout << "workload " << o.name << (present ? " added" : " removed") << "\n";
      return kExitOk;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return report_failure(error(
          StatusCode::kUnavailable,
          "the change was proposed but is not committed after " + o.wait +
              " (is a majority of the voters up? see 'starling leader')"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int run_workload_add(const SwarmOptions& o, std::chrono::milliseconds timeout) {
  auto labels = pairs_object(o.labels, "--label");
  if (!labels) return report_usage(labels.status().message());
  auto params = pairs_object(o.params, "--param");
  if (!params) return report_usage(params.status().message());
  json spec{{"name", o.name}, {"kind", o.kind}, {"replicas", o.replicas},
            {"labels", *labels}, {"params", *params}};
  auto reply = query(o, timeout, {{"cmd", "workload_add"}, {"spec", spec}});
  if (!reply) return report_failure(reply.status());
  if (o.no_wait) {
    std::cout << "workload " << o.name << " proposed\n";
    return kExitOk;
  }
  return guarded([&] { return wait_for_table(o, timeout, true); });
}

int run_workload_rm(const SwarmOptions& o, std::chrono::milliseconds timeout) {
  auto reply = query(o, timeout, {{"cmd", "workload_rm"}, {"name", o.name}});
  if (!reply) return report_failure(reply.status());
  if (o.no_wait) {
    std::cout << "removal of " << o.name << " proposed\n";
    return kExitOk;
  }
  return guarded([&] { return wait_for_table(o, timeout, false); });
}

using Runner = int (*)(const SwarmOptions&, std::chrono::milliseconds);

// Stores in `run` a handler that checks --timeout and then runs `runner`.
void select_runner(Handler& run, const std::shared_ptr<SwarmOptions>& o, Runner runner) {
  run = [o, runner] {
    auto timeout = parse_timeout(o->timeout);
    if (!timeout) return report_usage(timeout.status().message());
    return runner(*o, *timeout);
  };
}

}  // namespace

void add_swarm_commands(CLI::App& app, Handler& run) {
  auto o = std::make_shared<SwarmOptions>();
  if (const char* env = std::getenv("STARLING_ENDPOINT"); env != nullptr && *env != '\0') {
    o->endpoint = env;
  }
  app.add_option("--endpoint", o->endpoint,
                 "The agent's control endpoint (env STARLING_ENDPOINT; default " +
                     std::string(kDefaultEndpoint) + ")");
  app.add_option("--timeout", o->timeout,
                 "How long to wait for the agent: milliseconds or a duration (300ms, 2s)")
      ->capture_default_str();
  app.add_flag("--json", o->json, "Print JSON (members, status, model, events)");

  auto* members = app.add_subcommand("members", "List the swarm's members as the agent sees them");
  members->add_flag("--json", o->json, "Print a JSON array");
  members->fallthrough();
  members->callback([o, &run] { select_runner(run, o, run_members); });

  auto* status = app.add_subcommand("status", "Show the agent's own view: id, name, uptime, "
                                              "member counts");
  status->add_flag("--json", o->json, "Print JSON");
  status->fallthrough();
  status->callback([o, &run] { select_runner(run, o, run_status); });

  auto* model = app.add_subcommand("model", "Show the agent's federated learning: model, round, "
                                            "accuracy, loss, bytes per round, updates");
  model->add_flag("--json", o->json, "Print JSON");
  model->fallthrough();
  model->callback([o, &run] { select_runner(run, o, run_model); });

  auto* workloads = app.add_subcommand(
      "workloads", "List the replicated workload table: owner, epoch, state and progress of "
                   "every replica");
  workloads->add_flag("--json", o->json, "Print a JSON array");
  workloads->fallthrough();
  workloads->callback([o, &run] { select_runner(run, o, run_workloads); });

  auto* leader = app.add_subcommand("leader", "Show the consensus cluster: leader, term, voters, "
                                              "commit index");
  leader->add_flag("--json", o->json, "Print JSON");
  leader->fallthrough();
  leader->callback([o, &run] { select_runner(run, o, run_leader); });

  auto* workload = app.add_subcommand("workload", "Add or remove a workload");
  workload->require_subcommand(1);
  workload->fallthrough();
  auto* add = workload->add_subcommand("add", "Add a workload (proposed through the leader; "
                                              "waits until it is committed)");
  add->add_option("NAME", o->name, "Workload name: 1-64 of [A-Za-z0-9._-]")->required();
  add->add_option("--kind", o->kind, "Workload kind (built in: stream)")->capture_default_str();
  add->add_option("--replicas", o->replicas, "Replicas, each on a distinct device (1-16)")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  add->add_option("--label", o->labels,
                  "Run only on devices with this label, KEY=VALUE (repeatable)");
  add->add_option("--param", o->params,
                  "A parameter of the kind, KEY=VALUE (repeatable); stream: records, rate, "
                  "checkpoint_every, channels, dirty, seed");
  add->add_option("--wait", o->wait, "How long to wait for the commit")->capture_default_str();
  add->add_flag("--no-wait", o->no_wait, "Return once the agent accepted the proposal");
  add->fallthrough();
  add->callback([o, &run] { select_runner(run, o, run_workload_add); });
  auto* rm = workload->add_subcommand("rm", "Remove a workload; its owners stop");
  rm->add_option("NAME", o->name, "Workload name")->required();
  rm->add_option("--wait", o->wait, "How long to wait for the commit")->capture_default_str();
  rm->add_flag("--no-wait", o->no_wait, "Return once the agent accepted the proposal");
  rm->fallthrough();
  rm->callback([o, &run] { select_runner(run, o, run_workload_rm); });

  auto* events = app.add_subcommand("events", "Print the agent's membership events");
  events->add_flag("--follow", o->follow, "Keep printing new events until interrupted");
  events->add_flag("--json", o->json, "Print JSON (one object per line with --follow)");
  events->fallthrough();
  events->callback([o, &run] { select_runner(run, o, run_events); });
}

}  // namespace starling::cli
