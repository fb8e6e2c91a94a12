// libFuzzer target for signed records: peek_record, open_record with the fixed key (author 0)
// and open_record through a KeyDirectory (authors 0..2), with a 64 KiB payload limit, on the
// input as given and, when its header names a known author, on a copy re-signed by that author.
// Each record that opens feeds a fresh ReplayWindow: first its own sequence, then a script read
// from its payload (3 bytes an operation), checked step by step against a plain reference model
// (a set of accepted sequences per author). Besides "no crash and no sanitizer report" it checks
// that the three entry points agree, that an opened payload is the view of the input it should
// be, and that sealing the opened fields reproduces the input. Single-threaded, as libFuzzer
// calls it.
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>

#include "tests/fuzz/fuzz_support.hpp"

namespace starling::fuzz {
namespace {

// A second payload limit, below the usual input sizes, so the size check is exercised without
// 64 KiB inputs (libFuzzer's inputs stay under 4 KiB by default).
constexpr std::size_t kTightMaxPayload = 256;

// The reference for ReplayWindow: every accepted sequence and the highest, per author.
class ReplayModel {
 public:
  bool would_accept(const NodeId& author, std::uint64_t sequence) const {
    auto it = accepted_.find(author);
    if (it == accepted_.end() || it->second.empty()) return true;
    const std::uint64_t highest = *it->second.rbegin();
    if (sequence > highest) return true;
    return highest - sequence < crypto::ReplayWindow::kWindow && !it->second.contains(sequence);
  }
  void accept(const NodeId& author, std::uint64_t sequence) { accepted_[author].insert(sequence); }
  void forget(const NodeId& author) { accepted_.erase(author); }

 private:
  std::map<NodeId, std::set<std::uint64_t>> accepted_;
};

void check_and_accept_both(crypto::ReplayWindow& window, ReplayModel& model,
                           const NodeId& author, std::uint64_t sequence) {
  const bool expected = model.would_accept(author, sequence);
  FUZZ_CHECK(window.would_accept(author, sequence) == expected);
  const Status status = window.check_and_accept(author, sequence);
  FUZZ_CHECK(status.is_ok() == expected);
  if (expected) {
    model.accept(author, sequence);
    FUZZ_CHECK(!window.would_accept(author, sequence));
  } else {
    FUZZ_CHECK(status.code() == StatusCode::kReplay);
  }
}

// Feeds the record's own sequence, then the payload as a script of 3-byte operations:
// selector (bits 0-1 author, bits 2-3 how to form the sequence, bit 4 forget the author first)
// and a 16-bit value v; the sequence is base + v, base - v, v or UINT64_MAX - v.
void feed_replay_window(const crypto::RecordView& record) {
  crypto::ReplayWindow window;
  ReplayModel model;
  check_and_accept_both(window, model, record.header.author, record.header.sequence);
  FUZZ_CHECK(window.check_and_accept(record.header.author, record.header.sequence).code() ==
             StatusCode::kReplay);
  const std::uint64_t base = record.header.sequence;
  const ByteSpan script = record.payload;
  for (std::size_t at = 0; at + 3 <= script.size(); at += 3) {
    const std::uint8_t selector = script[at];
    const std::uint64_t value = std::uint64_t{script[at + 1]} | std::uint64_t{script[at + 2]} << 8;
    const NodeId who = (selector & 3) == 3 ? record.header.author : author(selector & 3).node_id();
    std::uint64_t sequence = 0;
    switch (selector >> 2 & 3) {
      case 0: sequence = base + value; break;
      case 1: sequence = base - value; break;
      case 2: sequence = value; break;
      default: sequence = UINT64_MAX - value; break;
    }
    if (selector & 16) {
      window.forget(who);
      model.forget(who);
    }
    check_and_accept_both(window, model, who, sequence);
  }
}

bool same_header(const crypto::RecordHeader& a, const crypto::RecordHeader& b) {
  return a.kind == b.kind && a.author == b.author && a.sequence == b.sequence &&
         a.payload_length == b.payload_length;
}

void check_opened(ByteSpan bytes, const crypto::RecordView& view,
                  const crypto::RecordHeader& header, const crypto::Identity& signer) {
  FUZZ_CHECK(same_header(view.header, header));
  FUZZ_CHECK(view.payload.data() == bytes.data() + crypto::kRecordHeaderSize);
  FUZZ_CHECK(view.payload.size() == header.payload_length);
  FUZZ_CHECK(view.payload.size() <= kRecordMaxPayload);
  const Bytes sealed = crypto::seal_record(signer, header.kind, header.sequence, view.payload);
  FUZZ_CHECK(sealed == Bytes(bytes.begin(), bytes.end()));
}

// Runs the three entry points on `bytes`; returns whether the directory variant opened it.
bool run_all(ByteSpan bytes) {
  const FixedKeyDirectory directory;
  auto header = crypto::peek_record(bytes, kRecordMaxPayload);
  auto by_key = crypto::open_record(bytes, author(0).public_key(), kRecordMaxPayload);
  auto by_directory = crypto::open_record(bytes, directory, kRecordMaxPayload);
  // A tight limit changes nothing but can add kTooLarge, for records above it.
  auto tight = crypto::peek_record(bytes, kTightMaxPayload);
  if (bytes.size() > crypto::kRecordOverhead + kTightMaxPayload) {
    FUZZ_CHECK(tight.status().code() == StatusCode::kTooLarge);
  } else {
    FUZZ_CHECK(tight.status() == header.status());
  }
  if (!header) {
    FUZZ_CHECK(by_key.status() == header.status());
    FUZZ_CHECK(by_directory.status() == header.status());
    return false;
  }
  const crypto::Identity* signer = directory.find_identity(header->author);
  if (signer == nullptr) FUZZ_CHECK(by_directory.status().code() == StatusCode::kNotFound);
  if (signer == &author(0)) FUZZ_CHECK(by_key.status() == by_directory.status());
  if (by_key) {
    FUZZ_CHECK(header->author == author(0).node_id());
    check_opened(bytes, *by_key, *header, author(0));
    FUZZ_CHECK(by_directory.is_ok());
  }
  if (!by_directory) return false;
  FUZZ_CHECK(signer != nullptr);
  check_opened(bytes, *by_directory, *header, *signer);
  feed_replay_window(*by_directory);
  return true;
}

// With a valid signature by the author the header names, a well-sized record must open.
void run_resigned(ByteSpan bytes) {
  auto header = crypto::peek_record(bytes, kRecordMaxPayload);
  if (!header) return;
  const crypto::Identity* signer = FixedKeyDirectory().find_identity(header->author);
  if (signer == nullptr) return;
  const Bytes copy = resigned(bytes, signer->signing_key());
  FUZZ_CHECK(run_all(copy));
}

}  // namespace
}  // namespace starling::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const starling::ByteSpan bytes(data, size);
  starling::fuzz::run_all(bytes);
  starling::fuzz::run_resigned(bytes);
  return 0;
}
