// Implementation of the agent's federated learning (learning.hpp).
#include "agent/daemon/learning.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "agent/wire/update_signer.hpp"
#include "base/rng.hpp"
#include "crypto/files.hpp"
#include "federated/data/byzantine.hpp"
#include "federated/data/device_data.hpp"
#include "federated/data/idx.hpp"
#include "federated/data/partition.hpp"
#include "federated/torch/learner.hpp"

namespace starling::daemon {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kCheckpointFile = "model.ckpt";
constexpr std::uint32_t kCheckpointMagic = 0x53464c31;  // "SFL1"
// Device data without a test set keeps this share of its rows for evaluation.
constexpr double kHeldOutShare = 0.1;
// Round messages held until the learner is ready (Learning::State::early): enough for a first
// round with every peer of a default fanout (16), a few times over, within a memory bound.
constexpr std::size_t kEarlyMessagesMax = 64;
constexpr std::size_t kEarlyBytesMax = 32u << 20;

// A FIFO of jobs run by one thread. post() is thread-safe; the destructor finishes the job in
// progress, drops the rest and joins.
class Worker {
 public:
  Worker() : thread_([this] { run(); }) {}
  ~Worker() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
      jobs_.clear();
    }
    wake_.notify_one();
    thread_.join();
  }
  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
        if (stop_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the members above exist
};

// What only the worker thread touches.
struct WorkerSide {
  std::unique_ptr<federated::Learner> learner;
  federated::Dataset train;
  federated::Dataset test;
};

Result<std::pair<federated::Dataset, federated::Dataset>> load_data(
    const DaemonConfig::Learning& c, std::uint64_t seed) {
  if (c.data == "fashion-mnist") {
    STARLING_ASSIGN_OR_RETURN(federated::FashionMnist data, federated::load_fashion_mnist());
    if (c.data_shard.empty()) return std::pair{std::move(data.train), std::move(data.test)};
    STARLING_ASSIGN_OR_RETURN(DataShard shard, parse_data_shard(c.data_shard));
    STARLING_ASSIGN_OR_RETURN(federated::PartitionSpec spec,
                              federated::parse_partition(shard.partition));
    // Every device of the fleet computes the same split (seed 1) and takes its own share.
    STARLING_ASSIGN_OR_RETURN(federated::Partition parts,
                              federated::partition_dataset(data.train, shard.count, spec, 1));
    return std::pair{data.train.subset(parts[shard.index]), std::move(data.test)};
  }
  STARLING_ASSIGN_OR_RETURN(federated::Dataset all, federated::load_device_data(c.data));
  std::vector<std::size_t> rows(all.rows());
  std::iota(rows.begin(), rows.end(), std::size_t{0});
  Rng rng(seed);
  rng.shuffle(rows.begin(), rows.end());
  const auto held = static_cast<std::size_t>(static_cast<double>(rows.size()) * kHeldOutShare);
  std::vector<std::size_t> test_rows(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(held));
  std::vector<std::size_t> train_rows(rows.begin() + static_cast<std::ptrdiff_t>(held), rows.end());
  return std::pair{all.subset(train_rows), all.subset(test_rows)};
}

// Checkpoint: u32 magic | u64 model id | u64 round | u32 count | f32 * count.
Bytes encode_checkpoint(std::uint64_t model_id, std::uint64_t round,
                        const std::vector<float>& params) {
  Bytes out;
  ByteWriter w(out);
  w.u32(kCheckpointMagic);
  w.u64(model_id);
  w.u64(round);
  w.u32(static_cast<std::uint32_t>(params.size()));
  for (float v : params) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    w.u32(bits);
  }
  return out;
}

std::optional<std::pair<std::uint64_t, std::vector<float>>> read_checkpoint(
    const std::filesystem::path& file, std::uint64_t model_id, std::size_t count) {
  auto text = crypto::read_file(file, 16 + 4 * count + 64);
  if (!text) return std::nullopt;
  ByteReader r(ByteSpan(reinterpret_cast<const std::uint8_t*>(text->data()), text->size()));
  auto magic = r.u32();
  auto id = r.u64();
  auto round = r.u64();
  auto n = r.u32();
  if (!magic || *magic != kCheckpointMagic || !id || *id != model_id || !round || !n ||
      *n != count || r.remaining() != 4 * count) {
    return std::nullopt;
  }
  std::vector<float> params(count);
  for (float& v : params) {
    const std::uint32_t bits = r.u32().value();
    std::memcpy(&v, &bits, sizeof v);
  }
  return std::pair{*round, std::move(params)};
}

}  // namespace

