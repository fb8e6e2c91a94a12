// Tests for IDX reading: plain and gzip'd files, pixel scaling and classes, and corrupt input
// (bad magic, unsupported types, every truncation, trailing data, absurd dimensions, counts
// that disagree) giving a Status that names the file, never a crash or a huge allocation.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/rng.hpp"
#include "federated/data/idx.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"
#include "tests/federated_data/data_helpers.hpp"

namespace starling::federated {
namespace {

namespace fs = std::filesystem;
using starling::testing::TempDir;
using testing::gzip_stored;
using testing::idx_bytes;
using testing::read_bytes;
using testing::tiny_images;
using testing::write_bytes;

bool mentions(const Status& status, const std::string& text) {
  return status.message().find(text) != std::string::npos;
}

TEST_CASE("read_idx_file reads plain and gzip files alike") {
  TempDir dir;
  const auto tiny = tiny_images(3, 4, 5, 2);
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    const fs::path path = dir / (gzip ? "images.gz" : "images");
    REQUIRE_OK(write_idx_file(path, tiny.images, gzip));
    // A gzip'd file starts with 1f 8b; a plain one with the IDX magic.
    const std::string bytes = read_bytes(path);
    REQUIRE(bytes.size() >= 4);
    CHECK((bytes[0] == '\x1f') == gzip);
    auto array = read_idx_file(path);
    REQUIRE_OK(array);
    CHECK(array->dims == std::vector<std::uint32_t>{3, 4, 5});
    CHECK(array->data == tiny.images.data);
  }
  // Hand-written bytes read the same, and the name does not decide the format.
  write_bytes(dir / "labels.gz", idx_bytes({4}, {1, 2, 3, 4}));
  auto labels = read_idx_file(dir / "labels.gz");
  REQUIRE_OK(labels);
  CHECK(labels->data == std::vector<std::uint8_t>{1, 2, 3, 4});
}

TEST_CASE("an empty IDX array reads as no data") {
  TempDir dir;
  write_bytes(dir / "empty", idx_bytes({0, 28, 28}, {}));
  auto array = read_idx_file(dir / "empty");
  REQUIRE_OK(array);
  CHECK(array->data.empty());
  CHECK(array->dims == std::vector<std::uint32_t>{0, 28, 28});
}

TEST_CASE("load_idx_pair scales pixels to 0..1 and takes classes from the largest label") {
  TempDir dir;
  IdxArray images{{2, 1, 3}, {0, 255, 51, 102, 204, 1}};
  IdxArray labels{{2}, {4, 1}};
  REQUIRE_OK(write_idx_file(dir / "images.gz", images, true));
  REQUIRE_OK(write_idx_file(dir / "labels", labels, false));
  auto data = load_idx_pair(dir / "images.gz", dir / "labels");
  REQUIRE_OK(data);
  CHECK(data->rows() == 2);
  CHECK(data->sample_shape == std::vector<std::size_t>{1, 1, 3});
  CHECK(data->features() == 3);
  CHECK(data->classes == 5);
  CHECK(data->y == std::vector<std::int64_t>{4, 1});
  REQUIRE(data->x.size() == 6);
  CHECK(data->x[0] == 0.0f);
  CHECK(data->x[1] == 1.0f);
  CHECK(data->x[2] == doctest::Approx(0.2));
  CHECK(data->x[3] == doctest::Approx(0.4));
  CHECK(data->x[4] == doctest::Approx(0.8));
  CHECK(data->x[5] == doctest::Approx(1.0 / 255));
  CHECK_OK(data->validate());
}

TEST_CASE("load_idx_pair with a class count keeps it and refuses larger labels") {
  TempDir dir;
  const auto tiny = tiny_images(6, 2, 2, 3);  // labels 0 1 2 0 1 2
  REQUIRE_OK(write_idx_file(dir / "images", tiny.images, false));
  REQUIRE_OK(write_idx_file(dir / "labels", tiny.labels, false));
  auto ten = load_idx_pair(dir / "images", dir / "labels", 10);
  REQUIRE_OK(ten);
  CHECK(ten->classes == 10);
  CHECK(ten->label_counts() == std::vector<std::size_t>{2, 2, 2, 0, 0, 0, 0, 0, 0, 0});

  auto two = load_idx_pair(dir / "images", dir / "labels", 2);
  CHECK_CODE(two, StatusCode::kCorrupt);
  CHECK(mentions(two.status(), (dir / "labels").string()));
  CHECK(mentions(two.status(), "label 2 at index 2"));

  CHECK_CODE(load_idx_pair(dir / "images", dir / "labels", kMaxClasses + 1),
             StatusCode::kInvalidArgument);
}

TEST_CASE("a missing IDX file is not_found and a directory is invalid_argument") {
  TempDir dir;
  const auto missing = read_idx_file(dir / "nope.gz");
  CHECK_CODE(missing, StatusCode::kNotFound);
  CHECK(mentions(missing.status(), (dir / "nope.gz").string()));
  CHECK_CODE(read_idx_file(dir.path()), StatusCode::kInvalidArgument);

  const auto tiny = tiny_images(2, 2, 2, 2);
  REQUIRE_OK(write_idx_file(dir / "labels", tiny.labels, false));
  CHECK_CODE(load_idx_pair(dir / "images", dir / "labels"), StatusCode::kNotFound);
}

TEST_CASE("bad magic and unsupported element types and dimension counts are corrupt") {
  TempDir dir;
  struct Case {
    std::string name;
    std::string bytes;
    std::string expect;
  };
  std::string not_idx = idx_bytes({2}, {1, 2});
  not_idx[0] = 'P';  // e.g. a PNG or text file
  std::string no_dims = idx_bytes({}, {});
  std::string many_dims = idx_bytes({1, 1, 1, 1, 1}, {7});
  const std::vector<Case> cases{
      {"not-idx", not_idx, "not an IDX file"},
      {"text", "hello, world\n", "not an IDX file"},
      {"float32", idx_bytes({1}, {0, 0, 0, 0}, 0x0D), "element type 0x0d"},
      {"int32", idx_bytes({1}, {0, 0, 0, 0}, 0x0C), "element type 0x0c"},
      {"no-dims", no_dims, "0 dimensions"},
      {"five-dims", many_dims, "5 dimensions"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    write_bytes(dir / c.name, c.bytes);
    const auto result = read_idx_file(dir / c.name);
    CHECK_CODE(result, StatusCode::kCorrupt);
    CHECK(mentions(result.status(), (dir / c.name).string()));
    CHECK(mentions(result.status(), c.expect));
  }
}

TEST_CASE("a plain IDX file truncated at every length is corrupt") {
  TempDir dir;
  const auto tiny = tiny_images(3, 2, 3, 3);
  const std::string full = idx_bytes(tiny.images.dims, tiny.images.data);
  const fs::path path = dir / "images";
  for (std::size_t length = 0; length < full.size(); ++length) {
    CAPTURE(length);
    write_bytes(path, full.substr(0, length));
    const auto result = read_idx_file(path);
    CHECK_CODE(result, StatusCode::kCorrupt);
    CHECK(mentions(result.status(), "truncated"));
    CHECK(mentions(result.status(), path.string()));
  }
  write_bytes(path, full);
  CHECK_OK(read_idx_file(path));
}

TEST_CASE("a gzip IDX file truncated at every length is corrupt") {
  TempDir dir;
  const auto tiny = tiny_images(3, 2, 3, 3);
  const fs::path whole = dir / "whole.gz";
  REQUIRE_OK(write_idx_file(whole, tiny.images, true));
  // zlib's compressed form, and a hand-built stored block (every byte of the IDX in the clear).
  const std::vector<std::string> forms{read_bytes(whole),
                                       gzip_stored(idx_bytes(tiny.images.dims, tiny.images.data))};
  const fs::path path = dir / "images.gz";
  for (const std::string& full : forms) {
    CAPTURE(full.size());
    for (std::size_t length = 0; length < full.size(); ++length) {
      CAPTURE(length);
      write_bytes(path, full.substr(0, length));
      const auto result = read_idx_file(path);
      CHECK_CODE(result, StatusCode::kCorrupt);
      CHECK(mentions(result.status(), path.string()));
    }
    write_bytes(path, full);
    CHECK_OK(read_idx_file(path));
  }
}

TEST_CASE("a gzip file with a damaged checksum or length or method is corrupt") {
  TempDir dir;
  const auto tiny = tiny_images(4, 3, 3, 2);
  REQUIRE_OK(write_idx_file(dir / "ok.gz", tiny.images, true));
  const std::string full = read_bytes(dir / "ok.gz");
  REQUIRE(full.size() > 18);
  // gzip: 10-byte header (byte 2 is the method), deflate data, CRC-32, then ISIZE (4 bytes each).
  for (const std::size_t at : {std::size_t{2}, full.size() - 8, full.size() - 1}) {
    CAPTURE(at);
    std::string damaged = full;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    write_bytes(dir / "bad.gz", damaged);
    const auto result = read_idx_file(dir / "bad.gz");
    CHECK_CODE(result, StatusCode::kCorrupt);
    CHECK(mentions(result.status(), "gzip"));
  }
}

TEST_CASE("trailing bytes after the declared data are corrupt") {
  TempDir dir;
  const auto tiny = tiny_images(2, 2, 2, 2);
  std::vector<std::uint8_t> longer = tiny.images.data;
  longer.push_back(9);  // one byte more than the dims say
  const std::string content = idx_bytes(tiny.images.dims, longer);
  write_bytes(dir / "plain", content);
  const auto plain = read_idx_file(dir / "plain");
  CHECK_CODE(plain, StatusCode::kCorrupt);
  CHECK(mentions(plain.status(), "trailing"));

  write_bytes(dir / "long.gz", gzip_stored(content));
  const auto gz = read_idx_file(dir / "long.gz");
  CHECK_CODE(gz, StatusCode::kCorrupt);
  CHECK(mentions(gz.status(), "trailing"));

  // The same bytes as two gzip members: zlib joins them, and the join is too long.
  write_bytes(dir / "two.gz", gzip_stored(content.substr(0, 10)) + gzip_stored(content.substr(10)));
  CHECK_CODE(read_idx_file(dir / "two.gz"), StatusCode::kCorrupt);
  // Two members holding exactly the array are fine.
  const std::string exact = idx_bytes(tiny.images.dims, tiny.images.data);
  write_bytes(dir / "exact.gz", gzip_stored(exact.substr(0, 10)) + gzip_stored(exact.substr(10)));
  CHECK_OK(read_idx_file(dir / "exact.gz"));
}

TEST_CASE("absurd dimensions are refused before allocating") {
  TempDir dir;
  // 2^32-1 cubed: far above any limit, in a 16-byte file, plain or gzip'd.
  const std::string huge_header = idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, {});
  write_bytes(dir / "huge", huge_header);
  write_bytes(dir / "huge.gz", gzip_stored(huge_header));
  for (const char* name : {"huge", "huge.gz"}) {
    CAPTURE(name);
    const auto huge = read_idx_file(dir / name);
    CHECK_CODE(huge, StatusCode::kTooLarge);
    CHECK(mentions(huge.status(), "4294967295x4294967295x4294967295"));
  }
  // The product would wrap around 64 bits: still refused.
  write_bytes(dir / "wrap", idx_bytes({0x10000u, 0x10000u, 0x10000u, 0x10000u}, {}));
  CHECK_CODE(read_idx_file(dir / "wrap"), StatusCode::kTooLarge);

  // Within the limit (784 MB) but far more than the file can hold: plain and gzip'd.
  const std::string liar = idx_bytes({1000000, 28, 28}, {1, 2, 3});
  write_bytes(dir / "liar", liar);
  const auto plain = read_idx_file(dir / "liar");
  CHECK_CODE(plain, StatusCode::kCorrupt);
  CHECK(mentions(plain.status(), "truncated"));
  write_bytes(dir / "liar.gz", gzip_stored(liar));
  const auto gz = read_idx_file(dir / "liar.gz");
  CHECK_CODE(gz, StatusCode::kCorrupt);
  CHECK(mentions(gz.status(), "more than a gzip file"));

  // A lower limit applies to the element count.
  IdxLimits small;
  small.max_elements = 10;
  REQUIRE_OK(write_idx_file(dir / "eleven.gz", IdxArray{{11}, std::vector<std::uint8_t>(11, 1)},
                            true));
  CHECK_CODE(read_idx_file(dir / "eleven.gz", small), StatusCode::kTooLarge);
  REQUIRE_OK(write_idx_file(dir / "ten.gz", IdxArray{{10}, std::vector<std::uint8_t>(10, 1)},
                            true));
  CHECK_OK(read_idx_file(dir / "ten.gz", small));
}

TEST_CASE("random byte damage to small IDX files gives a result or an error") {
  const std::uint64_t seed = starling::testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  TempDir dir;
  const auto tiny = tiny_images(3, 4, 4, 3);
  REQUIRE_OK(write_idx_file(dir / "src.gz", tiny.images, true));
  const std::vector<std::string> sources{idx_bytes(tiny.images.dims, tiny.images.data),
                                         read_bytes(dir / "src.gz")};
  const fs::path path = dir / "damaged";
  int ok = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = sources[rng.uniform(2)];
    const auto flips = 1 + rng.uniform(3);
    for (std::uint64_t f = 0; f < flips; ++f) {
      bytes[rng.uniform(bytes.size())] = static_cast<char>(rng.uniform(256));
    }
    write_bytes(path, bytes);
    const auto result = read_idx_file(path);
    if (result) {
      ++ok;
      std::uint64_t product = 1;
      for (const std::uint32_t dim : result->dims) product *= dim;
      CHECK(result->data.size() == product);
    } else {
      CHECK(mentions(result.status(), path.string()));
    }
  }
  MESSAGE("random damage: " << ok << " of 3000 damaged files still decoded (pixel bytes)");
}

