// Helpers for the federated_data tests: IDX files built byte by byte (so that tests can corrupt
// any field), small synthetic data sets, and whole-file reads and writes.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "federated/data/idx.hpp"

namespace starling::federated::testing {

// An IDX file's bytes: magic (0, 0, type, dims.size()), big-endian dims, then `data`.
inline std::string idx_bytes(const std::vector<std::uint32_t>& dims,
                             const std::vector<std::uint8_t>& data, std::uint8_t type = 0x08) {
  std::string out{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (const std::uint32_t dim : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(dim >> shift));
  }
  out.append(data.begin(), data.end());
  return out;
}

// CRC-32 (the gzip polynomial), bit by bit: test data is small.
inline std::uint32_t crc32(std::string_view bytes) {
  std::uint32_t crc = 0xffffffffu;
  for (const char ch : bytes) {
    crc ^= static_cast<std::uint8_t>(ch);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A valid gzip member holding `content` verbatim in one stored (uncompressed) deflate block,
// built by hand so that tests can gzip any bytes, malformed IDX included.
// REQUIRES: content.size() <= 65535.
inline std::string gzip_stored(std::string_view content) {
  REQUIRE(content.size() <= 65535);
  auto le32 = [](std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  };
  const auto len = static_cast<std::uint16_t>(content.size());
  const auto nlen = static_cast<std::uint16_t>(~len);
  std::string out{'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, '\xff'};  // deflate, no flags, no mtime
  out.push_back(1);  // BFINAL = 1, BTYPE = 00 (stored)
  out.push_back(static_cast<char>(len & 0xff));
  out.push_back(static_cast<char>(len >> 8));
  out.push_back(static_cast<char>(nlen & 0xff));
  out.push_back(static_cast<char>(nlen >> 8));
  out.append(content);
  le32(out, crc32(content));
  le32(out, static_cast<std::uint32_t>(content.size()));
  return out;
}

inline void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `n` images of rows x cols with pixel (i, r, c) = (i * 31 + r * 7 + c * 3) % 256, and labels
// i % classes.
struct TinyImages {
  IdxArray images;
  IdxArray labels;
};
inline TinyImages tiny_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols,
                              std::uint32_t classes) {
  TinyImages out;
  out.images.dims = {n, rows, cols};
  out.labels.dims = {n};
  for (std::uint32_t i = 0; i < n; ++i) {
    for (std::uint32_t r = 0; r < rows; ++r) {
      for (std::uint32_t c = 0; c < cols; ++c) {
        out.images.data.push_back(static_cast<std::uint8_t>((i * 31 + r * 7 + c * 3) % 256));
      }
    }
    out.labels.data.push_back(static_cast<std::uint8_t>(i % classes));
  }
  return out;
}

// Labels 0..classes-1 with `per_class[c]` rows of class c, interleaved (row i's label cycles
// through the classes that still have rows left), so that no partitioner can lean on order.
inline std::vector<std::int64_t> interleaved_labels(const std::vector<std::size_t>& per_class) {
  std::vector<std::size_t> left = per_class;
  std::vector<std::int64_t> labels;
  bool any = true;
  while (any) {
    any = false;
    for (std::size_t c = 0; c < left.size(); ++c) {
      if (left[c] == 0) continue;
      --left[c];
      labels.push_back(static_cast<std::int64_t>(c));
      any = true;
    }
  }
  return labels;
}

}  // namespace starling::federated::testing
