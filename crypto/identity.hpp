// A device's identity: its Ed25519 key pair, stored in the data directory, and the node id
// derived from the public key. Movable, not copyable; safe to share const across threads.
//
// On disk (DATA_DIR/identity.key, mode 0600): the line "starling-ed25519-seed-v1 device" and
// the 32-byte seed in hex. DATA_DIR/identity.pub holds the public key for enrolment.
#pragma once

#include <cstdint>
#include <filesystem>

#include "base/node_id.hpp"
#include "crypto/keys.hpp"

namespace starling::crypto {

class Identity {
 public:
  static constexpr std::string_view kKeyFile = "identity.key";
  static constexpr std::string_view kPublicFile = "identity.pub";

  // Loads the identity stored in `data_dir`, creating the directory (mode 0700) and a new key
  // pair on first use. Refuses a key file with unsafe permissions or a wrong format with a
  // message that names the file; never replaces an existing key. Sets *created when it made one.
  static Result<Identity> load_or_create(const std::filesystem::path& data_dir,
                                         bool* created = nullptr);
  // Loads an existing identity; kNotFound when `data_dir` has none.
  static Result<Identity> load(const std::filesystem::path& data_dir);
  // A deterministic identity for simulated node `index` of a run with `seed` (never on disk).
  static Identity for_simulation(std::uint64_t seed, std::uint64_t index);

  const PublicKey& public_key() const noexcept { return key_.public_key(); }
  const NodeId& node_id() const noexcept { return node_id_; }
  const SigningKey& signing_key() const noexcept { return key_; }
  Signature sign(ByteSpan message) const { return key_.sign(message); }

 private:
  explicit Identity(SigningKey key) : key_(std::move(key)), node_id_(node_id_of(key_.public_key())) {}
  SigningKey key_;
  NodeId node_id_;
};

}  // namespace starling::crypto
