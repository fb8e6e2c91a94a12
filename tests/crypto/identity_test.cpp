// Tests for device identities on disk: creation, loading, and refusal of unsafe or damaged
// key files. Permission checks are made by the code (stat), so they hold when run as root.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "crypto/files.hpp"
#include "crypto/identity.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"
#include "tests/crypto/file_helpers.hpp"

namespace starling::crypto {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

using testing::mode_of;
using testing::read_text;

// Writes `contents` as the key file of `dir` with mode 0600, replacing what is there.
void write_key_file(const fs::path& dir, const std::string& contents) {
  REQUIRE_OK(write_file_atomic(dir / Identity::kKeyFile, contents, 0600, /*overwrite=*/true));
}

TEST_CASE("load_or_create creates a private key file and a public key file") {
  TempDir temp;
  const fs::path dir = temp / "data";
  bool created = false;
  auto identity = Identity::load_or_create(dir, &created);
  REQUIRE_OK(identity);
  CHECK(created);
  CHECK(mode_of(dir) == 0700);
  CHECK(mode_of(dir / Identity::kKeyFile) == 0600);
  REQUIRE(fs::is_regular_file(dir / Identity::kPublicFile));
  CHECK(identity->node_id() == node_id_of(identity->public_key()));

  auto pub = read_public_key_file(dir / Identity::kPublicFile, "device");
  REQUIRE_OK(pub);
  CHECK(*pub == identity->public_key());

  const std::string key_text = read_text(dir / Identity::kKeyFile);
  CHECK(key_text.rfind("starling-ed25519-seed-v1 device\n", 0) == 0);
  CHECK(key_text.size() == std::string("starling-ed25519-seed-v1 device\n").size() + 65);
}

TEST_CASE("a second load_or_create loads the same identity") {
  TempDir temp;
  bool created = false;
  auto first = Identity::load_or_create(temp.path(), &created);
  REQUIRE_OK(first);
  CHECK(created);
  const std::string key_text = read_text(temp / "identity.key");

  created = true;
  auto second = Identity::load_or_create(temp.path(), &created);
  REQUIRE_OK(second);
  CHECK_FALSE(created);
  CHECK(second->node_id() == first->node_id());
  CHECK(second->public_key() == first->public_key());
  CHECK(read_text(temp / "identity.key") == key_text);  // never replaced

  auto loaded = Identity::load(temp.path());
  REQUIRE_OK(loaded);
  CHECK(loaded->node_id() == first->node_id());
  const ByteSpan message = as_bytes("hello");
  CHECK(verify_detached(first->public_key(), message, loaded->sign(message)));
}

TEST_CASE("load_or_create works without the created flag") {
  TempDir temp;
  auto identity = Identity::load_or_create(temp.path());
  REQUIRE_OK(identity);
  CHECK(fs::exists(temp / "identity.key"));
}

TEST_CASE("load on an empty directory is kNotFound") {
  TempDir temp;
  auto identity = Identity::load(temp.path());
  CHECK_CODE(identity, StatusCode::kNotFound);
  CHECK(identity.status().message().find(temp.path().string()) != std::string::npos);
  CHECK_CODE(Identity::load(temp / "missing"), StatusCode::kNotFound);
  CHECK_FALSE(fs::exists(temp / "identity.key"));  // load never creates
}

TEST_CASE("a key file readable by others is refused and named") {
  TempDir temp;
  REQUIRE_OK(Identity::load_or_create(temp.path()));
  const fs::path key_file = temp / "identity.key";
  const std::string before = read_text(key_file);
  for (unsigned mode : {0644u, 0640u, 0604u, 0660u, 0606u}) {
    CAPTURE(mode);
    REQUIRE(::chmod(key_file.c_str(), mode) == 0);
    bool created = true;
    auto identity = Identity::load_or_create(temp.path(), &created);
    CHECK_CODE(identity, StatusCode::kPermissionDenied);
    CHECK(identity.status().message().find(key_file.string()) != std::string::npos);
    CHECK_FALSE(created);
    CHECK_CODE(Identity::load(temp.path()), StatusCode::kPermissionDenied);
  }
  CHECK(read_text(key_file) == before);
  REQUIRE(::chmod(key_file.c_str(), 0400) == 0);  // owner-only read is fine
  CHECK_OK(Identity::load(temp.path()));
}

TEST_CASE("a corrupted key file is kCorrupt and is never replaced") {
  TempDir temp;
  const std::string hex(64, 'a');
  struct Case {
    const char* what;
    std::string contents;
  };
  const Case cases[] = {
      {"empty file", ""},
      {"wrong magic", "starling-ed25519-seed-v2 device\n" + hex + "\n"},
      {"wrong kind", "starling-ed25519-seed-v1 fleet\n" + hex + "\n"},
      {"public key file", "starling-ed25519-public-v1 device\n" + hex + "\n"},
      {"no header", hex + "\n"},
      {"short hex", "starling-ed25519-seed-v1 device\n" + hex.substr(2) + "\n"},
      {"long hex", "starling-ed25519-seed-v1 device\n" + hex + "aa\n"},
      {"odd hex", "starling-ed25519-seed-v1 device\n" + hex.substr(1) + "\n"},
      {"non-hex", "starling-ed25519-seed-v1 device\n" + hex.substr(2) + "zz\n"},
      {"space in hex", "starling-ed25519-seed-v1 device\n" + hex.substr(1) + " \n"},
      {"no final newline", "starling-ed25519-seed-v1 device\n" + hex + "x"},
      {"CRLF", "starling-ed25519-seed-v1 device\r\n" + hex + "\n"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    write_key_file(temp.path(), c.contents);
    auto loaded = Identity::load(temp.path());
    CHECK_CODE(loaded, StatusCode::kCorrupt);
    CHECK(loaded.status().message().find((temp / "identity.key").string()) != std::string::npos);
    bool created = true;
    CHECK_CODE(Identity::load_or_create(temp.path(), &created), StatusCode::kCorrupt);
    CHECK_FALSE(created);
    CHECK(read_text(temp / "identity.key") == c.contents);
  }
  // The same layout with a valid seed loads, so the cases above fail for their defect.
  write_key_file(temp.path(), "starling-ed25519-seed-v1 device\n" + hex + "\n");
  CHECK_OK(Identity::load(temp.path()));
  write_key_file(temp.path(), "starling-ed25519-seed-v1 device\n" + std::string(64, 'A') + "\n");
  CHECK_OK(Identity::load(temp.path()));
}

TEST_CASE("a symlinked key file is refused") {
  TempDir temp;
  const fs::path real_dir = temp / "real";
  const fs::path linked_dir = temp / "linked";
  auto real = Identity::load_or_create(real_dir);
  REQUIRE_OK(real);
  fs::create_directory(linked_dir);
  fs::create_symlink(real_dir / "identity.key", linked_dir / "identity.key");

  auto loaded = Identity::load(linked_dir);
  CHECK_CODE(loaded, StatusCode::kPermissionDenied);
  CHECK(loaded.status().message().find((linked_dir / "identity.key").string()) !=
        std::string::npos);
  bool created = true;
  CHECK_CODE(Identity::load_or_create(linked_dir, &created), StatusCode::kPermissionDenied);
  CHECK_FALSE(created);
  CHECK(fs::is_symlink(linked_dir / "identity.key"));

  // A dangling link is refused too, rather than replaced by a new key.
  const fs::path dangling_dir = temp / "dangling";
  fs::create_directory(dangling_dir);
  fs::create_symlink(temp / "nowhere", dangling_dir / "identity.key");
  CHECK_CODE(Identity::load_or_create(dangling_dir), StatusCode::kPermissionDenied);
  CHECK_FALSE(fs::exists(temp / "nowhere"));
}

TEST_CASE("load_or_create refuses a data dir that is a file") {
  TempDir temp;
  REQUIRE_OK(write_file_atomic(temp / "plain", "x", 0600, false));
  auto identity = Identity::load_or_create(temp / "plain");
  CHECK_FALSE(identity.is_ok());
}

TEST_CASE("for_simulation identities are deterministic") {
  const Identity a = Identity::for_simulation(7, 1);
  const Identity b = Identity::for_simulation(7, 1);
  const Identity c = Identity::for_simulation(7, 2);
  CHECK(a.node_id() == b.node_id());
  CHECK(a.node_id() != c.node_id());
  CHECK(a.public_key() == SigningKey::for_simulation(7, 1).public_key());
  CHECK(a.node_id() == node_id_of(a.public_key()));
}

}  // namespace
}  // namespace starling::crypto
