// Loading and creating device identities.
#include "crypto/identity.hpp"

#include "crypto/files.hpp"

namespace starling::crypto {

namespace fs = std::filesystem;

Result<Identity> Identity::load(const fs::path& data_dir) {
  auto seed = read_seed_file(data_dir / kKeyFile, "device");
  if (!seed) {
    if (seed.status().code() == StatusCode::kNotFound) {
      return error(StatusCode::kNotFound, "no device identity in " + data_dir.string() +
                                              " (create one with: starling keygen --data-dir " +
                                              data_dir.string() + ")");
    }
    return seed.status();
  }
  auto key = SigningKey::from_seed(std::span<const std::uint8_t, 32>(*seed));
  wipe_memory(seed->data(), seed->size());
  if (!key) return key.status();
  return Identity(std::move(key).value());
}

Result<Identity> Identity::load_or_create(const fs::path& data_dir, bool* created) {
  if (created) *created = false;
  auto existing = load(data_dir);
  if (existing || existing.status().code() != StatusCode::kNotFound) return existing;

  STARLING_RETURN_IF_ERROR(ensure_private_directory(data_dir));
  auto key = SigningKey::generate();
  if (!key) return key.status();
  Status written = write_seed_file(data_dir / kKeyFile, "device", key->seed().span());
  if (written.code() == StatusCode::kAlreadyExists) return load(data_dir);  // lost a race
  STARLING_RETURN_IF_ERROR(written);
  STARLING_RETURN_IF_ERROR(
      write_public_key_file(data_dir / kPublicFile, "device", key->public_key(), true));
  if (created) *created = true;
  return Identity(std::move(key).value());
}

Identity Identity::for_simulation(std::uint64_t seed, std::uint64_t index) {
  return Identity(SigningKey::for_simulation(seed, index));
}

}  // namespace starling::crypto
