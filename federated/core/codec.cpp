// The update codecs: binary16 conversion, the encoder (with topk's error feedback) and the
// bounded decoder.
#include "federated/core/codec.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>

#include "federated/core/internal/spec.hpp"

namespace starling::federated {
namespace {

// Tag + tensor count + one u32 per tensor.
std::size_t header_size(const ModelLayout& layout) { return 1 + 4 + 4 * layout.tensor_sizes.size(); }

void store_u32(std::uint8_t* at, std::uint32_t v) noexcept {
  at[0] = static_cast<std::uint8_t>(v);
  at[1] = static_cast<std::uint8_t>(v >> 8);
  at[2] = static_cast<std::uint8_t>(v >> 16);
  at[3] = static_cast<std::uint8_t>(v >> 24);
}
std::uint32_t load_u32(const std::uint8_t* at) noexcept {
  return static_cast<std::uint32_t>(at[0]) | static_cast<std::uint32_t>(at[1]) << 8 |
         static_cast<std::uint32_t>(at[2]) << 16 | static_cast<std::uint32_t>(at[3]) << 24;
}
void store_f32(std::uint8_t* at, float v) noexcept { store_u32(at, std::bit_cast<std::uint32_t>(v)); }
float load_f32(const std::uint8_t* at) noexcept { return std::bit_cast<float>(load_u32(at)); }

void store_f32s(std::uint8_t* at, std::span<const float> values) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    if (!values.empty()) std::memcpy(at, values.data(), values.size() * 4);
  } else {
    for (std::size_t i = 0; i < values.size(); ++i) store_f32(at + 4 * i, values[i]);
  }
}
void load_f32s(const std::uint8_t* at, std::span<float> out) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    if (!out.empty()) std::memcpy(out.data(), at, out.size() * 4);
  } else {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = load_f32(at + 4 * i);
  }
}

Status corrupt(const std::string& detail) {
  return error(StatusCode::kCorrupt, "update encoding: " + detail);
}

// topk ranks by magnitude, NaN above everything (so that it is sent, not kept forever).
float rank_key(float v) noexcept {
  return std::isnan(v) ? std::numeric_limits<float>::infinity() : std::fabs(v);
}

}  // namespace

std::uint16_t float_to_half(float value) noexcept {
  const auto f = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint32_t>((f >> 16) & 0x8000u);
  const std::uint32_t exponent = (f >> 23) & 0xffu;
  const std::uint32_t mantissa = f & 0x7fffffu;
  if (exponent == 0xff) {  // infinity or NaN
    if (mantissa == 0) return static_cast<std::uint16_t>(sign | 0x7c00u);
    const std::uint32_t payload = mantissa >> 13;
    return static_cast<std::uint16_t>(sign | 0x7c00u | (payload != 0 ? payload : 0x200u));
  }
  const int e = static_cast<int>(exponent) - 127;
  if (e > 15) return static_cast<std::uint16_t>(sign | 0x7c00u);  // beyond 65520: infinity
  if (e >= -14) {  // a normal half, unless rounding carries it up to the next binade or infinity
    std::uint32_t h = (static_cast<std::uint32_t>(e + 15) << 10) | (mantissa >> 13);
    const std::uint32_t rest = mantissa & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) != 0)) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }
  // A subnormal half (or zero): value = significand * 2^(e - 23) = h * 2^-24.
  if (e < -25) return static_cast<std::uint16_t>(sign);  // below half of 2^-24: rounds to zero
  const std::uint32_t significand = mantissa | 0x800000u;
  const int shift = -e - 1;  // 14 to 24
  std::uint32_t h = significand >> shift;
  const std::uint32_t rest = significand & ((1u << shift) - 1u);
  const std::uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (h & 1u) != 0)) ++h;  // may become the smallest normal
  return static_cast<std::uint16_t>(sign | h);
}

float half_to_float(std::uint16_t half) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1fu;
  std::uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) {
    return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }
  if (mantissa == 0) return std::bit_cast<float>(sign);
  int e = -14;  // subnormal: (mantissa / 1024) * 2^-14; normalise it
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --e;
  }
  mantissa &= 0x3ffu;
  return std::bit_cast<float>(sign | (static_cast<std::uint32_t>(e + 127) << 23) |
                              (mantissa << 13));
}

