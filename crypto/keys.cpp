// Ed25519 primitives over libsodium. Every libsodium return code is checked.
#include "crypto/keys.hpp"

#include <sodium.h>

#include <algorithm>

namespace starling::crypto {

Status ensure_sodium() {
  static const int result = sodium_init();  // thread-safe initialisation of a static
  if (result < 0) return error(StatusCode::kInternal, "libsodium failed to initialise");
  return Status::ok();
}

void wipe_memory(void* p, std::size_t n) noexcept { sodium_memzero(p, n); }

namespace {

template <std::size_t N>
std::array<std::uint8_t, N> domain_hash(std::string_view domain, ByteSpan a, ByteSpan b = {}) {
  STARLING_ASSERT(ensure_sodium().is_ok(), "libsodium unavailable");
  std::array<std::uint8_t, N> out{};
  crypto_generichash_state state;
  // These calls fail only for out-of-range output or key lengths, which are constants here.
  STARLING_ASSERT(crypto_generichash_init(&state, nullptr, 0, N) == 0, "generichash init");
  crypto_generichash_update(&state, reinterpret_cast<const std::uint8_t*>(domain.data()),
                            domain.size());
  crypto_generichash_update(&state, a.data(), a.size());
  if (!b.empty()) crypto_generichash_update(&state, b.data(), b.size());
  STARLING_ASSERT(crypto_generichash_final(&state, out.data(), N) == 0, "generichash final");
  return out;
}

}  // namespace

NodeId node_id_of(const PublicKey& key) {
  return NodeId(domain_hash<NodeId::kSize>("starling.node-id.v1", key.bytes));
}

FleetId fleet_id_of(const PublicKey& fleet_root_key) {
  return FleetId{domain_hash<FleetId::kSize>("starling.fleet-id.v1", fleet_root_key.bytes)};
}

bool verify_detached(const PublicKey& key, ByteSpan message, const Signature& signature) {
  if (!ensure_sodium().is_ok()) return false;
  return crypto_sign_verify_detached(signature.bytes.data(), message.data(), message.size(),
                                     key.bytes.data()) == 0;
}

Result<std::array<std::uint8_t, 32>> curve_public_of(const PublicKey& key) {
  STARLING_RETURN_IF_ERROR(ensure_sodium());
  std::array<std::uint8_t, 32> out{};
  if (crypto_sign_ed25519_pk_to_curve25519(out.data(), key.bytes.data()) != 0) {
    return error(StatusCode::kInvalidArgument, "public key is not a valid Ed25519 point");
  }
  return out;
}

Result<SigningKey> SigningKey::generate() {
  STARLING_RETURN_IF_ERROR(ensure_sodium());
  SecretBytes<kSeedSize> seed;
  randombytes_buf(seed.data(), seed.size());
  return from_seed(seed.span());
}

Result<SigningKey> SigningKey::from_seed(std::span<const std::uint8_t, kSeedSize> seed) {
  STARLING_RETURN_IF_ERROR(ensure_sodium());
  SigningKey key;
  std::copy(seed.begin(), seed.end(), key.seed_.data());
  if (crypto_sign_seed_keypair(key.public_key_.bytes.data(), key.secret_key_.data(),
                               key.seed_.data()) != 0) {
    return error(StatusCode::kInternal, "crypto_sign_seed_keypair failed");
  }
  return key;
}

SigningKey SigningKey::for_simulation(std::uint64_t seed, std::uint64_t index) {
  std::array<std::uint8_t, 16> input{};
  for (int i = 0; i < 8; ++i) {
    input[i] = static_cast<std::uint8_t>(seed >> (8 * i));
    input[8 + i] = static_cast<std::uint8_t>(index >> (8 * i));
  }
  auto derived = domain_hash<kSeedSize>("starling.sim-key.v1", input);
  auto key = from_seed(std::span<const std::uint8_t, kSeedSize>(derived));
  wipe_memory(derived.data(), derived.size());
  STARLING_ASSERT(key.is_ok(), "deterministic key derivation failed");
  return std::move(key).value();
}

Signature SigningKey::sign(ByteSpan message) const {
  Signature signature;
  // crypto_sign_detached cannot fail for a well-formed secret key, which this class guarantees.
  const int rc = crypto_sign_detached(signature.bytes.data(), nullptr, message.data(),
                                      message.size(), secret_key_.data());
  STARLING_ASSERT(rc == 0, "crypto_sign_detached failed");
  return signature;
}

Result<CurveKeyPair> SigningKey::curve_key_pair() const {
  STARLING_RETURN_IF_ERROR(ensure_sodium());
  CurveKeyPair pair;
  if (crypto_sign_ed25519_pk_to_curve25519(pair.public_key.data(), public_key_.bytes.data()) != 0 ||
      crypto_sign_ed25519_sk_to_curve25519(pair.secret_key.data(), secret_key_.data()) != 0) {
    return error(StatusCode::kInternal, "Ed25519 to X25519 conversion failed");
  }
  return pair;
}

}  // namespace starling::crypto
