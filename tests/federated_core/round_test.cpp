// Tests of the round protocol (federated/core/round.hpp), one or more per rule F1-F5, on a
// small in-test cluster of RoundCores with a fake signer (no crypto: the signer is a port) and
// "training" that is a deterministic function of the round's model, so every aggregate can be
// checked exactly.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <memory>
#include <vector>

#include "federated/core/round.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling::federated {
namespace {

using namespace std::chrono_literals;

NodeId node(std::uint8_t i) {
  NodeId::Raw raw{};
  raw[0] = i;
  return NodeId(raw);
}

// Seals as "author id | body"; a leading 0xff byte marks a forged record.
class FakeSigner final : public UpdateSigner {
 public:
  explicit FakeSigner(NodeId self) : self_(self) {}
  Bytes seal(ByteSpan body) override {
    Bytes out(self_.raw().begin(), self_.raw().end());
    out.insert(out.begin(), std::uint8_t{0});
    out.insert(out.end(), body.begin(), body.end());
    return out;
  }
  Result<Opened> open(ByteSpan sealed, UpdateRejection* why) override {
    if (sealed.size() < 17) {
      *why = UpdateRejection::kUnsigned;
      return error(StatusCode::kCorrupt, "short");
    }
    if (sealed[0] == 0xff) {
      *why = UpdateRejection::kForged;
      return error(StatusCode::kBadSignature, "forged");
    }
    NodeId::Raw raw{};
    std::copy(sealed.begin() + 1, sealed.begin() + 17, raw.begin());
    if (raw[0] == 0xee) {
      *why = UpdateRejection::kUnenrolled;
      return error(StatusCode::kNotFound, "unenrolled");
    }
    return Opened{NodeId(raw), sealed.subspan(17)};
  }

 private:
  NodeId self_;
};

RoundConfig small_config() {
  RoundConfig c;
  c.layout.tensor_sizes = {3, 2};
  c.model_id = model_id_of("test", c.layout);
  c.aggregator = parse_aggregator("fedavg").value();
  c.codec = parse_codec("float32").value();
  c.round_deadline = 10s;
  return c;
}

// N cores wired together; messages are delivered when deliver() is called.
struct Cluster {
  explicit Cluster(std::size_t n, RoundConfig config = small_config()) {
    for (std::size_t i = 0; i < n; ++i) {
      signers.push_back(std::make_unique<FakeSigner>(node(static_cast<std::uint8_t>(i + 1))));
      cores.push_back(std::make_unique<RoundCore>(config, node(static_cast<std::uint8_t>(i + 1)),
                                                  std::vector<float>(config.layout.total(), 0.0f),
                                                  *signers.back(), 100 + i));
    }
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<NodeId> peers;
      for (std::size_t j = 0; j < n; ++j) peers.push_back(node(static_cast<std::uint8_t>(j + 1)));
      cores[i]->set_peers(peers, now);
    }
  }
  std::size_t index_of(const NodeId& id) const { return id.raw()[0] - 1; }

  // Node i's "training": every parameter moves by (i + 1) * 0.1, samples (i + 1) * 10.
  void train(std::size_t i, const TrainOrder& order) {
    std::vector<float> trained = order.params;
    for (float& v : trained) v += static_cast<float>(i + 1) * 0.1f;
    cores[i]->on_trained(order.round, trained, (i + 1) * 10, now);
  }
  // Collects every core's outputs: trains at once (unless held) and queues messages. Returns
  // whether any core had something (training produces messages for the next call).
  bool pump() {
    bool any = false;
    for (std::size_t i = 0; i < cores.size(); ++i) {
      RoundReady ready = cores[i]->take_ready();
      any = any || !ready.messages.empty() || ready.train.has_value() || !ready.completed.empty();
      for (auto& m : ready.messages) inflight.push_back({i, std::move(m)});
      for (auto& r : ready.completed) completed[i].push_back(r);
      if (ready.train) {
        if (hold_training.count(i)) {
          held_orders[i] = *ready.train;
        } else {
          orders[i].push_back(ready.train->round);
          train(i, *ready.train);
        }
      }
    }
    return any;
  }
  void deliver_all() {
    for (int guard = 0; guard < 100; ++guard) {
      const bool any = pump();
      if (inflight.empty() && !any) return;
      auto batch = std::move(inflight);
      inflight.clear();
      for (auto& [from, m] : batch) {
        if (drop && drop(from, m)) continue;
        cores[index_of(m.to)]->step(node(static_cast<std::uint8_t>(from + 1)), m.type, m.bytes, now);
      }
    }
  }
  void start_all() {
    for (auto& c : cores) c->start(now);
    deliver_all();
  }

