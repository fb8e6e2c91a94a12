// Tests for the update codecs: binary16 conversion, round trips and their error bounds, sizes,
// top-k error feedback, the decoder's checks, hostile bytes, and the specification parser.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "base/rng.hpp"
#include "federated/core/codec.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"

namespace starling::federated {
namespace {

const ModelLayout kMlp{{100352, 128, 1280, 10}};  // the 784-128-10 MLP
const ModelLayout kSmall{{3, 5, 2}};

CodecConfig codec(CodecKind kind, double fraction = 0.01) {
  CodecConfig c;
  c.kind = kind;
  c.topk_fraction = fraction;
  return c;
}

const CodecKind kAllKinds[] = {CodecKind::kFloat32, CodecKind::kFloat16, CodecKind::kInt8,
                               CodecKind::kTopK};

// Values like a model delta: mostly small, a few larger, per-tensor scales differing.
std::vector<float> random_delta(Rng& rng, const ModelLayout& layout) {
  std::vector<float> delta;
  delta.reserve(layout.total());
  double scale = 0.01;
  for (std::size_t size : layout.tensor_sizes) {
    for (std::size_t i = 0; i < size; ++i) {
      const double u = rng.next_double() * 2.0 - 1.0;
      delta.push_back(static_cast<float>(u * u * u * scale));
    }
    scale *= 3.0;
  }
  return delta;
}

std::vector<float> decoded(const Bytes& bytes, const ModelLayout& layout) {
  std::vector<float> out(layout.total(), -7.0f);
  const Status s = decode_update(bytes, layout, out);
  INFO("decode: " << s.to_string());
  REQUIRE(s.is_ok());
  return out;
}

// --- binary16 ------------------------------------------------------------------------------------

TEST_CASE("float16 conversion round-trips all 65536 half values") {
  for (std::uint32_t h = 0; h <= 0xffff; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const float f = half_to_float(half);
    if (float_to_half(f) != half) {
      FAIL("half 0x" << std::hex << h << " -> " << f << " -> 0x" << float_to_half(f));
    }
  }
}

TEST_CASE("float16 conversion of special and boundary values") {
  struct Row {
    float value;
    std::uint16_t half;
  };
  const float inf = std::numeric_limits<float>::infinity();
  for (const Row& row : {
           Row{0.0f, 0x0000}, Row{-0.0f, 0x8000}, Row{1.0f, 0x3c00}, Row{-2.0f, 0xc000},
           Row{65504.0f, 0x7bff},                 // the largest half
           Row{65519.99f, 0x7bff},                // below the midpoint to infinity
           Row{65520.0f, 0x7c00},                 // the midpoint: ties to even, which is infinity
           Row{1e10f, 0x7c00}, Row{inf, 0x7c00}, Row{-inf, 0xfc00},
           Row{std::ldexp(1.0f, -14), 0x0400},    // the smallest normal
           Row{std::ldexp(1.0f, -24), 0x0001},    // the smallest subnormal
           Row{std::ldexp(1.0f, -25), 0x0000},    // half of it: ties to even (zero)
           Row{std::ldexp(1.5f, -25), 0x0001},    // above half of it
           Row{std::ldexp(3.0f, -25), 0x0002},    // 1.5 x 2^-24: ties to even (2)
           Row{std::ldexp(5.0f, -25), 0x0002},    // 2.5 x 2^-24: ties to even (2)
           Row{std::ldexp(1023.5f, -24), 0x0400}, // rounds up from the largest subnormal
           Row{1.0f + std::ldexp(1.0f, -11), 0x3c00},        // tie: to even
           Row{1.0f + 3 * std::ldexp(1.0f, -11), 0x3c02},    // tie: to even
           Row{1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20), 0x3c01},
           Row{std::ldexp(1.0f, -30), 0x0000}, Row{-std::ldexp(1.0f, -30), 0x8000},
           Row{std::numeric_limits<float>::denorm_min(), 0x0000},
       }) {
    CAPTURE(row.value);
    CHECK(float_to_half(row.value) == row.half);
  }
  const std::uint16_t nan = float_to_half(std::nanf(""));
  CHECK((nan & 0x7c00) == 0x7c00);
  CHECK((nan & 0x03ff) != 0);
  // A NaN whose payload lives only in the low bits stays a NaN.
  const float low_nan = std::bit_cast<float>(0x7f800001u);
  CHECK(std::isnan(half_to_float(float_to_half(low_nan))));
  CHECK(std::isnan(half_to_float(0x7e00)));
  CHECK(half_to_float(0x7c00) == inf);
  CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(half_to_float(0x03ff) == std::ldexp(1023.0f, -24));
}

TEST_CASE("float16 conversion rounds to the nearest half with ties to even") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed);
  for (int trial = 0; trial < 200000; ++trial) {
    // Random exponents across the subnormal, normal and overflow ranges of binary16.
    const int exponent = static_cast<int>(rng.uniform_range(-27, 16));
    const float x = std::ldexp(static_cast<float>(1.0 + rng.next_double()), exponent) *
                    (rng.chance(0.5) ? -1.0f : 1.0f);
    const std::uint16_t h = float_to_half(x);
    const double got = half_to_float(h);
    if (std::isinf(got)) {
      if (std::fabs(x) < 65520.0f) FAIL("overflowed: " << x);
      continue;
    }
    // Compare with the two neighbours of the same sign (magnitude +-1 ulp of half).
    const std::uint16_t magnitude = h & 0x7fff;
    const std::uint16_t sign = h & 0x8000;
    const double error = std::fabs(static_cast<double>(x) - got);
    for (int step : {-1, 1}) {
      if (magnitude == 0 && step < 0) continue;
      const auto neighbour = static_cast<std::uint16_t>(sign | (magnitude + step));
      const double other = half_to_float(neighbour);
      const double other_error = std::fabs(static_cast<double>(x) - other);
      if (other_error < error || (other_error == error && (h & 1) != 0)) {
        FAIL("x = " << x << " -> 0x" << std::hex << h << " but 0x" << neighbour << " is nearer");
      }
    }
    if (std::fabs(x) >= std::ldexp(1.0f, -14)) {
      CHECK(error <= std::fabs(static_cast<double>(x)) * std::ldexp(1.0, -11));
    } else {
      CHECK(error <= std::ldexp(1.0, -25));
    }
  }
}

