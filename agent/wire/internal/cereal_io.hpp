// Bounded Cereal PortableBinary I/O, private to agent/wire: a writer that appends to a byte
// buffer, and a reader over a span that checks every size tag against a limit AND against the
// bytes that remain before it allocates anything. Cereal's own loaders for strings, vectors and
// maps resize a container to a length read off the input before checking it, so 9 forged bytes
// could ask for gigabytes; the wire layer therefore writes with Cereal's standard save functions
// (the layouts stay plain Cereal) and reads only through CerealReader. Readers throw DecodeError;
// run_decoder() turns that and every other exception into a Status, so that none leaves the
// library. Objects are single-threaded; distinct objects may be used on different threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <map>
#include <new>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

#include <cereal/archives/portable_binary.hpp>

#include "agent/wire/reject_reason.hpp"
#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/status.hpp"

namespace starling::wire::internal {

// The first byte of every PortableBinary payload is Cereal's "data is little endian" flag. The
// wire is little endian always, so 1 is the only accepted value (one encoding per message).
inline constexpr std::uint8_t kLittleEndianFlag = 1;
// Cereal's size tags (string, vector and map lengths) are u64.
inline constexpr std::size_t kSizeTagBytes = 8;

// Why a reader stopped. Thrown by CerealReader and caught by run_decoder() only.
struct DecodeError {
  RejectReason reason;
  std::string detail;
};

// A read-only std::streambuf over bytes it does not own; knows how many bytes remain.
class SpanStreamBuf final : public std::streambuf {
 public:
  explicit SpanStreamBuf(ByteSpan bytes);
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(egptr() - gptr()); }
};

// A write-only std::streambuf that appends to a Bytes buffer it borrows.
class AppendStreamBuf final : public std::streambuf {
 public:
  explicit AppendStreamBuf(Bytes& out) : out_(out) {}

 protected:
  int_type overflow(int_type ch) override;
  std::streamsize xsputn(const char* data, std::streamsize count) override;

 private:
  Bytes& out_;
};

// Appends one PortableBinary (little-endian) payload to `out`: the flag byte, then the fields
// in call order, each with Cereal's standard save function.
class CerealWriter {
 public:
  explicit CerealWriter(Bytes& out);

  void u8(std::uint8_t value);
  void u32(std::uint32_t value);
  void u64(std::uint64_t value);
  void boolean(bool value);
  // The 16 raw bytes, without a size tag (Cereal's std::array of bytes).
  void node_id(const NodeId& id);
  // A u64 size tag and the bytes.
  void string(const std::string& text);
  // A u64 entry count, then key and value (each a string) per entry, in key order.
  void string_map(const std::map<std::string, std::string>& map);
  // A u64 count, then each byte string with its own u64 size tag.
  void byte_strings(const std::vector<Bytes>& strings);

 private:
  AppendStreamBuf buffer_;
  std::ostream stream_;
  cereal::PortableBinaryOutputArchive archive_;
};

// Reads what CerealWriter wrote, from a span it does not own (which must outlive it). Every
// method throws DecodeError: kTruncated when the input ends inside a field, kTooLarge when a
// declared length or count is above its limit, kMalformed for out-of-domain values. `what`
// names the field in the error detail. Nothing is allocated before its size was checked.
class CerealReader {
 public:
  // Throws DecodeError for an empty input (kTruncated) or a flag other than kLittleEndianFlag
  // (kBadVersion: Cereal's big-endian form is valid Cereal, but not this protocol).
  explicit CerealReader(ByteSpan bytes);

  std::size_t remaining() const noexcept { return buffer_.remaining(); }

  std::uint8_t u8(std::string_view what);
  std::uint32_t u32(std::string_view what);
  std::uint64_t u64(std::string_view what);
  // One byte, 0 or 1 (kMalformed otherwise).
  bool boolean(std::string_view what);
  NodeId node_id(std::string_view what);
  // A size tag: kTooLarge above `max_count`; kTruncated when that many elements of at least
  // `min_element_bytes` each cannot fit in the bytes that remain.
  std::size_t count(std::string_view what, std::size_t max_count, std::size_t min_element_bytes);
  // A size-tagged string or byte string of at most `max_length` bytes.
  std::string string(std::string_view what, std::size_t max_length);
  Bytes byte_string(std::string_view what, std::size_t max_length);
  // kTrailingBytes when any byte is left.
  void expect_end() const;

 private:
  static ByteSpan checked_flag(ByteSpan bytes);
  void need(std::size_t n, std::string_view what) const;
  std::size_t length(std::string_view what, std::size_t max_length);

  SpanStreamBuf buffer_;
  std::istream stream_;
  cereal::PortableBinaryInputArchive archive_;
};

// Runs `decode` (a callable returning T) and returns its value, or the rejection Status for the
// DecodeError or exception it threw (Cereal's, or bad_alloc as kTooLarge); sets *reason then,
// when `reason` is not null. No exception escapes.
template <typename T, typename Decode>
Result<T> run_decoder(Decode&& decode, RejectReason* reason) {
  RejectReason why = RejectReason::kMalformed;
  std::string detail;
  try {
    return decode();
  } catch (const DecodeError& e) {
    why = e.reason;
    detail = e.detail;
  } catch (const cereal::Exception& e) {
    why = RejectReason::kTruncated;
    detail = e.what();
  } catch (const std::bad_alloc&) {
    why = RejectReason::kTooLarge;
    detail = "allocation failed";
  } catch (const std::exception& e) {
    detail = e.what();
  } catch (...) {
    detail = "unexpected exception";
  }
  if (reason != nullptr) *reason = why;
  return reject(why, detail);
}

}  // namespace starling::wire::internal
