// Learner tests on small synthetic data sets (no Fashion-MNIST here: the suite must stay fast).
// Images: 28x28, the class is which quadrant is bright. Sensor rows: points near a 2-d plane
// in 8-d space (normal) or far from it (anomalous).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "base/rng.hpp"
#include "federated/torch/learner.hpp"
#include "tests/common/test_support.hpp"

using namespace starling;
using namespace starling::federated;

namespace {

// `rows` 28x28 images in [0, 1]: noise up to 0.3 everywhere, the quadrant numbered by the
// label (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) raised by 0.6.
Dataset quadrant_images(std::size_t rows, std::uint64_t seed) {
  Rng rng(seed);
  Dataset d;
  d.sample_shape = {1, 28, 28};
  d.classes = 4;
  d.x.resize(rows * 784);
  d.y.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const auto label = static_cast<std::int64_t>(rng.uniform(4));
    d.y[r] = label;
    for (std::size_t i = 0; i < 28; ++i) {
      for (std::size_t j = 0; j < 28; ++j) {
        const std::int64_t quadrant = (i >= 14 ? 2 : 0) + (j >= 14 ? 1 : 0);
        d.x[r * 784 + i * 28 + j] =
            static_cast<float>(0.3 * rng.next_double() + (quadrant == label ? 0.6 : 0.0));
      }
    }
  }
  return d;
}

// Sensor vectors of 8 features: normal rows (label 0) are a*u + b*v + noise for two fixed
// directions u, v; every 10th row is anomalous (label 1): uniform in [-3, 3]^8.
Dataset sensor_rows(std::size_t rows, std::uint64_t seed, bool with_anomalies) {
  Rng rng(seed);
  Rng basis(7);  // the same plane for every seed
  std::vector<double> u(8), v(8);
  for (std::size_t k = 0; k < 8; ++k) {
    u[k] = 2 * basis.next_double() - 1;
    v[k] = 2 * basis.next_double() - 1;
  }
  Dataset d;
  d.sample_shape = {8};
  d.classes = 2;
  d.x.resize(rows * 8);
  d.y.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const bool anomalous = with_anomalies && r % 10 == 9;
    d.y[r] = anomalous ? 1 : 0;
    const double a = 2 * rng.next_double() - 1;
    const double b = 2 * rng.next_double() - 1;
    for (std::size_t k = 0; k < 8; ++k) {
      const double value = anomalous ? 6 * rng.next_double() - 3
                                     : a * u[k] + b * v[k] + 0.05 * (2 * rng.next_double() - 1);
      d.x[r * 8 + k] = static_cast<float>(value);
    }
  }
  return d;
}

std::unique_ptr<Learner> make(std::string_view model, std::uint64_t seed) {
  auto learner = Learner::create(model, seed);
  REQUIRE_MESSAGE(learner.is_ok(), learner.status().to_string());
  return std::move(learner).value();
}

std::vector<float> parameters(const Learner& learner) {
  std::vector<float> p(learner.parameter_count());
  learner.get_parameters(p);
  return p;
}

// Sets one intra-op thread for the scope (bit-reproducible training), then restores.
class OneThread {
 public:
  OneThread() : previous_(set_torch_threads(1)) {}
  ~OneThread() { set_torch_threads(previous_); }
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;

 private:
  int previous_;
};

}  // namespace

TEST_CASE("the registry builds every model with its documented size and flat layout") {
  struct Row { const char* name; std::size_t params; std::size_t tensors; std::size_t input; };
  const std::vector<Row> rows = {{"mlp", 101770, 4, 784}, {"cnn", 80202, 8, 784},
                                 {"anomaly", 428, 8, 8}};
  CHECK(Learner::model_names() == std::vector<std::string>{"mlp", "cnn", "anomaly"});
  for (const Row& row : rows) {
    INFO("model " << std::string(row.name));
    auto learner = make(row.name, 1);
    CHECK(learner->model() == row.name);
    CHECK(learner->parameter_count() == row.params);
    CHECK(learner->input_features() == row.input);
    const auto sizes = learner->tensor_sizes();
    CHECK(sizes.size() == row.tensors);
    std::size_t sum = 0;
    for (const std::size_t s : sizes) sum += s;
    CHECK(sum == learner->parameter_count());
    CHECK((learner->device() == "cpu" || learner->device() == "cuda"));
  }
  // The anomaly model's width follows the options: 16F+16 + 68 + 80 + 17F.
  LearnerOptions options;
  options.anomaly_features = 20;
  auto wide = Learner::create("anomaly", 1, options);
  REQUIRE(wide.is_ok());
  CHECK(wide.value()->parameter_count() == 33 * 20 + 16 + 68 + 80);
}

