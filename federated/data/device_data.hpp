// A device's own training data, read from a directory on the device (starlingd's data
// directory for federated learning). The directory holds exactly one of two layouts:
//
//   IDX pair:  train-images-idx3-ubyte[.gz]   u8 images [n][rows][cols] (magic 0x00000803)
//              train-labels-idx1-ubyte[.gz]   u8 labels [n]             (magic 0x00000801)
//              gzip'd or plain (see idx.hpp); pixels are scaled to [0, 1], sample_shape
//              {1, rows, cols}. A file present both with and without ".gz" is ambiguous.
//
//   CSV:       data.csv   one sample a line: numeric features, then the label in the last
//              column, comma-separated, e.g. "0.12,3.5,-7e-3,2". Features are parsed as
//              decimal floats ("1", "-0.5", "2.5e-3"; not nan or inf) and used as they are
//              (no scaling); a label is a non-negative decimal integer below kMaxClasses.
//              Spaces and tabs around fields and a "\r" before the "\n" are ignored, as are
//              blank lines and lines whose first character is '#'. No quoting.
//              Header (optional): the first non-blank, non-comment line is a header, and is
//              skipped, when none of its fields is a number, e.g. "temp,vibration,rpm,label";
//              it must have as many fields as the data rows. A first line mixing numbers and
//              words is read as data and fails on its first word (so a broken first row is
//              never skipped silently); column names must therefore not be numbers. Every
//              data row has the same number of fields (at least 2: one feature and the
//              label); sample_shape is {fields - 1}.
//
// Files other than these are ignored. Both layouts present, or neither: an error naming the
// directory and the expected files (kInvalidArgument, kNotFound). A CSV problem gives kCorrupt
// (or kTooLarge for a limit) with the file and line number, e.g.
// "/var/lib/starling/data/data.csv:17: expected 9 fields, found 8". No rows at all is kCorrupt:
// a device without data has nothing to train. Thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "base/status.hpp"
#include "federated/data/dataset.hpp"
#include "federated/data/idx.hpp"

namespace starling::federated {

inline constexpr std::string_view kDeviceImagesFile = "train-images-idx3-ubyte";
inline constexpr std::string_view kDeviceLabelsFile = "train-labels-idx1-ubyte";
inline constexpr std::string_view kDeviceCsvFile = "data.csv";

struct CsvLimits {
  std::uint64_t max_file_bytes = std::uint64_t{1} << 30;  // 1 GiB, checked before reading
  std::size_t max_rows = std::size_t{16} << 20;           // data rows (16 Mi)
  std::size_t max_fields = 65536;                         // fields a line, the label included
  std::uint64_t max_values = std::uint64_t{1} << 28;      // rows * features (1 GiB of floats)
};

struct DeviceDataOptions {
  // 0: classes = largest label + 1. Positive: the global model's class count, used as is (a
  // device may hold only some labels); a label >= classes is kCorrupt.
  std::size_t classes = 0;
  IdxLimits idx;
  CsvLimits csv;
};

// Loads the device data in `dir` (layout above).
Result<Dataset> load_device_data(const std::filesystem::path& dir,
                                 const DeviceDataOptions& options = {});

// Loads one CSV file in the format above (any name). `classes` as in DeviceDataOptions.
Result<Dataset> load_csv(const std::filesystem::path& path, std::size_t classes = 0,
                         const CsvLimits& limits = {});

}  // namespace starling::federated
