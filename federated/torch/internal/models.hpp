// PRIVATE to federated/torch (includes libtorch): the model registry behind Learner.
// Every model takes a batch of flat rows [B, input_features] (it reshapes inside) and returns
// logits [B, 10] (kClassify) or a reconstruction [B, input_features] (kReconstruct).
// Not thread-safe, like any torch::nn::Module.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <torch/nn/module.h>
#include <torch/types.h>

namespace starling::federated::internal {

enum class Task { kClassify, kReconstruct };

inline constexpr std::int64_t kClasses = 10;     // outputs of the classifiers
inline constexpr std::size_t kImageFeatures = 784;  // 1 x 28 x 28

class Model : public torch::nn::Module {
 public:
  Model(std::size_t input_features, Task task) : input_features_(input_features), task_(task) {}
  // x: [B, input_features()], float32, on the model's device.
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  std::size_t input_features() const noexcept { return input_features_; }
  Task task() const noexcept { return task_; }

 private:
  std::size_t input_features_;
  Task task_;
};

// Builds a registered model ("mlp", "cnn", "anomaly") with libtorch's default initialisation
// (the Learner overwrites it from its seed); nullptr for an unknown name. `anomaly_features` is
// the anomaly model's input width. May throw c10::Error.
std::shared_ptr<Model> make_model(std::string_view name, std::size_t anomaly_features);

}  // namespace starling::federated::internal
