// Device data directories: an IDX pair or one CSV file, with the CSV parsed line by line with
// std::from_chars (locale-independent) and every limit checked as rows arrive.
#include "federated/data/device_data.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

namespace starling::federated {

namespace fs = std::filesystem;

namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

// A field for an error message: quoted, cut at 40 characters.
std::string quoted(std::string_view field) {
  if (field.size() > 40) return "'" + std::string(field.substr(0, 40)) + "...'";
  return "'" + std::string(field) + "'";
}

// A finite decimal float filling the whole field ("+" allowed in front).
bool parse_float(std::string_view field, float& out) {
  if (!field.empty() && field.front() == '+') field.remove_prefix(1);
  if (field.empty()) return false;
  const char* end = field.data() + field.size();
  const auto [ptr, ec] = std::from_chars(field.data(), end, out, std::chars_format::general);
  return ec == std::errc() && ptr == end && std::isfinite(out);
}

void split_fields(std::string_view line, std::vector<std::string_view>& fields,
                  std::size_t max_fields) {
  fields.clear();
  std::size_t start = 0;
  while (fields.size() <= max_fields) {  // one past the limit tells the caller it is exceeded
    const auto comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                            : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
}

Result<std::string> read_text_file(const fs::path& path, std::uint64_t max_bytes) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) return error(StatusCode::kNotFound, path.string() + ": no such file");
  if (!fs::is_regular_file(status)) {
    return error(StatusCode::kInvalidArgument, path.string() + ": not a regular file");
  }
  const std::uint64_t size = fs::file_size(path, ec);
  if (ec) return error(StatusCode::kIoError, path.string() + ": cannot stat: " + ec.message());
  if (size > max_bytes) {
    return error(StatusCode::kTooLarge, path.string() + ": " + std::to_string(size) +
                                            " bytes, above the limit of " +
                                            std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(StatusCode::kIoError, path.string() + ": cannot open");
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uint64_t>(in.gcount()) != size || in.bad()) {
    return error(StatusCode::kIoError, path.string() + ": read failed");
  }
  return text;
}

// `dir`/`name` or `dir`/`name`.gz: the one that exists, an empty path when neither does, and
// kInvalidArgument when both do.
Result<fs::path> find_one(const fs::path& dir, std::string_view name) {
  std::error_code ec;
  const fs::path plain = dir / std::string(name);
  const fs::path gz = dir / (std::string(name) + ".gz");
  const bool has_plain = fs::exists(plain, ec);
  const bool has_gz = fs::exists(gz, ec);
  if (has_plain && has_gz) {
    return error(StatusCode::kInvalidArgument,
                 dir.string() + " holds both " + std::string(name) + " and " +
                     std::string(name) + ".gz; keep one");
  }
  if (has_plain) return plain;
  if (has_gz) return gz;
  return fs::path();
}

}  // namespace

