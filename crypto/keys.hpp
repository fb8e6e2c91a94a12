// Ed25519 keys, signatures and the identifiers derived from them: the primitives under every
// signed thing in Starling. All functions are thread-safe (libsodium is, after ensure_sodium()).
// Secret key material lives only in SecretBytes, which wipes itself with sodium_memzero.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <span>
#include <string>

#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/status.hpp"

namespace starling::crypto {

// Initialises libsodium once per process; cheap to call again. Every entry point of this
// library calls it, so callers need not, but a failure here is reported once, clearly.
Status ensure_sodium();

// A fixed-size secret buffer that is wiped on destruction and on move-from.
// Not copyable, so secrets are not duplicated by accident.
template <std::size_t N>
class SecretBytes {
 public:
  SecretBytes() = default;
  ~SecretBytes() { wipe(); }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept : bytes_(other.bytes_) { other.wipe(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      bytes_ = other.bytes_;
      other.wipe();
    }
    return *this;
  }
  std::uint8_t* data() noexcept { return bytes_.data(); }
  const std::uint8_t* data() const noexcept { return bytes_.data(); }
  static constexpr std::size_t size() noexcept { return N; }
  std::span<const std::uint8_t, N> span() const noexcept { return std::span<const std::uint8_t, N>(bytes_); }

 private:
  void wipe() noexcept;
  std::array<std::uint8_t, N> bytes_{};
};

// Wipes `n` bytes at `p` in a way the compiler cannot elide (sodium_memzero).
void wipe_memory(void* p, std::size_t n) noexcept;

template <std::size_t N>
void SecretBytes<N>::wipe() noexcept {
  wipe_memory(bytes_.data(), N);
}

struct PublicKey {
  static constexpr std::size_t kSize = 32;
  std::array<std::uint8_t, kSize> bytes{};
  friend auto operator<=>(const PublicKey&, const PublicKey&) = default;
  std::string to_hex() const { return starling::to_hex(bytes); }
};

struct Signature {
  static constexpr std::size_t kSize = 64;
  std::array<std::uint8_t, kSize> bytes{};
  friend bool operator==(const Signature&, const Signature&) = default;
};

// A fleet's identifier: a domain-separated 128-bit hash of the fleet root public key.
struct FleetId {
  static constexpr std::size_t kSize = 16;
  std::array<std::uint8_t, kSize> bytes{};
  friend auto operator<=>(const FleetId&, const FleetId&) = default;
  std::string to_hex() const { return starling::to_hex(bytes); }
};

// A device's node id: BLAKE2b-128 over "starling.node-id.v1" and the public key.
NodeId node_id_of(const PublicKey& key);

// A fleet's id: BLAKE2b-128 over "starling.fleet-id.v1" and the fleet root public key.
FleetId fleet_id_of(const PublicKey& fleet_root_key);

// True when `signature` is a valid Ed25519 signature of exactly `message` by `key`.
bool verify_detached(const PublicKey& key, ByteSpan message, const Signature& signature);

// X25519 keys for CurveZMQ, converted from an Ed25519 pair (same device, one identity).
struct CurveKeyPair {
  std::array<std::uint8_t, 32> public_key{};
  SecretBytes<32> secret_key;
};

// Converts an Ed25519 public key to its X25519 form (to authorise a peer's CurveZMQ key).
Result<std::array<std::uint8_t, 32>> curve_public_of(const PublicKey& key);

// An Ed25519 key pair. Movable, not copyable; the secret is wiped when it goes away.
class SigningKey {
 public:
  static constexpr std::size_t kSeedSize = 32;

  // A new key pair from libsodium's system random generator.
  static Result<SigningKey> generate();
  // The key pair determined by a 32-byte seed (crypto_sign_seed_keypair).
  static Result<SigningKey> from_seed(std::span<const std::uint8_t, kSeedSize> seed);
  // A deterministic key pair for the simulator and tests: the seed is BLAKE2b-256 over
  // "starling.sim-key.v1", `seed` and `index`. Never use it for a real device.
  static SigningKey for_simulation(std::uint64_t seed, std::uint64_t index);

  const PublicKey& public_key() const noexcept { return public_key_; }
  Signature sign(ByteSpan message) const;
  // The 32-byte seed, for storing the key; the only way secret material leaves this class.
  const SecretBytes<kSeedSize>& seed() const noexcept { return seed_; }
  Result<CurveKeyPair> curve_key_pair() const;

 private:
  SigningKey() = default;
  PublicKey public_key_;
  SecretBytes<kSeedSize> seed_;
  SecretBytes<64> secret_key_;  // libsodium's seed || public key form
};

}  // namespace starling::crypto
