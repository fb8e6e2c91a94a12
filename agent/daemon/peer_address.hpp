// Seeds and peer addresses as operators write them: "KEY@tcp://HOST:PORT", where KEY is the
// peer's Ed25519 public key in 64 hex digits (the "public_key" of `starling keygen --json`, or
// the second line of the peer's DATA_DIR/identity.pub). CurveZMQ needs the server's key before it connects, so a seed is its address AND its
// key; the key also names the node (node id = BLAKE2b-128 of the key). Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/runtime/transport.hpp"
#include "base/node_id.hpp"
#include "crypto/keys.hpp"

namespace starling::daemon {

struct Seed {
  crypto::PublicKey key;      // Ed25519
  NodeId node;                // node_id_of(key)
  runtime::PeerAddress peer;  // endpoint and X25519 key for the transport
};

// Whether `endpoint` is "tcp://HOST:PORT" with a non-empty HOST (an IPv4 literal, a bracketed
// IPv6 literal or a host name) and a PORT in 1..65535.
bool is_peer_endpoint(std::string_view endpoint);

// Parses "KEY@tcp://HOST:PORT"; nullopt when the form, the key (not a valid Ed25519 point) or
// the endpoint is wrong.
std::optional<Seed> parse_seed(std::string_view text);

// The seed form of a peer: "KEY@ENDPOINT".
std::string seed_string(const crypto::PublicKey& key, std::string_view endpoint);

}  // namespace starling::daemon
