// Tests for the careful file helpers: atomic writes, bounded reads, secret-file checks and the
// key file formats.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <array>
#include <filesystem>
#include <string>

#include "crypto/files.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"
#include "tests/crypto/file_helpers.hpp"

namespace starling::crypto {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

using testing::mode_of;
using testing::read_text;

std::size_t entries_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST_CASE("write_file_atomic writes the contents with the requested mode") {
  TempDir temp;
  const fs::path file = temp / "doc";
  REQUIRE_OK(write_file_atomic(file, "first", 0640, /*overwrite=*/false));
  CHECK(read_text(file) == "first");
  CHECK(mode_of(file) == 0640);  // set explicitly, whatever the umask
  CHECK(entries_in(temp.path()) == 1);  // no temporary file left behind

  REQUIRE_OK(write_file_atomic(temp / "empty", "", 0600, false));
  CHECK(read_text(temp / "empty").empty());
  CHECK(mode_of(temp / "empty") == 0600);
}

TEST_CASE("write_file_atomic without overwrite refuses an existing file") {
  TempDir temp;
  const fs::path file = temp / "doc";
  REQUIRE_OK(write_file_atomic(file, "original", 0600, false));
  const Status again = write_file_atomic(file, "replacement", 0644, false);
  CHECK_CODE(again, StatusCode::kAlreadyExists);
  CHECK(again.message().find(file.string()) != std::string::npos);
  CHECK(read_text(file) == "original");
  CHECK(mode_of(file) == 0600);
  CHECK(entries_in(temp.path()) == 1);
}

TEST_CASE("write_file_atomic with overwrite replaces the file") {
  TempDir temp;
  const fs::path file = temp / "doc";
  REQUIRE_OK(write_file_atomic(file, "original", 0600, false));
  REQUIRE_OK(write_file_atomic(file, "replacement", 0644, true));
  CHECK(read_text(file) == "replacement");
  CHECK(mode_of(file) == 0644);
  CHECK(entries_in(temp.path()) == 1);
}

TEST_CASE("write_file_atomic into a missing directory fails cleanly") {
  TempDir temp;
  const Status status = write_file_atomic(temp / "missing" / "doc", "x", 0600, false);
  CHECK_FALSE(status.is_ok());
  CHECK_FALSE(fs::exists(temp / "missing"));
}

TEST_CASE("read_file enforces its size limit") {
  TempDir temp;
  const fs::path file = temp / "doc";
  REQUIRE_OK(write_file_atomic(file, std::string(100, 'x'), 0644, false));
  auto exact = read_file(file, 100);
  REQUIRE_OK(exact);
  CHECK(exact->size() == 100);
  auto over = read_file(file, 99);
  CHECK_CODE(over, StatusCode::kTooLarge);
  CHECK(over.status().message().find(file.string()) != std::string::npos);
  CHECK_CODE(read_file(file, 0), StatusCode::kTooLarge);
}

TEST_CASE("read_file reports missing files and directories") {
  TempDir temp;
  CHECK_CODE(read_file(temp / "missing", 100), StatusCode::kNotFound);
  CHECK_CODE(read_file(temp.path(), 100), StatusCode::kInvalidArgument);
}

TEST_CASE("read_secret_file accepts only owner-only regular files") {
  TempDir temp;
  const fs::path file = temp / "secret";
  REQUIRE_OK(write_file_atomic(file, "s3cret", 0600, false));
  auto ok = read_secret_file(file, 100);
  REQUIRE_OK(ok);
  CHECK(*ok == "s3cret");

  for (unsigned mode : {0640u, 0644u, 0604u, 0620u, 0602u, 0610u, 0601u, 0666u}) {
    CAPTURE(mode);
    REQUIRE(::chmod(file.c_str(), mode) == 0);
    auto refused = read_secret_file(file, 100);
    CHECK_CODE(refused, StatusCode::kPermissionDenied);
    CHECK(refused.status().message().find(file.string()) != std::string::npos);
  }
  REQUIRE(::chmod(file.c_str(), 0400) == 0);
  CHECK_OK(read_secret_file(file, 100));
  REQUIRE(::chmod(file.c_str(), 0600) == 0);
  CHECK_CODE(read_secret_file(file, 3), StatusCode::kTooLarge);
  CHECK_CODE(read_secret_file(temp / "missing", 100), StatusCode::kNotFound);
  CHECK_CODE(read_secret_file(temp.path(), 100), StatusCode::kPermissionDenied);

  fs::create_symlink(file, temp / "link");
  CHECK_CODE(read_secret_file(temp / "link", 100), StatusCode::kPermissionDenied);
}

TEST_CASE("ensure_private_directory creates missing directories with mode 0700") {
  TempDir temp;
  const fs::path dir = temp / "a" / "b" / "c";
  REQUIRE_OK(ensure_private_directory(dir));
  CHECK(fs::is_directory(dir));
  CHECK(mode_of(dir) == 0700);
  CHECK_OK(ensure_private_directory(dir));  // already there
  REQUIRE_OK(write_file_atomic(temp / "file", "x", 0600, false));
  CHECK_CODE(ensure_private_directory(temp / "file"), StatusCode::kInvalidArgument);
}

TEST_CASE("seed files round-trip and are written 0600 once") {
  TempDir temp;
  std::array<std::uint8_t, 32> seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i * 7 + 1);
  const fs::path file = temp / "fleet.key";
  REQUIRE_OK(write_seed_file(file, "fleet", seed));
  CHECK(mode_of(file) == 0600);
  CHECK(read_text(file) == "starling-ed25519-seed-v1 fleet\n" + to_hex(seed) + "\n");
  auto back = read_seed_file(file, "fleet");
  REQUIRE_OK(back);
  CHECK(*back == seed);

  CHECK_CODE(read_seed_file(file, "device"), StatusCode::kCorrupt);
  std::array<std::uint8_t, 32> other{};
  CHECK_CODE(write_seed_file(file, "fleet", other), StatusCode::kAlreadyExists);
  CHECK(*read_seed_file(file, "fleet") == seed);
}

TEST_CASE("public key files round-trip") {
  TempDir temp;
  PublicKey key;
  for (std::size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<std::uint8_t>(i);
  const fs::path file = temp / "fleet.pub";
  REQUIRE_OK(write_public_key_file(file, "fleet", key, false));
  CHECK(mode_of(file) == 0644);
  auto back = read_public_key_file(file, "fleet");
  REQUIRE_OK(back);
  CHECK(*back == key);
  CHECK_CODE(read_public_key_file(file, "device"), StatusCode::kCorrupt);
  CHECK_CODE(write_public_key_file(file, "fleet", PublicKey{}, false), StatusCode::kAlreadyExists);
  REQUIRE_OK(write_public_key_file(file, "fleet", PublicKey{}, true));
  CHECK(*read_public_key_file(file, "fleet") == PublicKey{});
  // A seed file is not a public key file.
  REQUIRE_OK(write_seed_file(temp / "x.key", "fleet", key.bytes));
  CHECK_CODE(read_public_key_file(temp / "x.key", "fleet"), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace starling::crypto