  Instant now{};
  std::vector<std::unique_ptr<FakeSigner>> signers;
  std::vector<std::unique_ptr<RoundCore>> cores;
  std::vector<std::pair<std::size_t, RoundOutbound>> inflight;
  std::map<std::size_t, std::vector<RoundResult>> completed;
  std::map<std::size_t, std::vector<std::uint64_t>> orders;
  std::set<std::size_t> hold_training;
  std::map<std::size_t, TrainOrder> held_orders;
  std::function<bool(std::size_t, const RoundOutbound&)> drop;
};

TEST_CASE("F4: every node ends a round with the sample-weighted mean of all updates") {
  Cluster c(3);
  c.cores[0]->set_peers({node(2), node(3)}, c.now);
  RoundConfig config = small_config();
  config.rounds = 1;
  Cluster one(3, config);
  one.start_all();
  // Deltas 0.1, 0.2, 0.3 with weights 10, 20, 30: (1 + 4 + 9) / 60 = 0.2333...
  const float expected = (0.1f * 10 + 0.2f * 20 + 0.3f * 30) / 60.0f;
  for (std::size_t i = 0; i < 3; ++i) {
    REQUIRE(one.cores[i]->finished());
    for (float v : one.cores[i]->params()) CHECK(v == doctest::Approx(expected).epsilon(1e-6));
    REQUIRE(one.completed[i].size() == 1);
    CHECK(one.completed[i][0].updates == 2);
    CHECK_FALSE(one.completed[i][0].deadline);
  }
  // And they agree bit for bit (FedAvg sums in author order whatever the arrival order).
  CHECK(one.cores[0]->params() == one.cores[1]->params());
  CHECK(one.cores[1]->params() == one.cores[2]->params());
}

TEST_CASE("F3: a round ends at the quorum or at the deadline with what arrived") {
  RoundConfig config = small_config();
  config.quorum = 0.5;
  config.rounds = 1;
  Cluster c(5, config);
  // Node 0 hears only from node 1 (and 4 is silent): quorum 0.5 of 4 expected = 2.
  c.drop = [](std::size_t from, const RoundOutbound& m) {
    return m.to == node(1) && from >= 2;
  };
  c.start_all();
  CHECK(c.cores[0]->round() == 1);  // one update of the two needed
  c.now += 11s;
  c.cores[0]->tick(c.now);
  c.pump();
  REQUIRE(c.completed[0].size() == 1);
  CHECK(c.completed[0][0].deadline);
  CHECK(c.completed[0][0].updates == 1);
  CHECK(c.cores[0]->finished());
  // The others met their quorum without waiting.
  CHECK_FALSE(c.completed[1].at(0).deadline);
}