// --- round trips -------------------------------------------------------------------------------

TEST_CASE("float32 round trip is exact and sizes match encoded_size") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed ^ 1);
  const std::vector<float> delta = random_delta(rng, kMlp);
  for (CodecKind kind : kAllKinds) {
    CAPTURE(codec_kind_name(kind));
    UpdateEncoder encoder(codec(kind));
    const Bytes bytes = encoder.encode(delta, kMlp);
    CHECK(bytes.size() == encoded_size(codec(kind), kMlp));
    CHECK(bytes[0] == static_cast<std::uint8_t>(kind));
    CodecKind seen{};
    std::vector<float> out(kMlp.total());
    REQUIRE_OK(decode_update(bytes, kMlp, out, &seen));
    CHECK(seen == kind);
  }
  UpdateEncoder encoder(codec(CodecKind::kFloat32));
  const Bytes bytes = encoder.encode(delta, kMlp);
  const std::vector<float> out = decoded(bytes, kMlp);
  CHECK(std::memcmp(out.data(), delta.data(), delta.size() * 4) == 0);
  CHECK(bytes.size() == 1 + 4 + 4 * 4 + 4 * kMlp.total());
}

TEST_CASE("int8 is at least 3.9x smaller than float32 for the MLP layout") {
  const std::size_t f32 = encoded_size(codec(CodecKind::kFloat32), kMlp);
  const std::size_t f16 = encoded_size(codec(CodecKind::kFloat16), kMlp);
  const std::size_t i8 = encoded_size(codec(CodecKind::kInt8), kMlp);
  const std::size_t topk = encoded_size(codec(CodecKind::kTopK, 0.01), kMlp);
  INFO("float32 " << f32 << " float16 " << f16 << " int8 " << i8 << " topk " << topk);
  CHECK(static_cast<double>(f32) / static_cast<double>(i8) >= 3.9);
  CHECK(static_cast<double>(f32) / static_cast<double>(f16) >= 1.99);
  CHECK(topk == 1 + 4 + 16 + 4 + 8 * 1018);  // k = ceil(0.01 * 101770)
  CHECK(static_cast<double>(f32) / static_cast<double>(topk) >= 49.0);
}

