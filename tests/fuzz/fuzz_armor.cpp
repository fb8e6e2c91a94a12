// libFuzzer target for the text armour of certificate and revocation list files: crypto::dearmor
// with both labels the fleet files use and two size limits (the certificate limit and a small
// one, so that the size checks are reached). Besides "no crash and no sanitizer report" it
// checks: the decoded size respects the limit; armouring the decoded bytes and decoding again
// gives the same bytes; what decodes under the small limit decodes identically under the large
// one. A decoded certificate goes on to decode_certificate_unverified, as `starling cert show`
// would. Single-threaded, as libFuzzer calls it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crypto/armor.hpp"
#include "crypto/fleet.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace starling::fuzz {
namespace {

constexpr std::size_t kSmallLimit = 48;

Result<Bytes> dearmor_checked(std::string_view label, std::string_view text,
                              std::size_t max_bytes) {
  auto decoded = crypto::dearmor(label, text, max_bytes);
  if (decoded) {
    FUZZ_CHECK(decoded->size() <= max_bytes);
    const std::string again = crypto::armor(label, *decoded);
    auto round_trip = crypto::dearmor(label, again, max_bytes);
    FUZZ_CHECK(round_trip.is_ok() && *round_trip == *decoded);
  } else {
    const StatusCode code = decoded.status().code();
    FUZZ_CHECK(code == StatusCode::kCorrupt || code == StatusCode::kTooLarge);
  }
  return decoded;
}

void run(std::string_view text) {
  for (std::string_view label : {crypto::kCertificateLabel, crypto::kRevocationLabel}) {
    auto small = dearmor_checked(label, text, kSmallLimit);
    auto large = dearmor_checked(label, text, crypto::kCertificateMaxBytes);
    if (small) FUZZ_CHECK(large.is_ok() && *large == *small);
    if (large && label == crypto::kCertificateLabel) {
      (void)crypto::decode_certificate_unverified(*large);
    }
  }
}

}  // namespace
}  // namespace starling::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  starling::fuzz::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
