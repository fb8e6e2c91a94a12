// NodeId parsing and formatting.
#include "base/node_id.hpp"

#include <algorithm>

#include "base/bytes.hpp"

namespace starling {

NodeId NodeId::from_u64(std::uint64_t n) {
  Raw raw{};
  for (int i = 0; i < 8; ++i) raw[kSize - 1 - i] = static_cast<std::uint8_t>(n >> (8 * i));
  return NodeId(raw);
}

std::optional<NodeId> NodeId::from_hex(std::string_view hex) {
  if (hex.size() != 2 * kSize) return std::nullopt;
  auto bytes = starling::from_hex(hex);
  if (!bytes) return std::nullopt;
  Raw raw{};
  std::copy(bytes->begin(), bytes->end(), raw.begin());
  return NodeId(raw);
}

std::string NodeId::to_hex() const { return starling::to_hex(raw_); }

}  // namespace starling
