// `starling-train-central`: centralized training of one registered model on the full
// Fashion-MNIST training set (60,000 images), evaluated on the test set (10,000) after every
// epoch: the baseline federated runs compare against, and the source of the speeds and
// accuracies documented in learner.hpp. A benchmark-like tool, not installed.
//
//   starling-train-central --model cnn --epochs 3 --threads 1
//
// Prints one line per epoch (train loss, test loss and accuracy, training images/s, epoch
// seconds), then, with --json, one JSON object with every epoch. Not a torch translation unit:
// it only includes learner.hpp.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "federated/data/idx.hpp"
#include "federated/torch/learner.hpp"

namespace {

using namespace starling;
using namespace starling::federated;

struct Epoch {
  std::size_t epoch = 0;
  double train_loss = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  double images_per_s = 0;
  double train_s = 0;
  double eval_s = 0;
};

int fail(const Status& status) {
  std::fprintf(stderr, "starling-train-central: %s\n", status.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Centralized training of a Starling model on Fashion-MNIST (baseline and speed)"};
  std::string model = "cnn";
  std::size_t epochs = 3;
  int threads = 1;
  std::string optimizer;
  double lr = 0;
  double momentum = -1;
  std::size_t batch = 32;
  std::size_t eval_batch = 256;
  std::uint64_t seed = 1;
  std::size_t rows = 0;
  std::string data_dir(kFashionMnistDir);
  bool json = false;
  app.add_option("--model", model, "mlp or cnn")->check(CLI::IsMember({"mlp", "cnn"}));
  app.add_option("--epochs", epochs, "training epochs (each followed by a test evaluation)")
      ->check(CLI::Range(1, 100));
  app.add_option("--threads", threads, "libtorch intra-op threads")->check(CLI::Range(1, 256));
  app.add_option("--optimizer", optimizer, "sgd or adam (default: the model's recommended)")
      ->check(CLI::IsMember({"sgd", "adam"}));
  app.add_option("--lr", lr, "learning rate (default: the model's recommended)");
  app.add_option("--momentum", momentum, "SGD momentum (default: the model's recommended)");
  app.add_option("--batch", batch, "batch size")->check(CLI::Range(1, 60000));
  app.add_option("--eval-batch", eval_batch, "evaluation batch size")->check(CLI::Range(1, 60000));
  app.add_option("--seed", seed, "initial weights and shuffling");
  app.add_option("--rows", rows, "train on the first N training images only (0: all)");
  app.add_option("--data", data_dir, "directory of the Fashion-MNIST IDX files");
  app.add_flag("--json", json, "end with one JSON object");
  CLI11_PARSE(app, argc, argv);

  TrainConfig config = recommended_train_config(model);
  if (!optimizer.empty()) {
    config.optimizer = optimizer;
    if (lr == 0 && optimizer == "adam") config.learning_rate = 0.001;
  }
  if (lr != 0) config.learning_rate = lr;
  if (momentum >= 0) config.momentum = momentum;
  config.batch_size = batch;
  config.local_epochs = 1;
  if (Status s = config.validate(); !s.is_ok()) return fail(s);

  const auto load_start = std::chrono::steady_clock::now();
  auto data = load_fashion_mnist(data_dir);
  if (!data.is_ok()) return fail(data.status());
  if (rows > 0 && rows < data->train.rows()) {
    std::vector<std::size_t> first(rows);
    for (std::size_t i = 0; i < rows; ++i) first[i] = i;
    data->train = data->train.subset(first);
  }
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();

  const int default_threads = set_torch_threads(0);  // reads the process setting
  LearnerOptions options;
  options.threads = threads;
  auto created = Learner::create(model, seed, options);
  if (!created.is_ok()) return fail(created.status());
  Learner& learner = **created;
  std::printf("model %s (%zu parameters) on %s, %d thread(s) (libtorch's default: %d); %s lr %g "
              "momentum %g batch %zu; %zu training and %zu test images loaded in %.2f s\n",
              model.c_str(), learner.parameter_count(), learner.device().c_str(), threads,
              default_threads,
              config.optimizer.c_str(), config.learning_rate, config.momentum, config.batch_size,
              data->train.rows(), data->test.rows(), load_s);
  std::printf("%5s %10s %9s %9s %10s %8s %7s\n", "epoch", "train_loss", "test_loss", "test_acc",
              "images/s", "train_s", "eval_s");

  std::vector<Epoch> results;
  for (std::size_t e = 1; e <= epochs; ++e) {
    auto stats = learner.train(data->train, config, seed + e);
    if (!stats.is_ok()) return fail(stats.status());
    const auto eval_start = std::chrono::steady_clock::now();
    auto eval = learner.evaluate(data->test, eval_batch);
    if (!eval.is_ok()) return fail(eval.status());
    Epoch r;
    r.epoch = e;
    r.train_loss = stats->loss;
    r.test_loss = eval->loss;
    r.test_accuracy = eval->accuracy;
    r.train_s = stats->seconds;
    r.images_per_s = static_cast<double>(stats->samples) / stats->seconds;
    r.eval_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
    std::printf("%5zu %10.4f %9.4f %8.2f%% %10.0f %8.2f %7.2f\n", r.epoch, r.train_loss,
                r.test_loss, 100 * r.test_accuracy, r.images_per_s, r.train_s, r.eval_s);
    std::fflush(stdout);
    results.push_back(r);
  }

  if (json) {
    std::printf("{\"model\":\"%s\",\"parameters\":%zu,\"device\":\"%s\",\"threads\":%d,"
                "\"optimizer\":\"%s\",\"lr\":%g,\"momentum\":%g,\"batch\":%zu,\"seed\":%llu,"
                "\"train_rows\":%zu,\"epochs\":[",
                model.c_str(), learner.parameter_count(), learner.device().c_str(), threads,
                config.optimizer.c_str(), config.learning_rate, config.momentum,
                config.batch_size, static_cast<unsigned long long>(seed), data->train.rows());
    for (std::size_t i = 0; i < results.size(); ++i) {
      const Epoch& r = results[i];
      std::printf("%s{\"epoch\":%zu,\"train_loss\":%.6f,\"test_loss\":%.6f,"
                  "\"test_accuracy\":%.6f,\"images_per_s\":%.1f,\"train_s\":%.3f,"
                  "\"eval_s\":%.3f}",
                  i == 0 ? "" : ",", r.epoch, r.train_loss, r.test_loss, r.test_accuracy,
                  r.images_per_s, r.train_s, r.eval_s);
    }
    std::printf("]}\n");
  }
  return 0;
}
