// File helpers shared by the crypto test suite: a path's permission bits and a small file's text.
// Header-only; uses doctest's REQUIRE, so call only from inside test cases.
#pragma once

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "crypto/files.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling::testing {

// The permission bits of `path` (not following a symlink).
inline unsigned mode_of(const std::filesystem::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode & 07777);
}

// The text of a file of at most 1 MiB.
inline std::string read_text(const std::filesystem::path& path) {
  auto text = crypto::read_file(path, 1 << 20);
  REQUIRE_OK(text);
  return *text;
}

}  // namespace starling::testing