struct Learning::State {
  State(boost::asio::io_context& loop, DaemonConfig::Learning cfg, std::filesystem::path dir,
        const crypto::Identity& id, const crypto::KeyDirectory& key_directory, Send send_fn,
        Publish publish_fn)
      : io(loop),
        config(std::move(cfg)),
        data_dir(std::move(dir)),
        identity(id),
        signer(id, key_directory),
        send(std::move(send_fn)),
        publish(std::move(publish_fn)),
        timer(loop),
        alive(std::make_shared<bool>(true)) {}

  // Runs `fn` on the loop thread later, unless the Learning is gone by then.
  template <typename Fn>
  void to_loop(Fn fn) {
    boost::asio::post(io, [life = std::weak_ptr<bool>(alive), fn = std::move(fn)]() mutable {
      if (!life.expired()) fn();
    });
  }

  void on_ready(std::vector<std::size_t> tensor_sizes, std::vector<float> initial,
                std::size_t train_rows, std::size_t test_rows);
  void flush();
  void schedule_timer();

  boost::asio::io_context& io;
  DaemonConfig::Learning config;
  std::filesystem::path data_dir;
  const crypto::Identity& identity;
  wire::SignedUpdateSigner signer;
  Send send;
  Publish publish;
  boost::asio::steady_timer timer;
  Clock::time_point epoch = Clock::now();
  std::shared_ptr<bool> alive;

  std::unique_ptr<federated::RoundCore> core;  // once the worker is ready
  std::vector<NodeId> peers;
  std::string state = "loading";
  std::size_t parameters = 0;
  std::size_t samples = 0;
  std::optional<double> accuracy;
  std::optional<double> loss;
  std::optional<double> train_images_per_s;
  std::uint64_t evaluated_round = 0;
  std::deque<runtime::ModelView::RoundEval> history;  // at most kModelHistoryMax
  // Round messages from peers that arrived while the worker was still loading (the core does
  // not exist yet): replayed once it does, so that a slow starter does not wait for its first
  // round's deadline. At most kEarlyMessagesMax, the oldest dropped first.
  struct Early {
    NodeId from;
    federated::RoundMessageType type;
    Bytes bytes;
  };
  std::deque<Early> early;
  std::size_t early_bytes = 0;
  // Fault injection (config key byzantine, testing only).
  std::optional<federated::ByzantineKind> byzantine;

  // Declared last: destroyed first, so no job runs while the members above go away.
  WorkerSide worker_side;
  std::unique_ptr<Worker> worker = std::make_unique<Worker>();

  Instant now() const {
    return Instant(std::chrono::duration_cast<Duration>(Clock::now() - epoch));
  }
};

Result<std::unique_ptr<Learning>> Learning::open(boost::asio::io_context& io,
                                                 const DaemonConfig::Learning& config,
                                                 const std::filesystem::path& data_dir,
                                                 const crypto::Identity& identity,
                                                 const crypto::KeyDirectory& keys, Send send,
                                                 Publish publish) {
  STARLING_RETURN_IF_ERROR(federated::parse_codec(config.codec).status());
  STARLING_RETURN_IF_ERROR(federated::parse_aggregator(config.aggregator).status());
  auto state = std::make_unique<State>(io, config, data_dir, identity, keys, std::move(send),
                                       std::move(publish));
  State* s = state.get();
  if (!config.byzantine.empty()) {
    STARLING_ASSIGN_OR_RETURN(s->byzantine, federated::parse_byzantine_kind(config.byzantine));
    spdlog::warn("TESTING ONLY: this agent is Byzantine ({}): it sends corrupted model updates "
                 "to its peers (config key byzantine)", config.byzantine);
  }
  // Everything slow happens on the worker: loading the data and building the model.
  s->worker->post([s] {
    const std::uint64_t seed = 1;  // every device starts from the same initial model
    federated::set_torch_threads(s->config.train_threads);
    auto data = load_data(s->config, seed);
    if (!data) {
      const std::string message = data.status().to_string();
      s->to_loop([s, message] {
        s->state = "failed: " + message;
        spdlog::error("federated learning off: {}", message);
      });
      return;
    }
    auto learner = federated::Learner::create(s->config.model, seed);
    if (!learner) {
      const std::string message = learner.status().to_string();
      s->to_loop([s, message] { s->state = "failed: " + message; });
      return;
    }
    s->worker_side.train = std::move(data->first);
    if (s->byzantine == federated::ByzantineKind::kLabelFlip) {
      federated::flip_labels(s->worker_side.train);
    }
    s->worker_side.test = std::move(data->second);
    s->worker_side.learner = std::move(*learner);
    std::vector<float> initial((*s->worker_side.learner).parameter_count());
    s->worker_side.learner->get_parameters(initial);
    s->to_loop([s, sizes = s->worker_side.learner->tensor_sizes(), initial = std::move(initial),
                train = s->worker_side.train.rows(), test = s->worker_side.test.rows()]() mutable {
      s->on_ready(std::move(sizes), std::move(initial), train, test);
    });
  });
  return std::unique_ptr<Learning>(new Learning(std::move(state)));
}

