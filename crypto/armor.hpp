// Text armour for signed documents stored in files (certificates, revocation lists):
//   -----BEGIN STARLING CERTIFICATE-----
//   base64, 64 characters a line
//   -----END STARLING CERTIFICATE-----
// so that operators can paste them into configs and tickets. Pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace starling::crypto {

std::string armor(std::string_view label, ByteSpan bytes);

// Decodes armour with exactly this label (surrounding whitespace allowed). kCorrupt for any
// other shape; kTooLarge when the decoded size would exceed `max_bytes` (checked first).
Result<Bytes> dearmor(std::string_view label, std::string_view text, std::size_t max_bytes);

}  // namespace starling::crypto
