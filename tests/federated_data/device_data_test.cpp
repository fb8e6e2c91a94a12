// Tests for device data directories: the IDX layout (plain or gzip'd), data.csv with and
// without a header, bad rows named by file and line, limits, and directory layout errors.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "federated/data/device_data.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"
#include "tests/federated_data/data_helpers.hpp"

namespace starling::federated {
namespace {

namespace fs = std::filesystem;
using starling::testing::TempDir;
using testing::tiny_images;
using testing::write_bytes;

bool mentions(const Status& status, const std::string& text) {
  return status.message().find(text) != std::string::npos;
}

TEST_CASE("load_device_data reads an IDX pair plain or gzip") {
  const auto tiny = tiny_images(7, 3, 2, 4);
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    TempDir dir;
    const std::string suffix = gzip ? ".gz" : "";
    REQUIRE_OK(write_idx_file(dir / ("train-images-idx3-ubyte" + suffix), tiny.images, gzip));
    REQUIRE_OK(write_idx_file(dir / ("train-labels-idx1-ubyte" + suffix), tiny.labels, gzip));
    write_bytes(dir / "README", "other files are ignored");
    auto data = load_device_data(dir.path());
    REQUIRE_OK(data);
    CHECK(data->rows() == 7);
    CHECK(data->sample_shape == std::vector<std::size_t>{1, 3, 2});
    CHECK(data->classes == 4);
    CHECK_OK(data->validate());

    DeviceDataOptions options;
    options.classes = 10;
    auto ten = load_device_data(dir.path(), options);
    REQUIRE_OK(ten);
    CHECK(ten->classes == 10);
  }
  // One file gzip'd and the other plain is fine too.
  TempDir mixed;
  REQUIRE_OK(write_idx_file(mixed / "train-images-idx3-ubyte.gz", tiny.images, true));
  REQUIRE_OK(write_idx_file(mixed / "train-labels-idx1-ubyte", tiny.labels, false));
  CHECK_OK(load_device_data(mixed.path()));
}

TEST_CASE("data.csv loads with a header row or without one") {
  const std::string body = "0.5,1,-2.5e-1,0\n3,4,5,2\n+1e3,0,7.25,1\n";
  for (const bool header : {false, true}) {
    CAPTURE(header);
    TempDir dir;
    write_bytes(dir / "data.csv", (header ? "temp, vibration ,rpm,label\n" : "") + body);
    auto data = load_device_data(dir.path());
    REQUIRE_OK(data);
    CHECK(data->rows() == 3);
    CHECK(data->sample_shape == std::vector<std::size_t>{3});
    CHECK(data->classes == 3);
    CHECK(data->y == std::vector<std::int64_t>{0, 2, 1});
    CHECK(data->x == std::vector<float>{0.5f, 1, -0.25f, 3, 4, 5, 1000, 0, 7.25f});
    CHECK_OK(data->validate());
  }
}

TEST_CASE("csv comments and blank lines and CRLF and spaces are accepted") {
  TempDir dir;
  write_bytes(dir / "data.csv",
              "# exported by sensor-logger 2.1\r\n\r\nx,y,label\r\n  1 ,\t2,3\r\n# midway\n\n"
              "4,5,0\r\n   \n6,7,1");  // no final newline
  auto data = load_csv(dir / "data.csv");
  REQUIRE_OK(data);
  CHECK(data->rows() == 3);
  CHECK(data->classes == 4);
  CHECK(data->x == std::vector<float>{1, 2, 4, 5, 6, 7});
}

TEST_CASE("csv bad rows give the file and line number") {
  struct Case {
    std::string name;
    std::string text;
    std::string expect;  // in the message, after "<file>:"
  };
  const std::vector<Case> cases{
      {"fewer fields", "1,2,3\n4,5\n", "2: expected 3 fields, found 2"},
      {"more fields", "a,b,label\n1,2,0\n1,2,3,0\n", "3: expected 3 fields, found 4"},
      {"a word", "1,2,0\n1,x,0\n", "2: field 2 'x' is not a finite number"},
      {"a broken first row", "1.5,oops,0\n1,2,0\n", "1: field 2 'oops'"},
      {"an empty field", "1,,0\n", "1: field 2 '' is not a finite number"},
      {"nan", "1,2,0\nnan,2,0\n", "2: field 1 'nan'"},
      {"inf", "1,2,0\n1,inf,0\n", "2: field 2 'inf'"},
      {"too large for float", "1e999,2,0\n", "1: field 1"},
      {"a negative label", "1,2,-1\n", "1: label '-1'"},
      {"a fractional label", "1,2,1.0\n", "1: label '1.0'"},
      {"a label above the limit", "1,2,65536\n", "1: label '65536'"},
      {"one column", "5\n", "1: 1 field"},
      {"a one-column header", "label\n1\n", "1: the header names 1 column"},
      {"hex", "0x10,2,0\n", "1: field 1 '0x10'"},
  };
  TempDir dir;
  const fs::path path = dir / "data.csv";
  for (const auto& c : cases) {
    CAPTURE(c.name);
    write_bytes(path, c.text);
    const auto result = load_csv(path);
    CHECK_CODE(result, StatusCode::kCorrupt);
    CHECK(mentions(result.status(), path.string() + ":" + c.expect));
  }
}

TEST_CASE("csv without data rows is corrupt") {
  TempDir dir;
  for (const std::string text : {"", "\n\n", "# nothing yet\n", "a,b,label\n"}) {
    CAPTURE(text);
    write_bytes(dir / "data.csv", text);
    const auto result = load_csv(dir / "data.csv");
    CHECK_CODE(result, StatusCode::kCorrupt);
    CHECK(mentions(result.status(), "no data rows"));
  }
}

TEST_CASE("csv with a class count keeps it and refuses larger labels") {
  TempDir dir;
  write_bytes(dir / "data.csv", "1,2,0\n3,4,1\n");
  auto ten = load_csv(dir / "data.csv", 10);
  REQUIRE_OK(ten);
  CHECK(ten->classes == 10);
  const auto one = load_csv(dir / "data.csv", 1);
  CHECK_CODE(one, StatusCode::kCorrupt);
  CHECK(mentions(one.status(), ":2: label 1 is not below the class count 1"));
}

TEST_CASE("csv limits on size and rows and fields and values are enforced") {
  TempDir dir;
  const fs::path path = dir / "data.csv";
  write_bytes(path, "1,2,3,0\n4,5,6,1\n7,8,9,0\n");
  CHECK_OK(load_csv(path));

  CsvLimits bytes;
  bytes.max_file_bytes = 10;
  CHECK_CODE(load_csv(path, 0, bytes), StatusCode::kTooLarge);

  CsvLimits rows;
  rows.max_rows = 2;
  const auto too_many_rows = load_csv(path, 0, rows);
  CHECK_CODE(too_many_rows, StatusCode::kTooLarge);
  CHECK(mentions(too_many_rows.status(), ":3: more than 2 rows"));

  CsvLimits fields;
  fields.max_fields = 3;
  const auto too_wide = load_csv(path, 0, fields);
  CHECK_CODE(too_wide, StatusCode::kTooLarge);
  CHECK(mentions(too_wide.status(), ":1: more than 3 fields"));

  CsvLimits values;
  values.max_values = 8;  // 3 rows of 3 features is 9
  CHECK_CODE(load_csv(path, 0, values), StatusCode::kTooLarge);

  // A very long line of commas stops at the field limit instead of splitting it all.
  write_bytes(path, std::string(200000, ',') + "\n");
  CHECK_CODE(load_csv(path), StatusCode::kTooLarge);
}

TEST_CASE("device data directory layout errors are clear") {
  const auto tiny = tiny_images(3, 2, 2, 2);
  {
    TempDir dir;
    const auto missing = load_device_data(dir / "nope");
    CHECK_CODE(missing, StatusCode::kNotFound);
    CHECK(mentions(missing.status(), "does not exist"));
    write_bytes(dir / "file", "x");
    CHECK_CODE(load_device_data(dir / "file"), StatusCode::kInvalidArgument);
  }
  {
    TempDir dir;
    const auto empty = load_device_data(dir.path());
    CHECK_CODE(empty, StatusCode::kNotFound);
    CHECK(mentions(empty.status(), "train-images-idx3-ubyte[.gz]"));
    CHECK(mentions(empty.status(), "data.csv"));
  }
  {
    TempDir dir;
    REQUIRE_OK(write_idx_file(dir / "train-images-idx3-ubyte.gz", tiny.images, true));
    const auto half = load_device_data(dir.path());
    CHECK_CODE(half, StatusCode::kNotFound);
    CHECK(mentions(half.status(), "not train-labels-idx1-ubyte[.gz]"));
    write_bytes(dir / "data.csv", "1,0\n");
    const auto both = load_device_data(dir.path());
    CHECK_CODE(both, StatusCode::kInvalidArgument);
    CHECK(mentions(both.status(), "both"));
  }
  {
    TempDir dir;
    REQUIRE_OK(write_idx_file(dir / "train-images-idx3-ubyte.gz", tiny.images, true));
    REQUIRE_OK(write_idx_file(dir / "train-images-idx3-ubyte", tiny.images, false));
    REQUIRE_OK(write_idx_file(dir / "train-labels-idx1-ubyte", tiny.labels, false));
    const auto twice = load_device_data(dir.path());
    CHECK_CODE(twice, StatusCode::kInvalidArgument);
    CHECK(mentions(twice.status(), "keep one"));
  }
  {
    TempDir dir;  // a corrupt IDX file inside: the IDX error comes through
    write_bytes(dir / "train-images-idx3-ubyte", "garbage!");
    REQUIRE_OK(write_idx_file(dir / "train-labels-idx1-ubyte", tiny.labels, false));
    const auto corrupt = load_device_data(dir.path());
    CHECK_CODE(corrupt, StatusCode::kCorrupt);
    CHECK(mentions(corrupt.status(), "train-images-idx3-ubyte"));
  }
}

}  // namespace
}  // namespace starling::federated
