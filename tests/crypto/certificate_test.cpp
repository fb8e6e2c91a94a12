// Tests for device certificates: issue, verification order and error codes, tampering,
// truncation, limits, body validation and unverified decoding.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "base/bytes.hpp"
#include "crypto/certificate.hpp"
#include "crypto/revocation.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling::crypto {
namespace {

constexpr std::int64_t kIssuedAt = 1'700'000'000;
constexpr std::int64_t kNotAfter = kIssuedAt + 86'400;
constexpr std::int64_t kNow = kIssuedAt + 3'600;

// Offsets of the outer layout: "SCRT" | format | fleet_id[16] | u32 body_length | body | sig.
constexpr std::size_t kFormatAt = 4;
constexpr std::size_t kFleetAt = 5;
constexpr std::size_t kBodyLengthAt = kFleetAt + FleetId::kSize;
constexpr std::size_t kBodyAt = kBodyLengthAt + 4;

const SigningKey& fleet_root() {
  static const SigningKey key = SigningKey::for_simulation(1000, 0);
  return key;
}
const SigningKey& other_fleet_root() {
  static const SigningKey key = SigningKey::for_simulation(1000, 1);
  return key;
}
FleetPublicKey fleet() { return FleetPublicKey{fleet_root().public_key()}; }

CertificateBody make_body() {
  CertificateBody body;
  body.device_key = SigningKey::for_simulation(7, 1).public_key();
  body.name = "edge-01.lab_A";
  body.labels = {{"region", "eu-west"}, {"role/gpu", "yes"}, {"site.floor-2", ""}};
  body.issued_at = kIssuedAt;
  body.not_after = kNotAfter;
  body.serial = 42;
  return body;
}

Certificate issue(const CertificateBody& body = make_body(),
                  const SigningKey& root = fleet_root()) {
  auto cert = issue_certificate(root, body);
  REQUIRE_OK(cert);
  return std::move(cert).value();
}

// Signs an arbitrary body with the fleet root, for bodies issue_certificate would refuse.
Bytes frame_with_body(const Bytes& body) {
  Bytes out = {'S', 'C', 'R', 'T', 1};
  ByteWriter w(out);
  w.raw(fleet().id().bytes);
  w.u32(static_cast<std::uint32_t>(body.size()));
  w.raw(body);
  w.raw(fleet_root().sign(out).bytes);
  return out;
}

TEST_CASE("an issued certificate verifies and carries its fields") {
  const Certificate cert = issue();
  CHECK(cert.fleet == fleet().id());
  ByteReader length_field(ByteSpan(cert.encoded).subspan(kBodyLengthAt, 4));
  CHECK(cert.encoded.size() == kBodyAt + *length_field.u32() + Signature::kSize);
  auto verified = verify_certificate(cert.encoded, fleet(), kNow);
  REQUIRE_OK(verified);
  CHECK(verified->fleet == fleet().id());
  CHECK(verified->body.device_key == make_body().device_key);
  CHECK(verified->body.name == "edge-01.lab_A");
  CHECK(verified->body.labels == make_body().labels);
  CHECK(verified->body.serial == 42);
  CHECK(verified->encoded == cert.encoded);
  CHECK(verified->node_id() == node_id_of(make_body().device_key));
  CHECK(issue().encoded == cert.encoded);  // one encoding per certificate
}

TEST_CASE("flipping any single byte makes verification fail with the right code") {
  const Certificate cert = issue();
  const std::size_t size = cert.encoded.size();
  const std::size_t signature_at = size - Signature::kSize;
  for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
    for (std::size_t i = 0; i < size; ++i) {
      CAPTURE(i);
      CAPTURE(static_cast<int>(mask));
      Bytes tampered = cert.encoded;
      tampered[i] ^= mask;
      auto result = verify_certificate(tampered, fleet(), kNow);
      CHECK_FALSE(result.is_ok());
      if (i < kFleetAt) {
        CHECK_CODE(result, StatusCode::kCorrupt);  // magic or format
      } else if (i < kBodyLengthAt) {
        CHECK_CODE(result, StatusCode::kWrongFleet);
      } else if (i < kBodyAt) {
        CHECK_CODE(result, StatusCode::kCorrupt);  // body length no longer matches
      } else if (i < signature_at) {
        CHECK_CODE(result, StatusCode::kBadSignature);
      } else {
        CHECK_CODE(result, StatusCode::kBadSignature);
      }
    }
  }
}

