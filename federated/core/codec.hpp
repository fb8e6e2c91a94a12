// Update codecs: how a weight update (a flat float32 buffer with a ModelLayout, update.hpp)
// is turned into bytes for the swarm and back. Four codecs, chosen per fleet:
//   float32  exact, 4 bytes per parameter
//   float16  IEEE binary16 with round-to-nearest-even, 2 bytes per parameter; relative error
//            <= 2^-11 for values in the normal half range (6.1e-5 to 65504), absolute error
//            <= 2^-25 below it, magnitudes from 65520 up become infinity (check_update then
//            rejects the update: use float16 only for updates that are small, as deltas are)
//   int8     symmetric per-tensor quantisation, 1 byte per parameter plus a float32 scale per
//            tensor: scale = max|x| / 127, q = round(x / scale) clamped to [-127, 127],
//            decoded q * scale; |error| <= scale / 2 per element (plus float32 rounding of the
//            product, below 2^-17 scale; a tensor whose largest magnitude is below 127 times
//            the smallest subnormal float, ~1.8e-43, has scale 0 and decodes as zeros)
//   topk     the k = ceil(fraction * total) largest-magnitude values of the whole buffer as
//            (index, float32 value) pairs, with error feedback (below); 8 bytes per value sent
//
// Encoding (little-endian; docs/PROTOCOL.md, "Model update encoding"):
//   u8  codec tag: 1 float32, 2 float16, 3 int8, 4 topk (0 and 5-255 are not assigned)
//   u32 tensor count T, then T x u32 element count: the layout, which the decoder requires to
//       be exactly its own (an update for another model does not decode)
//   body:
//     float32: total x f32 (IEEE binary32), the tensors in layout order
//     float16: total x u16 (IEEE binary16)
//     int8:    per tensor: f32 scale (finite, >= 0), then size x i8 in [-127, 127]
//     topk:    u32 k (0 <= k <= total), then k x (u32 index, f32 value), indices strictly
//              increasing and < total; every other parameter decodes as 0
// The body's length follows from the header, and the encoding must end exactly there. Every
// encoding of a given update and codec is the same bytes (for topk: given the encoder's
// residual), so encodings can be hashed and signed.
//
// Error feedback (topk): the encoder adds the residual left by its previous call to the new
// update, sends the k largest magnitudes of that sum, and keeps what it did not send as the next
// residual. Nothing is lost, only delayed: over rounds, the sum of the decoded updates equals the
// sum of the true updates minus the current residual (up to float32 rounding of the additions).
// One UpdateEncoder per node and model; the other codecs are stateless.
//
// Values are not checked (decode_update checks the encoding; run check_update on the decoded
// update). Non-finite input values: float32 and float16 carry them; int8 computes the scale
// from the finite values and sends NaN as 0 and infinities as +-127; topk ranks NaN as the
// largest magnitude.
//
// Thread-safety: free functions are thread-safe; an UpdateEncoder is single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "federated/core/update.hpp"

namespace starling::federated {

// The values are the codec tags of the encoding.
enum class CodecKind : std::uint8_t {
  kFloat32 = 1,
  kFloat16 = 2,
  kInt8 = 3,
  kTopK = 4,
};

struct CodecConfig {
  CodecKind kind = CodecKind::kFloat32;
  // topk: the fraction of the parameters sent each round, in (0, 1].
  double topk_fraction = 0.01;

  // kInvalidArgument when topk_fraction is out of range (checked for every kind).
  Status validate() const;

  friend bool operator==(const CodecConfig&, const CodecConfig&) = default;
};

// Parses "float32", "float16", "int8", "topk" or "topk:FRACTION" (FRACTION a decimal in (0, 1],
// default 0.01). kInvalidArgument with the reason and the accepted forms otherwise.
Result<CodecConfig> parse_codec(std::string_view spec);

// "float32", "float16", "int8", "topk".
std::string_view codec_kind_name(CodecKind kind) noexcept;

// The canonical specification, which parse_codec reads back to an equal config: "float32",
// "float16", "int8", "topk:0.01".
std::string codec_name(const CodecConfig& config);

// The number of values topk sends for `total` parameters: ceil(fraction * total) (with
// fraction * total nudged down by 1e-9, so that 0.01 * 300 is 3), at least 1, at most total.
std::size_t topk_count(double fraction, std::size_t total) noexcept;

// The exact size in bytes of every encoding with `config` and `layout`.
// REQUIRES: config.validate() and layout.validate() are ok.
std::size_t encoded_size(const CodecConfig& config, const ModelLayout& layout);

// IEEE 754 binary16 conversions. float_to_half rounds to nearest, ties to even; overflows to
// infinity; produces subnormals and signed zeros; keeps a NaN a NaN with the top 10 bits of its
// payload (a NaN whose top bits are all zero becomes a quiet NaN). half_to_float is exact.
// float_to_half(half_to_float(h)) == h for all 65,536 values of h.
std::uint16_t float_to_half(float value) noexcept;
float half_to_float(std::uint16_t half) noexcept;

class UpdateEncoder {
 public:
  // REQUIRES: config.validate() is ok.
  explicit UpdateEncoder(CodecConfig config);

  const CodecConfig& config() const noexcept { return config_; }

  // Encodes `delta` (for topk: delta plus the residual, which is then updated). The result is
  // exactly encoded_size(config(), layout) bytes. A layout whose total differs from the
  // residual's restarts the residual at zero (a new model).
  // REQUIRES: layout.validate() is ok and delta.size() == layout.total().
  Bytes encode(std::span<const float> delta, const ModelLayout& layout);

  // topk: what has not been sent yet (empty before the first encode and for other codecs).
  std::span<const float> residual() const noexcept { return residual_; }
  // Forgets the residual (e.g. when the node adopts a new global model from elsewhere).
  void reset_residual() noexcept { residual_.clear(); }

 private:
  void encode_topk(std::span<const float> delta, Bytes& out, std::size_t at);

  CodecConfig config_;
  std::vector<float> residual_;
  std::vector<float> scratch_;  // topk magnitudes, kept to avoid a large allocation per round
};

// Decodes `bytes` into `out`, checking everything: the codec tag, the layout against `layout`,
// the exact body length (no trailing bytes), int8 scales (finite, >= 0) and values (not -128),
// topk's k (<= total) and indices (strictly increasing, < total). Any violation is kCorrupt
// with a message naming it; the contents of `out` are then unspecified. Allocates nothing: it
// reads `bytes` in place and writes only `out`. Any codec is accepted (the round, not the
// decoder, decides which codecs it admits): on success the codec is stored in *codec when
// `codec` is not null.
// REQUIRES: layout.validate() is ok and out.size() == layout.total().
Status decode_update(ByteSpan bytes, const ModelLayout& layout, std::span<float> out,
                     CodecKind* codec = nullptr);

}  // namespace starling::federated