Status CodecConfig::validate() const {
  if (!(topk_fraction > 0.0 && topk_fraction <= 1.0)) {
    return error(StatusCode::kInvalidArgument, "codec: topk_fraction must be in (0, 1]");
  }
  switch (kind) {
    case CodecKind::kFloat32:
    case CodecKind::kFloat16:
    case CodecKind::kInt8:
    case CodecKind::kTopK: return Status::ok();
  }
  return error(StatusCode::kInvalidArgument, "codec: unknown kind");
}

std::string_view codec_kind_name(CodecKind kind) noexcept {
  switch (kind) {
    case CodecKind::kFloat32: return "float32";
    case CodecKind::kFloat16: return "float16";
    case CodecKind::kInt8: return "int8";
    case CodecKind::kTopK: return "topk";
  }
  return "unknown";
}

std::string codec_name(const CodecConfig& config) {
  std::string name(codec_kind_name(config.kind));
  if (config.kind == CodecKind::kTopK) name += ":" + internal::format_decimal(config.topk_fraction);
  return name;
}

Result<CodecConfig> parse_codec(std::string_view spec) {
  auto bad = [spec](const std::string& why) {
    return error(StatusCode::kInvalidArgument,
                 "codec '" + std::string(spec) + "': " + why +
                     " (use float32, float16, int8 or topk[:FRACTION])");
  };
  const std::vector<std::string_view> parts = internal::split_spec(spec);
  const std::string_view name = parts.front();
  CodecConfig config;
  if (name == "float32" || name == "float16" || name == "int8") {
    config.kind = name == "float32"   ? CodecKind::kFloat32
                  : name == "float16" ? CodecKind::kFloat16
                                      : CodecKind::kInt8;
    if (parts.size() != 1) return bad(std::string(name) + " takes no parameter");
    return config;
  }
  if (name == "topk") {
    config.kind = CodecKind::kTopK;
    if (parts.size() > 2) return bad("topk takes one parameter, FRACTION");
    if (parts.size() == 2) {
      const auto fraction = internal::parse_decimal(parts[1]);
      if (!fraction || !(*fraction > 0.0) || *fraction > 1.0) {
        return bad("FRACTION must be a number in (0, 1], got '" + std::string(parts[1]) + "'");
      }
      config.topk_fraction = *fraction;
    }
    return config;
  }
  return bad("unknown codec");
}

std::size_t topk_count(double fraction, std::size_t total) noexcept {
  if (total == 0) return 0;
  const double wanted = std::ceil(fraction * static_cast<double>(total) - 1e-9);
  if (!(wanted >= 1.0)) return 1;
  if (wanted >= static_cast<double>(total)) return total;
  return static_cast<std::size_t>(wanted);
}

std::size_t encoded_size(const CodecConfig& config, const ModelLayout& layout) {
  const std::size_t total = layout.total();
  const std::size_t header = header_size(layout);
  switch (config.kind) {
    case CodecKind::kFloat32: return header + 4 * total;
    case CodecKind::kFloat16: return header + 2 * total;
    case CodecKind::kInt8: return header + 4 * layout.tensor_sizes.size() + total;
    case CodecKind::kTopK: return header + 4 + 8 * topk_count(config.topk_fraction, total);
  }
  STARLING_UNREACHABLE("encoded_size: unknown codec kind");
}

UpdateEncoder::UpdateEncoder(CodecConfig config) : config_(config) {
  STARLING_ASSERT(config_.validate().is_ok(), "UpdateEncoder: invalid codec config");
}