TEST_CASE("float16 round trip error is within 2^-11 relative") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed ^ 2);
  const std::vector<float> delta = random_delta(rng, kMlp);
  UpdateEncoder encoder(codec(CodecKind::kFloat16));
  const std::vector<float> out = decoded(encoder.encode(delta, kMlp), kMlp);
  std::size_t checked = 0;
  for (std::size_t i = 0; i < delta.size(); ++i) {
    const double x = delta[i];
    const double error = std::fabs(x - out[i]);
    if (std::fabs(x) >= std::ldexp(1.0, -14)) {
      ++checked;
      if (error > std::fabs(x) * std::ldexp(1.0, -11)) FAIL("value " << i << ": " << x << " -> " << out[i]);
    } else if (error > std::ldexp(1.0, -25)) {
      FAIL("subnormal value " << i << ": " << x << " -> " << out[i]);
    }
  }
  CHECK(checked > delta.size() / 2);
}

TEST_CASE("int8 round trip error is at most half a step of the tensor scale") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed ^ 3);
  const std::vector<float> delta = random_delta(rng, kMlp);
  UpdateEncoder encoder(codec(CodecKind::kInt8));
  const std::vector<float> out = decoded(encoder.encode(delta, kMlp), kMlp);
  std::size_t begin = 0;
  for (std::size_t size : kMlp.tensor_sizes) {
    float max_abs = 0.0f;
    for (std::size_t i = begin; i < begin + size; ++i) max_abs = std::max(max_abs, std::fabs(delta[i]));
    const double scale = max_abs / 127.0f;
    double worst = 0.0;
    for (std::size_t i = begin; i < begin + size; ++i) {
      worst = std::max(worst, std::fabs(static_cast<double>(delta[i]) - out[i]));
    }
    CAPTURE(size);
    CAPTURE(scale);
    CHECK(worst <= scale / 2 * (1 + 1e-5));
    if (size >= 100) CHECK(worst > scale / 4);  // it does quantise
    begin += size;
  }
}

TEST_CASE("int8 handles an all-zero tensor and non-finite values") {
  const ModelLayout layout{{4, 4}};
  const float inf = std::numeric_limits<float>::infinity();
  // The scale comes from the finite values (127 / 127 = 1); NaN sends 0, infinities +-127.
  const std::vector<float> delta = {0, 0, 0, 0, 127.0f, std::nanf(""), inf, -inf};
  UpdateEncoder encoder(codec(CodecKind::kInt8));
  const std::vector<float> out = decoded(encoder.encode(delta, layout), layout);
  CHECK(out == std::vector<float>{0, 0, 0, 0, 127.0f, 0.0f, 127.0f, -127.0f});
}

TEST_CASE("float16 carries infinities and NaN") {
  const ModelLayout layout{{3}};
  const std::vector<float> delta = {std::numeric_limits<float>::infinity(), std::nanf(""), 1e6f};
  UpdateEncoder encoder(codec(CodecKind::kFloat16));
  const std::vector<float> out = decoded(encoder.encode(delta, layout), layout);
  CHECK(std::isinf(out[0]));
  CHECK(std::isnan(out[1]));
  CHECK(std::isinf(out[2]));
}

TEST_CASE("topk sends the k largest magnitudes exactly with ties broken by index") {
  const ModelLayout layout{{6, 4}};
  const std::vector<float> delta = {0.1f, -5.0f, 0.3f, 2.0f, -2.0f, 0.0f, 7.0f, 2.0f, -0.2f, 1.0f};
  UpdateEncoder encoder(codec(CodecKind::kTopK, 0.3));  // k = 3
  const Bytes bytes = encoder.encode(delta, layout);
  CHECK(bytes.size() == encoded_size(codec(CodecKind::kTopK, 0.3), layout));
  // 7, -5, then three values of magnitude 2 for the last slot: the lowest index (3) wins.
  CHECK(decoded(bytes, layout) == std::vector<float>{0, -5.0f, 0, 2.0f, 0, 0, 7.0f, 0, 0, 0});
  const std::vector<float> residual(encoder.residual().begin(), encoder.residual().end());
  CHECK(residual == std::vector<float>{0.1f, 0, 0.3f, 0, -2.0f, 0.0f, 0, 2.0f, -0.2f, 1.0f});

  // NaN ranks first, so it is sent rather than kept.
  UpdateEncoder nan_encoder(codec(CodecKind::kTopK, 0.1));  // k = 1
  std::vector<float> with_nan = delta;
  with_nan[8] = std::nanf("");
  const std::vector<float> out = decoded(nan_encoder.encode(with_nan, layout), layout);
  CHECK(std::isnan(out[8]));
  CHECK(nan_encoder.residual()[8] == 0.0f);
}

