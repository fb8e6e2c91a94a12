// Loads the real Fashion-MNIST from the Debian package dataset-fashion-mnist when it is
// installed, and skips (with a message) on a machine without it.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <vector>

#include "federated/data/idx.hpp"
#include "federated/data/partition.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling::federated {
namespace {

namespace fs = std::filesystem;

TEST_CASE("Fashion-MNIST from the Debian package loads with its documented shape") {
  const fs::path dir(kFashionMnistDir);
  std::error_code ec;
  if (!fs::exists(dir / "train-images-idx3-ubyte.gz", ec)) {
    MESSAGE("skipped: " << dir.string()
                        << " has no Fashion-MNIST; install dataset-fashion-mnist "
                           "(scripts/install-deps.sh)");
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  auto loaded = load_fashion_mnist();
  const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  REQUIRE_OK(loaded);
  MESSAGE("load_fashion_mnist took " << took.count() << " s (" << cpu << " s of CPU)");

  const Dataset& train = loaded->train;
  const Dataset& test = loaded->test;
  CHECK(train.rows() == 60000);
  CHECK(test.rows() == 10000);
  for (const Dataset* data : {&train, &test}) {
    CHECK(data->classes == 10);
    CHECK(data->features() == 784);
    CHECK(data->sample_shape == std::vector<std::size_t>{1, 28, 28});
    CHECK_OK(data->validate());
    const auto [lo, hi] = std::minmax_element(data->x.begin(), data->x.end());
    CHECK(*lo == 0.0f);
    CHECK(*hi == 1.0f);
  }
  // Fashion-MNIST is balanced: 6000 training and 1000 test images a class.
  CHECK(train.label_counts() == std::vector<std::size_t>(10, 6000));
  CHECK(test.label_counts() == std::vector<std::size_t>(10, 1000));

  // The real set through a partitioner: 100 nodes, label-skewed, every row once.
  auto parts = partition_dataset(train, 100, PartitionSpec{PartitionSpec::Kind::kDirichlet, 0.5, 0},
                                 1);
  REQUIRE_OK(parts);
  std::size_t total = 0;
  for (const auto& node : *parts) {
    CHECK(!node.empty());
    total += node.size();
  }
  CHECK(total == 60000);
  const Dataset first = train.subset((*parts)[0]);
  CHECK(first.rows() == (*parts)[0].size());
  CHECK_OK(first.validate());
}

}  // namespace
}  // namespace starling::federated
