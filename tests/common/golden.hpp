// Golden transcripts shared by the protocol suites: compare a test's text output with a file
// under tests/<suite>/testdata/, or rewrite the file when STARLING_UPDATE_GOLDEN is set (review
// the diff before committing it). Header-only; needs doctest and STARLING_SOURCE_DIR.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace starling::testing {

// `suite` is the directory under tests/ ("membership", "consensus").
inline void check_golden(const std::string& suite, const std::string& name,
                         const std::string& actual) {
  const std::string path =
      std::string(STARLING_SOURCE_DIR) + "/tests/" + suite + "/testdata/" + name;
  if (std::getenv("STARLING_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << actual;
    MESSAGE("rewrote " << path);
    return;
  }
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "missing " << path << " (run with STARLING_UPDATE_GOLDEN=1)");
  std::stringstream expected;
  expected << in.rdbuf();
  INFO("golden file: " << path << " (STARLING_UPDATE_GOLDEN=1 rewrites it)");
  CHECK(actual == expected.str());
}

}  // namespace starling::testing
