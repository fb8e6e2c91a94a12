// Tests of seed parsing (agent/daemon/peer_address.hpp): the KEY@tcp://HOST:PORT form, bad
// keys, bad endpoints, and that the parsed seed names the key's node and Curve key.
#include <doctest/doctest.h>

#include "agent/daemon/peer_address.hpp"
#include "crypto/identity.hpp"

namespace starling::daemon {
namespace {

TEST_CASE("a seed is the peer's public key and endpoint") {
  const crypto::Identity id = crypto::Identity::for_simulation(7, 1);
  const std::string text = seed_string(id.public_key(), "tcp://127.0.0.1:7946");
  auto seed = parse_seed(text);
  REQUIRE(seed.has_value());
  CHECK(seed->node == id.node_id());
  CHECK(seed->key == id.public_key());
  CHECK(seed->peer.endpoint == "tcp://127.0.0.1:7946");
  auto curve = crypto::curve_public_of(id.public_key());
  REQUIRE(curve);
  CHECK(seed->peer.curve_public == *curve);
  CHECK(parse_seed(seed_string(id.public_key(), "tcp://gw-3.plant.example:7946")).has_value());
  CHECK(parse_seed(seed_string(id.public_key(), "tcp://[fd00::1]:7946")).has_value());
}

TEST_CASE("malformed seeds are refused") {
  const std::string key = crypto::Identity::for_simulation(7, 1).public_key().to_hex();
  for (const std::string& bad : {
           std::string("tcp://127.0.0.1:7946"),               // no key
           key + "tcp://127.0.0.1:7946",                      // no @
           key.substr(2) + "@tcp://127.0.0.1:7946",           // short key
           std::string(64, 'g') + "@tcp://127.0.0.1:7946",    // not hex
           key + "@udp://127.0.0.1:7946",                     // not tcp
           key + "@tcp://127.0.0.1",                          // no port
           key + "@tcp://127.0.0.1:0",                        // port 0 is not reachable
           key + "@tcp://127.0.0.1:65536",                    // port out of range
           key + "@tcp://0.0.0.0:7946",                       // a wildcard is not an address
           key + "@tcp://*:7946",
           key + "@tcp://host name:7946",                     // space
       }) {
    CAPTURE(bad);
    CHECK_FALSE(parse_seed(bad).has_value());
  }
  // Not every 32-byte string is a point of Ed25519: such a key has no Curve form.
  CHECK_FALSE(parse_seed(std::string(64, 'f') + "@tcp://127.0.0.1:7946").has_value());
}

}  // namespace
}  // namespace starling::daemon
