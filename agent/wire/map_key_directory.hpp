// MapKeyDirectory: a crypto::KeyDirectory over a std::map, for the simulator (thousands of
// simulated nodes, keys from Identity::for_simulation) and tests. The agent's real directory
// is built from verified certificates instead. Single-threaded; safe to share const.
#pragma once

#include <cstddef>
#include <map>

#include "base/node_id.hpp"
#include "crypto/identity.hpp"
#include "crypto/keys.hpp"
#include "crypto/signed_record.hpp"

namespace starling::wire {

class MapKeyDirectory final : public crypto::KeyDirectory {
 public:
  // Adds (or replaces) `key` under its node id, crypto::node_id_of(key), so that an entry
  // can never name the wrong node. Costs one BLAKE2b hash.
  void add(const crypto::PublicKey& key);
  void add(const crypto::Identity& identity) { keys_[identity.node_id()] = identity.public_key(); }
  // Removes `id`'s key; returns whether there was one.
  bool remove(const NodeId& id) { return keys_.erase(id) > 0; }

  const crypto::PublicKey* find_key(const NodeId& author) const override;
  std::size_t size() const noexcept { return keys_.size(); }

 private:
  std::map<NodeId, crypto::PublicKey> keys_;
};

}  // namespace starling::wire
