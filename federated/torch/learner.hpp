// Learner: one device's local model and its trainer, on libtorch. The only component that
// links libtorch; this header includes no torch header (pimpl), so the simulator and the agent
// can include it without paying for a torch translation unit.
//
// A Learner owns one model from a small registry, built on the CPU, or on CUDA when a GPU is
// available and allowed. Its parameters cross the boundary as ONE flat float32 buffer: the
// parameter tensors in registration order (tensor_sizes()), each row-major, which is what
// federated/core's aggregators and codecs work on.
//
// Determinism: the initial weights are a pure function of the seed (drawn with starling::Rng,
// not torch's global generator, so they are the same on every platform, device and libtorch
// version), and train() shuffles with starling::Rng seeded by its `seed`. No model uses dropout
// or any other random layer. With one intra-op thread on the CPU (set_torch_threads(1)),
// train() is bit-reproducible: same parameters in, same data, config and seed => same
// parameters out (tested). With more threads libtorch may split reductions differently and
// results can differ in the last bits; on CUDA, cuDNN may pick non-deterministic kernels.
//
// Errors: every libtorch exception is caught inside and returned as a Status (kInternal);
// invalid arguments (shapes, labels, configs, non-finite values) are kInvalidArgument.
//
// Threading: a Learner is not thread-safe (one owner; evaluate() is const but uses the same
// module). Different Learners may be used from different threads; the intra-op thread count is
// a process-wide libtorch setting (set_torch_threads).
//
// Models (sizes with the default LearnerOptions). Speeds and accuracies measured with
// starling-train-central on this 2-core x86-64 machine (shared, load ~3), one intra-op thread,
// libtorch 1.13 CPU with libopenblas0-openmp, sgd lr 0.01 momentum 0.9, batch 32, seed 1,
// trained on the 60,000 Fashion-MNIST training images and tested on the 10,000 test images:
//   "mlp"      input 784 (e.g. [1,28,28] images, flattened), 784-128-10 with ReLU.
//              101,770 parameters (4 tensors). ~80,000 images/s training (0.75 s an epoch).
//              Test accuracy 83.7% after 1 epoch, 86.0% after 3.
//   "cnn"      input 784 as [1,28,28]: conv 1->16 5x5, maxpool 2, ReLU (16x12x12),
//              conv 16->32 5x5, maxpool 2, ReLU (32x4x4 = 512), linear 512->128, ReLU,
//              linear 128->10. 80,202 parameters (8 tensors; 65,664 of them in the 512x128
//              layer). ~7,300 images/s training (an epoch in ~8.2 s), ~13,000 images/s
//              evaluating. Test accuracy 86.2% after 1 epoch, 88.8% after 3, 89.5% after 5.
//   "anomaly"  an autoencoder for sensor vectors of F = LearnerOptions::anomaly_features
//              features: F-16-4-16-F, ReLU after every layer but the last; trained to
//              reconstruct its input (MSE), labels ignored. 33F + 164 parameters (428 for
//              F = 8; 8 tensors). Inputs should be standardised (zero mean, unit variance per
//              feature) by the caller. Recommended: adam, lr 0.01, batch 32.
// Threads: measured on this shared 2-core machine while other jobs ran, a second intra-op
// thread never helped at batch 32: 2 threads trained 3x (cnn) to 37x (mlp) SLOWER than 1, as
// OpenMP's workers busy-wait for a core (OMP_WAIT_POLICY=PASSIVE brought mlp back to 0.75x of
// one thread). Use 1 thread per learner; use more cores with more learners or processes.
// Classifiers ("mlp", "cnn") have 10 output classes: labels must be in [0, 10).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "federated/data/dataset.hpp"

namespace starling::federated {

// How train() runs: one round of local training.
struct TrainConfig {
  // "sgd" (with momentum) or "adam". Optimizer state (momentum, Adam moments) starts fresh in
  // every train() call, as in FedAvg's local training.
  std::string optimizer = "sgd";
  // Good defaults (recommended_train_config()): mlp and cnn: sgd, 0.01, momentum 0.9, batch 32
  // (0.05 did worse on Fashion-MNIST: test accuracy -2.6 points after one epoch for mlp, -3.9
  // after three for cnn; adam with 0.001 was on a par with sgd for cnn, 88.2% after three).
  // anomaly: adam, 0.01 (tried on synthetic sensor data only).
  double learning_rate = 0.01;
  double momentum = 0.9;  // sgd only; in [0, 1)
  std::size_t batch_size = 32;
  std::size_t local_epochs = 1;
  // FedProx: adds (mu/2) * ||w - w_start||^2 to every batch's loss, where w_start are the
  // parameters train() started from (in practice: adds mu * (w - w_start) to the gradient).
  // 0 = plain FedAvg local training. The reported loss excludes this term.
  double fedprox_mu = 0.0;