TEST_CASE("F7: a peer that appears after the update was sent gets it and nobody waits") {
  RoundConfig config = small_config();
  config.rounds = 1;
  Cluster c(3, config);
  // Node 0 starts knowing only node 1; nodes 1 and 2 know everyone.
  c.cores[0]->set_peers({node(2)}, c.now);
  c.hold_training = {1, 2};  // nodes 1 and 2 train later
  c.start_all();
  // Node 0 sent to node 1 only; node 1 waits for nodes 0 and 2.
  CHECK(c.cores[0]->round() == 1);
  CHECK_FALSE(c.cores[0]->training());
  const auto sent_before = c.cores[0]->stats().updates_sent;
  CHECK(sent_before == 1);
  // Membership shows node 2 to node 0: it is sent node 0's update at once, once.
  c.cores[0]->set_peers({node(2), node(3)}, c.now);
  c.cores[0]->set_peers({node(2), node(3)}, c.now);
  RoundReady ready = c.cores[0]->take_ready();
  REQUIRE(ready.messages.size() == 1);
  CHECK(ready.messages[0].to == node(3));
  CHECK(ready.messages[0].type == RoundMessageType::kUpdate);
  CHECK(c.cores[0]->stats().updates_sent == 2);
  for (auto& m : ready.messages) c.inflight.push_back({0, std::move(m)});
  c.hold_training.clear();
  c.train(1, c.held_orders.at(1));
  c.train(2, c.held_orders.at(2));
  c.deliver_all();
  // Every node ended the round on its quorum, none by the deadline, with the same model.
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("node " << i);
    REQUIRE(c.completed[i].size() == 1);
    CHECK_FALSE(c.completed[i][0].deadline);
    CHECK(c.completed[i][0].updates == 2);
  }
  CHECK(c.cores[0]->params() == c.cores[2]->params());
}

TEST_CASE("F2: updates for a coming round wait for it and stale ones are refused") {
  RoundConfig config = small_config();
  config.rounds = 2;
  Cluster c(2, config);
  c.hold_training.insert(0);  // node 0 trains slowly
  c.start_all();
  // Node 1 has sent its round-1 update and waits for node 0's.
  CHECK(c.cores[1]->round() == 1);
  CHECK_FALSE(c.cores[1]->training());
  c.hold_training.clear();
  c.train(0, c.held_orders.at(0));
  c.deliver_all();
  CHECK(c.cores[0]->finished());
  CHECK(c.cores[1]->finished());
  CHECK(c.completed[0].size() == 2);
  CHECK(c.cores[0]->params() == c.cores[1]->params());
  CHECK(c.cores[0]->stats().rejected_total() == 0);
}

TEST_CASE("F2: an update for a round already closed is stale") {
  RoundConfig config = small_config();
  config.rounds = 3;
  Cluster c(2, config);
  c.start_all();
  REQUIRE(c.cores[0]->finished());
  Bytes body{1};
  ByteWriter w(body);
  w.u64(1);
  w.u64(config.model_id);
  w.u64(10);
  w.u32(0);
  FakeSigner signer(node(2));
  c.cores[0]->step(node(2), RoundMessageType::kUpdate, signer.seal(body), c.now);
  CHECK(c.cores[0]->stats().rejected.at("stale") == 1);
}

// A sealed update from `author` for `round` with `values` (float32 codec).
Bytes update_from(std::uint8_t author, std::uint64_t round, std::vector<float> values,
                  std::uint64_t model_id = small_config().model_id, std::uint64_t samples = 10) {
  RoundConfig config = small_config();
  UpdateEncoder encoder(config.codec);
  // Values of another length are encoded as a one-tensor model of that length.
  const ModelLayout layout =
      values.size() == config.layout.total() ? config.layout : ModelLayout{{values.size()}};
  const Bytes payload = encoder.encode(values, layout);
  Bytes body;
  ByteWriter w(body);
  w.u8(1);
  w.u64(round);
  w.u64(model_id);
  w.u64(samples);
  w.u32(static_cast<std::uint32_t>(payload.size()));
  w.raw(payload);
  FakeSigner signer(node(author));
  return signer.seal(body);
}