TEST_CASE("create rejects unknown models and options out of range") {
  CHECK(Learner::create("resnet", 1).status().code() == StatusCode::kInvalidArgument);
  CHECK(Learner::create("", 1).status().code() == StatusCode::kInvalidArgument);
  LearnerOptions options;
  options.anomaly_features = 0;
  CHECK(Learner::create("anomaly", 1, options).status().code() == StatusCode::kInvalidArgument);
  options = {};
  options.threads = -1;
  CHECK(Learner::create("mlp", 1, options).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("initial weights are a function of the seed and within PyTorch's default bounds") {
  const auto a = parameters(*make("mlp", 42));
  const auto b = parameters(*make("mlp", 42));
  const auto c = parameters(*make("mlp", 43));
  CHECK(a == b);
  CHECK(a != c);
  // fc1's weight and bias: +-1/sqrt(784); fc2's: +-1/sqrt(128).
  const float bound1 = 1.0f / 28.0f, bound2 = 1.0f / std::sqrt(128.0f);
  const std::size_t fc1 = 784 * 128 + 128;
  CHECK(std::all_of(a.begin(), a.begin() + fc1, [&](float v) { return std::abs(v) <= bound1; }));
  CHECK(std::all_of(a.begin() + fc1, a.end(), [&](float v) { return std::abs(v) <= bound2; }));
  CHECK(*std::max_element(a.begin(), a.begin() + fc1) > 0.9f * bound1);
}

TEST_CASE("parameters round-trip through the flat buffer") {
  for (const auto& name : Learner::model_names()) {
    INFO("model " << name);
    auto learner = make(name, 3);
    std::vector<float> p(learner->parameter_count());
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>(i % 1000) * 1e-3f - 0.5f;
    REQUIRE(learner->set_parameters(p).is_ok());
    CHECK(parameters(*learner) == p);
    // Another learner of the same model takes them as they are.
    auto other = make(name, 4);
    REQUIRE(other->set_parameters(parameters(*learner)).is_ok());
    CHECK(parameters(*other) == p);
  }
}

TEST_CASE("set_parameters rejects wrong sizes and non-finite values and changes nothing") {
  auto learner = make("cnn", 5);
  const auto before = parameters(*learner);
  std::vector<float> shorter(before.size() - 1, 0.0f), longer(before.size() + 1, 0.0f);
  CHECK(learner->set_parameters(shorter).code() == StatusCode::kInvalidArgument);
  CHECK(learner->set_parameters(longer).code() == StatusCode::kInvalidArgument);
  CHECK(learner->set_parameters({}).code() == StatusCode::kInvalidArgument);
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()}) {
    auto p = before;
    p[p.size() / 2] = bad;
    const Status status = learner->set_parameters(p);
    CHECK(status.code() == StatusCode::kInvalidArgument);
    CHECK(status.message().find("not finite") != std::string::npos);
  }
  CHECK(parameters(*learner) == before);
}

