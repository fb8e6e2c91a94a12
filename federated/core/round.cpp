// Implementation of the round protocol (round.hpp). Body layouts (little endian, inside the
// signed record the UpdateSigner makes; docs/PROTOCOL.md "Federated rounds"):
//   update:        u8 1 | u64 round | u64 model id | u64 samples | u32 n | codec payload[n]
//   model request: u8 2 | u64 round of the asker                          (not signed)
//   model reply:   u8 3 | u64 round | u64 model id | u32 count | f32 * count
#include "federated/core/round.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/assert.hpp"

namespace starling::federated {
namespace {

constexpr std::uint8_t kUpdateTag = 1;
constexpr std::uint8_t kRequestTag = 2;
constexpr std::uint8_t kReplyTag = 3;

}  // namespace

Result<RoundMode> parse_round_mode(std::string_view text) {
  if (text == "sync") return RoundMode::kSync;
  if (text == "async") return RoundMode::kAsync;
  return error(StatusCode::kInvalidArgument,
               "unknown mode '" + std::string(text) + "' (use sync or async)");
}

Status RoundConfig::validate() const {
  if (layout.total() == 0) return error(StatusCode::kInvalidArgument, "layout: empty model");
  if (fanout == 0) return error(StatusCode::kInvalidArgument, "fanout: must be at least 1");
  if (!(quorum > 0 && quorum <= 1)) {
    return error(StatusCode::kInvalidArgument, "quorum: must be in (0, 1]");
  }
  if (round_deadline <= Duration::zero()) {
    return error(StatusCode::kInvalidArgument, "round_deadline: must be positive");
  }
  if (norm_bound < 0 || !std::isfinite(norm_bound)) {
    return error(StatusCode::kInvalidArgument, "norm_bound: must be finite and >= 0");
  }
  if (samples_max == 0) return error(StatusCode::kInvalidArgument, "samples_max: must be >= 1");
  if (!(norm_filter == 0 || (norm_filter >= 1 && norm_filter <= 1000))) {
    return error(StatusCode::kInvalidArgument, "norm_filter: 0 (off) or in [1, 1000]");
  }
  if (!(async_mixing >= 0 && async_mixing <= 1)) {
    return error(StatusCode::kInvalidArgument, "async_mixing: must be in [0, 1]");
  }
  if (!(staleness_exponent >= 0 && staleness_exponent <= 10)) {
    return error(StatusCode::kInvalidArgument, "staleness_exponent: must be in [0, 10]");
  }
  return Status();
}

std::uint64_t model_id_of(std::string_view model_name, const ModelLayout& layout) {
  Bytes text(model_name.begin(), model_name.end());
  ByteWriter out(text);
  out.u8(0);
  for (std::size_t size : layout.tensor_sizes) out.u64(size);
  return fingerprint64(text);
}

std::uint64_t RoundStats::rejected_total() const {
  std::uint64_t total = 0;
  for (const auto& [reason, count] : rejected) total += count;
  return total;
}

RoundCore::RoundCore(RoundConfig config, NodeId self, std::vector<float> initial_params,
                     UpdateSigner& signer, std::uint64_t seed)
    : config_(std::move(config)),
      self_(self),
      signer_(signer),
      rng_(seed),
      encoder_(config_.codec),
      params_(std::move(initial_params)) {
  STARLING_ASSERT(config_.validate().is_ok(), "invalid RoundConfig");
  STARLING_ASSERT(params_.size() == config_.layout.total(), "initial parameters of wrong size");
}

void RoundCore::start(Instant now, std::uint64_t first_round) {
  if (phase_ != Phase::kIdle) return;
  begin_round(std::max<std::uint64_t>(first_round, 1), now);
}

void RoundCore::set_peers(std::vector<NodeId> peers, Instant now) {
  std::sort(peers.begin(), peers.end());
  peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
  std::erase(peers, self_);
  peers_ = std::move(peers);
  // F7: a peer that appeared after this node sent its update for the round (it joined late,
  // or membership showed it late) gets the update now; otherwise it would wait for this
  // node until its round deadline. Only when every peer gets the update (fanout >= peers).
  if (phase_ == Phase::kCollecting && !own_sealed_.empty() && peers_.size() <= config_.fanout) {
    for (const NodeId& peer : peers_) {
      if (!own_sent_to_.insert(peer).second) continue;
      ready_.messages.push_back(RoundOutbound{peer, RoundMessageType::kUpdate, own_sealed_});
      ++stats_.updates_sent;
      stats_.update_bytes_sent += own_sealed_.size();
    }
  }
  maybe_finish(now);  // fewer peers can complete a quorum
}

void RoundCore::begin_round(std::uint64_t round, Instant now) {
  (void)now;
  if (config_.rounds != 0 && round > config_.rounds) {
    phase_ = Phase::kFinished;
    deadline_ = Instant::max();
    return;
  }
  round_ = round;
  phase_ = Phase::kTraining;
  own_.reset();
  own_sealed_.clear();
  own_sent_to_.clear();
  deadline_ = Instant::max();
  // Rounds now in the past can no longer count.
  received_.erase(received_.begin(), received_.lower_bound(round_));
  std::erase_if(seen_, [&](const auto& key) { return key.second < round_; });
  train_base_ = params_;
  ready_.train = TrainOrder{round_, params_};
}

void RoundCore::on_trained(std::uint64_t round, std::span<const float> trained,
                           std::uint64_t samples, Instant now) {
  if (phase_ != Phase::kTraining || round != round_) return;  // caught up meanwhile
  STARLING_ASSERT(trained.size() == params_.size(), "trained parameters of wrong size");
  Received own;
  own.delta.resize(params_.size());
  for (std::size_t i = 0; i < params_.size(); ++i) own.delta[i] = trained[i] - train_base_[i];
  own.samples = std::max<std::uint64_t>(samples, 1);
  // Local training that diverged (NaN, inf, an exploding step) must not poison the model:
  // this node then contributes nothing this round (counted as "own_" + reason).
  UpdateRejection own_check = UpdateRejection::kShape;
  if (!check_update(own.delta, config_.layout, config_.norm_bound, &own_check).is_ok()) {
    ++stats_.rejected["own_" + std::string(reject_reason_name(own_check))];
    if (config_.mode == RoundMode::kAsync) return complete_async_round(false, now);
    own.samples = 0;  // not sent, not aggregated
    own_ = std::move(own);
    phase_ = Phase::kCollecting;
    deadline_ = now + config_.round_deadline;
    maybe_finish(now);
    return;
  }

  // Encode (the encoder keeps top-k's error feedback), then seal once for every target.
  const Bytes payload = encoder_.encode(own.delta, config_.layout);
  Bytes body;
  ByteWriter out(body);
  out.u8(kUpdateTag);
  out.u64(round_);
  out.u64(config_.model_id);
  out.u64(own.samples);
  out.u32(static_cast<std::uint32_t>(payload.size()));
  out.raw(payload);
  const Bytes sealed = signer_.seal(body);
  for (const NodeId& to : pick_targets()) {
    ready_.messages.push_back(RoundOutbound{to, RoundMessageType::kUpdate, sealed});
    ++stats_.updates_sent;
    stats_.update_bytes_sent += sealed.size();
    if (config_.mode == RoundMode::kSync) own_sent_to_.insert(to);
  }
  if (config_.mode == RoundMode::kSync) own_sealed_ = sealed;
  // What this node aggregates is what its peers decode, so that all agree on the same inputs.
  Status decoded = decode_update(payload, config_.layout, own.delta);
  STARLING_ASSERT(decoded.is_ok(), "own update does not decode");
  if (config_.mode == RoundMode::kAsync) {
    // F6: the own update lands on the current model, which may hold peers' updates by now.
    for (std::size_t i = 0; i < params_.size(); ++i) params_[i] += own.delta[i];
    return complete_async_round(true, now);
  }
  own_ = std::move(own);
  phase_ = Phase::kCollecting;
  deadline_ = now + config_.round_deadline;
  maybe_finish(now);
}

std::vector<NodeId> RoundCore::pick_targets() {
  if (peers_.size() <= config_.fanout) return peers_;
  std::vector<NodeId> shuffled = peers_;
  rng_.shuffle(shuffled.begin(), shuffled.end());
  shuffled.resize(config_.fanout);
  std::sort(shuffled.begin(), shuffled.end());
  return shuffled;
}

std::size_t RoundCore::expected_senders() const {
  // With fanout >= peers every peer sends here; beyond, each sends to `fanout` of its peers,
  // so about `fanout` updates arrive.
  return std::min(peers_.size(), config_.fanout);
}

void RoundCore::step(const NodeId& from, RoundMessageType type, ByteSpan bytes, Instant now) {
  switch (type) {
    case RoundMessageType::kUpdate: return on_update(from, bytes, now);
    case RoundMessageType::kModelRequest: return on_model_request(from, bytes);
    case RoundMessageType::kModelReply: return on_model_reply(bytes, now);
  }
  reject(UpdateRejection::kUnsigned);
}

void RoundCore::reject(UpdateRejection why) {
  ++stats_.rejected[std::string(reject_reason_name(why))];
}

void RoundCore::on_update(const NodeId& from, ByteSpan bytes, Instant now) {
  (void)from;
  UpdateRejection why = UpdateRejection::kUnsigned;
  auto opened = signer_.open(bytes, &why);
  if (!opened) return reject(why);
  if (opened->author == self_) return;  // an echo of our own
  ByteReader in(opened->body);
  auto tag = in.u8();
  auto round = in.u64();
  auto model = in.u64();
  auto samples = in.u64();
  auto length = in.u32();
  if (!tag || *tag != kUpdateTag || !round || !model || !samples || !length) {
    return reject(UpdateRejection::kShape);
  }
  auto payload = in.raw(*length);
  if (!payload || !in.at_end()) return reject(UpdateRejection::kShape);
  if (*model != config_.model_id) return reject(UpdateRejection::kWrongModel);
  if (*samples == 0 || *samples > config_.samples_max) return reject(UpdateRejection::kShape);
  if (config_.mode == RoundMode::kAsync) {
    return on_update_async(opened->author, *round, *samples, *payload, now);
  }
  if (*round < round_ || (*round == round_ && phase_ == Phase::kFinished)) {
    return reject(UpdateRejection::kStale);
  }
  if (*round > round_ + config_.future_rounds) {
    // F5: this node is behind; ask the author for its model (at most once per deadline).
    reject(UpdateRejection::kFuture);
    if (now - last_catch_up_request_ >= config_.round_deadline ||
        last_catch_up_request_ == Instant::min()) {
      last_catch_up_request_ = now;
      Bytes request;
      ByteWriter out(request);
      out.u8(kRequestTag);
      out.u64(round_);
      ready_.messages.push_back(
          RoundOutbound{opened->author, RoundMessageType::kModelRequest, std::move(request)});
    }
    return;
  }
  if (seen_.contains({opened->author, *round})) return reject(UpdateRejection::kDuplicate);
  Received update;
  update.delta.resize(config_.layout.total());
  if (Status decoded = decode_update(*payload, config_.layout, update.delta); !decoded.is_ok()) {
    return reject(UpdateRejection::kShape);
  }
  UpdateRejection check = UpdateRejection::kShape;
  if (!check_update(update.delta, config_.layout, config_.norm_bound, &check).is_ok()) {
    return reject(check);
  }
  update.samples = *samples;
  seen_.insert({opened->author, *round});
  received_[*round].emplace(opened->author, std::move(update));
  ++stats_.updates_accepted;
  maybe_finish(now);
}

void RoundCore::on_update_async(const NodeId& author, std::uint64_t round, std::uint64_t samples,
                                ByteSpan payload, Instant now) {
  (void)samples;
  (void)now;
  if (phase_ == Phase::kFinished || phase_ == Phase::kIdle) return reject(UpdateRejection::kStale);
  auto last = last_round_of_.find(author);
  if (last != last_round_of_.end() && round <= last->second) {
    return reject(UpdateRejection::kReplayed);
  }
  std::vector<float> delta(config_.layout.total());
  if (Status decoded = decode_update(payload, config_.layout, delta); !decoded.is_ok()) {
    return reject(UpdateRejection::kShape);
  }
  UpdateRejection check = UpdateRejection::kShape;
  if (!check_update(delta, config_.layout, config_.norm_bound, &check).is_ok()) {
    return reject(check);
  }
  last_round_of_[author] = round;
  const double mixing = config_.async_mixing > 0
                            ? config_.async_mixing
                            : 1.0 / (1.0 + static_cast<double>(std::max<std::size_t>(
                                               expected_senders(), 1)));
  const double staleness = round_ > round ? static_cast<double>(round_ - round) : 0.0;
  const auto weight =
      static_cast<float>(mixing * std::pow(1.0 + staleness, -config_.staleness_exponent));
  for (std::size_t i = 0; i < params_.size(); ++i) params_[i] += weight * delta[i];
  ++stats_.updates_accepted;
  ++async_mixed_;
}

void RoundCore::complete_async_round(bool own_applied, Instant now) {
  RoundResult result;
  result.round = round_;
  result.updates = async_mixed_;
  async_mixed_ = 0;
  (void)own_applied;  // the own update's refusal is already counted as own_<reason>
  result.expected = expected_senders();
  result.ended = now;
  ++stats_.rounds_completed;
  ready_.completed.push_back(std::move(result));
  begin_round(round_ + 1, now);
}

void RoundCore::on_model_request(const NodeId& from, ByteSpan bytes) {
  ByteReader in(bytes);
  auto tag = in.u8();
  auto their_round = in.u64();
  if (!tag || *tag != kRequestTag || !their_round || !in.at_end()) {
    return reject(UpdateRejection::kShape);
  }
  if (*their_round >= round_) return;  // nothing newer to give
  Bytes body;
  ByteWriter out(body);
  out.u8(kReplyTag);
  out.u64(round_);
  out.u64(config_.model_id);
  out.u32(static_cast<std::uint32_t>(params_.size()));
  for (float v : params_) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    out.u32(bits);
  }
  ready_.messages.push_back(
      RoundOutbound{from, RoundMessageType::kModelReply, signer_.seal(body)});
  ++stats_.models_served;
}