  // kInvalidArgument naming the first field out of range: unknown optimizer, learning rate not
  // finite and > 0, momentum outside [0, 1), batch_size or local_epochs 0, mu negative or not
  // finite.
  Status validate() const;
};

// The recommended TrainConfig for a registered model (see the model list above); the default
// TrainConfig for an unknown name.
TrainConfig recommended_train_config(std::string_view model);

struct TrainStats {
  double loss = 0;           // mean training loss over every sample of every epoch (no FedProx term)
  std::size_t samples = 0;   // rows processed: rows * local_epochs
  double seconds = 0;        // wall-clock time of train()
};

struct EvalStats {
  double loss = 0;       // mean loss per row: cross-entropy, or MSE reconstruction for anomaly
  double accuracy = 0;   // in [0, 1]; see Learner::evaluate for the anomaly model
  std::size_t samples = 0;
};

struct LearnerOptions {
  // Intra-op threads: when > 0, create() calls set_torch_threads(threads), a PROCESS-WIDE
  // setting; 0 leaves the process setting alone.
  int threads = 0;
  // Use CUDA when torch::cuda::is_available() (a Jetson); otherwise the CPU. The CUDA path is
  // compiled but untested here (Debian's libtorch 1.13 is CPU-only).
  bool use_cuda_if_available = true;
  // Input width of the "anomaly" model; ignored by the others. REQUIRES: 1..4096.
  std::size_t anomaly_features = 8;
};

class Learner {
 public:
  // {"mlp", "cnn", "anomaly"}.
  static std::vector<std::string> model_names();

  // Builds `model` with weights initialised deterministically from `seed` (uniform in
  // +-1/sqrt(fan_in), PyTorch's default bounds for Linear and Conv2d, drawn with starling::Rng).
  // kInvalidArgument for an unknown model or options out of range; kInternal when libtorch
  // fails.
  static Result<std::unique_ptr<Learner>> create(std::string_view model, std::uint64_t seed,
                                                 const LearnerOptions& options = {});

  ~Learner();
  Learner(const Learner&) = delete;
  Learner& operator=(const Learner&) = delete;

  std::string_view model() const;
  // Input features a row must have (784 for mlp and cnn, anomaly_features for anomaly).
  std::size_t input_features() const;
  std::size_t parameter_count() const;
  // The flat layout: element counts of the parameter tensors in registration order; they sum
  // to parameter_count().
  std::vector<std::size_t> tensor_sizes() const;

  // Copies the parameters into `out` (one memcpy per tensor on the CPU).
  // REQUIRES: out.size() == parameter_count() (asserted).
  void get_parameters(std::span<float> out) const;
  // Replaces the parameters. kInvalidArgument when in.size() != parameter_count() or any value
  // is not finite; the parameters are unchanged then.
  Status set_parameters(std::span<const float> in);

  // Trains from the current parameters for config.local_epochs epochs over `data`, in batches of
  // config.batch_size (the last batch of an epoch may be smaller), in an order shuffled
  // deterministically from `seed` (a new permutation per epoch). On success the parameters are
  // the trained ones. kInvalidArgument for an invalid config, rows of the wrong width, a data
  // set whose x does not hold rows * features values, or (classifiers) a label outside [0, 10);
  // the parameters are unchanged then. kInternal when libtorch fails (parameters unspecified:
  // set them again). An empty data set trains nothing: ok with samples = 0.
  // The anomaly model also records the reconstruction-error threshold used by evaluate(): the
  // 95th percentile of the per-row errors on `data` with the trained parameters.
  Result<TrainStats> train(const Dataset& data, const TrainConfig& config, std::uint64_t seed);

  // Evaluates the current parameters on `data`, batch_size rows at a time (no gradients).
  // Classifiers: mean cross-entropy and the fraction of rows whose arg-max is the label.
  // Anomaly: mean per-row MSE reconstruction error; accuracy is the fraction of rows whose label
  // (0 = normal, anything else = anomalous) matches the prediction "anomalous iff the row's
  // error > threshold", the threshold being the one recorded by the last successful train() of
  // this Learner, or, if it never trained, the 95th percentile of the errors of `data`'s own
  // label-0 rows (of all rows when none is labelled 0).
  // kInvalidArgument as for train() and for batch_size 0. An empty data set: ok, samples = 0.
  // The result does not depend on batch_size beyond rounding; 256 evaluated the cnn 1.8x faster
  // than 1000 here (the convolutions' unfolded input stays in cache).
  Result<EvalStats> evaluate(const Dataset& data, std::size_t batch_size = 256) const;

  // "cpu" or "cuda".
  std::string device() const;

  struct Impl;  // federated/torch/internal/impl.hpp (includes libtorch)

 private:
  explicit Learner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Sets libtorch's intra-op thread count for the whole process (at::set_num_threads) and
// returns the previous count. threads <= 0 leaves it unchanged (and returns it).
int set_torch_threads(int threads);

}  // namespace starling::federated