TEST_CASE("load_idx_pair refuses mismatched counts and swapped files and empty sets") {
  TempDir dir;
  const auto five = tiny_images(5, 2, 2, 2);
  const auto four = tiny_images(4, 2, 2, 2);
  REQUIRE_OK(write_idx_file(dir / "images5", five.images, false));
  REQUIRE_OK(write_idx_file(dir / "labels5", five.labels, false));
  REQUIRE_OK(write_idx_file(dir / "labels4.gz", four.labels, true));

  const auto mismatch = load_idx_pair(dir / "images5", dir / "labels4.gz");
  CHECK_CODE(mismatch, StatusCode::kCorrupt);
  CHECK(mentions(mismatch.status(), (dir / "images5").string()));
  CHECK(mentions(mismatch.status(), (dir / "labels4.gz").string()));
  CHECK(mentions(mismatch.status(), "5 images"));
  CHECK(mentions(mismatch.status(), "4 labels"));

  const auto swapped = load_idx_pair(dir / "labels5", dir / "images5");
  CHECK_CODE(swapped, StatusCode::kCorrupt);
  CHECK(mentions(swapped.status(), "0x00000801"));

  write_bytes(dir / "images0", idx_bytes({0, 2, 2}, {}));
  write_bytes(dir / "labels0", idx_bytes({0}, {}));
  const auto empty = load_idx_pair(dir / "images0", dir / "labels0");
  CHECK_CODE(empty, StatusCode::kCorrupt);
  CHECK(mentions(empty.status(), "no images"));

  write_bytes(dir / "flat", idx_bytes({2, 0, 5}, {}));
  write_bytes(dir / "labels2", idx_bytes({2}, {0, 1}));
  CHECK_CODE(load_idx_pair(dir / "flat", dir / "labels2"), StatusCode::kCorrupt);
}

TEST_CASE("write_idx_file refuses dims that do not match the data") {
  TempDir dir;
  CHECK_CODE(write_idx_file(dir / "x", IdxArray{{2, 2}, {1, 2, 3}}, false),
             StatusCode::kInvalidArgument);
  CHECK_CODE(write_idx_file(dir / "x", IdxArray{{}, {}}, false), StatusCode::kInvalidArgument);
  CHECK_CODE(write_idx_file(dir / "missing-dir" / "x", IdxArray{{1}, {1}}, true),
             StatusCode::kIoError);
}

TEST_CASE("load_fashion_mnist in a directory without the files names the package") {
  TempDir dir;
  const auto result = load_fashion_mnist(dir.path());
  CHECK_CODE(result, StatusCode::kNotFound);
  CHECK(mentions(result.status(), "dataset-fashion-mnist"));
  CHECK(mentions(result.status(), "train-images-idx3-ubyte.gz"));
}

}  // namespace
}  // namespace starling::federated
