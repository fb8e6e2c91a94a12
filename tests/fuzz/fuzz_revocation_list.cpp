// libFuzzer target for revocation lists: RevocationList::verify against the fixed fleet key, on
// the input as given and on a copy carrying the fleet's id and a valid fleet-root signature (which
// reaches the serial decoding behind the signature check). Besides "no crash and no sanitizer
// report" it checks: a list that verifies keeps the exact input bytes, holds strictly increasing
// serials that contains() finds, and re-signing its fields reproduces the input (one encoding per
// list); a valid signature leaves only layout rejections; RevocationState accepts a verified list
// once and then refuses it as stale. Single-threaded, as libFuzzer calls it.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_support.hpp"

namespace starling::fuzz {
namespace {

void check_verified(ByteSpan bytes, const crypto::RevocationList& list) {
  FUZZ_CHECK(list.encoded() == Bytes(bytes.begin(), bytes.end()));
  FUZZ_CHECK(list.fleet() == fleet_key().id());
  FUZZ_CHECK(list.version() >= 1);
  const auto& serials = list.serials();
  for (std::size_t i = 0; i < serials.size(); ++i) {
    FUZZ_CHECK(i == 0 || serials[i - 1] < serials[i]);
    FUZZ_CHECK(list.contains(serials[i]));
  }
  auto again = crypto::RevocationList::sign(fleet_root(), list.version(), list.issued_at(),
                                            serials);
  FUZZ_CHECK(again.is_ok() && again->encoded() == list.encoded());

  crypto::RevocationState state(fleet_key().id());
  FUZZ_CHECK(state.maybe_replace(list).is_ok());
  FUZZ_CHECK(state.current() != nullptr && state.current()->version() == list.version());
  FUZZ_CHECK(state.maybe_replace(list).code() == StatusCode::kStale);
}

Result<crypto::RevocationList> run_verify(ByteSpan bytes) {
  auto list = crypto::RevocationList::verify(bytes, fleet_key());
  if (list) check_verified(bytes, *list);
  return list;
}

// The input with the fleet's id and a valid signature: only the layout can be rejected.
void run_resigned(ByteSpan bytes) {
  if (bytes.size() < kFleetIdOffset + crypto::FleetId::kSize + crypto::Signature::kSize) return;
  Bytes copy(bytes.begin(), bytes.end());
  const crypto::FleetId fleet = fleet_key().id();
  std::copy(fleet.bytes.begin(), fleet.bytes.end(), copy.begin() + kFleetIdOffset);
  auto list = run_verify(resigned(copy, fleet_root()));
  if (!list) {
    const StatusCode code = list.status().code();
    FUZZ_CHECK(code == StatusCode::kCorrupt || code == StatusCode::kTooLarge);
  }
}

}  // namespace
}  // namespace starling::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const starling::ByteSpan bytes(data, size);
  (void)starling::fuzz::run_verify(bytes);
  starling::fuzz::run_resigned(bytes);
  return 0;
}
