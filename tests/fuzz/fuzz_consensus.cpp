// libFuzzer target for the consensus decoders: Raft messages (default and tight limits),
// configuration changes, workload commands and workload table snapshots. Besides "no crash and
// no sanitizer report" it checks that whatever decodes re-encodes to exactly the input (every
// layout has one encoding), that tight limits only add rejections, and that a restored table
// snapshots back to the same bytes (an empty input is the empty table) and still holds its invariants after applying the input as
// a command. Single-threaded, as libFuzzer calls it.
#include <cstddef>
#include <cstdint>

#include "consensus/codec.hpp"
#include "consensus/workloads.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace starling::fuzz {
namespace {

void run(ByteSpan bytes) {
  auto message = consensus::decode_message(bytes);
  if (message) FUZZ_CHECK(consensus::encode_message(*message) == Bytes(bytes.begin(), bytes.end()));
  consensus::CodecLimits tight;
  tight.entries_max = 2;
  tight.entry_bytes_max = 64;
  tight.snapshot_bytes_max = 256;
  auto tight_message = consensus::decode_message(bytes, tight);
  if (tight_message) FUZZ_CHECK(message.is_ok());

  if (auto change = consensus::decode_config_change(bytes)) {
    FUZZ_CHECK(consensus::encode_config_change(*change) == Bytes(bytes.begin(), bytes.end()));
  }
  if (auto command = consensus::decode_command(bytes)) {
    FUZZ_CHECK(consensus::validate_command(*command).is_ok());
    FUZZ_CHECK(consensus::encode_command(*command) == Bytes(bytes.begin(), bytes.end()));
  }
  if (auto table = consensus::WorkloadTable::restore(bytes)) {
    // An empty input is the bootstrap snapshot (the empty table); anything else is canonical.
    if (!bytes.empty()) FUZZ_CHECK(table->snapshot() == Bytes(bytes.begin(), bytes.end()));
    (void)table->apply(bytes);
    FUZZ_CHECK(table->check_invariants().is_ok());
  }
}

}  // namespace
}  // namespace starling::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  starling::fuzz::run(starling::ByteSpan(data, size));
  return 0;
}
