// Federated learning inside the agent: the round protocol (federated::RoundCore) on the agent's
// event loop thread, and a worker thread that owns the libtorch Learner and the device's data:
// it loads the data, trains, evaluates and writes model checkpoints, so that heartbeats and
// gossip never wait for a training epoch. Jobs go to the worker through a queue; results come
// back to the loop with boost::asio::post. Nothing else touches the learner or the data.
//
// Threading contract: every public method is called on the loop thread that runs `io`.
// Single instance per agent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "agent/daemon/config.hpp"
#include "agent/runtime/control.hpp"
#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/status.hpp"
#include "crypto/identity.hpp"
#include "crypto/signed_record.hpp"
#include "federated/core/round.hpp"

namespace starling::daemon {

class Learning {
 public:
  // Sends a round message to a peer (the agent wraps it in an envelope of type 63 + type).
  using Send = std::function<void(const NodeId& to, federated::RoundMessageType type,
                                  const Bytes& bytes)>;
  // Publishes progress in the membership metadata (fl.round, fl.acc).
  using Publish = std::function<void(std::uint64_t round, double accuracy)>;

  // Starts the worker, which loads the data and builds the model; rounds start once it is
  // ready. `identity` and `keys` must outlive this. Errors: an invalid codec or aggregator
  // (validated by the config already).
  static Result<std::unique_ptr<Learning>> open(boost::asio::io_context& io,
                                                const DaemonConfig::Learning& config,
                                                const std::filesystem::path& data_dir,
                                                const crypto::Identity& identity,
                                                const crypto::KeyDirectory& keys, Send send,
                                                Publish publish);
  // Stops the worker (waits for the job in progress).
  ~Learning();
  Learning(const Learning&) = delete;
  Learning& operator=(const Learning&) = delete;

  // The live members that run the same model (from membership), this node excluded.
  void set_peers(std::vector<NodeId> peers);
  // A round message from an authenticated peer.
  void on_message(const NodeId& from, federated::RoundMessageType type, ByteSpan bytes);

  const std::string& model() const;
  // For `starling model`; nullopt-free: before the worker is ready the view says so.
  runtime::ModelView view() const;
  std::optional<std::uint64_t> round() const;
  std::optional<double> accuracy() const;

 private:
  struct State;
  explicit Learning(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace starling::daemon