TEST_CASE("topk count is ceil of fraction times total within 1 and total") {
  CHECK(topk_count(0.01, 101770) == 1018);
  CHECK(topk_count(0.01, 300) == 3);
  CHECK(topk_count(0.01, 301) == 4);
  CHECK(topk_count(0.01, 10) == 1);
  CHECK(topk_count(1.0, 10) == 10);
  CHECK(topk_count(0.999999, 10) == 10);
  CHECK(topk_count(0.5, 1) == 1);
  CHECK(topk_count(0.5, 0) == 0);
}

TEST_CASE("topk error feedback delivers the sum of the updates minus the residual") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed ^ 4);
  const ModelLayout layout{{500, 20, 100}};
  const std::size_t total = layout.total();
  UpdateEncoder encoder(codec(CodecKind::kTopK, 0.05));
  std::vector<double> sent(total, 0.0);
  std::vector<double> truth(total, 0.0);
  // A constant drift plus noise, as gradients of a slowly moving model.
  std::vector<float> drift(total);
  for (float& d : drift) d = static_cast<float>((rng.next_double() * 2.0 - 1.0) * 0.01);
  const int rounds = 200;
  for (int round = 0; round < rounds; ++round) {
    std::vector<float> delta(total);
    for (std::size_t i = 0; i < total; ++i) {
      delta[i] = drift[i] + static_cast<float>((rng.next_double() * 2.0 - 1.0) * 0.01);
      truth[i] += delta[i];
    }
    const std::vector<float> out = decoded(encoder.encode(delta, layout), layout);
    for (std::size_t i = 0; i < total; ++i) sent[i] += out[i];
    // The invariant holds after every round.
    double worst = 0.0;
    for (std::size_t i = 0; i < total; ++i) {
      worst = std::max(worst, std::fabs(sent[i] - (truth[i] - encoder.residual()[i])));
    }
    if (worst > 1e-5) FAIL("round " << round << ": sent + residual is off by " << worst);
  }
  // The residual stays bounded (error feedback does not let it grow with the rounds), so the
  // average of what was sent converges to the average of the true updates.
  double residual_max = 0.0;
  double average_error = 0.0;
  for (std::size_t i = 0; i < total; ++i) {
    residual_max = std::max(residual_max, static_cast<double>(std::fabs(encoder.residual()[i])));
    average_error = std::max(average_error, std::fabs(sent[i] - truth[i]) / rounds);
  }
  CHECK(residual_max < 1.0);
  CHECK(average_error < 0.005);
}

TEST_CASE("topk residual restarts for a new layout and on reset") {
  UpdateEncoder encoder(codec(CodecKind::kTopK, 0.5));
  const ModelLayout four{{4}};
  (void)encoder.encode(std::vector<float>{1, 2, 3, 4}, four);
  CHECK(encoder.residual().size() == 4);
  CHECK(encoder.residual()[0] == 1.0f);
  const ModelLayout three{{3}};
  (void)encoder.encode(std::vector<float>{1, 5, 3}, three);
  CHECK(std::vector<float>(encoder.residual().begin(), encoder.residual().end()) ==
        std::vector<float>{1, 0, 0});
  encoder.reset_residual();
  CHECK(encoder.residual().empty());
}

TEST_CASE("encoding is deterministic across encoders") {
  Rng rng(testing::test_seed() ^ 5);
  const std::vector<float> delta = random_delta(rng, kMlp);
  for (CodecKind kind : kAllKinds) {
    CAPTURE(codec_kind_name(kind));
    UpdateEncoder a(codec(kind));
    UpdateEncoder b(codec(kind));
    CHECK(a.encode(delta, kMlp) == b.encode(delta, kMlp));
  }
}

// --- the decoder's checks ----------------------------------------------------------------------

Bytes small_encoding(CodecKind kind) {
  const std::vector<float> delta = {0.5f, -1.0f, 0.25f, 2.0f, -0.125f, 0.0f, 3.0f, -4.0f, 1.5f, 0.75f};
  UpdateEncoder encoder(codec(kind, 0.3));  // topk: k = 3
  return encoder.encode(delta, kSmall);
}