TEST_CASE("unverified decoding of tampered bytes never crashes") {
  const Certificate cert = issue();
  for (std::size_t i = 0; i < cert.encoded.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes tampered = cert.encoded;
      tampered[i] ^= static_cast<std::uint8_t>(1u << bit);
      (void)decode_certificate_unverified(tampered);  // any outcome but a crash
    }
  }
  Bytes bad_signature = cert.encoded;
  bad_signature.back() ^= 0x01;
  CHECK_OK(decode_certificate_unverified(bad_signature));  // it does not check signatures
}

TEST_CASE("expiry and not-yet-valid windows") {
  const Certificate cert = issue();
  CHECK_OK(verify_certificate(cert.encoded, fleet(), kIssuedAt));
  CHECK_OK(verify_certificate(cert.encoded, fleet(), kNotAfter - 1));
  CHECK_CODE(verify_certificate(cert.encoded, fleet(), kNotAfter), StatusCode::kExpired);
  CHECK_CODE(verify_certificate(cert.encoded, fleet(), kNotAfter + 1'000'000),
             StatusCode::kExpired);
  // Before issued_at: accepted within the clock skew allowance, refused beyond it.
  CHECK_OK(verify_certificate(cert.encoded, fleet(), kIssuedAt - 1));
  CHECK_OK(verify_certificate(cert.encoded, fleet(), kIssuedAt - kClockSkewAllowance_s));
  CHECK_CODE(verify_certificate(cert.encoded, fleet(), kIssuedAt - kClockSkewAllowance_s - 1),
             StatusCode::kExpired);
  CHECK_CODE(verify_certificate(cert.encoded, fleet(), 0), StatusCode::kExpired);
}

TEST_CASE("a revoked serial is refused") {
  const Certificate cert = issue();
  auto revoking = RevocationList::sign(fleet_root(), 2, kNow, {1, 42, 99});
  REQUIRE_OK(revoking);
  CHECK_CODE(verify_certificate(cert.encoded, fleet(), kNow, &*revoking), StatusCode::kRevoked);

  auto other_serials = RevocationList::sign(fleet_root(), 3, kNow, {41, 43});
  REQUIRE_OK(other_serials);
  CHECK_OK(verify_certificate(cert.encoded, fleet(), kNow, &*other_serials));

  auto empty = RevocationList::sign(fleet_root(), 1, kNow, {});
  REQUIRE_OK(empty);
  CHECK_OK(verify_certificate(cert.encoded, fleet(), kNow, &*empty));

  // Expiry is reported before revocation.
  CHECK_CODE(verify_certificate(cert.encoded, fleet(), kNotAfter, &*revoking),
             StatusCode::kExpired);

  // A list from another fleet cannot be used for this fleet's certificates.
  auto foreign = RevocationList::sign(other_fleet_root(), 5, kNow, {});
  REQUIRE_OK(foreign);
  CHECK_CODE(verify_certificate(cert.encoded, fleet(), kNow, &*foreign), StatusCode::kWrongFleet);
}

TEST_CASE("a certificate from another fleet is kWrongFleet") {
  const Certificate foreign = issue(make_body(), other_fleet_root());
  CHECK_CODE(verify_certificate(foreign.encoded, fleet(), kNow), StatusCode::kWrongFleet);
  CHECK_OK(verify_certificate(foreign.encoded, FleetPublicKey{other_fleet_root().public_key()},
                              kNow));
  // Another fleet's id pasted over ours: the id matches, the signature does not.
  Bytes forged = foreign.encoded;
  const FleetId ours = fleet().id();
  std::copy(ours.bytes.begin(), ours.bytes.end(), forged.begin() + kFleetAt);
  CHECK_CODE(verify_certificate(forged, fleet(), kNow), StatusCode::kBadSignature);
}