void RoundCore::on_model_reply(ByteSpan bytes, Instant now) {
  UpdateRejection why = UpdateRejection::kUnsigned;
  auto opened = signer_.open(bytes, &why);
  if (!opened) return reject(why);
  ByteReader in(opened->body);
  auto tag = in.u8();
  auto round = in.u64();
  auto model = in.u64();
  auto count = in.u32();
  if (!tag || *tag != kReplyTag || !round || !model || !count) {
    return reject(UpdateRejection::kShape);
  }
  if (*model != config_.model_id) return reject(UpdateRejection::kWrongModel);
  if (*count != params_.size() || in.remaining() != std::size_t{*count} * 4) {
    return reject(UpdateRejection::kShape);
  }
  if (*round <= round_) return;  // not ahead of us (any more)
  std::vector<float> params(*count);
  for (float& v : params) {
    const std::uint32_t bits = in.u32().value();
    std::memcpy(&v, &bits, sizeof v);
    if (!std::isfinite(v)) return reject(UpdateRejection::kNonFinite);
  }
  params_ = std::move(params);
  ++stats_.catch_ups;
  ready_.caught_up_to = *round;
  begin_round(*round, now);
}

void RoundCore::maybe_finish(Instant now) {
  if (phase_ != Phase::kCollecting) return;
  const std::size_t expected = expected_senders();
  const auto needed = static_cast<std::size_t>(
      std::ceil(config_.quorum * static_cast<double>(expected) - 1e-9));
  auto it = received_.find(round_);
  const std::size_t have = it == received_.end() ? 0 : it->second.size();
  if (have >= needed) finish_round(false, now);
}