Bytes UpdateEncoder::encode(std::span<const float> delta, const ModelLayout& layout) {
  STARLING_ASSERT(layout.validate().is_ok(), "UpdateEncoder::encode: invalid model layout");
  STARLING_ASSERT(delta.size() == layout.total(), "UpdateEncoder::encode: delta size != layout");
  Bytes out(encoded_size(config_, layout));
  std::uint8_t* p = out.data();
  p[0] = static_cast<std::uint8_t>(config_.kind);
  store_u32(p + 1, static_cast<std::uint32_t>(layout.tensor_sizes.size()));
  std::size_t at = 5;
  for (std::size_t size : layout.tensor_sizes) {
    store_u32(p + at, static_cast<std::uint32_t>(size));
    at += 4;
  }
  switch (config_.kind) {
    case CodecKind::kFloat32: store_f32s(p + at, delta); break;
    case CodecKind::kFloat16:
      for (float v : delta) {
        const std::uint16_t h = float_to_half(v);
        p[at] = static_cast<std::uint8_t>(h);
        p[at + 1] = static_cast<std::uint8_t>(h >> 8);
        at += 2;
      }
      break;
    case CodecKind::kInt8: {
      std::size_t begin = 0;
      for (std::size_t size : layout.tensor_sizes) {
        const std::span<const float> tensor = delta.subspan(begin, size);
        begin += size;
        float max_abs = 0.0f;
        for (float v : tensor) {
          if (std::isfinite(v)) max_abs = std::max(max_abs, std::fabs(v));
        }
        const float scale = max_abs / 127.0f;
        store_f32(p + at, scale);
        at += 4;
        const double inverse = scale > 0.0f ? 1.0 / static_cast<double>(scale) : 0.0;
        for (float v : tensor) {
          long q = 0;
          if (std::isnan(v)) {
            q = 0;
          } else if (std::isinf(v)) {
            q = v > 0 ? 127 : -127;
          } else {
            q = std::clamp(std::lround(static_cast<double>(v) * inverse), -127L, 127L);
          }
          p[at++] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
        }
      }
      break;
    }
    case CodecKind::kTopK: encode_topk(delta, out, at); break;
  }
  return out;
}

void UpdateEncoder::encode_topk(std::span<const float> delta, Bytes& out, std::size_t at) {
  const std::size_t total = delta.size();
  const std::size_t k = topk_count(config_.topk_fraction, total);
  if (residual_.size() != total) residual_.assign(total, 0.0f);
  // The residual becomes the accumulated update; the values sent are taken out of it below.
  for (std::size_t i = 0; i < total; ++i) residual_[i] += delta[i];
  // The k-th largest magnitude; ties at it are broken by index, so the choice is a function of
  // the values alone, whatever nth_element does with equal keys.
  scratch_.resize(total);
  for (std::size_t i = 0; i < total; ++i) scratch_[i] = rank_key(residual_[i]);
  const auto kth = static_cast<std::ptrdiff_t>(k - 1);
  std::nth_element(scratch_.begin(), scratch_.begin() + kth, scratch_.end(), std::greater<>());
  const float threshold = scratch_[static_cast<std::size_t>(kth)];
  std::size_t above = 0;
  for (std::size_t i = 0; i < total; ++i) above += rank_key(residual_[i]) > threshold ? 1 : 0;
  std::size_t ties_left = k - above;

  std::uint8_t* p = out.data();
  store_u32(p + at, static_cast<std::uint32_t>(k));
  at += 4;
  for (std::size_t i = 0; i < total; ++i) {
    const float key = rank_key(residual_[i]);
    const bool send = key > threshold || (key == threshold && ties_left > 0);
    if (!send) continue;
    if (key == threshold) --ties_left;
    store_u32(p + at, static_cast<std::uint32_t>(i));
    store_f32(p + at + 4, residual_[i]);
    at += 8;
    residual_[i] = 0.0f;
  }
  STARLING_ASSERT(at == out.size(), "encode_topk: wrote a different number of values than k");
}

