// IDX files, the format of MNIST and Fashion-MNIST, plain or gzip'd, and the Fashion-MNIST
// data set of the Debian package dataset-fashion-mnist.
//
// An IDX file is a 4-byte big-endian magic (two zero bytes, an element type, the number of
// dimensions), one big-endian u32 per dimension, then the elements in row-major order. Only
// unsigned bytes (type 0x08) are supported: 0x00000803 holds images [n][rows][cols],
// 0x00000801 labels [n]. A file is gzip'd or not whatever its name: the reader looks at its
// first bytes (zlib reads plain files through unchanged).
//
// Untrusted input: every header field is checked against IdxLimits and against the size of the
// file before anything is allocated, and a gzip'd file's data is decompressed into a buffer
// that grows with what was actually decompressed, never up front to a declared size. A corrupt,
// truncated or oversized file gives a Status whose message names the file and the problem:
// kNotFound (no such file), kIoError (the OS failed a read), kTooLarge (a declared size is
// above a limit), kCorrupt (anything else: bad magic, unsupported type, truncation, trailing
// bytes, bad gzip data, counts that disagree). Thread-compatible: functions touch only the
// paths they are given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "federated/data/dataset.hpp"

namespace starling::federated {

struct IdxLimits {
  // Elements (bytes) after decompression. The default holds the MNIST family with room to
  // spare (Fashion-MNIST's training images are 47 MB); loading turns each byte into a float.
  std::uint64_t max_elements = std::uint64_t{1} << 30;  // 1 GiB
  std::uint32_t max_dimensions = 4;                     // 1 to max_dimensions axes
};

// A decoded IDX array of unsigned bytes.
struct IdxArray {
  std::vector<std::uint32_t> dims;  // at least one; their product is data.size()
  std::vector<std::uint8_t> data;   // row-major
};

// The IDX magic of a u8 array with `dimensions` axes: 0x00000800 + dimensions.
constexpr std::uint32_t idx_u8_magic(std::uint32_t dimensions) noexcept {
  return 0x00000800u + dimensions;
}

// Reads one IDX file of unsigned bytes (see the errors above). A zero dimension is allowed
// here (an empty array); load_idx_pair refuses empty data sets.
Result<IdxArray> read_idx_file(const std::filesystem::path& path, const IdxLimits& limits = {});

// Writes `array` as an IDX file, gzip'd (level 6) when `gzip` is set; overwrites `path`. For
// tests and for tools that prepare device data directories. kInvalidArgument when the dims do
// not match the data or a dimension does not fit in a u32, kIoError when writing fails.
Status write_idx_file(const std::filesystem::path& path, const IdxArray& array, bool gzip);

// Loads an images file (0x00000803, [n][rows][cols]) and a labels file (0x00000801, [n]) as
// one data set: sample_shape {1, rows, cols}, pixels scaled from 0..255 to [0, 1] (v / 255).
// `classes` = 0 sets classes to the largest label + 1 (a file holding only labels 0..3 gives
// 4); a positive `classes` (10 for the MNIST family, or the global model's class count on a
// device holding a few labels) is used as is, and a label >= classes is kCorrupt. Also
// kCorrupt: the two counts differ, no samples, zero-sized images, a file of the wrong kind.
Result<Dataset> load_idx_pair(const std::filesystem::path& images_path,
                              const std::filesystem::path& labels_path, std::size_t classes = 0,
                              const IdxLimits& limits = {});

// Where the Debian package dataset-fashion-mnist puts its four gzip'd IDX files.
inline constexpr std::string_view kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct FashionMnist {
  Dataset train;  // 60000 rows
  Dataset test;   // 10000 rows
};

// Loads Fashion-MNIST from `dir`: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
// t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (each file may also be present
// uncompressed, without ".gz"). Both sets get classes = 10 and sample_shape {1, 28, 28} as
// the files declare it. kNotFound, naming the missing file and saying to install
// dataset-fashion-mnist (scripts/install-deps.sh), when a file is missing; the errors of
// load_idx_pair otherwise. Takes about 0.4 s of CPU (gunzip of 47 MB dominates).
Result<FashionMnist> load_fashion_mnist(
    const std::filesystem::path& dir = std::filesystem::path(kFashionMnistDir));

}  // namespace starling::federated
