// Tests for the base64 text armour of signed documents.
#include <doctest/doctest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/armor.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling::crypto {
namespace {

Bytes pattern(std::size_t n) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 31 + 7);
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

TEST_CASE("armor round-trips payloads of every length class") {
  for (std::size_t n : {0, 1, 2, 3, 4, 47, 48, 49, 96, 100, 1000, 8192}) {
    CAPTURE(n);
    const Bytes bytes = pattern(n);
    const std::string text = armor("CERTIFICATE", bytes);
    auto back = dearmor("CERTIFICATE", text, 8192);
    REQUIRE_OK(back);
    CHECK(*back == bytes);
  }
}

TEST_CASE("armor writes the documented shape") {
  const std::string text = armor("CERTIFICATE", pattern(100));
  const std::vector<std::string> lines = lines_of(text);
  REQUIRE(lines.size() == 5);  // 100 bytes -> 136 base64 characters -> 3 lines
  CHECK(lines.front() == "-----BEGIN STARLING CERTIFICATE-----");
  CHECK(lines.back() == "-----END STARLING CERTIFICATE-----");
  CHECK(lines[1].size() == 64);
  CHECK(lines[2].size() == 64);
  CHECK(lines[3].size() == 8);
  CHECK(text.back() == '\n');
  CHECK(armor("X", as_bytes("hello")) ==
        "-----BEGIN STARLING X-----\naGVsbG8=\n-----END STARLING X-----\n");
}

TEST_CASE("dearmor tolerates surrounding whitespace and CRLF line ends") {
  const Bytes bytes = pattern(200);
  const std::string text = armor("REVOCATION LIST", bytes);
  auto padded = dearmor("REVOCATION LIST", "\n\n  " + text + "  \n\t\n", 1000);
  REQUIRE_OK(padded);
  CHECK(*padded == bytes);

  std::string crlf;
  for (char c : text) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  auto from_crlf = dearmor("REVOCATION LIST", crlf, 1000);
  REQUIRE_OK(from_crlf);
  CHECK(*from_crlf == bytes);
}

TEST_CASE("dearmor rejects another label") {
  const std::string text = armor("CERTIFICATE", pattern(10));
  CHECK_CODE(dearmor("REVOCATION LIST", text, 100), StatusCode::kCorrupt);
  CHECK_CODE(dearmor("CERTIFICATES", text, 100), StatusCode::kCorrupt);
  CHECK_CODE(dearmor("certificate", text, 100), StatusCode::kCorrupt);
  // A begin line of one label and an end line of another.
  std::string mixed = text;
  mixed.replace(mixed.find("END STARLING CERTIFICATE"), 24, "END STARLING CERTIFICATX");
  CHECK_CODE(dearmor("CERTIFICATE", mixed, 100), StatusCode::kCorrupt);
}

TEST_CASE("dearmor rejects a missing end line and every truncation") {
  const std::string text = armor("CERTIFICATE", pattern(120));
  const std::size_t end_at = text.find("-----END");
  CHECK_CODE(dearmor("CERTIFICATE", text.substr(0, end_at), 1000), StatusCode::kCorrupt);
  // Cutting anywhere before the final newline loses part of the end line.
  for (std::size_t cut = 0; cut + 1 < text.size(); ++cut) {
    CAPTURE(cut);
    CHECK_CODE(dearmor("CERTIFICATE", text.substr(0, cut), 1000), StatusCode::kCorrupt);
  }
  CHECK_OK(dearmor("CERTIFICATE", text.substr(0, text.size() - 1), 1000));
}

TEST_CASE("dearmor rejects a missing begin line and trailing text") {
  const std::string text = armor("CERTIFICATE", pattern(30));
  CHECK_CODE(dearmor("CERTIFICATE", text.substr(text.find('\n') + 1), 100),
             StatusCode::kCorrupt);
  CHECK_CODE(dearmor("CERTIFICATE", text + "trailing\n", 100), StatusCode::kCorrupt);
  CHECK_CODE(dearmor("CERTIFICATE", "junk\n" + text, 100), StatusCode::kCorrupt);
  CHECK_CODE(dearmor("CERTIFICATE", "", 100), StatusCode::kCorrupt);
  CHECK_CODE(dearmor("CERTIFICATE", "-----BEGIN STARLING CERTIFICATE-----", 100),
             StatusCode::kCorrupt);
}

TEST_CASE("dearmor rejects bad base64") {
  const std::string begin = "-----BEGIN STARLING X-----\n";
  const std::string end = "\n-----END STARLING X-----\n";
  CHECK_OK(dearmor("X", begin + "aGVsbG8=" + end, 100));
  for (const char* body : {"aGVsbG8", "aGVsbG8==", "aGVs!G8=", "aGVs bG8=", "aGVsbG8=aGVs",
                           "aGVs\tbG8=", "a", "ab", "abc", "====", "aG-sbG8=", "aG_sbG8=",
                           "aGVsbG8=\x01", "\xc3\xa9\xc3\xa9"}) {
    const std::string text = body;
    CAPTURE(text);
    CHECK_CODE(dearmor("X", begin + text + end, 100), StatusCode::kCorrupt);
  }
}

TEST_CASE("dearmor accepts exactly the base64 alphabet byte by byte") {
  // libsodium 1.0.18 alone would accept every byte from 0x80 as a digit.
  const std::string begin = "-----BEGIN STARLING X-----\n";
  const std::string end = "\n-----END STARLING X-----\n";
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    CAPTURE(b);
    const bool digit = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                       (c >= '0' && c <= '9') || c == '+' || c == '/';
    const bool line_break = c == '\n' || c == '\r';  // stripped between lines
    auto result = dearmor("X", begin + "aGVs" + std::string(4, c) + end, 100);
    if (digit || line_break) {
      CHECK_OK(result);
    } else {
      CHECK_CODE(result, StatusCode::kCorrupt);
    }
  }
}

TEST_CASE("dearmor enforces its size limit") {
  const std::string text = armor("X", pattern(100));
  CHECK_OK(dearmor("X", text, 100));
  CHECK_CODE(dearmor("X", text, 99), StatusCode::kTooLarge);
  CHECK_CODE(dearmor("X", text, 0), StatusCode::kTooLarge);
  CHECK_CODE(dearmor("X", armor("X", pattern(101)), 100), StatusCode::kTooLarge);
  CHECK_CODE(dearmor("X", armor("X", pattern(102)), 100), StatusCode::kTooLarge);
  CHECK_CODE(dearmor("X", armor("X", pattern(103)), 100), StatusCode::kTooLarge);
  // A huge body is refused on its size, before it is decoded (it is not even valid base64).
  const std::string huge =
      "-----BEGIN STARLING X-----\n" + std::string(1 << 20, '!') + "\n-----END STARLING X-----\n";
  CHECK_CODE(dearmor("X", huge, 1000), StatusCode::kTooLarge);
  CHECK_OK(dearmor("X", armor("X", {}), 0));
}

}  // namespace
}  // namespace starling::crypto