Status decode_update(ByteSpan bytes, const ModelLayout& layout, std::span<float> out,
                     CodecKind* codec) {
  STARLING_ASSERT(layout.validate().is_ok(), "decode_update: invalid model layout");
  STARLING_ASSERT(out.size() == layout.total(), "decode_update: out size != layout total");
  const std::size_t tensors = layout.tensor_sizes.size();
  const std::size_t total = out.size();
  const std::size_t header = header_size(layout);
  if (bytes.size() < 5) return corrupt("truncated header (" + std::to_string(bytes.size()) + " bytes)");
  const std::uint8_t* p = bytes.data();
  const std::uint8_t tag = p[0];
  if (tag < static_cast<std::uint8_t>(CodecKind::kFloat32) ||
      tag > static_cast<std::uint8_t>(CodecKind::kTopK)) {
    return corrupt("unknown codec tag " + std::to_string(tag));
  }
  const auto kind = static_cast<CodecKind>(tag);
  const std::uint32_t count = load_u32(p + 1);
  if (count != tensors) {
    return corrupt("layout of " + std::to_string(count) + " tensors, the model has " +
                   std::to_string(tensors));
  }
  if (bytes.size() < header) return corrupt("truncated layout");
  for (std::size_t t = 0; t < tensors; ++t) {
    const std::uint32_t size = load_u32(p + 5 + 4 * t);
    if (size != layout.tensor_sizes[t]) {
      return corrupt("tensor " + std::to_string(t) + " has " + std::to_string(size) +
                     " values, the model's has " + std::to_string(layout.tensor_sizes[t]));
    }
  }
  const std::uint8_t* body = p + header;
  const std::size_t body_size = bytes.size() - header;
  auto expect_body = [&](std::size_t expected) -> Status {
    if (body_size == expected) return Status::ok();
    return corrupt(std::string(codec_kind_name(kind)) + " body is " + std::to_string(body_size) +
                   " bytes, the layout needs " + std::to_string(expected) +
                   (body_size < expected ? " (truncated)" : " (trailing bytes)"));
  };
  switch (kind) {
    case CodecKind::kFloat32:
      STARLING_RETURN_IF_ERROR(expect_body(4 * total));
      load_f32s(body, out);
      break;
    case CodecKind::kFloat16:
      STARLING_RETURN_IF_ERROR(expect_body(2 * total));
      for (std::size_t i = 0; i < total; ++i) {
        out[i] = half_to_float(static_cast<std::uint16_t>(body[2 * i] | body[2 * i + 1] << 8));
      }
      break;
    case CodecKind::kInt8: {
      STARLING_RETURN_IF_ERROR(expect_body(4 * tensors + total));
      std::size_t at = 0;
      std::size_t index = 0;
      for (std::size_t t = 0; t < tensors; ++t) {
        const float scale = load_f32(body + at);
        at += 4;
        if (!std::isfinite(scale) || scale < 0.0f) {
          return corrupt("int8 scale of tensor " + std::to_string(t) +
                         " is negative or not finite");
        }
        for (std::size_t i = 0; i < layout.tensor_sizes[t]; ++i) {
          const auto q = static_cast<std::int8_t>(body[at++]);
          if (q == -128) return corrupt("int8 value -128 at " + std::to_string(index));
          out[index++] = static_cast<float>(q) * scale;
        }
      }
      break;
    }
    case CodecKind::kTopK: {
      if (body_size < 4) return corrupt("topk: truncated count");
      const std::uint32_t k = load_u32(body);
      if (k > total) {
        return corrupt("topk: " + std::to_string(k) + " values for " + std::to_string(total) +
                       " parameters");
      }
      STARLING_RETURN_IF_ERROR(expect_body(4 + 8 * static_cast<std::size_t>(k)));
      std::fill(out.begin(), out.end(), 0.0f);
      std::size_t next = 0;  // the smallest index allowed next
      for (std::size_t j = 0; j < k; ++j) {
        const std::uint8_t* pair = body + 4 + 8 * j;
        const std::uint32_t index = load_u32(pair);
        if (index < next || index >= total) {
          return corrupt("topk: index " + std::to_string(index) + " at position " +
                         std::to_string(j) +
                         (index >= total ? " is out of range" : " is not increasing"));
        }
        out[index] = load_f32(pair + 4);
        next = static_cast<std::size_t>(index) + 1;
      }
      break;
    }
  }
  if (codec != nullptr) *codec = kind;
  return Status::ok();
}

}  // namespace starling::federated