TEST_CASE("TrainConfig::validate names the field out of range") {
  CHECK(TrainConfig{}.validate().is_ok());
  CHECK(recommended_train_config("anomaly").validate().is_ok());
  CHECK(recommended_train_config("anomaly").optimizer == "adam");
  CHECK(recommended_train_config("cnn").optimizer == "sgd");
  struct Row { const char* field; void (*mutate)(TrainConfig&); };
  const std::vector<Row> rows = {
      {"optimizer", [](TrainConfig& c) { c.optimizer = "rmsprop"; }},
      {"learning_rate", [](TrainConfig& c) { c.learning_rate = 0; }},
      {"learning_rate", [](TrainConfig& c) { c.learning_rate = std::nan(""); }},
      {"momentum", [](TrainConfig& c) { c.momentum = 1.0; }},
      {"momentum", [](TrainConfig& c) { c.momentum = -0.1; }},
      {"batch_size", [](TrainConfig& c) { c.batch_size = 0; }},
      {"local_epochs", [](TrainConfig& c) { c.local_epochs = 0; }},
      {"fedprox_mu", [](TrainConfig& c) { c.fedprox_mu = -1; }},
      {"fedprox_mu", [](TrainConfig& c) { c.fedprox_mu = std::numeric_limits<double>::infinity(); }},
  };
  for (const Row& row : rows) {
    TrainConfig c;
    row.mutate(c);
    const Status status = c.validate();
    INFO(status.to_string());
    CHECK(status.code() == StatusCode::kInvalidArgument);
    CHECK(status.message().rfind(row.field, 0) == 0);
  }
}

TEST_CASE("training is bit-reproducible for a seed with one thread and seeds give other results") {
  const OneThread one_thread;
  const std::uint64_t seed = testing::test_seed();
  INFO("seed " << seed);
  const Dataset data = quadrant_images(64, seed);
  TrainConfig config;
  config.batch_size = 16;
  config.local_epochs = 2;
  for (const char* name : {"mlp", "cnn"}) {
    INFO("model " << std::string(name));
    auto run = [&](std::uint64_t init_seed, std::uint64_t train_seed, const TrainConfig& c) {
      auto learner = make(name, init_seed);
      auto stats = learner->train(data, c, train_seed);
      REQUIRE_MESSAGE(stats.is_ok(), stats.status().to_string());
      CHECK(stats->samples == 128);
      return std::pair(parameters(*learner), stats->loss);
    };
    const auto [a, loss_a] = run(1, seed, config);
    const auto [b, loss_b] = run(1, seed, config);
    CHECK(a == b);
    CHECK(loss_a == loss_b);
    CHECK(run(1, seed + 1, config).first != a);  // another shuffle
    CHECK(run(2, seed, config).first != a);      // other initial weights
    TrainConfig adam = config;
    adam.optimizer = "adam";
    adam.learning_rate = 0.001;
    adam.fedprox_mu = 0.1;
    CHECK(run(1, seed, adam).first == run(1, seed, adam).first);
  }
}

TEST_CASE("mlp and cnn learn which quadrant is bright") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed " << seed);
  const Dataset train = quadrant_images(200, seed);
  const Dataset test = quadrant_images(100, seed + 1);
  for (const char* name : {"mlp", "cnn"}) {
    INFO("model " << std::string(name));
    auto learner = make(name, seed);
    auto before = learner->evaluate(test);
    REQUIRE(before.is_ok());
    CHECK(before->samples == 100);
    TrainConfig config = recommended_train_config(name);
    config.local_epochs = 8;  // 200 rows: 7 batches an epoch
    auto stats = learner->train(train, config, seed);
    REQUIRE_MESSAGE(stats.is_ok(), stats.status().to_string());
    CHECK(stats->samples == 1600);
    CHECK(stats->seconds > 0);
    auto after = learner->evaluate(test, 32);
    REQUIRE(after.is_ok());
    MESSAGE(std::string(name) << ": test loss " << before->loss << " -> " << after->loss << ", accuracy "
                 << before->accuracy << " -> " << after->accuracy << ", train loss "
                 << stats->loss);
    CHECK(after->loss < 0.5 * before->loss);
    CHECK(after->accuracy >= 0.9);
    // Training further from the trained parameters lowers the training loss again.
    auto again = learner->train(train, config, seed + 1);
    REQUIRE(again.is_ok());
    CHECK(again->loss < stats->loss);
  }
}

