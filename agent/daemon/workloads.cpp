#include "agent/daemon/workloads.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <system_error>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "workloads/ledger.hpp"
#include "workloads/stream.hpp"

namespace starling::daemon {

namespace {

using Clock = std::chrono::steady_clock;
using Key = std::pair<std::string, std::uint32_t>;

constexpr auto kRunnerPeriod = std::chrono::milliseconds(20);
// A runner that failed (a ledger it cannot open, a checkpoint that does not decode) retries
// after this, so that a transient disk error does not spin the loop.
constexpr Duration kRunnerRetry = std::chrono::seconds(5);
// At most this much pacing debt is made up at once (after a stall of the loop).
constexpr Duration kMaxCatchUp = std::chrono::milliseconds(500);

std::string hex16(std::uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

// One replica this device runs.
struct Runner {
  std::uint64_t epoch = 0;
  std::unique_ptr<workloads::FileLedger> ledger;
  std::optional<workloads::StreamTask> task;
  Instant last_step{};
  double carry = 0;  // records owed by the pacing, fractional part
  std::string error;
  Instant retry_at{};
  std::uint64_t proposed_position = 0;
};

}  // namespace

struct WorkloadShell::State {
  State(boost::asio::io_context& loop, const DaemonConfig& cfg, runtime::Store& db)
      : io(loop), config(cfg), store(db), timer(loop), runner_timer(loop), epoch(Clock::now()) {}

  Instant now() const {
    return Instant(std::chrono::duration_cast<Duration>(Clock::now() - epoch));
  }
  void flush();
  // Flushes once the loop has handled what is queued now: proposals that arrive together (a
  // batch of control requests) share one durable write and one append per follower.
  void flush_soon() {
    if (flush_posted) return;
    flush_posted = true;
    boost::asio::post(io, [this] {
      flush_posted = false;
      flush();
    });
  }
  void schedule_timer();
  void on_runner_timer();
  void step_runners(Instant at);
  bool start_runner(const consensus::HeldReplica& held, Runner& runner, Instant at);
  std::string run_state(const std::string& name, std::uint32_t replica, const NodeId& owner,
                        Instant at) const;

  boost::asio::io_context& io;
  DaemonConfig config;
  runtime::Store& store;
  NodeId self;
  std::unique_ptr<consensus::Controller> controller;
  Send send;
  Publish publish;
  NameOf name_of;
  Fatal fatal;
  bool failed = false;
  bool flush_posted = false;

  boost::asio::steady_timer timer;
  Instant timer_at = Instant::max();
  boost::asio::steady_timer runner_timer;
  bool runner_timer_armed = false;
  Clock::time_point epoch;

  std::map<Key, Runner> runners;
  std::vector<NodeId> live;  // from the last set_peers, sorted

