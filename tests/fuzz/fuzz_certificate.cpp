// libFuzzer target for fleet certificates: decode_certificate_unverified and verify_certificate
// (without and with the fleet's revocation list) against the fixed fleet key and clock, run on
// the input as given and on a copy carrying the fleet's id and a valid fleet-root signature, so
// that the body checks behind the signature are reached too. Besides "no crash and no sanitizer
// report" it checks: each decoded body has exactly one encoding (re-issuing it gives back the
// input's bytes); what verifies also decodes, to the same body; with a valid signature the only
// possible rejections are layout, body and validity-window ones; a revocation-only rejection
// names a serial that is on the list. Single-threaded, as libFuzzer calls it.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_support.hpp"

namespace starling::fuzz {
namespace {

bool same_body(const crypto::CertificateBody& a, const crypto::CertificateBody& b) {
  return a.device_key == b.device_key && a.name == b.name && a.labels == b.labels &&
         a.issued_at == b.issued_at && a.not_after == b.not_after && a.serial == b.serial;
}

bool within_validity(const crypto::CertificateBody& body) {
  return kNow_s + crypto::kClockSkewAllowance_s >= body.issued_at && kNow_s < body.not_after;
}

// Re-issuing a decoded body gives back `bytes`, except for the fleet id and the signature, which
// belong to whoever signed the input: the encoding is canonical.
void check_canonical(ByteSpan bytes, const crypto::Certificate& cert) {
  FUZZ_CHECK(Bytes(bytes.begin(), bytes.end()) == cert.encoded);
  auto reissued = crypto::issue_certificate(fleet_root(), cert.body);
  FUZZ_CHECK(reissued.is_ok());
  const Bytes& again = reissued->encoded;
  FUZZ_CHECK(again.size() == bytes.size());
  const std::size_t body_start = kFleetIdOffset + crypto::FleetId::kSize;
  const std::size_t signature_start = bytes.size() - crypto::Signature::kSize;
  FUZZ_CHECK(std::equal(bytes.begin(), bytes.begin() + kFleetIdOffset, again.begin()));
  FUZZ_CHECK(std::equal(bytes.begin() + body_start, bytes.begin() + signature_start,
                        again.begin() + body_start));
}

// What must hold of a certificate that verified: it decodes to the same body, lies in its
// validity window, and (Ed25519 signatures being deterministic) re-issuing it reproduces it.
void check_verified(ByteSpan bytes, const crypto::Certificate& cert,
                    const Result<crypto::Certificate>& decoded) {
  FUZZ_CHECK(decoded.is_ok());
  FUZZ_CHECK(same_body(decoded->body, cert.body));
  FUZZ_CHECK(cert.fleet == fleet_key().id());
  FUZZ_CHECK(cert.encoded == Bytes(bytes.begin(), bytes.end()));
  FUZZ_CHECK(within_validity(cert.body));
  auto reissued = crypto::issue_certificate(fleet_root(), cert.body);
  FUZZ_CHECK(reissued.is_ok() && reissued->encoded == cert.encoded);
}

// Runs every decoder on `bytes`; returns the plain verification result for the caller's checks.
Result<crypto::Certificate> run_all(ByteSpan bytes) {
  auto decoded = crypto::decode_certificate_unverified(bytes);
  if (decoded) check_canonical(bytes, *decoded);
  auto verified = crypto::verify_certificate(bytes, fleet_key(), kNow_s);
  auto checked = crypto::verify_certificate(bytes, fleet_key(), kNow_s, &revocations());
  if (verified) {
    check_verified(bytes, *verified, decoded);
    if (checked) {
      FUZZ_CHECK(same_body(checked->body, verified->body));
    } else {
      FUZZ_CHECK(checked.status().code() == StatusCode::kRevoked);
      FUZZ_CHECK(revocations().contains(verified->body.serial));
    }
  } else {
    FUZZ_CHECK(!checked.is_ok());
  }
  return verified;
}

// The input with the fleet's id and a valid signature: decoding alone now decides the outcome.
void run_resigned(ByteSpan bytes) {
  if (bytes.size() < kFleetIdOffset + crypto::FleetId::kSize + crypto::Signature::kSize) return;
  Bytes copy(bytes.begin(), bytes.end());
  const crypto::FleetId fleet = fleet_key().id();
  std::copy(fleet.bytes.begin(), fleet.bytes.end(), copy.begin() + kFleetIdOffset);
  const Bytes signed_copy = resigned(copy, fleet_root());
  auto decoded = crypto::decode_certificate_unverified(signed_copy);
  auto verified = run_all(signed_copy);
  if (decoded) {
    FUZZ_CHECK(verified.is_ok() == within_validity(decoded->body));
    if (!verified) FUZZ_CHECK(verified.status().code() == StatusCode::kExpired);
  } else {
    const StatusCode code = verified.status().code();
    FUZZ_CHECK(code == StatusCode::kCorrupt || code == StatusCode::kTooLarge);
  }
}

}  // namespace
}  // namespace starling::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const starling::ByteSpan bytes(data, size);
  (void)starling::fuzz::run_all(bytes);
  starling::fuzz::run_resigned(bytes);
  return 0;
}
