// libFuzzer target for the membership wire layer: decode_message (default and tight limits) on
// the input, SignedRecordCodec::decode and verify (full and verify_signatures=false) on every
// record of a message that decodes, and the same codec on the whole input taken as one record,
// also re-signed by its claimed author so that the fuzzer reaches past the signature check.
// Besides "no crash and no sanitizer report" it checks that a rejection's Status matches its
// RejectReason, that whatever decodes re-encodes to exactly the input (messages and record
// payloads each have one encoding), that tight limits only ever add rejections, that the fast
// mode accepts everything the full mode does and rejects the rest with the same codes except
// bad signatures, and that a correctly re-signed record that decodes also verifies. Keys are the
// fixed simulation keys of fuzz_support.hpp (authors 0..2 known). Single-threaded, as libFuzzer
// calls it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/wire/envelope.hpp"
#include "agent/wire/membership_codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace starling::fuzz {
namespace {

// Limits far below the defaults, so that the size checks fire on libFuzzer's small inputs.
constexpr wire::WireLimits kTightLimits{
    .message_bytes_max = 1024, .records_per_message_max = 4, .record_bytes_max = 400};

wire::SignedRecordCodec& full_codec() {
  static const FixedKeyDirectory keys;
  static wire::SignedRecordCodec codec(author(0), keys);
  return codec;
}

wire::SignedRecordCodec& fast_codec() {
  static const FixedKeyDirectory keys;
  static wire::SignedRecordCodec codec(author(0), keys, {.verify_signatures = false});
  return codec;
}

void check_rejection(const Status& status, wire::RejectReason reason) {
  FUZZ_CHECK(status.code() == wire::reject_reason_code(reason));
  const std::string prefix = std::string(wire::reject_reason_name(reason)) + ": ";
  FUZZ_CHECK(status.message().rfind(prefix, 0) == 0);
}

// Decodes and verifies one record with both codecs; returns whether the full codec verified it.
bool run_record(ByteSpan bytes) {
  auto record = full_codec().decode(bytes);
  auto fast_record = fast_codec().decode(bytes);
  FUZZ_CHECK(record.status() == fast_record.status());  // decode does not depend on the mode
  if (!record) return false;
  FUZZ_CHECK(*record == *fast_record);
  FUZZ_CHECK(bytes.size() >= crypto::kRecordOverhead);
  const ByteSpan payload =
      bytes.subspan(crypto::kRecordHeaderSize, bytes.size() - crypto::kRecordOverhead);
  const Bytes reencoded = wire::encode_record_payload(*record);
  FUZZ_CHECK(Bytes(payload.begin(), payload.end()) == reencoded);
  const Status full = full_codec().verify(bytes, *record);
  const Status fast = fast_codec().verify(bytes, *record);
  if (full) FUZZ_CHECK(fast.is_ok());
  if (!fast) FUZZ_CHECK(full.code() == fast.code());
  if (!full && fast) FUZZ_CHECK(full.code() == StatusCode::kBadSignature);
  return full.is_ok();
}

void run_message(ByteSpan bytes) {
  wire::RejectReason reason = wire::RejectReason::kMalformed;
  auto decoded = wire::decode_message(bytes, wire::WireLimits{}, &reason);
  wire::RejectReason tight_reason = wire::RejectReason::kMalformed;
  auto tight = wire::decode_message(bytes, kTightLimits, &tight_reason);
  if (!tight) check_rejection(tight.status(), tight_reason);
  if (!decoded) {
    check_rejection(decoded.status(), reason);
    FUZZ_CHECK(!tight.is_ok());
    return;
  }
  if (tight) FUZZ_CHECK(tight->message == decoded->message);
  const membership::Message& message = decoded->message;
  FUZZ_CHECK(wire::encode_message(message, decoded->sender_sequence) ==
             Bytes(bytes.begin(), bytes.end()));
  for (const Bytes& record : message.records) run_record(record);
}

// The input as one record, as given and re-signed by the known author its header names.
void run_single_record(ByteSpan bytes) {
  run_record(bytes);
  auto header = crypto::peek_record(bytes, crypto::kRecordPayloadCeiling);
  if (!header) return;
  const crypto::Identity* signer = FixedKeyDirectory().find_identity(header->author);
  if (signer == nullptr) return;
  const Bytes copy = resigned(bytes, signer->signing_key());
  auto record = full_codec().decode(copy);
  const bool verified = run_record(copy);
  if (record) FUZZ_CHECK(verified);
}

}  // namespace
}  // namespace starling::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const starling::ByteSpan bytes(data, size);
  starling::fuzz::run_message(bytes);
  starling::fuzz::run_single_record(bytes);
  return 0;
}