TEST_CASE("F1: bad updates are refused and counted by reason") {
  RoundConfig config = small_config();
  config.norm_bound = 10;
  Cluster c(4, config);
  c.hold_training.insert(0);
  c.start_all();
  RoundCore& core = *c.cores[0];
  const auto before = core.stats().updates_accepted;

  // Bad updates from a node 5 (unknown to the cluster, but "enrolled" for the fake signer).
  Bytes forged = update_from(5, 1, {1, 1, 1, 1, 1});
  forged[0] = 0xff;
  core.step(node(5), RoundMessageType::kUpdate, forged, c.now);
  core.step(node(0xee), RoundMessageType::kUpdate, update_from(0xee, 1, {1, 1, 1, 1, 1}), c.now);
  core.step(node(5), RoundMessageType::kUpdate, update_from(5, 1, {1, 1, 1}), c.now);  // shape
  core.step(node(5), RoundMessageType::kUpdate,
            update_from(5, 1, {1, 1, 1, 1, 1}, /*model_id=*/7), c.now);
  core.step(node(5), RoundMessageType::kUpdate, update_from(5, 1, {1, NAN, 1, 1, 1}), c.now);
  core.step(node(5), RoundMessageType::kUpdate, update_from(5, 1, {100, 0, 0, 0, 0}), c.now);
  core.step(node(5), RoundMessageType::kUpdate,
            update_from(5, 1, {1, 1, 1, 1, 1}, small_config().model_id, 0), c.now);
  const RoundStats& s = core.stats();
  CHECK(s.rejected.at("forged") == 1);
  CHECK(s.rejected.at("unenrolled") == 1);
  CHECK(s.rejected.at("wrong_model") == 1);
  CHECK(s.rejected.at("non_finite") == 1);
  CHECK(s.rejected.at("norm_bound") == 1);
  CHECK(s.rejected.at("shape") == 2);  // wrong length, zero samples
  CHECK(s.updates_accepted == before);  // none of them counted
  // Node 2's real update was accepted by start_all(); a second one for round 1 is a duplicate.
  core.step(node(2), RoundMessageType::kUpdate, update_from(2, 1, {1, 1, 1, 1, 1}), c.now);
  CHECK(s.rejected.at("duplicate") == 1);
}

TEST_CASE("F5: a node far behind adopts a neighbour's signed model and goes on from there") {
  RoundConfig config = small_config();
  config.future_rounds = 1;
  Cluster c(3, config);
  c.hold_training.insert(2);  // node 2 is stuck in round 1
  // Nodes 0 and 1 do not wait for node 2.
  c.cores[0]->set_peers({node(2)}, c.now);
  c.cores[1]->set_peers({node(1)}, c.now);
  c.start_all();
  for (int r = 0; r < 4; ++r) c.deliver_all();
  CHECK(c.cores[0]->round() >= 4);
  // Node 2 now sees updates several rounds ahead: it asks for the model and jumps.
  c.cores[0]->set_peers({node(2), node(3)}, c.now);
  c.hold_training.clear();
  c.held_orders.clear();
  const std::uint64_t target = c.cores[0]->round();
  // Node 0's next update reaches node 2.
  c.deliver_all();
  CHECK(c.cores[2]->stats().catch_ups == 1);
  CHECK(c.cores[2]->round() >= target);
  CHECK(c.cores[0]->stats().models_served >= 1);
}

TEST_CASE("a node whose local training diverged contributes nothing that round") {
  RoundConfig config = small_config();
  config.rounds = 1;
  Cluster c(2, config);
  c.hold_training.insert(0);
  c.start_all();
  std::vector<float> bad(5, NAN);
  c.cores[0]->on_trained(1, bad, 10, c.now);
  c.deliver_all();
  REQUIRE(c.cores[0]->finished());
  // Node 0's model is node 1's update alone; node 0 sent nothing.
  for (float v : c.cores[0]->params()) CHECK(v == doctest::Approx(0.2f));
  CHECK(c.cores[0]->stats().rejected.at("own_non_finite") == 1);
  CHECK(c.cores[0]->stats().updates_sent == 0);
}