Result<Dataset> load_csv(const fs::path& path, std::size_t classes, const CsvLimits& limits) {
  if (classes > kMaxClasses) {
    return error(StatusCode::kInvalidArgument, "class count " + std::to_string(classes) +
                                                   " is above the limit of " +
                                                   std::to_string(kMaxClasses));
  }
  STARLING_ASSIGN_OR_RETURN(const std::string text, read_text_file(path, limits.max_file_bytes));
  const std::string name = path.string();
  auto line_error = [&name](StatusCode code, std::size_t line, const std::string& what) {
    return error(code, name + ":" + std::to_string(line) + ": " + what);
  };

  Dataset data;
  std::vector<std::string_view> fields;
  std::size_t expected_fields = 0;  // 0 until the first header or data line
  bool first_line = true;
  std::int64_t max_label = -1;
  std::size_t line_number = 0;
  std::size_t pos = 0;
  const std::string_view all(text);
  while (pos < all.size()) {
    const auto newline = all.find('\n', pos);
    const std::size_t end = newline == std::string_view::npos ? all.size() : newline;
    std::string_view line = all.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;

    split_fields(line, fields, limits.max_fields);
    if (fields.size() > limits.max_fields) {
      return line_error(StatusCode::kTooLarge, line_number,
                        "more than " + std::to_string(limits.max_fields) + " fields");
    }
    if (first_line) {
      first_line = false;
      float ignored = 0;
      const bool header = std::none_of(fields.begin(), fields.end(), [&](std::string_view f) {
        return parse_float(f, ignored);
      });
      if (header) {
        if (fields.size() < 2) {
          return line_error(StatusCode::kCorrupt, line_number,
                            "the header names 1 column; expected features then the label");
        }
        expected_fields = fields.size();
        continue;
      }
    }
    if (expected_fields == 0) {
      if (fields.size() < 2) {
        return line_error(StatusCode::kCorrupt, line_number,
                          "1 field; expected at least one feature then the label");
      }
      expected_fields = fields.size();
    }
    if (fields.size() != expected_fields) {
      return line_error(StatusCode::kCorrupt, line_number,
                        "expected " + std::to_string(expected_fields) + " fields, found " +
                            std::to_string(fields.size()));
    }
    const std::size_t features = expected_fields - 1;
    if (data.y.size() >= limits.max_rows) {
      return line_error(StatusCode::kTooLarge, line_number,
                        "more than " + std::to_string(limits.max_rows) + " rows");
    }
    if ((data.y.size() + 1) * std::uint64_t{features} > limits.max_values) {
      return line_error(StatusCode::kTooLarge, line_number,
                        "more than " + std::to_string(limits.max_values) + " feature values");
    }
    for (std::size_t f = 0; f < features; ++f) {
      float value = 0;
      if (!parse_float(fields[f], value)) {
        return line_error(StatusCode::kCorrupt, line_number,
                          "field " + std::to_string(f + 1) + " " + quoted(fields[f]) +
                              " is not a finite number");
      }
      data.x.push_back(value);
    }
    const std::string_view label_text = fields.back();
    std::int64_t label = -1;
    const char* label_end = label_text.data() + label_text.size();
    const auto [ptr, ec] = std::from_chars(label_text.data(), label_end, label);
    if (label_text.empty() || ec != std::errc() || ptr != label_end || label < 0 ||
        static_cast<std::uint64_t>(label) >= kMaxClasses) {
      return line_error(StatusCode::kCorrupt, line_number,
                        "label " + quoted(label_text) + " (last field) is not an integer in [0, " +
                            std::to_string(kMaxClasses) + ")");
    }
    if (classes > 0 && static_cast<std::uint64_t>(label) >= classes) {
      return line_error(StatusCode::kCorrupt, line_number,
                        "label " + std::to_string(label) + " is not below the class count " +
                            std::to_string(classes));
    }
    max_label = std::max(max_label, label);
    data.y.push_back(label);
  }
  if (data.y.empty()) return error(StatusCode::kCorrupt, name + ": holds no data rows");
  data.sample_shape = {expected_fields - 1};
  data.classes = classes > 0 ? classes : static_cast<std::size_t>(max_label) + 1;
  return data;
}

Result<Dataset> load_device_data(const fs::path& dir, const DeviceDataOptions& options) {
  std::error_code ec;
  const fs::file_status status = fs::status(dir, ec);
  if (!fs::exists(status)) {
    return error(StatusCode::kNotFound, "device data directory " + dir.string() + " does not exist");
  }
  if (!fs::is_directory(status)) {
    return error(StatusCode::kInvalidArgument, dir.string() + " is not a directory");
  }
  STARLING_ASSIGN_OR_RETURN(const fs::path images, find_one(dir, kDeviceImagesFile));
  STARLING_ASSIGN_OR_RETURN(const fs::path labels, find_one(dir, kDeviceLabelsFile));
  const fs::path csv = dir / std::string(kDeviceCsvFile);
  const bool has_csv = fs::exists(csv, ec);
  const bool has_idx = !images.empty() || !labels.empty();
  const std::string expected = std::string(kDeviceImagesFile) + "[.gz] with " +
                               std::string(kDeviceLabelsFile) + "[.gz], or " +
                               std::string(kDeviceCsvFile);
  if (has_idx && has_csv) {
    return error(StatusCode::kInvalidArgument,
                 dir.string() + " holds both IDX files and " + std::string(kDeviceCsvFile) +
                     "; a device data directory holds one of " + expected);
  }
  if (has_csv) return load_csv(csv, options.classes, options.csv);
  if (!has_idx) {
    return error(StatusCode::kNotFound,
                 dir.string() + " holds no device data: expected " + expected);
  }
  if (images.empty() || labels.empty()) {
    const std::string_view missing = images.empty() ? kDeviceImagesFile : kDeviceLabelsFile;
    const fs::path& present = images.empty() ? labels : images;
    return error(StatusCode::kNotFound, dir.string() + " holds " + present.filename().string() +
                                            " but not " + std::string(missing) + "[.gz]");
  }
  return load_idx_pair(images, labels, options.classes, options.idx);
}

}  // namespace starling::federated
