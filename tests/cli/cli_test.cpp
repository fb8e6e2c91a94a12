// Runs the real `starling` binary the way an operator would and checks exit codes (0 ok,
// 1 failure, 2 usage), that every failure is one clear line on stderr, and the files written.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include "crypto/armor.hpp"
#include "crypto/certificate.hpp"
#include "crypto/files.hpp"
#include "crypto/fleet.hpp"
#include "crypto/identity.hpp"
#include "tests/common/test_support.hpp"

namespace {

using starling::testing::TempDir;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// In a cross build (cmake/toolchains/) the CLI runs under the same emulator as this test:
// "qemu-aarch64 -L SYSROOT ", set by tests/cli/CMakeLists.txt. Empty in a native build.
#ifndef STARLING_CLI_LAUNCHER
#define STARLING_CLI_LAUNCHER ""
#endif

// Runs `starling ARGS` in `dir` through the shell, with `env` ("NAME=value ", or empty) in its
// environment; ARGS and env are trusted test strings.
RunResult run_cli(const TempDir& dir, const std::string& args, const std::string& env = "") {
  const std::string command = "cd '" + dir.path().string() + "' && " + env +
                              STARLING_CLI_LAUNCHER "'" STARLING_CLI_PATH "' " + args +
                              " >stdout.txt 2>stderr.txt </dev/null";
  const int status = std::system(command.c_str());
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(dir / "stdout.txt");
  result.err = slurp(dir / "stderr.txt");
  return result;
}

// A failure is exactly one line on stderr, starting with "starling: ".
void check_one_line_failure(const RunResult& r, const std::string& expected_fragment) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.rfind("starling: ", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(expected_fragment) != std::string::npos);
}

// A fleet and one enrolled device, "gw-1" with serial 1.
void make_fleet_and_device(const TempDir& dir) {
  REQUIRE(run_cli(dir, "fleet init --out fleet").exit_code == 0);
  REQUIRE(run_cli(dir, "keygen --data-dir dev").exit_code == 0);
  REQUIRE(run_cli(dir, "enroll --fleet fleet --data-dir dev --name gw-1 --label site=a "
                        "--out gw.crt")
              .exit_code == 0);
}

}  // namespace

TEST_CASE("help and version exit 0 on every command") {
  TempDir dir;
  for (const char* args : {"--help", "--version", "fleet --help", "fleet init --help",
                           "keygen --help", "enroll --help", "revoke --help", "cert --help",
                           "cert show --help", "cert verify --help", "members --help",
                           "status --help", "events --help"}) {
    INFO(args);
    const RunResult r = run_cli(dir, args);
    CHECK(r.exit_code == 0);
    CHECK(!r.out.empty());
  }
}

TEST_CASE("usage errors exit 2") {
  TempDir dir;
  for (const char* args : {"", "no-such-command", "fleet", "fleet init", "enroll --fleet f",
                           "revoke --fleet f --serial 0", "revoke --fleet f --serial x",
                           "enroll --fleet f --name n --out o",
                           "enroll --fleet f --name n --out o --data-dir d --device-pub p",
                           "enroll --fleet f --name n --out o --data-dir d --valid-days 0",
                           "members --timeout 2x", "status --timeout 0ms",
                           "events --timeout 2h"}) {
    INFO(args);
    CHECK(run_cli(dir, args).exit_code == 2);
  }
}

