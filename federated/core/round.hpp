// The federated round protocol: a sans-I/O state machine (DESIGN.md section 3) that each node
// runs to train a shared model without a server. In round r a node trains from the round's
// model (the shell does it, on a worker thread, and reports back), encodes its update (the
// difference from the round's model) with the configured codec, signs it through the injected
// UpdateSigner, sends it to its peers (all of them up to `fanout`, a random `fanout` beyond),
// collects the peers' round-r updates until a quorum of them or a deadline, aggregates them with
// its own, and starts round r + 1 from the result.
//
// Inputs: start(), set_peers(), on_trained(), step() (a message from a peer), tick(now).
// Outputs: take_ready(): messages to send, the next training order, rounds completed.
// Time arrives as `now`, randomness from a seed; no sockets, threads, files, clocks or
// libtorch. Single-threaded by contract. The simulator and the agent drive the same object.
//
// Rules (tested in tests/federated_core/round_test.cpp):
//  F1 An update counts only if its signature verifies, its author is not this node, its model
//     id is ours, its payload decodes to our layout, it is finite and within the norm bound, and
//     no update of the same author and round was counted before; every refusal is counted by
//     reason (update.hpp's UpdateRejection names).
//  F2 Updates for the current round count at once; for the next `future_rounds` rounds they
//     are kept until this node gets there (a fast peer is not penalised); older ones are stale.
//  F3 A round ends when updates from ceil(quorum * expected) peers are in, where expected is
//     the number of live peers that send to this node (all of them up to fanout), or at the
//     deadline after this node's own update was sent, with whatever arrived.
//  F4 The round's model plus the aggregate of the accepted updates and this node's own update
//     (weighted by sample counts for FedAvg) is the next round's model.
//  F5 A node that sees a valid update more than `future_rounds` ahead of it is behind (it
//     joined late or restarted): it asks that update's author for its current model and adopts
//     a signed model of a later round, then trains from there.
//  F6 Asynchronous mode (RoundMode::kAsync, gossip learning after FedAsync, Xie et al. 2019):
//     there is no barrier. A node trains continuously; after each local round it sends its
//     update (relative to the model its training started from) and adds it to its current
//     model. A peer's update is mixed in as soon as it arrives, weighted by
//     mixing * (1 + staleness)^-staleness_exponent, where staleness is how many local rounds
//     this node is ahead of the update's round; an author's rounds must increase (an older or
//     repeated one is `replayed`). The aggregator is not used (updates arrive one at a time);
//     the norm bound still applies. F2, F3 and F5 are sync-mode rules.
//  F7 A peer that appears (set_peers) while this node collects a round, after its update was
//     sent, is sent the same sealed update, when every peer gets it (fanout >= peers): a node
//     that joined late, or that membership showed late, would otherwise wait for this node's
//     update until its deadline. Sync mode.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/rng.hpp"
#include "base/status.hpp"
#include "base/time.hpp"
#include "federated/core/aggregate.hpp"
#include "federated/core/codec.hpp"
#include "federated/core/update.hpp"

namespace starling::federated {

// Message kinds of the round protocol, carried by the agent in envelope types 64-66.
enum class RoundMessageType : std::uint8_t {
  kUpdate = 1,        // a sealed update (author, round, model id, samples, encoded delta)
  kModelRequest = 2,  // "send me your current model" (plain: u64 round of the asker)
  kModelReply = 3,    // a sealed model (author, round, model id, float32 parameters)
};

// The port through which the protocol signs and checks updates and models (the shell uses
// crypto signed records of kind 2 over the body; the simulator the same with its identities).
class UpdateSigner {
 public:
  struct Opened {
    NodeId author;
    ByteSpan body;  // a view into the sealed bytes
  };
  virtual ~UpdateSigner() = default;
  // Signs `body` as this node.
  virtual Bytes seal(ByteSpan body) = 0;
  // Verifies `sealed` and returns its author and body. The failure names the refusal:
  // *why = kForged (bad signature), kUnenrolled (no trusted key for the author), kRevoked,
  // kUnsigned (not a signed record at all).
  virtual Result<Opened> open(ByteSpan sealed, UpdateRejection* why) = 0;
};

enum class RoundMode : std::uint8_t { kSync, kAsync };
// "sync" or "async"; kInvalidArgument otherwise.
Result<RoundMode> parse_round_mode(std::string_view text);

struct RoundConfig {
  // kSync: rounds with a quorum or deadline (F1-F5). kAsync: gossip learning (F6).
  RoundMode mode = RoundMode::kSync;
  // F6: a peer update's weight before staleness; 0 = 1 / (1 + expected senders), so that a
  // round's worth of updates moves the model about as far as one FedAvg step.
  double async_mixing = 0;
  // F6: how fast stale updates lose weight.
  double staleness_exponent = 0.5;
  // The model: its layout and an id that both ends must agree on (model_id_of below).
  ModelLayout layout;
  std::uint64_t model_id = 0;
  AggregatorConfig aggregator;
  CodecConfig codec;
  // Peers an update is sent to: all live peers up to this many, else this many at random.
  std::size_t fanout = 16;
  // Fraction of the expected senders whose updates end a round early (F3).
  double quorum = 1.0;
  // How long to wait for peers' updates after sending this node's own.
  Duration round_deadline = std::chrono::seconds(30);
  // Rounds ahead whose updates are kept (F2); beyond it this node is behind (F5).
  std::uint64_t future_rounds = 2;
  // L2 bound on an update; 0 = none.
  double norm_bound = 0;
  // Adaptive norm filter (sync mode), applied before the aggregator: updates whose L2 norm is
  // above this multiple of the median norm of the round's updates are left out and counted as
  // `norm_bound`. 0 = off. A fixed bound needs to know the model's scale; this one follows it.
  // It stops scaled and sign-flipped-and-scaled updates, not same-norm ones (the aggregator's
  // job).
  double norm_filter = 0;
  // Stop after this many rounds (0 = never).
  std::uint64_t rounds = 0;
  // Largest sample count an update may claim (a liar would otherwise dominate FedAvg).
  std::uint64_t samples_max = 10'000'000;

