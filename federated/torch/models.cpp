// The model registry: mlp, cnn, anomaly (sizes and speeds are documented in learner.hpp).
// A libtorch translation unit (~15 s to compile): keep it small.
#include "federated/torch/internal/models.hpp"

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

namespace starling::federated::internal {
namespace {

// 784-128-10 with ReLU.
class Mlp final : public Model {
 public:
  Mlp()
      : Model(kImageFeatures, Task::kClassify),
        fc1_(register_module("fc1", torch::nn::Linear(784, 128))),
        fc2_(register_module("fc2", torch::nn::Linear(128, kClasses))) {}

  torch::Tensor forward(const torch::Tensor& x) override {
    return fc2_->forward(torch::relu(fc1_->forward(x)));
  }

 private:
  torch::nn::Linear fc1_;
  torch::nn::Linear fc2_;
};

// conv 1->16 5x5 (28 -> 24), maxpool 2 (12), ReLU; conv 16->32 5x5 (8), maxpool 2 (4), ReLU;
// linear 512 -> 128, ReLU, linear 128 -> 10. Pooling before the ReLU gives the same result as
// after it (both are monotone) on a quarter of the values. Measured on Fashion-MNIST (one core):
// without the 128-unit hidden layer (18,378 parameters) 87.8% after 3 epochs instead of 88.8%
// and ~12% faster; with a 64-unit one 87.9%. (The classic 32/64-channel CNN with a 9216x128
// layer trains at 365 images/s with the reference BLAS, 2-4x that with OpenBLAS: DESIGN.md 9.)
class Cnn final : public Model {
 public:
  Cnn()
      : Model(kImageFeatures, Task::kClassify),
        conv1_(register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, 5)))),
        conv2_(register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 5)))),
        fc1_(register_module("fc1", torch::nn::Linear(32 * 4 * 4, 128))),
        fc2_(register_module("fc2", torch::nn::Linear(128, kClasses))) {}

  torch::Tensor forward(const torch::Tensor& x) override {
    auto h = x.reshape({-1, 1, 28, 28});
    h = torch::relu(torch::max_pool2d(conv1_->forward(h), 2));
    h = torch::relu(torch::max_pool2d(conv2_->forward(h), 2));
    return fc2_->forward(torch::relu(fc1_->forward(h.flatten(1))));
  }

 private:
  torch::nn::Conv2d conv1_;
  torch::nn::Conv2d conv2_;
  torch::nn::Linear fc1_;
  torch::nn::Linear fc2_;
};

// Autoencoder F-16-4-16-F: ReLU after every layer but the last.
class Anomaly final : public Model {
 public:
  explicit Anomaly(std::size_t features)
      : Model(features, Task::kReconstruct),
        enc1_(register_module("enc1", torch::nn::Linear(static_cast<std::int64_t>(features), 16))),
        enc2_(register_module("enc2", torch::nn::Linear(16, 4))),
        dec1_(register_module("dec1", torch::nn::Linear(4, 16))),
        dec2_(register_module("dec2", torch::nn::Linear(16, static_cast<std::int64_t>(features)))) {}

  torch::Tensor forward(const torch::Tensor& x) override {
    auto h = torch::relu(enc1_->forward(x));
    h = torch::relu(enc2_->forward(h));
    h = torch::relu(dec1_->forward(h));
    return dec2_->forward(h);
  }

 private:
  torch::nn::Linear enc1_;
  torch::nn::Linear enc2_;
  torch::nn::Linear dec1_;
  torch::nn::Linear dec2_;
};

}  // namespace

std::shared_ptr<Model> make_model(std::string_view name, std::size_t anomaly_features) {
  if (name == "mlp") return std::make_shared<Mlp>();
  if (name == "cnn") return std::make_shared<Cnn>();
  if (name == "anomaly") return std::make_shared<Anomaly>(anomaly_features);
  return nullptr;
}

}  // namespace starling::federated::internal
