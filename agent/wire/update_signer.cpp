#include "agent/wire/update_signer.hpp"

#include "agent/wire/record_kinds.hpp"

namespace starling::wire {

Bytes SignedUpdateSigner::seal(ByteSpan body) {
  return crypto::seal_record(self_, kFederatedRecordKind, next_sequence_++, body);
}

Result<federated::UpdateSigner::Opened> SignedUpdateSigner::open(
    ByteSpan sealed, federated::UpdateRejection* why) {
  using federated::UpdateRejection;
  auto header = crypto::peek_record(sealed, kFederatedRecordPayloadMax);
  if (!header || header->kind != kFederatedRecordKind) {
    *why = UpdateRejection::kUnsigned;
    return header ? error(StatusCode::kCorrupt, "not a federated record") : header.status();
  }
  const crypto::PublicKey* key = keys_.find_key(header->author);
  if (key == nullptr) {
    *why = UpdateRejection::kUnenrolled;
    return error(StatusCode::kNotFound, "no trusted key for " + header->author.short_hex());
  }
  auto view = crypto::open_record(sealed, *key, kFederatedRecordPayloadMax);
  if (!view) {
    *why = view.status().code() == StatusCode::kBadSignature ? UpdateRejection::kForged
                                                             : UpdateRejection::kUnsigned;
    return view.status();
  }
  return Opened{view->header.author, view->payload};
}

}  // namespace starling::wire
