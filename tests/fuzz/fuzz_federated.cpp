// libFuzzer target for the federated-learning decoders: encoded updates (decode_update for a
// small and an MLP-shaped layout), the certificate-exchange messages, and the round protocol
// stepping the input as an update, a model request and a model reply under a signer that
// accepts any author (so the fuzzer reaches the body parsing behind the signature). Besides
// "no crash and no sanitizer report" it checks that decoded updates have the layout's size, that
// certificate messages re-encode to exactly the input, and that the round core's model stays
// finite. Single-threaded, as libFuzzer calls it.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "agent/wire/trust_messages.hpp"
#include "federated/core/codec.hpp"
#include "federated/core/round.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace starling::fuzz {
namespace {

// Accepts every input as signed by the node named in its first 16 bytes.
class AnyAuthor final : public federated::UpdateSigner {
 public:
  Bytes seal(ByteSpan body) override { return Bytes(body.begin(), body.end()); }
  Result<Opened> open(ByteSpan sealed, federated::UpdateRejection* why) override {
    if (sealed.size() < NodeId::kSize) {
      *why = federated::UpdateRejection::kUnsigned;
      return error(StatusCode::kCorrupt, "short");
    }
    NodeId::Raw raw{};
    std::copy(sealed.begin(), sealed.begin() + NodeId::kSize, raw.begin());
    return Opened{NodeId(raw), sealed.subspan(NodeId::kSize)};
  }
};

federated::RoundCore& core() {
  static AnyAuthor signer;
  static federated::RoundCore instance = [] {
    federated::RoundConfig config;
    config.layout.tensor_sizes = {6, 2};
    config.model_id = federated::model_id_of("fuzz", config.layout);
    config.aggregator = federated::parse_aggregator("fedavg").value();
    config.codec = federated::parse_codec("float32").value();
    NodeId::Raw self{};
    self[0] = 0xaa;
    federated::RoundCore c(config, NodeId(self), std::vector<float>(8, 0.0f), signer, 7);
    c.start(Instant{});
    return c;
  }();
  return instance;
}

void run(ByteSpan bytes) {
  for (const auto& sizes : {std::vector<std::size_t>{3, 2}, std::vector<std::size_t>{100352, 128, 1280, 10}}) {
    federated::ModelLayout layout{sizes};
    std::vector<float> out(layout.total());
    if (federated::decode_update(bytes, layout, out).is_ok()) FUZZ_CHECK(out.size() == layout.total());
  }
  const wire::WireLimits limits;
  if (auto request = wire::decode_cert_request(bytes, limits)) {
    FUZZ_CHECK(wire::encode_cert_request(*request) == Bytes(bytes.begin(), bytes.end()));
  }
  if (auto reply = wire::decode_cert_reply(bytes, limits)) {
    FUZZ_CHECK(wire::encode_cert_reply(*reply) == Bytes(bytes.begin(), bytes.end()));
  }
  NodeId::Raw from{};
  from[0] = 1;
  for (auto type : {federated::RoundMessageType::kUpdate, federated::RoundMessageType::kModelRequest,
                    federated::RoundMessageType::kModelReply}) {
    core().step(NodeId(from), type, bytes, Instant{});
  }
  (void)core().take_ready();
  for (float v : core().params()) FUZZ_CHECK(std::isfinite(v));
}

}  // namespace
}  // namespace starling::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  starling::fuzz::run(starling::ByteSpan(data, size));
  return 0;
}
