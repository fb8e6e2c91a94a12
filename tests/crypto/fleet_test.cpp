// Tests for the fleet directory: init, enrolment with serials, revocation and the armoured
// certificate and revocation files.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "crypto/armor.hpp"
#include "crypto/files.hpp"
#include "crypto/fleet.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"
#include "tests/crypto/file_helpers.hpp"

namespace starling::crypto {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr std::int64_t kNow = 1'700'000'000;

using testing::mode_of;
using testing::read_text;

EnrollRequest request_for(std::uint64_t index, std::string name) {
  EnrollRequest request;
  request.device_key = SigningKey::for_simulation(4000, index).public_key();
  request.name = std::move(name);
  request.labels = {{"region", "eu-west"}};
  request.valid_seconds = 3600;
  return request;
}

// A fleet in `temp`/fleet with three enrolled devices (serials 1, 2, 3).
struct EnrolledFleet {
  TempDir temp;
  fs::path dir = temp / "fleet";
  FleetPublicKey fleet;
  std::vector<Certificate> certs;

  EnrolledFleet() {
    auto created = init_fleet(dir, kNow);
    REQUIRE_OK(created);
    fleet = *created;
    for (std::uint64_t i = 0; i < 3; ++i) {
      auto cert = enroll_device(dir, request_for(i, "device-" + std::to_string(i)), kNow);
      REQUIRE_OK(cert);
      certs.push_back(std::move(cert).value());
    }
  }
};

TEST_CASE("init_fleet creates the key and the public key and an empty revocation list") {
  TempDir temp;
  const fs::path dir = temp / "new" / "fleet";
  auto fleet = init_fleet(dir, kNow);
  REQUIRE_OK(fleet);
  CHECK(mode_of(dir) == 0700);
  CHECK(mode_of(dir / "fleet.key") == 0600);
  CHECK(fs::is_regular_file(dir / "fleet.pub"));
  CHECK(fs::is_regular_file(dir / "revocations.list"));

  auto loaded = load_fleet_public(dir);
  REQUIRE_OK(loaded);
  CHECK(loaded->key == fleet->key);
  auto from_file = load_fleet_public(dir / "fleet.pub");
  REQUIRE_OK(from_file);
  CHECK(from_file->key == fleet->key);

  auto list = read_revocation_file(dir / "revocations.list", *fleet);
  REQUIRE_OK(list);
  CHECK(list->version() == 1);
  CHECK(list->issued_at() == kNow);
  CHECK(list->serials().empty());
}

TEST_CASE("a second init_fleet is kAlreadyExists and keeps the key") {
  TempDir temp;
  auto first = init_fleet(temp.path(), kNow);
  REQUIRE_OK(first);
  const std::string key_text = read_text(temp / "fleet.key");
  auto second = init_fleet(temp.path(), kNow + 1);
  CHECK_CODE(second, StatusCode::kAlreadyExists);
  CHECK(second.status().message().find("fleet.key") != std::string::npos);
  CHECK(read_text(temp / "fleet.key") == key_text);
  auto loaded = load_fleet_public(temp.path());
  REQUIRE_OK(loaded);
  CHECK(loaded->key == first->key);
}

TEST_CASE("enroll_device assigns serials 1 2 3 and the certificates verify") {
  EnrolledFleet f;
  auto fleet = load_fleet_public(f.dir);
  REQUIRE_OK(fleet);
  for (std::size_t i = 0; i < f.certs.size(); ++i) {
    CAPTURE(i);
    const Certificate& cert = f.certs[i];
    CHECK(cert.body.serial == i + 1);
    CHECK(cert.body.name == "device-" + std::to_string(i));
    CHECK(cert.body.issued_at == kNow);
    CHECK(cert.body.not_after == kNow + 3600);
    CHECK(cert.body.device_key == SigningKey::for_simulation(4000, i).public_key());
    auto verified = verify_certificate(cert.encoded, *fleet, kNow + 10);
    REQUIRE_OK(verified);
    CHECK(verified->body.serial == i + 1);
    CHECK_CODE(verify_certificate(cert.encoded, *fleet, kNow + 3600), StatusCode::kExpired);
  }
  // The serials file records each issue.
  const std::string serials = read_text(f.dir / "serials");
  CHECK(serials.find("\n1 " + f.certs[0].node_id().to_hex() + " device-0 ") != std::string::npos);
  CHECK(serials.find("\n3 " + f.certs[2].node_id().to_hex() + " device-2 ") != std::string::npos);
}

TEST_CASE("a refused enrolment does not consume a serial") {
  EnrolledFleet f;
  CHECK_CODE(enroll_device(f.dir, request_for(9, "bad name"), kNow), StatusCode::kInvalidArgument);
  EnrollRequest no_validity = request_for(9, "ok");
  no_validity.valid_seconds = 0;
  CHECK_CODE(enroll_device(f.dir, no_validity, kNow), StatusCode::kInvalidArgument);
  auto next = enroll_device(f.dir, request_for(9, "device-9"), kNow);
  REQUIRE_OK(next);
  CHECK(next->body.serial == 4);
}

TEST_CASE("enrolling or revoking without a fleet is kNotFound") {
  TempDir temp;
  CHECK_CODE(enroll_device(temp.path(), request_for(0, "d"), kNow), StatusCode::kNotFound);
  CHECK_CODE(revoke_serial(temp.path(), 1, kNow), StatusCode::kNotFound);
  CHECK_CODE(load_fleet_public(temp.path()), StatusCode::kNotFound);
}

TEST_CASE("revoke_serial bumps the list version and the certificate is then revoked") {
  EnrolledFleet f;
  auto revoked = revoke_serial(f.dir, 2, kNow + 5);
  REQUIRE_OK(revoked);
  CHECK(revoked->version() == 2);
  CHECK(revoked->issued_at() == kNow + 5);
  CHECK(revoked->contains(2));

  auto on_disk = read_revocation_file(f.dir / "revocations.list", f.fleet);
  REQUIRE_OK(on_disk);
  CHECK(on_disk->version() == 2);
  CHECK(on_disk->encoded() == revoked->encoded());

  CHECK_CODE(verify_certificate(f.certs[1].encoded, f.fleet, kNow + 10, &*on_disk),
             StatusCode::kRevoked);
  CHECK_OK(verify_certificate(f.certs[0].encoded, f.fleet, kNow + 10, &*on_disk));
  CHECK_OK(verify_certificate(f.certs[2].encoded, f.fleet, kNow + 10, &*on_disk));

  auto again = revoke_serial(f.dir, 3, kNow + 6);
  REQUIRE_OK(again);
  CHECK(again->version() == 3);
  CHECK(again->serials() == std::vector<std::uint64_t>{2, 3});

  RevocationState state(f.fleet.id());
  REQUIRE_OK(state.maybe_replace(*again));
  CHECK_CODE(state.maybe_replace(*revoked), StatusCode::kStale);
}

TEST_CASE("revoking an unknown serial is kNotFound") {
  EnrolledFleet f;
  CHECK_CODE(revoke_serial(f.dir, 4, kNow), StatusCode::kNotFound);
  CHECK_CODE(revoke_serial(f.dir, 0, kNow), StatusCode::kNotFound);
  CHECK_CODE(revoke_serial(f.dir, ~std::uint64_t{0}, kNow), StatusCode::kNotFound);
  auto list = read_revocation_file(f.dir / "revocations.list", f.fleet);
  REQUIRE_OK(list);
  CHECK(list->version() == 1);
}

TEST_CASE("revoking twice is kAlreadyExists and leaves the list unchanged") {
  EnrolledFleet f;
  REQUIRE_OK(revoke_serial(f.dir, 1, kNow));
  const std::string before = read_text(f.dir / "revocations.list");
  CHECK_CODE(revoke_serial(f.dir, 1, kNow + 1), StatusCode::kAlreadyExists);
  CHECK(read_text(f.dir / "revocations.list") == before);
}

TEST_CASE("certificate files round-trip through the armour") {
  EnrolledFleet f;
  const fs::path file = f.temp / "device.cert";
  REQUIRE_OK(
      write_file_atomic(file, armor(kCertificateLabel, f.certs[0].encoded), 0644, false));
  auto bytes = read_certificate_file(file);
  REQUIRE_OK(bytes);
  CHECK(*bytes == f.certs[0].encoded);
  CHECK_OK(verify_certificate(*bytes, f.fleet, kNow));
  CHECK_CODE(read_certificate_file(f.temp / "missing.cert"), StatusCode::kNotFound);
  // A revocation list is not a certificate file.
  auto wrong = read_certificate_file(f.dir / "revocations.list");
  CHECK_CODE(wrong, StatusCode::kCorrupt);
  CHECK(wrong.status().message().find("revocations.list") != std::string::npos);
}

TEST_CASE("a truncated certificate file is refused at every length") {
  EnrolledFleet f;
  const fs::path file = f.temp / "device.cert";
  const std::string text = armor(kCertificateLabel, f.certs[0].encoded);
  REQUIRE_OK(write_file_atomic(file, text, 0644, false));
  // Dropping only the final newline keeps a complete document; anything shorter is refused.
  for (std::size_t length = 0; length + 1 < text.size(); ++length) {
    CAPTURE(length);
    {
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      out << text.substr(0, length);
    }
    REQUIRE(fs::file_size(file) == length);
    auto bytes = read_certificate_file(file);
    CHECK_FALSE(bytes.is_ok());
    if (!bytes) CHECK(bytes.status().message().find(file.string()) != std::string::npos);
  }
}

TEST_CASE("a tampered revocation file is refused") {
  EnrolledFleet f;
  const fs::path file = f.dir / "revocations.list";
  auto list = read_revocation_file(file, f.fleet);
  REQUIRE_OK(list);
  Bytes tampered = list->encoded();
  tampered[tampered.size() - 1] ^= 0x01;
  REQUIRE_OK(write_file_atomic(file, armor(kRevocationLabel, tampered), 0644, true));
  CHECK_CODE(read_revocation_file(file, f.fleet), StatusCode::kBadSignature);
  TempDir other;
  auto other_fleet = init_fleet(other.path(), kNow);
  REQUIRE_OK(other_fleet);
  CHECK_CODE(read_revocation_file(other / "revocations.list", f.fleet), StatusCode::kWrongFleet);
}

}  // namespace
}  // namespace starling::crypto