TEST_CASE("the whole trust workflow") {
  TempDir dir;
  make_fleet_and_device(dir);
  struct stat st {};
  REQUIRE(::stat((dir / "fleet/fleet.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((dir / "dev/identity.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  const RunResult keygen = run_cli(dir, "keygen --data-dir dev");
  CHECK(keygen.exit_code == 0);
  CHECK(keygen.out.size() == 33);  // 32 hex digits and a newline

  const RunResult show = run_cli(dir, "cert show gw.crt --json");
  CHECK(show.exit_code == 0);
  CHECK(show.out.find("\"name\": \"gw-1\"") != std::string::npos);
  CHECK(show.out.find(keygen.out.substr(0, 32)) != std::string::npos);
  CHECK(show.out.find("\"verified\": false") != std::string::npos);

  const RunResult ok = run_cli(dir, "cert verify gw.crt --fleet-pub fleet/fleet.pub "
                                     "--revocations fleet/revocations.list");
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.rfind("valid: gw-1", 0) == 0);

  REQUIRE(run_cli(dir, "revoke --fleet fleet --serial 1").exit_code == 0);
  check_one_line_failure(run_cli(dir, "cert verify gw.crt --fleet-pub fleet/fleet.pub "
                                       "--revocations fleet/revocations.list"),
                         "revoked");
  check_one_line_failure(run_cli(dir, "revoke --fleet fleet --serial 1"), "already revoked");
  check_one_line_failure(run_cli(dir, "revoke --fleet fleet --serial 9"), "never issued");
}

TEST_CASE("enrolment from a public key file, and refusing to overwrite") {
  TempDir dir;
  make_fleet_and_device(dir);
  CHECK(run_cli(dir, "enroll --fleet fleet --device-pub dev/identity.pub --name gw-2 "
                      "--out gw2.crt")
            .exit_code == 0);
  check_one_line_failure(
      run_cli(dir, "enroll --fleet fleet --device-pub dev/identity.pub --name gw-2 --out gw2.crt"),
      "already exists");
  check_one_line_failure(
      run_cli(dir, "enroll --fleet fleet --data-dir dev --name 'bad name' --out x.crt"),
      "name");
  check_one_line_failure(
      run_cli(dir, "enroll --fleet fleet --data-dir dev --name n --label nokey --out x.crt"),
      "key=value");
  check_one_line_failure(run_cli(dir, "fleet init --out fleet"), "never replaced");
}

TEST_CASE("bad files give one clear line and exit 1") {
  TempDir dir;
  make_fleet_and_device(dir);
  check_one_line_failure(run_cli(dir, "cert show missing.crt"), "missing.crt");
  check_one_line_failure(run_cli(dir, "cert verify gw.crt --fleet-pub missing.pub"),
                         "missing.pub");

  const std::string cert_text = slurp(dir / "gw.crt");
  std::ofstream(dir / "truncated.crt") << cert_text.substr(0, cert_text.size() / 2);
  check_one_line_failure(run_cli(dir, "cert show truncated.crt"), "truncated");

  std::ofstream(dir / "garbage.crt") << "hello\n";
  check_one_line_failure(run_cli(dir, "cert verify garbage.crt --fleet-pub fleet"), "garbage.crt");

  REQUIRE(::chmod((dir / "dev/identity.key").c_str(), 0644) == 0);
  check_one_line_failure(run_cli(dir, "keygen --data-dir dev"), "chmod 600");
  REQUIRE(::chmod((dir / "dev/identity.key").c_str(), 0600) == 0);

  std::ofstream(dir / "dev/identity.key", std::ios::trunc) << "starling-ed25519-seed-v1 device\nxyz\n";
  check_one_line_failure(run_cli(dir, "keygen --data-dir dev"), "identity.key");
}

TEST_CASE("tampered, foreign and expired certificates are rejected") {
  TempDir dir;
  make_fleet_and_device(dir);
  namespace crypto = starling::crypto;

  // Tampered: change one byte of the signed body and re-armour.
  auto bytes = crypto::read_certificate_file(dir / "gw.crt");
  REQUIRE(bytes.is_ok());
  starling::Bytes tampered = *bytes;
  tampered[30] ^= 0x01;
  std::ofstream(dir / "tampered.crt") << crypto::armor(crypto::kCertificateLabel, tampered);
  check_one_line_failure(run_cli(dir, "cert verify tampered.crt --fleet-pub fleet"),
                         "bad_signature");

  // Foreign: a certificate from another fleet.
  REQUIRE(run_cli(dir, "fleet init --out other").exit_code == 0);
  REQUIRE(run_cli(dir, "enroll --fleet other --data-dir dev --name gw-1 --out foreign.crt")
              .exit_code == 0);
  check_one_line_failure(run_cli(dir, "cert verify foreign.crt --fleet-pub fleet"),
                         "wrong_fleet");

  // Expired: issued by the same fleet key two days ago, valid for one.
  auto seed = crypto::read_seed_file(dir / "fleet/fleet.key", "fleet");
  REQUIRE(seed.is_ok());
  auto fleet_key = crypto::SigningKey::from_seed(std::span<const std::uint8_t, 32>(*seed));
  REQUIRE(fleet_key.is_ok());
  auto device = crypto::Identity::load(dir / "dev");
  REQUIRE(device.is_ok());
  const std::int64_t now = std::time(nullptr);
  crypto::CertificateBody body{device->public_key(), "gw-1", {}, now - 2 * 86400, now - 86400, 7};
  auto expired = crypto::issue_certificate(*fleet_key, body);
  REQUIRE(expired.is_ok());
  std::ofstream(dir / "expired.crt") << crypto::armor(crypto::kCertificateLabel, expired->encoded);
  check_one_line_failure(run_cli(dir, "cert verify expired.crt --fleet-pub fleet"), "expired");
}

TEST_CASE("swarm queries of an endpoint nobody serves fail within the timeout") {
  TempDir dir;
  const std::string endpoint = "ipc://" + (dir / "nobody.sock").string();
  for (const char* command : {"members", "status", "events", "members --json"}) {
    INFO(command);
    const auto start = std::chrono::steady_clock::now();
    const RunResult r =
        run_cli(dir, std::string(command) + " --endpoint " + endpoint + " --timeout 300ms");
    const auto took = std::chrono::steady_clock::now() - start;
    check_one_line_failure(r, "no agent answered at " + endpoint + " within 300 ms");
    CHECK(r.out.empty());
    CHECK(took < std::chrono::seconds(2));
  }
  // The endpoint also comes from STARLING_ENDPOINT, and global options may precede the command.
  check_one_line_failure(
      run_cli(dir, "--timeout 300 status", "STARLING_ENDPOINT='" + endpoint + "' "),
      "no agent answered at " + endpoint);
}
