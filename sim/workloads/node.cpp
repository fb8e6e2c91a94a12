// A simulated node of the workloads scenario: controller, durable store and stream runners.
#include "sim/workloads/node.hpp"

#include <algorithm>

#include "base/bytes.hpp"

namespace starling::sim {

namespace {

using consensus::ControllerOutput;
using consensus::ReplicaRun;

// A runner catches up at most this much work after a pause, like a real owner whose input
// buffer holds about a second of records.
constexpr std::uint64_t kCatchUpSeconds = 1;
// A finished stream whose final checkpoint has not committed proposes it again this often.
constexpr Duration kFinalCheckpointRetry = std::chrono::seconds(1);

// Trace tag of the role changes the nodes report (sim/trace.hpp: user records).
constexpr std::uint64_t kTraceRole = 0x776c726f6c65ULL;  // "wlrole"

}  // namespace

std::map<std::string, std::string> stream_spec_params(std::uint64_t records,
                                                      std::uint32_t rate_per_second,
                                                      std::uint64_t checkpoint_every) {
  return {{"checkpoint_every", std::to_string(checkpoint_every)},
          {"rate", std::to_string(rate_per_second)},
          {"records", std::to_string(records)}};
}

void NodeDisk::write(const ControllerOutput& output) {
  consensus::DurableState& raft = durable.raft;
  if (output.cluster) durable.cluster = *output.cluster;
  if (output.snapshot) {
    raft.snapshot = *output.snapshot;
    raft.entries.clear();
  }
  if (!output.entries.empty()) {
    const std::uint64_t from = output.entries.front().index;
    while (!raft.entries.empty() && raft.entries.back().index >= from) raft.entries.pop_back();
    raft.entries.insert(raft.entries.end(), output.entries.begin(), output.entries.end());
  }
  if (output.hard_state) raft.hard_state = *output.hard_state;
  if (output.compacted && output.compacted->meta.index > raft.snapshot.meta.index) {
    raft.snapshot = *output.compacted;
    const std::uint64_t upto = output.compacted->meta.index;
    raft.entries.erase(std::remove_if(raft.entries.begin(), raft.entries.end(),
                                      [upto](const consensus::Entry& e) {
                                        return e.index <= upto;
                                      }),
                       raft.entries.end());
  }
}

WorkloadNode::WorkloadNode(Context& context, WorkloadShared& shared)
    : context_(context), shared_(shared) {}

WorkloadNode::~WorkloadNode() = default;

void WorkloadNode::on_start() {
  const NodeIndex self = context_.self();
  NodeDisk& disk = shared_.disks[self];
  ++disk.starts;
  shared_.checker->on_start(self);
  if (Status valid = consensus::Controller::check_durable(disk.durable); !valid) {
    shared_.checker->report("durable state of node " + std::to_string(self) +
                            " does not validate at restart: " + valid.message());
    return;  // the node stays inert: an agent would refuse to start
  }
  consensus::ControllerOptions options = shared_.options;
  options.nonce_base = disk.starts << 32;
  controller_ = std::make_unique<consensus::Controller>(options, shared_.ids[self], disk.durable,
                                                        context_.rng().next_u64(), now());
  next_periodic_ = now();
  refresh_peers(true);
  after_input();
}

void WorkloadNode::on_message(NodeIndex from, const Bytes& payload) {
  if (!controller_) return;
  controller_->receive(shared_.ids[from], payload, now());
  after_input();
}

void WorkloadNode::on_timer(std::uint64_t timer_id) {
  if (timer_id != timer_generation_ || !controller_) return;  // superseded
  timer_at_ = Instant::max();
  const Instant t = now();
  if (t >= next_periodic_) {
    next_periodic_ = t + shared_.runner_interval;
    refresh_peers(false);
  }
  controller_->tick(t);
  in_timer_ = true;
  after_input();
  in_timer_ = false;
}

Result<std::uint64_t> WorkloadNode::submit(const consensus::Command& command) {
  if (!controller_) return error(StatusCode::kUnavailable, "node is inert");
  auto result = controller_->submit(command, now());
  after_input();
  return result;
}

std::vector<ReplicaKey> WorkloadNode::running() const {
  std::vector<ReplicaKey> out;
  for (const auto& [key, runner] : runners_) {
    if (runner.task) out.push_back(key);
  }
  return out;
}

void WorkloadNode::after_input() {
  for (int round = 0; round < 64; ++round) {
    persist_and_send(controller_->take_output());
    run_replicas();
    if (!controller_->has_output()) break;
  }
  const NodeIndex self = context_.self();
  shared_.checker->observe(self, *controller_, shared_.world->now(), now(),
                           shared_.world->drift(self));
  arm_timer();
}

void WorkloadNode::persist_and_send(ControllerOutput output) {
  const NodeIndex self = context_.self();
  if (output.must_persist()) {
    shared_.disks[self].write(output);
    if (output.cluster) shared_.oracle->advertise(self, *output.cluster);
  }
  for (auto& [to, bytes] : output.messages) {
    auto it = shared_.index_of.find(to);
    if (it == shared_.index_of.end()) {
      ++shared_.unknown_destinations;
      continue;
    }
    context_.send(it->second, std::move(bytes));
  }
  for (const consensus::Event& event : output.events) {
    if (event.type != consensus::EventType::kRoleChanged) continue;
    if (event.role == consensus::Role::kLeader) ++shared_.leader_changes;
    Bytes record;
    ByteWriter w(record);
    w.u32(self);
    w.u64(event.term);
    w.u8(static_cast<std::uint8_t>(event.role));
    context_.trace(kTraceRole, record);
  }
}

void WorkloadNode::refresh_peers(bool force) {
  const NodeIndex self = context_.self();
  const std::uint64_t version = shared_.oracle->version(self);
  const Instant t = now();
  if (!force && version == peers_version_ && t - peers_sent_at_ < shared_.peers_refresh) return;
  peers_version_ = version;
  peers_sent_at_ = t;
  std::vector<consensus::PeerView> peers;
  for (NodeIndex j = 0; j < shared_.ids.size(); ++j) {
    if (j == self || !shared_.oracle->sees(self, j)) continue;
    consensus::PeerView peer;
    peer.id = shared_.ids[j];
    peer.cluster = shared_.oracle->advertised(j);
    peers.push_back(std::move(peer));
  }
  controller_->set_peers(std::move(peers), t);
}

void WorkloadNode::run_replicas() {
  const Instant t = now();
  const std::vector<consensus::HeldReplica> held = controller_->held(t);
  auto runnable = [&](const consensus::HeldReplica& h) {
    return h.run == ReplicaRun::kRunning &&
           controller_->may_run(h.workload, h.replica, h.epoch, t);
  };
  // Stop first: a runner whose replica may no longer run does nothing more.
  for (auto it = runners_.begin(); it != runners_.end();) {
    const bool keep = std::any_of(held.begin(), held.end(), [&](const auto& h) {
      return h.workload == it->first.first && h.replica == it->first.second &&
             h.epoch == it->second.epoch && runnable(h);
    });
    it = keep ? std::next(it) : runners_.erase(it);
  }
  for (const consensus::HeldReplica& h : held) {
    if (!runnable(h)) continue;
    const consensus::WorkloadState* state = controller_->table().find(h.workload);
    if (state == nullptr) continue;
    const ReplicaKey key{h.workload, h.replica};
    if (runners_.find(key) == runners_.end()) start_runner(h, *state);
    step_runner(key, runners_.at(key));
  }
}

void WorkloadNode::start_runner(const consensus::HeldReplica& held,
                                const consensus::WorkloadState& state) {
  const NodeIndex self = context_.self();
  Runner runner;
  runner.epoch = held.epoch;
  runner.paced_to = now();
  const LedgerKey ledger_key{held.workload, held.replica, held.epoch, self,
                             shared_.disks[self].starts};
  runner.ledger = &shared_.ledgers[ledger_key];
  auto params = workloads::parse_stream_params(held.workload, state.spec.params);
  if (!params) {
    shared_.checker->report("runner: bad stream params of " + held.workload + ": " +
                            params.status().message());
  } else {
    std::optional<workloads::StreamCheckpoint> resume;
    if (const consensus::Checkpoint* cp = controller_->table().checkpoint(held.workload,
                                                                          held.replica)) {
      resume = workloads::StreamCheckpoint{cp->position, cp->state};
    }
    auto task = workloads::StreamTask::create(*params, *runner.ledger, resume);
    if (!task) {
      shared_.checker->report("runner: node " + std::to_string(self) + " cannot resume " +
                              held.workload + "/" + std::to_string(held.replica) + ": " +
                              task.status().message());
    } else {
      runner.task.emplace(std::move(*task));
    }
  }
  ++shared_.runner_starts;
  runners_.emplace(ReplicaKey{held.workload, held.replica}, std::move(runner));
}

void WorkloadNode::step_runner(const ReplicaKey& key, Runner& runner) {
  if (!runner.task) return;
  workloads::StreamTask& task = *runner.task;
  const Instant t = now();
  const std::uint64_t rate = task.params().rate_per_second;
  if (t > runner.paced_to) {
    runner.budget_micro += static_cast<std::uint64_t>((t - runner.paced_to).count()) * rate;
    runner.budget_micro = std::min(runner.budget_micro, kCatchUpSeconds * rate * 1'000'000);
    runner.paced_to = t;
  }
  const std::uint64_t records = runner.budget_micro / 1'000'000;
  if (records > 0 && !task.done()) {
    runner.budget_micro -= records * 1'000'000;
    const std::uint64_t before = task.position();
    if (Status s = task.process(records); !s) {
      shared_.checker->report("runner: ledger error on " + key.first + ": " + s.message());
      runner.task.reset();
      return;
    }
    shared_.records_processed += task.position() - before;
  }
  if (task.done()) runner.budget_micro = 0;
  const consensus::Checkpoint* committed = controller_->table().checkpoint(key.first, key.second);
  const std::uint64_t committed_position = committed != nullptr ? committed->position : 0;
  const bool retry_final = task.done() && committed_position < task.records() &&
                           t - runner.last_checkpoint >= kFinalCheckpointRetry;
  if (!task.checkpoint_due() && !retry_final) return;
  auto checkpoint = task.take_checkpoint();  // syncs the ledger first
  if (!checkpoint) {
    shared_.checker->report("runner: checkpoint failed on " + key.first + ": " +
                            checkpoint.status().message());
    runner.task.reset();
    return;
  }
  runner.last_checkpoint = t;
  ++shared_.checkpoints_proposed;
  // Refused (kUnavailable without a leader, or the replica just moved): a later one follows.
  (void)controller_->checkpoint(key.first, key.second, runner.epoch, checkpoint->position,
                                std::move(checkpoint->state), t);
}

void WorkloadNode::arm_timer() {
  const Instant t = now();
  Instant next = std::min(controller_->next_deadline(), next_periodic_);
  // A deadline at or before now fires at once (the controller has work, e.g. a Renew to send
  // after applying its own Assign). Still past right after tick(), it would spin: a violation,
  // counted, and retried 1 ms later so that the run goes on.
  if (next <= t) {
    if (in_timer_) {
      if (shared_.timer_spins++ == 0) {
        shared_.checker->report("controller: next_deadline() is still at or before now right "
                                "after tick() on node " + std::to_string(context_.self()) +
                                " (a shell's event loop would spin)");
      }
      next = t + std::chrono::milliseconds(1);
    } else {
      next = t;
    }
  }
  if (next == timer_at_) return;
  context_.cancel_timer(timer_);
  timer_at_ = next;
  timer_ = context_.set_timer(next - t, ++timer_generation_);
}

}  // namespace starling::sim