Status decode_small(const Bytes& bytes) {
  std::vector<float> out(kSmall.total());
  return decode_update(bytes, kSmall, out);
}

TEST_CASE("decoder rejects unknown tags layouts and lengths") {
  for (CodecKind kind : kAllKinds) {
    CAPTURE(codec_kind_name(kind));
    const Bytes good = small_encoding(kind);
    REQUIRE_OK(decode_small(good));
    for (std::uint8_t tag : {0, 5, 127, 255}) {
      Bytes bad = good;
      bad[0] = tag;
      CHECK_CODE(decode_small(bad), StatusCode::kCorrupt);
    }
    Bytes count = good;
    count[1] = 4;
    CHECK_CODE(decode_small(count), StatusCode::kCorrupt);
    Bytes size = good;
    size[5 + 4] = 6;  // tensor 1: 6 instead of 5
    CHECK_CODE(decode_small(size), StatusCode::kCorrupt);
    Bytes trailing = good;
    trailing.push_back(0);
    const Status s = decode_small(trailing);
    CHECK(s.code() == StatusCode::kCorrupt);
    CHECK(s.message().find("trailing") != std::string::npos);
    // The right bytes for another layout do not decode.
    std::vector<float> out(10);
    CHECK_CODE(decode_update(good, ModelLayout{{10}}, out), StatusCode::kCorrupt);
    CHECK_CODE(decode_update(good, ModelLayout{{3, 2, 5}}, out), StatusCode::kCorrupt);
  }
}

TEST_CASE("decoder rejects malformed int8 and topk bodies") {
  const std::size_t header = 1 + 4 + 4 * 3;
  const Bytes int8 = small_encoding(CodecKind::kInt8);
  for (std::uint32_t scale_bits : {0x7fc00000u, 0x7f800000u, 0xbf800000u}) {  // NaN, inf, -1
    Bytes bad = int8;
    std::memcpy(bad.data() + header, &scale_bits, 4);
    CHECK_CODE(decode_small(bad), StatusCode::kCorrupt);
  }
  Bytes minus128 = int8;
  minus128[header + 4] = 0x80;
  CHECK_CODE(decode_small(minus128), StatusCode::kCorrupt);
  Bytes plus127 = int8;
  plus127[header + 4] = 0x7f;
  CHECK_OK(decode_small(plus127));

  const Bytes topk = small_encoding(CodecKind::kTopK);
  REQUIRE(topk.size() == header + 4 + 3 * 8);
  auto set_u32 = [](Bytes& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
  };
  const std::size_t pairs = header + 4;
  Bytes k_too_big = topk;
  set_u32(k_too_big, header, 11);
  CHECK_CODE(decode_small(k_too_big), StatusCode::kCorrupt);
  Bytes k_huge = topk;
  set_u32(k_huge, header, 0xffffffffu);
  CHECK_CODE(decode_small(k_huge), StatusCode::kCorrupt);
  Bytes k_short = topk;
  set_u32(k_short, header, 2);  // 3 pairs follow: trailing bytes
  CHECK_CODE(decode_small(k_short), StatusCode::kCorrupt);
  Bytes out_of_range = topk;
  set_u32(out_of_range, pairs + 16, 10);
  CHECK_CODE(decode_small(out_of_range), StatusCode::kCorrupt);
  Bytes repeated = topk;
  set_u32(repeated, pairs + 8, 0);
  set_u32(repeated, pairs, 0);
  CHECK_CODE(decode_small(repeated), StatusCode::kCorrupt);
  Bytes decreasing = topk;
  set_u32(decreasing, pairs, 9);
  CHECK_CODE(decode_small(decreasing), StatusCode::kCorrupt);
  // k = 0 with no pairs is a valid all-zero update.
  Bytes empty(topk.begin(), topk.begin() + static_cast<std::ptrdiff_t>(header + 4));
  set_u32(empty, header, 0);
  std::vector<float> out(10, 1.0f);
  REQUIRE_OK(decode_update(empty, kSmall, out));
  CHECK(out == std::vector<float>(10, 0.0f));
}