TEST_CASE("model ids differ by name and layout") {
  ModelLayout a{{3, 2}};
  ModelLayout b{{2, 3}};
  CHECK(model_id_of("mlp", a) != model_id_of("cnn", a));
  CHECK(model_id_of("mlp", a) != model_id_of("mlp", b));
  CHECK(model_id_of("mlp", a) == model_id_of("mlp", a));
}

}  // namespace
}  // namespace starling::federated

namespace starling::federated {
namespace {

TEST_CASE("F6: in async mode nodes train on without waiting and mix updates as they come") {
  RoundConfig config = small_config();
  config.mode = RoundMode::kAsync;
  config.rounds = 3;
  Cluster c(3, config);
  c.start_all();
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(c.cores[i]->finished());
    CHECK(c.cores[i]->stats().rounds_completed == 3);
    CHECK(c.cores[i]->stats().updates_accepted > 0);
    // Each node moved by its own three updates at least.
    for (float v : c.cores[i]->params()) CHECK(v > 3 * 0.1f * static_cast<float>(i + 1) - 1e-5f);
  }
}

TEST_CASE("F6: a peer update is mixed with the staleness weight and never twice") {
  RoundConfig config = small_config();
  config.mode = RoundMode::kAsync;
  config.async_mixing = 0.5;
  config.staleness_exponent = 1.0;
  Cluster c(2, config);
  c.hold_training.insert(0);
  c.cores[0]->start(c.now);
  c.pump();  // node 0 is training round 1
  RoundCore& core = *c.cores[0];
  const std::vector<float> before = core.params();
  // An update of round 1 (staleness 0): weight 0.5.
  core.step(node(2), RoundMessageType::kUpdate, update_from(2, 1, {1, 1, 1, 1, 1}), c.now);
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(core.params()[i] == doctest::Approx(before[i] + 0.5f));
  // The same author's round 1 again, or an older round: replayed.
  core.step(node(2), RoundMessageType::kUpdate, update_from(2, 1, {1, 1, 1, 1, 1}), c.now);
  CHECK(core.stats().rejected.at("replayed") == 1);
  // Node 0 finishes two rounds; an update of node 2's round 2 now has staleness 1: weight 0.25.
  c.hold_training.clear();
  c.train(0, c.held_orders.at(0));
  c.pump();
  REQUIRE(core.round() == 3);
  const std::vector<float> mid = core.params();
  core.step(node(2), RoundMessageType::kUpdate, update_from(2, 2, {1, 1, 1, 1, 1}), c.now);
  for (std::size_t i = 0; i < mid.size(); ++i) CHECK(core.params()[i] == doctest::Approx(mid[i] + 0.25f));
}

}  // namespace
}  // namespace starling::federated

namespace starling::federated {
namespace {

TEST_CASE("the adaptive norm filter leaves out updates far above the median norm") {
  RoundConfig config = small_config();
  config.norm_filter = 3;
  config.rounds = 1;
  Cluster c(4, config);
  c.hold_training.insert(3);
  c.start_all();
  // Node 3 sends an update 100x larger than anyone's.
  std::vector<float> huge = c.held_orders.at(3).params;
  for (float& v : huge) v += 100.0f;
  c.cores[3]->on_trained(1, huge, 40, c.now);
  c.deliver_all();
  for (std::size_t i = 0; i < 3; ++i) {
    REQUIRE(c.cores[i]->finished());
    CHECK(c.cores[i]->stats().rejected.at("norm_bound") == 1);
    // The model is the FedAvg of nodes 0-2 only: (0.1*10 + 0.2*20 + 0.3*30) / 60.
    for (float v : c.cores[i]->params()) CHECK(v == doctest::Approx(14.0f / 60.0f).epsilon(1e-5));
  }
}

}  // namespace
}  // namespace starling::federated
