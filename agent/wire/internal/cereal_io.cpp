// Bounded Cereal PortableBinary reader and writer (see cereal_io.hpp).
#include "agent/wire/internal/cereal_io.hpp"

#include <array>
#include <string>

#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

namespace starling::wire::internal {

namespace {

[[noreturn]] void fail(RejectReason reason, std::string detail) {
  throw DecodeError{reason, std::move(detail)};
}

}  // namespace

SpanStreamBuf::SpanStreamBuf(ByteSpan bytes) {
  // The get area is never written through: std::streambuf only wants non-const pointers.
  char* begin = reinterpret_cast<char*>(const_cast<std::uint8_t*>(bytes.data()));
  setg(begin, begin, begin + bytes.size());
}

AppendStreamBuf::int_type AppendStreamBuf::overflow(int_type ch) {
  if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
  out_.push_back(static_cast<std::uint8_t>(traits_type::to_char_type(ch)));
  return ch;
}

std::streamsize AppendStreamBuf::xsputn(const char* data, std::streamsize count) {
  if (count <= 0) return 0;
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
  out_.insert(out_.end(), bytes, bytes + count);
  return count;
}

CerealWriter::CerealWriter(Bytes& out)
    : buffer_(out),
      stream_(&buffer_),
      archive_(stream_, cereal::PortableBinaryOutputArchive::Options::LittleEndian()) {}

void CerealWriter::u8(std::uint8_t value) { archive_(value); }
void CerealWriter::u32(std::uint32_t value) { archive_(value); }
void CerealWriter::u64(std::uint64_t value) { archive_(value); }
void CerealWriter::boolean(bool value) { archive_(value); }
void CerealWriter::node_id(const NodeId& id) { archive_(id.raw()); }
void CerealWriter::string(const std::string& text) { archive_(text); }
void CerealWriter::string_map(const std::map<std::string, std::string>& map) { archive_(map); }
void CerealWriter::byte_strings(const std::vector<Bytes>& strings) { archive_(strings); }

ByteSpan CerealReader::checked_flag(ByteSpan bytes) {
  if (bytes.empty()) fail(RejectReason::kTruncated, "empty payload");
  if (bytes[0] != kLittleEndianFlag) {
    fail(RejectReason::kBadVersion,
         "payload encoding flag " + std::to_string(bytes[0]) + " (expected 1, little endian)");
  }
  return bytes;
}

// The archive's constructor reads the flag byte checked above.
CerealReader::CerealReader(ByteSpan bytes)
    : buffer_(checked_flag(bytes)), stream_(&buffer_), archive_(stream_) {}

void CerealReader::need(std::size_t n, std::string_view what) const {
  if (remaining() < n) {
    fail(RejectReason::kTruncated, std::string(what) + " needs " + std::to_string(n) +
                                       " bytes, " + std::to_string(remaining()) + " remain");
  }
}

std::uint8_t CerealReader::u8(std::string_view what) {
  need(1, what);
  std::uint8_t value = 0;
  archive_(value);
  return value;
}

std::uint32_t CerealReader::u32(std::string_view what) {
  need(4, what);
  std::uint32_t value = 0;
  archive_(value);
  return value;
}

std::uint64_t CerealReader::u64(std::string_view what) {
  need(8, what);
  std::uint64_t value = 0;
  archive_(value);
  return value;
}

bool CerealReader::boolean(std::string_view what) {
  const std::uint8_t value = u8(what);
  if (value > 1) {
    fail(RejectReason::kMalformed, std::string(what) + " is " + std::to_string(value) +
                                       ", not a boolean");
  }
  return value == 1;
}

NodeId CerealReader::node_id(std::string_view what) {
  need(NodeId::kSize, what);
  NodeId::Raw raw{};
  archive_(cereal::binary_data(raw.data(), raw.size()));
  return NodeId(raw);
}

std::size_t CerealReader::count(std::string_view what, std::size_t max_count,
                                std::size_t min_element_bytes) {
  const std::uint64_t declared = u64(what);
  if (declared > max_count) {
    fail(RejectReason::kTooLarge, std::string(what) + " declares " + std::to_string(declared) +
                                      " (limit " + std::to_string(max_count) + ")");
  }
  // A division rather than declared * min_element_bytes, which could overflow.
  if (min_element_bytes > 0 && declared > remaining() / min_element_bytes) {
    fail(RejectReason::kTruncated, std::string(what) + " declares " + std::to_string(declared) +
                                       " but only " + std::to_string(remaining()) +
                                       " bytes remain");
  }
  return static_cast<std::size_t>(declared);
}

std::size_t CerealReader::length(std::string_view what, std::size_t max_length) {
  const std::string length_of = std::string(what) + " length";
  return count(length_of, max_length, 1);
}

std::string CerealReader::string(std::string_view what, std::size_t max_length) {
  const std::size_t n = length(what, max_length);
  std::string out(n, '\0');
  if (n > 0) archive_(cereal::binary_data(out.data(), n));
  return out;
}

Bytes CerealReader::byte_string(std::string_view what, std::size_t max_length) {
  const std::size_t n = length(what, max_length);
  Bytes out(n);
  if (n > 0) archive_(cereal::binary_data(out.data(), n));
  return out;
}

void CerealReader::expect_end() const {
  if (remaining() != 0) {
    fail(RejectReason::kTrailingBytes,
         std::to_string(remaining()) + " unexpected bytes after the last field");
  }
}

}  // namespace starling::wire::internal
