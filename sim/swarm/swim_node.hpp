// A simulated starling node running the real membership core over the real wire codec: every
// message is encoded into envelope bytes, carried by the simulated network and decoded again,
// and every member record is an Ed25519-signed record (verified in full, through a cache
// shared by the simulated nodes, or not at all: see VerifyMode). Single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "agent/membership/core.hpp"
#include "agent/wire/envelope.hpp"
#include "agent/wire/map_key_directory.hpp"
#include "agent/wire/membership_codec.hpp"
#include "crypto/identity.hpp"
#include "sim/swarm/checker.hpp"
#include "sim/world.hpp"

namespace starling::sim {

// How simulated nodes check record signatures.
enum class VerifyMode {
  kFull,         // every node verifies every new record itself, as devices do
  kSharedCache,  // the first verification of a byte string runs Ed25519; identical bytes
                 // later verified by any node hit a cache shared by the simulation. Every
                 // other line of the codec and the core still runs. A speed option for
                 // thousands of nodes: in a real swarm each device pays for its own checks.
  kOff,          // no Ed25519 check at all (SignedRecordCodec's verify_signatures = false)
};

// What all simulated nodes share: identities, the key directory (every node is enrolled),
// durable state that survives crashes, the checker, and counters.
struct SwarmShared {
  membership::Config config;
  VerifyMode verify = VerifyMode::kFull;
  std::vector<crypto::Identity> identities;
  wire::MapKeyDirectory keys;
  std::vector<std::string> seeds;           // addresses of the seed nodes
  std::vector<std::uint64_t> durable_incarnation;  // persisted by Ready, survives crashes
  std::unordered_set<std::string> verified_cache;  // VerifyMode::kSharedCache
  World* world = nullptr;
  Checker* checker = nullptr;
  std::uint64_t wire_rejects = 0;
  std::uint64_t verifications = 0;    // Ed25519 checks actually run
  std::uint64_t cache_hits = 0;
  std::map<std::string, std::uint64_t> bytes_by_type;  // message type name -> bytes sent
};

std::string sim_address(NodeIndex node);

// The Process of one simulated node.
class SwimNode final : public Process {
 public:
  SwimNode(Context& context, SwarmShared& shared);
  ~SwimNode() override;

  void on_start() override;
  void on_message(NodeIndex from, const Bytes& payload) override;
  void on_timer(std::uint64_t timer_id) override;

  const membership::Core& core() const { return *core_; }

 private:
  class Codec;  // SignedRecordCodec, with the shared cache of VerifyMode::kSharedCache
  void flush();

  Context& context_;
  SwarmShared& shared_;
  std::unique_ptr<Codec> codec_;
  std::unique_ptr<membership::Core> core_;
  wire::WireLimits limits_;
  std::uint64_t send_sequence_ = 0;
  TimerId timer_;
  Instant timer_at_ = Instant::max();
  std::uint64_t timer_generation_ = 0;
};

}  // namespace starling::sim