TEST_CASE("the anomaly autoencoder learns to reconstruct normal rows and flags the others") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed " << seed);
  const Dataset normal = sensor_rows(400, seed, false);
  const Dataset mixed = sensor_rows(400, seed + 1, true);
  auto learner = make("anomaly", seed);
  auto before = learner->evaluate(normal);
  REQUIRE(before.is_ok());
  TrainConfig config = recommended_train_config("anomaly");
  config.local_epochs = 30;
  auto stats = learner->train(normal, config, seed);
  REQUIRE_MESSAGE(stats.is_ok(), stats.status().to_string());
  auto after = learner->evaluate(normal);
  REQUIRE(after.is_ok());
  auto flagged = learner->evaluate(mixed);
  REQUIRE(flagged.is_ok());
  MESSAGE("anomaly: reconstruction loss " << before->loss << " -> " << after->loss
                                          << ", accuracy on mixed rows " << flagged->accuracy);
  CHECK(after->loss < 0.25 * before->loss);
  // The threshold is the 95th percentile of the training rows' errors: ~5% of normal rows are
  // over it, and nearly every anomalous row (10% of `mixed`).
  CHECK(after->accuracy == doctest::Approx(0.95).epsilon(0.02));
  CHECK(flagged->accuracy > 0.9);
  CHECK(flagged->loss > after->loss);
}

TEST_CASE("FedProx keeps the trained parameters closer to where training started") {
  const OneThread one_thread;
  const Dataset data = quadrant_images(128, 11);
  auto distance = [&](double mu) {
    auto learner = make("mlp", 11);
    const auto start = parameters(*learner);
    TrainConfig config;
    config.fedprox_mu = mu;
    config.local_epochs = 2;
    REQUIRE(learner->train(data, config, 11).is_ok());
    const auto end = parameters(*learner);
    double d = 0;
    for (std::size_t i = 0; i < end.size(); ++i) d += (end[i] - start[i]) * (end[i] - start[i]);
    return std::sqrt(d);
  };
  const double plain = distance(0.0), prox = distance(10.0);
  MESSAGE("distance from the start: mu 0 " << plain << ", mu 10 " << prox);
  CHECK(prox < 0.8 * plain);
}

TEST_CASE("train and evaluate reject data the model cannot take and change nothing") {
  auto learner = make("mlp", 9);
  const auto before = parameters(*learner);
  const TrainConfig config;
  Dataset wrong_width = sensor_rows(10, 1, false);
  CHECK(learner->train(wrong_width, config, 1).status().code() == StatusCode::kInvalidArgument);
  CHECK(learner->evaluate(wrong_width).status().code() == StatusCode::kInvalidArgument);
  Dataset bad_label = quadrant_images(10, 1);
  bad_label.y[3] = 10;
  CHECK(learner->train(bad_label, config, 1).status().code() == StatusCode::kInvalidArgument);
  bad_label.y[3] = -1;
  CHECK(learner->evaluate(bad_label).status().code() == StatusCode::kInvalidArgument);
  Dataset short_x = quadrant_images(10, 1);
  short_x.x.resize(short_x.x.size() - 1);
  CHECK(learner->train(short_x, config, 1).status().code() == StatusCode::kInvalidArgument);
  TrainConfig bad_config;
  bad_config.batch_size = 0;
  CHECK(learner->train(quadrant_images(10, 1), bad_config, 1).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(learner->evaluate(quadrant_images(10, 1), 0).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(parameters(*learner) == before);

  // An empty data set trains nothing and evaluates to zero samples.
  Dataset empty;
  empty.sample_shape = {1, 28, 28};
  auto stats = learner->train(empty, config, 1);
  REQUIRE(stats.is_ok());
  CHECK(stats->samples == 0);
  auto eval = learner->evaluate(empty);
  REQUIRE(eval.is_ok());
  CHECK(eval->samples == 0);
  CHECK(parameters(*learner) == before);
}

TEST_CASE("diverging training is reported and the parameters are restored") {
  auto learner = make("mlp", 13);
  const auto before = parameters(*learner);
  TrainConfig config;
  config.learning_rate = 1e30;
  auto stats = learner->train(quadrant_images(64, 13), config, 13);
  CHECK(stats.status().code() == StatusCode::kInvalidArgument);
  CHECK(stats.status().message().find("diverged") != std::string::npos);
  CHECK(parameters(*learner) == before);
}
