// Certificate encoding, issue and verification.
#include "crypto/certificate.hpp"

#include <algorithm>
#include <cctype>

#include "crypto/revocation.hpp"

namespace starling::crypto {

namespace {

constexpr std::array<std::uint8_t, 4> kMagic = {'S', 'C', 'R', 'T'};
constexpr std::uint8_t kFormat = 1;
constexpr std::size_t kHeaderSize = 4 + 1 + FleetId::kSize + 4;

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}
bool is_label_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '/' ||
         c == '-';
}
bool is_printable(char c) { return c >= 0x20 && c < 0x7f; }

Bytes encode_body(const CertificateBody& body) {
  Bytes out;
  ByteWriter w(out);
  w.raw(body.device_key.bytes);
  w.str16(body.name);
  w.u16(static_cast<std::uint16_t>(body.labels.size()));
  for (const auto& [key, value] : body.labels) {
    w.str16(key);
    w.str16(value);
  }
  w.i64(body.issued_at);
  w.i64(body.not_after);
  w.u64(body.serial);
  return out;
}

Result<CertificateBody> decode_body(ByteSpan bytes) {
  ByteReader r(bytes);
  CertificateBody body;
  STARLING_ASSIGN_OR_RETURN(body.device_key.bytes, r.fixed<PublicKey::kSize>());
  STARLING_ASSIGN_OR_RETURN(body.name, r.str16(kNameMaxLength));
  STARLING_ASSIGN_OR_RETURN(auto label_count, r.u16());
  if (label_count > kLabelMaxCount) {
    return error(StatusCode::kTooLarge, "certificate has " + std::to_string(label_count) +
                                            " labels; the limit is " +
                                            std::to_string(kLabelMaxCount));
  }
  for (std::uint16_t i = 0; i < label_count; ++i) {
    STARLING_ASSIGN_OR_RETURN(auto key, r.str16(kLabelKeyMaxLength));
    STARLING_ASSIGN_OR_RETURN(auto value, r.str16(kLabelValueMaxLength));
    if (!body.labels.empty() && key <= body.labels.rbegin()->first) {
      return error(StatusCode::kCorrupt, "certificate labels are not sorted or not unique");
    }
    body.labels.emplace_hint(body.labels.end(), std::move(key), std::move(value));
  }
  STARLING_ASSIGN_OR_RETURN(body.issued_at, r.i64());
  STARLING_ASSIGN_OR_RETURN(body.not_after, r.i64());
  STARLING_ASSIGN_OR_RETURN(body.serial, r.u64());
  STARLING_RETURN_IF_ERROR(r.expect_end());
  Status valid = validate_certificate_body(body);
  if (!valid) return error(StatusCode::kCorrupt, "certificate body: " + valid.message());
  return body;
}

struct Frame {
  FleetId fleet;
  ByteSpan body;
  ByteSpan signed_part;
  Signature signature;
};

// Splits the outer layout; checks sizes before touching anything else.
Result<Frame> parse_frame(ByteSpan bytes) {
  if (bytes.size() > kCertificateMaxBytes) {
    return error(StatusCode::kTooLarge, "certificate of " + std::to_string(bytes.size()) +
                                            " bytes exceeds the limit of " +
                                            std::to_string(kCertificateMaxBytes));
  }
  ByteReader r(bytes);
  STARLING_ASSIGN_OR_RETURN(auto magic, r.fixed<4>());
  if (magic != kMagic) return error(StatusCode::kCorrupt, "not a starling certificate (bad magic)");
  STARLING_ASSIGN_OR_RETURN(auto format, r.u8());
  if (format != kFormat) {
    return error(StatusCode::kCorrupt, "unsupported certificate format " + std::to_string(format));
  }
  Frame frame;
  STARLING_ASSIGN_OR_RETURN(frame.fleet.bytes, r.fixed<FleetId::kSize>());
  STARLING_ASSIGN_OR_RETURN(auto body_length, r.u32());
  if (body_length != r.remaining() - std::min(r.remaining(), Signature::kSize) ||
      r.remaining() < Signature::kSize) {
    return error(StatusCode::kCorrupt, "certificate length fields do not match its size");
  }
  STARLING_ASSIGN_OR_RETURN(frame.body, r.raw(body_length));
  frame.signed_part = bytes.first(kHeaderSize + body_length);
  STARLING_ASSIGN_OR_RETURN(frame.signature.bytes, r.fixed<Signature::kSize>());
  STARLING_RETURN_IF_ERROR(r.expect_end());
  return frame;
}

}  // namespace