void RoundCore::tick(Instant now) {
  if (phase_ == Phase::kCollecting && now >= deadline_) finish_round(true, now);
}

Instant RoundCore::next_deadline() const {
  return phase_ == Phase::kCollecting ? deadline_ : Instant::max();
}

void RoundCore::finish_round(bool by_deadline, Instant now) {
  STARLING_ASSERT(own_.has_value(), "finishing a round without this node's update");
  std::vector<WeightedUpdate> inputs;
  if (own_->samples > 0) {
    inputs.push_back(WeightedUpdate{self_, own_->delta, static_cast<double>(own_->samples)});
  }
  auto it = received_.find(round_);
  if (it != received_.end()) {
    for (const auto& [author, update] : it->second) {
      inputs.push_back(WeightedUpdate{author, update.delta, static_cast<double>(update.samples)});
    }
  }
  if (config_.norm_filter > 0 && inputs.size() >= 3) {
    // Leave out updates far above the round's median norm (the median of at least three
    // norms is an honest one while honest updates are the majority).
    std::vector<double> norms;
    norms.reserve(inputs.size());
    for (const auto& u : inputs) norms.push_back(l2_norm(u.values));
    std::vector<double> sorted = norms;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2),
                     sorted.end());
    const double limit = config_.norm_filter * sorted[sorted.size() / 2];
    std::vector<WeightedUpdate> kept;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (norms[i] <= limit) {
        kept.push_back(inputs[i]);
      } else {
        reject(UpdateRejection::kNormBound);
      }
    }
    inputs = std::move(kept);
  }
  RoundResult result;
  result.round = round_;
  result.updates = inputs.size() - (own_->samples > 0 ? 1 : 0);
  result.expected = expected_senders();
  result.deadline = by_deadline;
  result.ended = now;

  std::vector<float> aggregate_delta(params_.size(), 0.0f);
  AggregateStats astats;
  Status aggregated = inputs.empty() ? Status()
                                     : aggregate(inputs, config_.aggregator, aggregate_delta,
                                                 &astats);
  if (!aggregated.is_ok() && own_->samples > 0) {
    // Too few inputs for the aggregator (Krum needs n >= 2f + 3): keep this node's own update
    // rather than stall. Counted, so that operators see a swarm too small for its aggregator.
    ++stats_.rejected["aggregator_" + std::string(status_code_name(aggregated.code()))];
    aggregate_delta = own_->delta;
  } else if (!aggregated.is_ok()) {
    ++stats_.rejected["aggregator_" + std::string(status_code_name(aggregated.code()))];
    std::fill(aggregate_delta.begin(), aggregate_delta.end(), 0.0f);
  } else {
    result.selected = astats.selected;
  }
  for (std::size_t i = 0; i < params_.size(); ++i) params_[i] += aggregate_delta[i];
  ++stats_.rounds_completed;
  ready_.completed.push_back(std::move(result));
  begin_round(round_ + 1, now);
}

RoundReady RoundCore::take_ready() {
  RoundReady out = std::move(ready_);
  ready_ = RoundReady{};
  return out;
}

}  // namespace starling::federated
