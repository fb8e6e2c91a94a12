// Tests for Dataset: shape arithmetic, subset, label counts and validate.
#include <doctest/doctest.h>

#include <vector>

#include "federated/data/dataset.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling::federated {
namespace {

// 4 rows of shape {2, 1}: row i is {i, 10 + i}, label i % 3.
Dataset four_rows() {
  Dataset data;
  data.sample_shape = {2, 1};
  data.classes = 3;
  for (int i = 0; i < 4; ++i) {
    data.x.push_back(static_cast<float>(i));
    data.x.push_back(static_cast<float>(10 + i));
    data.y.push_back(i % 3);
  }
  return data;
}

TEST_CASE("features is the product of the sample shape and 0 without a shape") {
  Dataset data;
  CHECK(data.features() == 0);
  data.sample_shape = {1, 28, 28};
  CHECK(data.features() == 784);
  data.sample_shape = {8};
  CHECK(data.features() == 8);
}

TEST_CASE("row and subset return the chosen rows in the given order") {
  const Dataset data = four_rows();
  CHECK(data.rows() == 4);
  const auto row2 = data.row(2);
  REQUIRE(row2.size() == 2);
  CHECK(row2[0] == 2.0f);
  CHECK(row2[1] == 12.0f);

  const std::vector<std::size_t> pick{3, 0, 3};
  const Dataset sub = data.subset(pick);
  CHECK(sub.rows() == 3);
  CHECK(sub.classes == 3);
  CHECK(sub.sample_shape == data.sample_shape);
  CHECK(sub.x == std::vector<float>{3, 13, 0, 10, 3, 13});
  CHECK(sub.y == std::vector<std::int64_t>{0, 0, 0});
  CHECK_OK(sub.validate());

  const Dataset none = data.subset({});
  CHECK(none.rows() == 0);
  CHECK(none.x.empty());
}

TEST_CASE("label_counts counts rows per label including absent labels") {
  Dataset data = four_rows();
  data.classes = 5;
  CHECK(data.label_counts() == std::vector<std::size_t>{2, 1, 1, 0, 0});
}

TEST_CASE("validate reports a missing shape and a wrong x size and labels out of range") {
  CHECK_OK(four_rows().validate());

  Dataset no_shape = four_rows();
  no_shape.sample_shape.clear();
  CHECK_CODE(no_shape.validate(), StatusCode::kCorrupt);

  Dataset short_x = four_rows();
  short_x.x.pop_back();
  CHECK_CODE(short_x.validate(), StatusCode::kCorrupt);

  Dataset big_label = four_rows();
  big_label.y[1] = 3;
  const Status status = big_label.validate();
  CHECK_CODE(status, StatusCode::kCorrupt);
  CHECK(status.message().find("row 1") != std::string::npos);

  Dataset negative = four_rows();
  negative.y[0] = -1;
  CHECK_CODE(negative.validate(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace starling::federated
