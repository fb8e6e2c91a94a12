#include "agent/daemon/peer_address.hpp"

#include <charconv>

#include "base/bytes.hpp"

namespace starling::daemon {

bool is_peer_endpoint(std::string_view endpoint) {
  constexpr std::string_view kScheme = "tcp://";
  if (!endpoint.starts_with(kScheme)) return false;
  const std::string_view rest = endpoint.substr(kScheme.size());
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view host = rest.substr(0, colon);
  const std::string_view port = rest.substr(colon + 1);
  if (host == "*" || host == "0.0.0.0" || host == "[::]") return false;  // not reachable
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc() && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

std::optional<Seed> parse_seed(std::string_view text) {
  const std::size_t at = text.find('@');
  if (at != 2 * crypto::PublicKey::kSize) return std::nullopt;
  auto bytes = from_hex(text.substr(0, at));
  if (!bytes || bytes->size() != crypto::PublicKey::kSize) return std::nullopt;
  const std::string_view endpoint = text.substr(at + 1);
  if (!is_peer_endpoint(endpoint)) return std::nullopt;
  Seed seed;
  std::copy(bytes->begin(), bytes->end(), seed.key.bytes.begin());
  auto peer = runtime::PeerAddress::from_identity(std::string(endpoint), seed.key);
  if (!peer) return std::nullopt;
  seed.peer = std::move(*peer);
  seed.node = crypto::node_id_of(seed.key);
  return seed;
}

std::string seed_string(const crypto::PublicKey& key, std::string_view endpoint) {
  return key.to_hex() + "@" + std::string(endpoint);
}

}  // namespace starling::daemon