TEST_CASE("decoder rejects every truncation of a valid encoding") {
  for (CodecKind kind : kAllKinds) {
    CAPTURE(codec_kind_name(kind));
    const Bytes good = small_encoding(kind);
    for (std::size_t length = 0; length < good.size(); ++length) {
      CAPTURE(length);
      const Bytes prefix(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(length));
      CHECK_CODE(decode_small(prefix), StatusCode::kCorrupt);
    }
  }
}

TEST_CASE("decoder survives random and mutated bytes") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Rng rng(seed ^ 6);
  std::size_t accepted = 0;
  auto check_one = [&](const Bytes& bytes) {
    std::vector<float> out(kSmall.total());
    const Status s = decode_update(bytes, kSmall, out);
    if (s.is_ok()) {
      ++accepted;
    } else if (s.code() != StatusCode::kCorrupt) {
      FAIL("unexpected status " << s.to_string());
    }
  };
  for (int trial = 0; trial < 20000; ++trial) {
    // Random bytes, half of them behind a valid header so that the bodies are exercised.
    Bytes bytes(rng.uniform(80));
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng.next_u64());
    if (rng.chance(0.5)) {
      const Bytes header = small_encoding(kAllKinds[rng.uniform(4)]);
      bytes.insert(bytes.begin(), header.begin(), header.begin() + 17);
    }
    check_one(bytes);
    // A valid encoding with a few bytes changed, or one byte dropped or added.
    Bytes mutated = small_encoding(kAllKinds[rng.uniform(4)]);
    const std::uint64_t action = rng.uniform(3);
    if (action == 0) {
      for (std::uint64_t k = 1 + rng.uniform(3); k > 0; --k) {
        mutated[rng.uniform(mutated.size())] = static_cast<std::uint8_t>(rng.next_u64());
      }
    } else if (action == 1) {
      mutated.erase(mutated.begin() + static_cast<std::ptrdiff_t>(rng.uniform(mutated.size())));
    } else {
      mutated.insert(mutated.begin() + static_cast<std::ptrdiff_t>(rng.uniform(mutated.size() + 1)),
                     static_cast<std::uint8_t>(rng.next_u64()));
    }
    check_one(mutated);
  }
  CHECK(accepted > 0);  // mutations of values (not structure) still decode
}

// --- specifications ----------------------------------------------------------------------------

TEST_CASE("parse_codec reads every form and its defaults") {
  struct Row {
    const char* spec;
    CodecKind kind;
    double fraction;
    const char* canonical;
  };
  for (const Row& row : {Row{"float32", CodecKind::kFloat32, 0.01, "float32"},
                         Row{"float16", CodecKind::kFloat16, 0.01, "float16"},
                         Row{"int8", CodecKind::kInt8, 0.01, "int8"},
                         Row{"topk", CodecKind::kTopK, 0.01, "topk:0.01"},
                         Row{"topk:0.05", CodecKind::kTopK, 0.05, "topk:0.05"},
                         Row{"topk:1", CodecKind::kTopK, 1.0, "topk:1"},
                         Row{"topk:1e-3", CodecKind::kTopK, 0.001, "topk:0.001"}}) {
    CAPTURE(row.spec);
    const Result<CodecConfig> parsed = parse_codec(row.spec);
    REQUIRE_OK(parsed);
    CHECK(parsed->kind == row.kind);
    CHECK(parsed->topk_fraction == row.fraction);
    CHECK(codec_name(*parsed) == row.canonical);
    const Result<CodecConfig> again = parse_codec(codec_name(*parsed));
    REQUIRE_OK(again);
    CHECK(*again == *parsed);
  }
}

TEST_CASE("parse_codec rejects malformed specifications with the accepted forms") {
  for (const char* spec : {"", "fp32", "Float32", "float32:1", "int8:", "int4", "topk:",
                           "topk:0", "topk:-0.1", "topk:1.5", "topk:nan", "topk:0.1:2",
                           "topk:0.1 ", "topk:x"}) {
    CAPTURE(spec);
    const Result<CodecConfig> parsed = parse_codec(spec);
    CHECK_CODE(parsed, StatusCode::kInvalidArgument);
    CHECK(parsed.status().message().find("topk[:FRACTION]") != std::string::npos);
  }
  CodecConfig bad;
  bad.topk_fraction = 0.0;
  CHECK_CODE(bad.validate(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace starling::federated