void Learning::State::on_ready(std::vector<std::size_t> tensor_sizes, std::vector<float> initial,
                               std::size_t train_rows, std::size_t test_rows) {
  federated::RoundConfig round;
  round.layout.tensor_sizes = std::move(tensor_sizes);
  round.model_id = federated::model_id_of(config.model, round.layout);
  round.aggregator = federated::parse_aggregator(config.aggregator).value();
  round.codec = federated::parse_codec(config.codec).value();
  round.mode = federated::parse_round_mode(config.mode).value();  // validated by the config
  round.norm_bound = config.norm_bound;
  round.norm_filter = config.norm_filter;
  if (byzantine) {
    // Modified software: it does not hold its own update to the bounds it applies to others.
    round.norm_bound = 0;
    round.norm_filter = 0;
  }
  round.fanout = config.fanout;
  round.quorum = config.quorum;
  round.round_deadline = config.round_deadline;
  round.rounds = config.rounds;
  parameters = initial.size();
  samples = train_rows;
  std::uint64_t first_round = 1;
  if (auto checkpoint = read_checkpoint(data_dir / kCheckpointFile, round.model_id, parameters)) {
    first_round = checkpoint->first + 1;
    initial = std::move(checkpoint->second);
    spdlog::info("federated learning: resuming from the checkpoint of round {}", checkpoint->first);
  }
  std::random_device entropy;
  core = std::make_unique<federated::RoundCore>(round, identity.node_id(), std::move(initial),
                                                signer, (std::uint64_t{entropy()} << 32) ^ entropy());
  core->set_peers(peers, now());
  core->start(now(), first_round);
  state = "training";
  for (Early& e : early) core->step(e.from, e.type, e.bytes, now());
  early.clear();
  early_bytes = 0;
  spdlog::info("federated learning: model {} ({} parameters), {} training rows, {} test rows, "
               "{} peers", config.model, parameters, train_rows, test_rows, peers.size());
  flush();
}

void Learning::State::flush() {
  if (!core) return;
  federated::RoundReady ready = core->take_ready();
  for (const auto& out : ready.messages) send(out.to, out.type, out.bytes);
  if (ready.caught_up_to) {
    spdlog::info("federated learning: caught up to round {} from a neighbour's model",
                 *ready.caught_up_to);
  }
  for (const auto& result : ready.completed) {
    // Evaluate and checkpoint the new model on the worker.
    std::vector<float> params = core->params();
    const std::uint64_t round = result.round;
    const std::uint64_t model_id = core->config().model_id;
    spdlog::info("federated round {} done: {} of {} peer updates{}", round, result.updates,
                 result.expected, result.deadline ? " (deadline)" : "");
    worker->post([this, params = std::move(params), round, model_id] {
      WorkerSide& w = worker_side;
      Status set = w.learner->set_parameters(params);
      Result<federated::EvalStats> stats = set.is_ok()
                                               ? w.learner->evaluate(w.test)
                                               : Result<federated::EvalStats>(set);
      const Bytes checkpoint = encode_checkpoint(model_id, round, params);
      Status saved = crypto::write_file_atomic(
          data_dir / kCheckpointFile,
          std::string_view(reinterpret_cast<const char*>(checkpoint.data()), checkpoint.size()),
          0600, /*overwrite=*/true);
      to_loop([this, round, stats, saved] {
        if (!saved.is_ok()) spdlog::warn("cannot write the model checkpoint: {}", saved.to_string());
        if (!stats) {
          spdlog::warn("evaluation of round {} failed: {}", round, stats.status().to_string());
          return;
        }
        if (round < evaluated_round) return;
        evaluated_round = round;
        accuracy = stats->accuracy;
        loss = stats->loss;
        history.push_back({round, stats->accuracy, stats->loss});
        while (history.size() > runtime::kModelHistoryMax) history.pop_front();
        spdlog::info("federated round {}: test accuracy {:.4f}, loss {:.4f}", round,
                     stats->accuracy, stats->loss);
        publish(round, stats->accuracy);
      });
    });
  }
  if (ready.train) {
    state = "training";
    worker->post([this, order = std::move(*ready.train)] {
      WorkerSide& w = worker_side;
      Status set = w.learner->set_parameters(order.params);
      federated::TrainConfig train;
      train.local_epochs = config.local_epochs;
      train.learning_rate = config.learning_rate;
      train.batch_size = config.batch_size;
      auto stats = set.is_ok() ? w.learner->train(w.train, train, order.round)
                               : Result<federated::TrainStats>(set);
      std::vector<float> trained(order.params.size());
      if (stats) {
        w.learner->get_parameters(trained);
        if (byzantine) {
          federated::corrupt_update(*byzantine, order.params, trained, order.round);
        }
      } else {
        std::fill(trained.begin(), trained.end(), std::numeric_limits<float>::quiet_NaN());
      }
      const std::uint64_t rows = w.train.rows();
      to_loop([this, round = order.round, trained = std::move(trained), rows, stats] {
        if (!stats) spdlog::warn("training round {} failed: {}", round, stats.status().to_string());
        if (stats && stats->seconds > 0) {
          train_images_per_s = static_cast<double>(stats->samples) / stats->seconds;
        }
        // A failed training reports non-finite parameters: the core then sends nothing.
        core->on_trained(round, trained, rows, now());
        state = core->finished() ? "finished" : "waiting";
        flush();
      });
    });
  }
  if (core->finished()) state = "finished";
  schedule_timer();
}

