// Careful file I/O for key material and signed documents: size-bounded reads, permission
// checks on secrets, and atomic writes (temporary file, fsync, rename, fsync of the directory)
// so that a crash never leaves a half-written key or certificate behind.
// Thread-compatible: functions touch only the paths they are given.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "crypto/keys.hpp"

namespace starling::crypto {

// Reads a whole file of at most `max_bytes`. kNotFound when it does not exist, kTooLarge when
// it is bigger than the limit (checked with stat before reading), kIoError otherwise.
Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes);

// As read_file, and refuses (kPermissionDenied) a file that is not a regular file or that its
// group or others can read or write: such a secret must be treated as leaked.
Result<std::string> read_secret_file(const std::filesystem::path& path, std::size_t max_bytes);

// Writes `contents` to `path` atomically with the given mode. With `overwrite` false, an
// existing file is kept and kAlreadyExists returned.
Status write_file_atomic(const std::filesystem::path& path, std::string_view contents,
                         unsigned mode, bool overwrite);

// Creates `dir` (and parents) if needed; a directory created here gets mode 0700.
Status ensure_private_directory(const std::filesystem::path& dir);

// Seed files: a first line naming the kind ("starling-ed25519-seed-v1 device") and a line of
// 64 hex digits. Written with mode 0600.
Status write_seed_file(const std::filesystem::path& path, std::string_view kind,
                       std::span<const std::uint8_t, 32> seed);
// Reads a seed file written by write_seed_file for `kind`, with the checks of read_secret_file;
// kCorrupt (naming the file) when its format is wrong. The result must be wiped by the caller.
Result<std::array<std::uint8_t, 32>> read_seed_file(const std::filesystem::path& path,
                                                    std::string_view kind);

// Public key files: "starling-ed25519-public-v1 KIND" and a line of 64 hex digits (mode 0644).
Status write_public_key_file(const std::filesystem::path& path, std::string_view kind,
                             const PublicKey& key, bool overwrite);
Result<PublicKey> read_public_key_file(const std::filesystem::path& path, std::string_view kind);

}  // namespace starling::crypto
