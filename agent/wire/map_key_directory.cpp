// MapKeyDirectory (see map_key_directory.hpp).
#include "agent/wire/map_key_directory.hpp"

namespace starling::wire {

void MapKeyDirectory::add(const crypto::PublicKey& key) { keys_[crypto::node_id_of(key)] = key; }

const crypto::PublicKey* MapKeyDirectory::find_key(const NodeId& author) const {
  auto it = keys_.find(author);
  return it == keys_.end() ? nullptr : &it->second;
}

}  // namespace starling::wire
