// Helpers shared by the test suites: the run's seed and throwaway directories.
// Header-only and standard-library-only, so that every suite can use it whatever it links.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace starling::testing {

// The seed for randomised tests: STARLING_TEST_SEED when set, else a fixed default, so that
// runs are reproducible. Tests print it (doctest INFO) so a failure names its seed.
inline std::uint64_t test_seed() {
  if (const char* env = std::getenv("STARLING_TEST_SEED")) {
    return std::strtoull(env, nullptr, 10);
  }
  return 20261121;
}

// A fresh directory under the system temporary directory, removed with its contents when the
// object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "starling-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace starling::testing