TEST_CASE("every truncation and any trailing byte is kCorrupt") {
  const Certificate cert = issue();
  for (std::size_t length = 0; length < cert.encoded.size(); ++length) {
    CAPTURE(length);
    const ByteSpan truncated = ByteSpan(cert.encoded).first(length);
    CHECK_CODE(verify_certificate(truncated, fleet(), kNow), StatusCode::kCorrupt);
    CHECK_CODE(decode_certificate_unverified(truncated), StatusCode::kCorrupt);
  }
  Bytes extended = cert.encoded;
  extended.push_back(0);
  CHECK_CODE(verify_certificate(extended, fleet(), kNow), StatusCode::kCorrupt);
}

TEST_CASE("input above kCertificateMaxBytes is kTooLarge") {
  const Certificate cert = issue();
  Bytes oversized = cert.encoded;
  oversized.resize(kCertificateMaxBytes + 1, 0);
  CHECK_CODE(verify_certificate(oversized, fleet(), kNow), StatusCode::kTooLarge);
  CHECK_CODE(decode_certificate_unverified(oversized), StatusCode::kTooLarge);
  oversized.resize(kCertificateMaxBytes);
  CHECK_CODE(verify_certificate(oversized, fleet(), kNow), StatusCode::kCorrupt);
}

TEST_CASE("validate_certificate_body rejects bad names") {
  CHECK_OK(validate_certificate_body(make_body()));
  CertificateBody body = make_body();
  body.name = std::string(kNameMaxLength, 'n');
  CHECK_OK(validate_certificate_body(body));
  for (const std::string& name :
       {std::string(), std::string(kNameMaxLength + 1, 'n'), std::string("edge 01"),
        std::string("edge/01"), std::string("caf\xc3\xa9"), std::string("a\nb"),
        std::string("x:y"), std::string(1, '\0')}) {
    CAPTURE(name);
    body.name = name;
    CHECK_CODE(validate_certificate_body(body), StatusCode::kInvalidArgument);
    CHECK_CODE(issue_certificate(fleet_root(), body), StatusCode::kInvalidArgument);
  }
}

TEST_CASE("validate_certificate_body rejects bad labels") {
  CertificateBody body = make_body();
  body.labels = {{std::string(kLabelKeyMaxLength, 'k'), std::string(kLabelValueMaxLength, 'v')}};
  CHECK_OK(validate_certificate_body(body));
  for (const std::string& key : {std::string(), std::string(kLabelKeyMaxLength + 1, 'k'),
                                 std::string("Region"), std::string("re gion"),
                                 std::string("region:x"), std::string("r\xc3\xa9")}) {
    CAPTURE(key);
    body.labels = {{key, "v"}};
    CHECK_CODE(validate_certificate_body(body), StatusCode::kInvalidArgument);
  }
  for (const std::string& value : {std::string(kLabelValueMaxLength + 1, 'v'),
                                   std::string("a\nb"), std::string("tab\there"),
                                   std::string("\x7f"), std::string("caf\xc3\xa9")}) {
    CAPTURE(value);
    body.labels = {{"key", value}};
    CHECK_CODE(validate_certificate_body(body), StatusCode::kInvalidArgument);
  }
  body.labels.clear();
  for (std::size_t i = 0; i < kLabelMaxCount; ++i) body.labels["k" + std::to_string(i)] = "v";
  CHECK_OK(validate_certificate_body(body));
  body.labels["one-too-many"] = "v";
  CHECK_CODE(validate_certificate_body(body), StatusCode::kInvalidArgument);
}

TEST_CASE("a body whose encoding exceeds kCertificateMaxBytes is refused, not asserted on") {
  // Every field within its own limit, but 32 labels of maximal length are about 10 KiB.
  CertificateBody body = make_body();
  body.labels.clear();
  for (std::size_t i = 0; i < kLabelMaxCount; ++i) {
    std::string key = std::to_string(100 + i);
    key.resize(kLabelKeyMaxLength, 'k');
    body.labels[key] = std::string(kLabelValueMaxLength, 'v');
  }
  CHECK_CODE(validate_certificate_body(body), StatusCode::kInvalidArgument);
  CHECK_CODE(issue_certificate(fleet_root(), body), StatusCode::kInvalidArgument);
  // The largest body that fits is issued and verifies.
  while (!validate_certificate_body(body).is_ok()) body.labels.erase(body.labels.begin());
  auto cert = issue_certificate(fleet_root(), body);
  REQUIRE_OK(cert);
  CHECK(cert->encoded.size() <= kCertificateMaxBytes);
  CHECK(cert->encoded.size() > kCertificateMaxBytes - 400);
  CHECK_OK(verify_certificate(cert->encoded, fleet(), kNow));
}