  // Metrics.
  std::uint64_t persist_writes = 0;
  std::uint64_t leader_changes = 0;
  std::uint64_t records_processed = 0;
  std::uint64_t checkpoints_proposed = 0;
  std::uint64_t runner_errors = 0;
  std::uint64_t proposals_failed = 0;
};

void WorkloadShell::State::flush() {
  if (failed) return;
  consensus::ControllerOutput out = controller->take_output();
  if (out.must_persist()) {
    if (Status saved = store.save_consensus(out); !saved.is_ok()) {
      failed = true;
      fatal("cannot persist the consensus state: " + saved.to_string());
      return;
    }
    ++persist_writes;
  }
  for (const auto& [to, bytes] : out.messages) send(to, bytes);
  for (const consensus::Event& e : out.events) {
    if (e.type == consensus::EventType::kLeaderChanged) {
      ++leader_changes;
      const std::string who = e.node.is_zero() ? std::string("none")
                                               : name_of(e.node) + " (" + e.node.short_hex() + ")";
      spdlog::info("consensus: leader {} at term {}", who, e.term);
    } else if (e.type == consensus::EventType::kConfigChanged) {
      spdlog::debug("consensus: configuration at index {}: {} voter(s), {} learner(s)", e.index,
                    e.conf.voters.size(), e.conf.learners.size());
    }
  }
  for (const consensus::ProposalResult& r : out.proposals) {
    if (!r.status.is_ok()) {
      ++proposals_failed;
      spdlog::debug("consensus: proposal {} failed: {}", r.request, r.status.to_string());
    }
  }
  for (const consensus::ApplyResult& a : out.applied) {
    if (const auto* add = std::get_if<consensus::AddWorkload>(&a.command)) {
      if (a.accepted()) spdlog::info("workload {} added ({})", add->spec.name, add->spec.kind);
    } else if (const auto* rm = std::get_if<consensus::RemoveWorkload>(&a.command)) {
      if (a.accepted()) spdlog::info("workload {} removed", rm->name);
    } else if (const auto* as = std::get_if<consensus::Assignment>(&a.command)) {
      if (a.accepted() && as->node == self) {
        spdlog::info("workload {} replica {} assigned here at epoch {}", as->workload,
                     as->replica, as->epoch);
      }
    }
  }
  if (out.cluster) publish(*out.cluster);
  schedule_timer();
  if (!runner_timer_armed && !controller->held(now()).empty()) on_runner_timer();
}

void WorkloadShell::State::schedule_timer() {
  const Instant next = controller->next_deadline();
  if (next == timer_at) return;
  timer_at = next;
  if (next == Instant::max()) {
    timer.cancel();
    return;
  }
  timer.expires_at(epoch + std::chrono::duration_cast<Clock::duration>(next.time_since_epoch()));
  timer.async_wait([this](const boost::system::error_code& e) {
    if (e) return;
    timer_at = Instant::max();
    controller->tick(now());
    flush();
  });
}

void WorkloadShell::State::on_runner_timer() {
  // "Armed" while this runs too, so that flush() does not start a second chain of timers.
  runner_timer_armed = true;
  if (failed) return;
  step_runners(now());
  flush();
  if (runners.empty() && controller->held(now()).empty()) {
    runner_timer_armed = false;
    return;
  }
  runner_timer.expires_after(kRunnerPeriod);
  runner_timer.async_wait([this](const boost::system::error_code& e) {
    if (!e) on_runner_timer();
  });
}

bool WorkloadShell::State::start_runner(const consensus::HeldReplica& held, Runner& runner,
                                        Instant at) {
  runner = Runner{};
  runner.epoch = held.epoch;
  runner.last_step = at;
  auto fail = [&](const std::string& why) {
    if (runner.error != why) {
      spdlog::error("workload {} replica {}: {}", held.workload, held.replica, why);
    }
    ++runner_errors;
    runner.error = why;
    runner.retry_at = at + kRunnerRetry;
    return false;
  };
  const consensus::WorkloadState* w = controller->table().find(held.workload);
  if (w == nullptr) return fail("not in the table");
  if (w->spec.kind != workloads::kStreamKind) {
    return fail("unknown workload kind '" + w->spec.kind + "' (this agent runs: stream)");
  }
  auto params = workloads::parse_stream_params(w->spec.name, w->spec.params);
  if (!params) return fail(params.status().to_string());
  const std::filesystem::path path =
      workloads::ledger_path(config.data_dir, held.workload, held.replica);
  auto ledger = workloads::FileLedger::open(path);
  if (!ledger && ledger.status().code() == StatusCode::kCorrupt) {
    // Keep the damaged file for a person to look at, and start a fresh one: the committed
    // checkpoint says what must be redone, and rows are idempotent.
    std::error_code ec;
    const auto aside = path.string() + ".corrupt-" + std::to_string(held.epoch);
    std::filesystem::rename(path, aside, ec);
    spdlog::warn("ledger {} is damaged ({}); moved to {}", path.string(),
                 ledger.status().to_string(), aside);
    ledger = workloads::FileLedger::open(path);
  }
  if (!ledger) return fail("ledger: " + ledger.status().to_string());
  runner.ledger = std::make_unique<workloads::FileLedger>(std::move(*ledger));
  std::optional<workloads::StreamCheckpoint> resume;
  if (const consensus::Checkpoint* c = controller->table().checkpoint(held.workload, held.replica)) {
    resume = workloads::StreamCheckpoint{c->position, c->state};
  }
  auto task = workloads::StreamTask::create(*params, *runner.ledger, resume);
  if (!task) return fail("cannot resume: " + task.status().to_string());
  runner.task.emplace(std::move(*task));
  runner.proposed_position = runner.task->position();
  runner.error.clear();
  spdlog::info("workload {} replica {}: running at epoch {} from record {} of {}",
               held.workload, held.replica, held.epoch, runner.task->position(),
               runner.task->records());
  return true;
}

void WorkloadShell::State::step_runners(Instant at) {
  const std::vector<consensus::HeldReplica> held = controller->held(at);
  // Drop runners of replicas no longer held, or held under another epoch.
  for (auto it = runners.begin(); it != runners.end();) {
    auto h = std::find_if(held.begin(), held.end(), [&](const consensus::HeldReplica& x) {
      return x.workload == it->first.first && x.replica == it->first.second;
    });
    if (h == held.end() || h->epoch != it->second.epoch ||
        h->run == consensus::ReplicaRun::kReleasing) {
      spdlog::info("workload {} replica {}: stopped (epoch {})", it->first.first,
                   it->first.second, it->second.epoch);
      it = runners.erase(it);
    } else {
      ++it;
    }
  }
  for (const consensus::HeldReplica& h : held) {
    if (h.run != consensus::ReplicaRun::kRunning) continue;
    const Key key{h.workload, h.replica};
    auto it = runners.find(key);
    if (it == runners.end()) {
      Runner fresh;
      it = runners.emplace(key, std::move(fresh)).first;
      start_runner(h, it->second, at);
      continue;
    }
    Runner& r = it->second;
    if (!r.task) {
      if (at >= r.retry_at) start_runner(h, r, at);
      continue;
    }
    if (!controller->may_run(h.workload, h.replica, h.epoch, at)) continue;
    // Pace at the stream's rate.
    const Duration elapsed = std::min<Duration>(at - r.last_step, kMaxCatchUp);
    r.last_step = at;
    const double owed =
        r.carry + std::chrono::duration<double>(elapsed).count() * r.task->params().rate_per_second;
    const auto n = static_cast<std::uint64_t>(owed);
    r.carry = owed - static_cast<double>(n);
    if (n > 0 && !r.task->done()) {
      const std::uint64_t before = r.task->position();
      if (Status s = r.task->process(n); !s.is_ok()) {
        spdlog::error("workload {} replica {}: {}", h.workload, h.replica, s.to_string());
        ++runner_errors;
        r.task.reset();
        r.retry_at = at + kRunnerRetry;
        continue;
      }
      records_processed += r.task->position() - before;
    }
    if (r.task->checkpoint_due()) {
      auto checkpoint = r.task->take_checkpoint();
      if (!checkpoint) {
        spdlog::error("workload {} replica {}: checkpoint: {}", h.workload, h.replica,
                      checkpoint.status().to_string());
        ++runner_errors;
        r.task.reset();
        r.retry_at = at + kRunnerRetry;
        continue;
      }
      if (controller
              ->checkpoint(h.workload, h.replica, h.epoch, checkpoint->position,
                           std::move(checkpoint->state), at)
              .is_ok()) {
        ++checkpoints_proposed;
        r.proposed_position = checkpoint->position;
      }
    }
  }
}

std::string WorkloadShell::State::run_state(const std::string& name, std::uint32_t replica,
                                            const NodeId& owner, Instant at) const {
  const consensus::WorkloadState* w = controller->table().find(name);
  if (w != nullptr && w->spec.kind == workloads::kStreamKind) {
    const consensus::Checkpoint* c = controller->table().checkpoint(name, replica);
    auto params = workloads::parse_stream_params(name, w->spec.params);
    if (c != nullptr && params && c->position >= params->records) return "done";
  }
  if (owner.is_zero()) return "unassigned";
  if (owner == self) {
    for (const consensus::HeldReplica& h : controller->held(at)) {
      if (h.workload == name && h.replica == replica) {
        return std::string(consensus::replica_run_name(h.run));
      }
    }
    return "assigned";
  }
  // Another node's replica: what the committed table says, and whether its owner is live.
  return std::binary_search(live.begin(), live.end(), owner) ? "running" : "owner_down";
}

// ------------------------------------------------------------------------------------------

Result<std::unique_ptr<WorkloadShell>> WorkloadShell::open(
    boost::asio::io_context& io, const DaemonConfig& config, runtime::Store& store,
    const NodeId& self, std::map<std::string, std::string> labels, Send send, Publish publish,
    NameOf name_of, Fatal fatal) {
  auto durable = store.load_consensus();
  if (!durable) return durable.status();
  consensus::ControllerOptions options;
  const DaemonConfig::Consensus& c = config.consensus;
  options.raft.election_timeout_min = c.election_timeout;
  options.raft.election_timeout_max = c.election_timeout * 2;
  options.raft.heartbeat_interval = c.heartbeat_interval;
  options.raft.learner_heartbeat_rounds = 10;  // learners: a heartbeat a second at 100 ms
  // The leader lease margin scales with the timeout (15%, as the core's default).
  options.raft.lease_margin = c.election_timeout * 15 / 100;
  options.voters = c.voters;
  options.bootstrap_expect = c.bootstrap_expect;
  options.labels = std::move(labels);
  options.capacity = c.capacity;
  options.scheduler.lease = c.lease;
  std::random_device entropy;
  // Renew nonces must never repeat across restarts (W8): a random 64-bit start does that
  // without trusting any counter on disk.
  options.nonce_base = (std::uint64_t{entropy()} << 32) ^ entropy();
  if (Status s = options.validate(); !s.is_ok()) return s;
  const std::uint64_t seed = (std::uint64_t{entropy()} << 32) ^ entropy();

  auto state = std::make_unique<State>(io, config, store);
  state->self = self;
  state->send = std::move(send);
  state->publish = std::move(publish);
  state->name_of = std::move(name_of);
  state->fatal = std::move(fatal);
  const std::uint64_t cluster = durable->cluster;
  state->controller = std::make_unique<consensus::Controller>(
      std::move(options), self, std::move(*durable), seed, state->now());
  if (cluster != 0) {
    spdlog::info("consensus: cluster {} restored, term {}", hex16(cluster),
                 state->controller->term());
  }
  auto shell = std::unique_ptr<WorkloadShell>(new WorkloadShell(std::move(state)));
  if (cluster != 0) shell->state_->publish(cluster);
  shell->state_->flush();
  return shell;
}

WorkloadShell::WorkloadShell(std::unique_ptr<State> state) : state_(std::move(state)) {}
WorkloadShell::~WorkloadShell() = default;

void WorkloadShell::set_peers(std::vector<consensus::PeerView> peers) {
  State& s = *state_;
  s.live.clear();
  for (const consensus::PeerView& p : peers) s.live.push_back(p.id);
  std::sort(s.live.begin(), s.live.end());
  s.controller->set_peers(std::move(peers), s.now());
  s.flush();
}

void WorkloadShell::on_frame(const NodeId& from, ByteSpan frame) {
  State& s = *state_;
  s.controller->receive(from, frame, s.now());
  s.flush();
}

void WorkloadShell::leave() {
  State& s = *state_;
  s.controller->leave(s.now());
  s.runners.clear();
  s.flush();
}

std::vector<runtime::WorkloadView> WorkloadShell::workloads() const {
  const State& s = *state_;
  const Instant at = s.now();
  std::vector<runtime::WorkloadView> out;
  for (const auto& [name, w] : s.controller->table().workloads()) {
    std::optional<workloads::StreamParams> params;
    if (w.spec.kind == workloads::kStreamKind) {
      if (auto p = workloads::parse_stream_params(name, w.spec.params)) params = *p;
    }
    for (std::uint32_t r = 0; r < w.replicas.size(); ++r) {
      const consensus::ReplicaState& rs = w.replicas[r];
      runtime::WorkloadView v;
      v.name = name;
      v.kind = w.spec.kind;
      v.replicas = w.spec.replicas;
      v.replica = r;
      v.owner = rs.node.is_zero() ? std::string() : rs.node.to_hex();
      v.owner_name = rs.node.is_zero() ? std::string() : s.name_of(rs.node);
      if (rs.node == s.self) v.owner_name = s.name_of(s.self);
      v.epoch = rs.epoch;
      v.state = s.run_state(name, r, rs.node, at);
      v.labels = w.spec.required_labels;
      v.params = w.spec.params;
      if (params) v.total = params->records;
      if (rs.checkpoint) {
        v.progress = rs.checkpoint->position;
        if (auto st = workloads::decode_stream_state(rs.checkpoint->state)) {
          v.counters["ok"] = st->ok;
          v.counters["bad"] = st->bad_total();
          v.counters["anomalies"] = st->anomalies;
          v.counters["gaps"] = st->gaps;
        }
      }
      out.push_back(std::move(v));
    }
  }
  return out;
}

runtime::LeaderView WorkloadShell::leader() const {
  const State& s = *state_;
  runtime::LeaderView v;
  const consensus::Core* core = s.controller->core();
  v.cluster = s.controller->cluster() == 0 ? std::string() : hex16(s.controller->cluster());
  const NodeId leader = core->leader();
  v.leader = leader.is_zero() ? std::string() : leader.to_hex();
  v.leader_name = leader.is_zero() ? std::string() : s.name_of(leader);
  v.role = std::string(consensus::role_name(core->role()));
  v.term = core->term();
  for (const NodeId& id : core->conf().voters) v.voters.push_back(id.to_hex());
  v.learners = core->conf().learners.size();
  v.commit_index = core->commit_index();
  v.applied_index = core->applied_index();
  return v;
}

std::optional<std::pair<std::string, std::uint64_t>> WorkloadShell::leader_and_term() const {
  const State& s = *state_;
  if (s.controller->cluster() == 0) return std::nullopt;
  const NodeId leader = s.controller->leader();
  return std::make_pair(leader.is_zero() ? std::string() : leader.to_hex(), s.controller->term());
}

Result<std::uint64_t> WorkloadShell::add(const runtime::WorkloadRequest& request) {
  State& s = *state_;
  consensus::WorkloadSpec spec;
  spec.name = request.name;
  spec.kind = request.kind;
  spec.replicas = request.replicas;
  spec.required_labels = request.labels;
  spec.params = request.params;
  STARLING_RETURN_IF_ERROR(consensus::validate_spec(spec));
  if (spec.kind != workloads::kStreamKind) {
    return Status{StatusCode::kInvalidArgument,
                  "unknown workload kind '" + spec.kind + "' (known: stream)"};
  }
  STARLING_RETURN_IF_ERROR(workloads::validate_stream_spec(spec.name, spec.params));
  if (s.controller->table().find(spec.name) != nullptr) {
    return Status{StatusCode::kAlreadyExists, "a workload named '" + spec.name + "' exists"};
  }
  auto request_id = s.controller->submit(consensus::AddWorkload{std::move(spec)}, s.now());
  s.flush_soon();
  return request_id;
}

Result<std::uint64_t> WorkloadShell::remove(const std::string& name) {
  State& s = *state_;
  if (s.controller->table().find(name) == nullptr) {
    return Status{StatusCode::kNotFound, "no workload named '" + name + "'"};
  }
  auto request_id = s.controller->submit(consensus::RemoveWorkload{name}, s.now());
  s.flush_soon();
  return request_id;
}

void WorkloadShell::metrics(runtime::MetricsText& out) const {
  const State& s = *state_;
  const consensus::Core* core = s.controller->core();
  const consensus::ControllerStats& st = s.controller->stats();
  out.gauge("starling_consensus_term", "The Raft term this agent is in.", core->term());
  out.gauge("starling_consensus_is_leader", "1 when this agent is the consensus leader.",
            core->is_leader() ? 1 : 0);
  out.gauge("starling_consensus_commit_index", "The highest log index known committed.",
            core->commit_index());
  out.gauge("starling_consensus_voters", "Voters in the consensus configuration.",
            core->conf().voters.size());
  out.counter("starling_consensus_leader_changes_total", "Leader changes seen.",
              s.leader_changes);
  out.counter("starling_consensus_persist_total", "Durable writes of consensus state.",
              s.persist_writes);
  out.counter("starling_consensus_proposals_forwarded_total",
              "Proposals forwarded to the leader.", st.forwarded);
  out.counter("starling_consensus_proposals_failed_total",
              "Proposals that failed (no leader, timeout, refused).", s.proposals_failed);
  for (const auto& [reason, count] : st.dropped) {
    out.counter("starling_consensus_frames_dropped_total", "Consensus frames dropped, by reason.",
                count, {{"reason", reason}});
  }
  out.gauge("starling_workloads", "Workloads in the table.",
            s.controller->table().workloads().size());
  out.gauge("starling_workload_replicas_held", "Replicas this agent holds.",
            s.controller->held(s.now()).size());
  out.counter("starling_workload_records_total", "Stream records processed here.",
              s.records_processed);
  out.counter("starling_workload_checkpoints_total", "Checkpoints proposed by this agent.",
              s.checkpoints_proposed);
  out.counter("starling_workload_runner_errors_total", "Runner failures (ledger, resume).",
              s.runner_errors);
}

}  // namespace starling::daemon