void Learning::State::schedule_timer() {
  const Instant next = core->next_deadline();
  if (next == Instant::max()) return;
  timer.expires_at(epoch + std::chrono::duration_cast<Clock::duration>(next.time_since_epoch()));
  timer.async_wait([this, life = std::weak_ptr<bool>(alive)](const boost::system::error_code& e) {
    if (e || life.expired()) return;
    core->tick(now());
    flush();
  });
}

Learning::Learning(std::unique_ptr<State> state) : state_(std::move(state)) {}

Learning::~Learning() {
  if (!state_) return;
  state_->worker.reset();  // joins: the job in progress finishes, queued ones are dropped
  state_->alive.reset();   // then results already posted to the loop are ignored
}

void Learning::set_peers(std::vector<NodeId> peers) {
  std::sort(peers.begin(), peers.end());
  if (peers == state_->peers) return;
  state_->peers = std::move(peers);
  if (state_->core) {
    state_->core->set_peers(state_->peers, state_->now());
    state_->flush();
  }
}

void Learning::on_message(const NodeId& from, federated::RoundMessageType type, ByteSpan bytes) {
  if (!state_->core) {
    // Not ready yet: held until the core starts (a peer's first-round update, typically).
    State& s = *state_;
    s.early.push_back({from, type, Bytes(bytes.begin(), bytes.end())});
    s.early_bytes += bytes.size();
    while (s.early.size() > kEarlyMessagesMax || s.early_bytes > kEarlyBytesMax) {
      s.early_bytes -= s.early.front().bytes.size();
      s.early.pop_front();
    }
    return;
  }
  state_->core->step(from, type, bytes, state_->now());
  state_->flush();
}

const std::string& Learning::model() const { return state_->config.model; }

runtime::ModelView Learning::view() const {
  const State& s = *state_;
  runtime::ModelView v;
  v.model = s.config.model;
  v.state = s.state;
  v.codec = s.config.codec;
  v.aggregator = s.config.aggregator;
  v.params = s.parameters;
  v.samples = s.samples;
  v.peers = s.peers.size();
  v.accuracy = s.accuracy;
  v.loss = s.loss;
  v.train_images_per_s = s.train_images_per_s;
  v.history.assign(s.history.begin(), s.history.end());
  v.byzantine = s.config.byzantine;
  if (s.core) {
    const federated::RoundStats& st = s.core->stats();
    v.round = st.rounds_completed == 0 ? 0 : s.core->round() - (s.core->finished() ? 0 : 1);
    v.updates_accepted = st.updates_accepted;
    v.updates_rejected = st.rejected;
    v.bytes_per_round = st.rounds_completed == 0 ? 0 : st.update_bytes_sent / st.rounds_completed;
  }
  return v;
}

std::optional<std::uint64_t> Learning::round() const {
  if (!state_->core) return std::nullopt;
  return view().round;
}

std::optional<double> Learning::accuracy() const { return state_->accuracy; }

}  // namespace starling::daemon