Status validate_certificate_body(const CertificateBody& body) {
  auto invalid = [](std::string why) { return error(StatusCode::kInvalidArgument, std::move(why)); };
  if (body.name.empty() || body.name.size() > kNameMaxLength ||
      !std::all_of(body.name.begin(), body.name.end(), is_name_char)) {
    return invalid("name '" + body.name + "' must be 1-64 characters of A-Z a-z 0-9 . _ -");
  }
  if (body.labels.size() > kLabelMaxCount) {
    return invalid("at most " + std::to_string(kLabelMaxCount) + " labels are allowed");
  }
  for (const auto& [key, value] : body.labels) {
    if (key.empty() || key.size() > kLabelKeyMaxLength ||
        !std::all_of(key.begin(), key.end(), is_label_key_char)) {
      return invalid("label key '" + key + "' must be 1-63 characters of a-z 0-9 . _ / -");
    }
    if (value.size() > kLabelValueMaxLength ||
        !std::all_of(value.begin(), value.end(), is_printable)) {
      return invalid("label value for '" + key + "' must be at most 255 printable ASCII characters");
    }
  }
  // The field limits alone allow about 10 KiB of name and labels: check the encoded total too,
  // so that an operator's request is refused here and never reaches issue's assertion.
  const std::size_t encoded_size = kHeaderSize + encode_body(body).size() + Signature::kSize;
  if (encoded_size > kCertificateMaxBytes) {
    return invalid("name and labels make a certificate of " + std::to_string(encoded_size) +
                   " bytes; the limit is " + std::to_string(kCertificateMaxBytes));
  }
  if (body.not_after <= body.issued_at) return invalid("not_after must be after issued_at");
  if (body.serial == 0) return invalid("serial must be at least 1");
  return Status::ok();
}

Result<Certificate> issue_certificate(const SigningKey& fleet_root, const CertificateBody& body) {
  STARLING_RETURN_IF_ERROR(validate_certificate_body(body));
  Certificate cert;
  cert.fleet = fleet_id_of(fleet_root.public_key());
  cert.body = body;
  const Bytes encoded_body = encode_body(body);
  ByteWriter w(cert.encoded);
  w.raw(kMagic);
  w.u8(kFormat);
  w.raw(cert.fleet.bytes);
  w.u32(static_cast<std::uint32_t>(encoded_body.size()));
  w.raw(encoded_body);
  const Signature signature = fleet_root.sign(cert.encoded);
  w.raw(signature.bytes);
  STARLING_ASSERT(cert.encoded.size() <= kCertificateMaxBytes, "validated body exceeds the limit");
  return cert;
}

Result<Certificate> decode_certificate_unverified(ByteSpan bytes) {
  STARLING_ASSIGN_OR_RETURN(Frame frame, parse_frame(bytes));
  STARLING_ASSIGN_OR_RETURN(CertificateBody body, decode_body(frame.body));
  return Certificate{frame.fleet, std::move(body), Bytes(bytes.begin(), bytes.end())};
}

Result<Certificate> verify_certificate(ByteSpan bytes, const FleetPublicKey& fleet,
                                       std::int64_t now_unix_s, const RevocationList* revocations) {
  STARLING_ASSIGN_OR_RETURN(Frame frame, parse_frame(bytes));
  const FleetId expected = fleet.id();
  if (frame.fleet != expected) {
    return error(StatusCode::kWrongFleet, "certificate belongs to fleet " +
                                              frame.fleet.to_hex() + ", not " + expected.to_hex());
  }
  if (!verify_detached(fleet.key, frame.signed_part, frame.signature)) {
    return error(StatusCode::kBadSignature, "certificate signature does not verify");
  }
  STARLING_ASSIGN_OR_RETURN(CertificateBody body, decode_body(frame.body));
  if (now_unix_s + kClockSkewAllowance_s < body.issued_at) {
    return error(StatusCode::kExpired, "certificate is not valid yet (issued_at " +
                                           std::to_string(body.issued_at) + ", now " +
                                           std::to_string(now_unix_s) + ")");
  }
  if (now_unix_s >= body.not_after) {
    return error(StatusCode::kExpired, "certificate expired (not_after " +
                                           std::to_string(body.not_after) + ", now " +
                                           std::to_string(now_unix_s) + ")");
  }
  if (revocations != nullptr) {
    if (revocations->fleet() != expected) {
      return error(StatusCode::kWrongFleet, "revocation list belongs to another fleet");
    }
    if (revocations->contains(body.serial)) {
      return error(StatusCode::kRevoked, "certificate serial " + std::to_string(body.serial) +
                                             " is revoked (revocation list version " +
                                             std::to_string(revocations->version()) + ")");
    }
  }
  return Certificate{frame.fleet, std::move(body), Bytes(bytes.begin(), bytes.end())};
}

}  // namespace starling::crypto