TEST_CASE("validate_certificate_body rejects empty windows and serial 0") {
  CertificateBody body = make_body();
  body.not_after = body.issued_at;
  CHECK_CODE(validate_certificate_body(body), StatusCode::kInvalidArgument);
  body.not_after = body.issued_at - 1;
  CHECK_CODE(validate_certificate_body(body), StatusCode::kInvalidArgument);
  body.not_after = body.issued_at + 1;
  CHECK_OK(validate_certificate_body(body));
  body.serial = 0;
  CHECK_CODE(validate_certificate_body(body), StatusCode::kInvalidArgument);
  CHECK_CODE(issue_certificate(fleet_root(), body), StatusCode::kInvalidArgument);
  body.serial = 1;
  CHECK_OK(validate_certificate_body(body));
}

TEST_CASE("decode_certificate_unverified round-trips every field") {
  const Certificate cert = issue();
  auto decoded = decode_certificate_unverified(cert.encoded);
  REQUIRE_OK(decoded);
  CHECK(decoded->fleet == cert.fleet);
  CHECK(decoded->body.device_key == cert.body.device_key);
  CHECK(decoded->body.name == cert.body.name);
  CHECK(decoded->body.labels == cert.body.labels);
  CHECK(decoded->body.issued_at == kIssuedAt);
  CHECK(decoded->body.not_after == kNotAfter);
  CHECK(decoded->body.serial == 42);
  CHECK(decoded->encoded == cert.encoded);
  CHECK(decode_certificate_unverified(issue(make_body(), other_fleet_root()).encoded).is_ok());
}

TEST_CASE("signed bodies that break the layout rules are kCorrupt or kTooLarge") {
  const CertificateBody good = make_body();
  // Rebuilds the body layout with a hook to bend one rule.
  auto body_bytes = [&](std::uint16_t label_count, bool sorted, std::uint64_t serial,
                        bool trailing) {
    Bytes out;
    ByteWriter w(out);
    w.raw(good.device_key.bytes);
    w.str16(good.name);
    w.u16(label_count);
    for (std::uint16_t i = 0; i < label_count; ++i) {
      w.str16(std::string(1, static_cast<char>(sorted ? 'a' + i : 'z' - i)));
      w.str16("v");
    }
    w.i64(good.issued_at);
    w.i64(good.not_after);
    w.u64(serial);
    if (trailing) w.u8(0);
    return out;
  };
  CHECK_OK(verify_certificate(frame_with_body(body_bytes(2, true, 5, false)), fleet(), kNow));
  CHECK_CODE(verify_certificate(frame_with_body(body_bytes(2, false, 5, false)), fleet(), kNow),
             StatusCode::kCorrupt);
  CHECK_CODE(verify_certificate(frame_with_body(body_bytes(0, true, 0, false)), fleet(), kNow),
             StatusCode::kCorrupt);
  CHECK_CODE(verify_certificate(frame_with_body(body_bytes(1, true, 5, true)), fleet(), kNow),
             StatusCode::kCorrupt);
  CHECK_CODE(verify_certificate(frame_with_body(body_bytes(33, true, 5, false)), fleet(), kNow),
             StatusCode::kTooLarge);
  // Duplicate keys are "not sorted": a body with two labels "a".
  Bytes duplicate = body_bytes(2, true, 5, false);
  duplicate[PublicKey::kSize + 2 + good.name.size() + 2 + 2 + 1 + 2 + 1 + 2] = 'a';
  CHECK_CODE(verify_certificate(frame_with_body(duplicate), fleet(), kNow), StatusCode::kCorrupt);
}

TEST_CASE("a wrong format byte or magic is kCorrupt even when signed") {
  Bytes cert = issue().encoded;
  cert[kFormatAt] = 2;
  CHECK_CODE(verify_certificate(cert, fleet(), kNow), StatusCode::kCorrupt);
  CHECK_CODE(decode_certificate_unverified(cert), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace starling::crypto
