// Base64 armour over libsodium's constant-time base64 codec.
#include "crypto/armor.hpp"

#include <sodium.h>

#include <cctype>

#include "crypto/keys.hpp"

namespace starling::crypto {

namespace {
std::string begin_line(std::string_view label) {
  return "-----BEGIN STARLING " + std::string(label) + "-----";
}
std::string end_line(std::string_view label) {
  return "-----END STARLING " + std::string(label) + "-----";
}
constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL;

// The base64 alphabet and padding. Checked here because libsodium 1.0.18's decoder reads the
// input as signed chars and accepts every byte from 0x80 to 0xff as a digit.
bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/' || c == '=';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}
}  // namespace

std::string armor(std::string_view label, ByteSpan bytes) {
  STARLING_ASSERT(ensure_sodium().is_ok(), "libsodium unavailable");
  std::string encoded(sodium_base64_encoded_len(bytes.size(), kVariant), '\0');
  sodium_bin2base64(encoded.data(), encoded.size(), bytes.data(), bytes.size(), kVariant);
  encoded.resize(encoded.size() - 1);  // drop the terminating NUL
  std::string out = begin_line(label) + "\n";
  for (std::size_t i = 0; i < encoded.size(); i += 64) {
    out.append(encoded, i, 64);
    out += '\n';
  }
  out += end_line(label) + "\n";
  return out;
}

Result<Bytes> dearmor(std::string_view label, std::string_view text, std::size_t max_bytes) {
  STARLING_RETURN_IF_ERROR(ensure_sodium());
  const std::string begin = begin_line(label);
  const std::string end = end_line(label);
  text = trim(text);
  if (text.substr(0, begin.size()) != begin) {
    return error(StatusCode::kCorrupt, "does not start with '" + begin + "'");
  }
  if (text.size() < begin.size() + end.size() ||
      text.substr(text.size() - end.size()) != end) {
    return error(StatusCode::kCorrupt, "does not end with '" + end + "' (truncated?)");
  }
  std::string_view body = text.substr(begin.size(), text.size() - begin.size() - end.size());
  std::string base64;
  base64.reserve(body.size());
  bool in_alphabet = true;
  for (char c : body) {
    if (c == '\n' || c == '\r') continue;
    in_alphabet = in_alphabet && is_base64_char(c);
    base64.push_back(c);
  }
  if (base64.size() / 4 * 3 > max_bytes + 2) {
    return error(StatusCode::kTooLarge, "armoured document larger than " +
                                            std::to_string(max_bytes) + " bytes");
  }
  if (!in_alphabet) return error(StatusCode::kCorrupt, "invalid base64 between the armour lines");
  Bytes out(base64.size() / 4 * 3 + 3);
  std::size_t length = 0;
  const char* end_of_base64 = nullptr;
  if (sodium_base642bin(out.data(), out.size(), base64.data(), base64.size(), nullptr, &length,
                        &end_of_base64, kVariant) != 0 ||
      end_of_base64 != base64.data() + base64.size()) {
    return error(StatusCode::kCorrupt, "invalid base64 between the armour lines");
  }
  if (length > max_bytes) {
    return error(StatusCode::kTooLarge, "armoured document larger than " +
                                            std::to_string(max_bytes) + " bytes");
  }
  out.resize(length);
  return out;
}

}  // namespace starling::crypto