  Status validate() const;
};

// A model's id: a hash of its name and layout, so that nodes running different models (or
// versions with different shapes) ignore each other's updates.
std::uint64_t model_id_of(std::string_view model_name, const ModelLayout& layout);

// The shell must train from `params` and call on_trained(round, ...).
struct TrainOrder {
  std::uint64_t round = 0;
  std::vector<float> params;
};

struct RoundResult {
  std::uint64_t round = 0;
  std::size_t updates = 0;          // peers' updates aggregated
  std::size_t expected = 0;         // peers expected to send (F3)
  bool deadline = false;            // ended by the deadline rather than the quorum
  std::vector<NodeId> selected;     // authors the aggregator kept (Krum); empty = all
  Instant ended;
};

struct RoundOutbound {
  NodeId to;
  RoundMessageType type = RoundMessageType::kUpdate;
  Bytes bytes;
};

struct RoundReady {
  std::vector<RoundOutbound> messages;
  std::optional<TrainOrder> train;
  std::vector<RoundResult> completed;
  // Set when this node adopted a neighbour's model (F5): the round it jumped to.
  std::optional<std::uint64_t> caught_up_to;
};

struct RoundStats {
  std::uint64_t updates_sent = 0;
  std::uint64_t update_bytes_sent = 0;  // encoded and sealed update bytes, all peers together
  std::uint64_t updates_accepted = 0;
  std::map<std::string, std::uint64_t> rejected;  // UpdateRejection name -> count
  std::uint64_t rounds_completed = 0;
  std::uint64_t catch_ups = 0;
  std::uint64_t models_served = 0;
  std::uint64_t rejected_total() const;
};

class RoundCore {
 public:
  // REQUIRES: config.validate() ok; initial_params.size() == config.layout.total().
  // `signer` must outlive the core.
  RoundCore(RoundConfig config, NodeId self, std::vector<float> initial_params,
            UpdateSigner& signer, std::uint64_t seed);

  // Starts round `first_round` (emits its TrainOrder): 1, or the round after a checkpoint's.
  void start(Instant now, std::uint64_t first_round = 1);
  // The live members taking part, this node excluded (from membership).
  void set_peers(std::vector<NodeId> peers, Instant now);
  // The shell finished training for `round` from that round's model: `trained` are the new
  // parameters, `samples` the rows trained on. Ignored if the node has moved past `round`
  // (it caught up meanwhile).
  void on_trained(std::uint64_t round, std::span<const float> trained, std::uint64_t samples,
                  Instant now);
  // A message from `from` (the authenticated sender).
  void step(const NodeId& from, RoundMessageType type, ByteSpan bytes, Instant now);
  void tick(Instant now);
  Instant next_deadline() const;
  RoundReady take_ready();

  std::uint64_t round() const noexcept { return round_; }
  // The current round's model (the last aggregate).
  const std::vector<float>& params() const noexcept { return params_; }
  bool training() const noexcept { return phase_ == Phase::kTraining; }
  bool finished() const noexcept { return phase_ == Phase::kFinished; }
  const RoundStats& stats() const noexcept { return stats_; }
  const RoundConfig& config() const noexcept { return config_; }

 private:
  enum class Phase { kIdle, kTraining, kCollecting, kFinished };
  struct Received {
    std::vector<float> delta;
    std::uint64_t samples = 0;
  };

  void reject(UpdateRejection why);
  void on_update(const NodeId& from, ByteSpan bytes, Instant now);
  void on_model_request(const NodeId& from, ByteSpan bytes);
  void on_model_reply(ByteSpan bytes, Instant now);
  void maybe_finish(Instant now);
  void finish_round(bool by_deadline, Instant now);
  void begin_round(std::uint64_t round, Instant now);
  void on_update_async(const NodeId& author, std::uint64_t round, std::uint64_t samples,
                       ByteSpan payload, Instant now);
  void complete_async_round(bool own_applied, Instant now);
  std::size_t expected_senders() const;
  std::vector<NodeId> pick_targets();

  RoundConfig config_;
  NodeId self_;
  UpdateSigner& signer_;
  Rng rng_;
  UpdateEncoder encoder_;
  Phase phase_ = Phase::kIdle;
  std::uint64_t round_ = 0;
  std::vector<float> params_;
  std::vector<float> train_base_;  // the model the current training started from
  std::map<NodeId, std::uint64_t> last_round_of_;  // F6: highest round accepted per author
  std::size_t async_mixed_ = 0;                    // F6: peer updates mixed in this round
  std::vector<NodeId> peers_;
  std::optional<Received> own_;
  // F7: this round's sealed own update and who has been sent it, so that a peer that joins
  // while this node collects gets it too (sync mode, when every peer gets it).
  Bytes own_sealed_;
  std::set<NodeId> own_sent_to_;
  Instant deadline_ = Instant::max();
  // Updates by round (current and future ones) and author.
  std::map<std::uint64_t, std::map<NodeId, Received>> received_;
  // (author, round) already counted, for the duplicate check of rounds still held.
  std::set<std::pair<NodeId, std::uint64_t>> seen_;
  Instant last_catch_up_request_ = Instant::min();
  RoundReady ready_;
  RoundStats stats_;
};

}  // namespace starling::federated
