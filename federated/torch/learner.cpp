// Learner: parameters <-> flat buffers, the training loop (SGD/Adam, FedProx), evaluation.
// A libtorch translation unit (~15 s to compile). Every libtorch call below is reached only
// through a try block in a public method: no exception leaves this file.
#include "federated/torch/learner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <utility>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "base/assert.hpp"
#include "base/rng.hpp"
#include "federated/torch/internal/models.hpp"

namespace starling::federated {

using internal::Task;

struct Learner::Impl {
  std::string name;
  std::shared_ptr<internal::Model> net;
  torch::Device device = torch::kCPU;
  std::vector<torch::Tensor> params;  // net->parameters(), registration order
  std::vector<std::size_t> sizes;     // numel of each
  std::size_t count = 0;
  // anomaly: the reconstruction-error threshold recorded by the last successful train().
  std::optional<double> threshold;

  bool on_cpu() const { return device.is_cpu(); }
  void copy_out(std::span<float> out) const;
  void copy_in(std::span<const float> in);
  Status check_data(const Dataset& data) const;
  TrainStats train(const Dataset& data, const TrainConfig& config, std::uint64_t seed);
  EvalStats evaluate(const Dataset& data, std::size_t batch_size) const;
  // Per-row mean squared reconstruction errors (anomaly), in data order.
  std::vector<double> row_errors(const Dataset& data, std::size_t batch_size) const;
};

namespace {

constexpr double kThresholdQuantile = 0.95;
constexpr std::size_t kEvalBatch = 256;  // evaluate()'s default: see learner.hpp

Status invalid(std::string message) {
  return error(StatusCode::kInvalidArgument, std::move(message));
}

Status torch_failure(std::string_view what, const char* message) {
  return error(StatusCode::kInternal, std::string(what) + ": libtorch: " + message);
}

// Non-owning tensor views of a data set's buffers (from_blob: no copy). The data set outlives
// them and is never written through them (hence the const_casts).
torch::Tensor rows_view(const Dataset& data) {
  return torch::from_blob(const_cast<float*>(data.x.data()),
                          {static_cast<std::int64_t>(data.rows()),
                           static_cast<std::int64_t>(data.features())},
                          torch::kFloat32);
}
torch::Tensor labels_view(const Dataset& data) {
  return torch::from_blob(const_cast<std::int64_t*>(data.y.data()),
                          {static_cast<std::int64_t>(data.rows())}, torch::kInt64);
}

// The nearest-rank q-quantile of `values` (reordered). REQUIRES: !values.empty().
double quantile(std::vector<double>& values, double q) {
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  rank = std::clamp<std::size_t>(rank, 1, values.size());
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank - 1),
                   values.end());
  return values[rank - 1];
}

bool all_finite(const std::vector<torch::Tensor>& tensors) {
  for (const auto& t : tensors) {
    if (!torch::isfinite(t).all().item<bool>()) return false;
  }
  return true;
}

}  // namespace

Status TrainConfig::validate() const {
  if (optimizer != "sgd" && optimizer != "adam") {
    return invalid("optimizer: '" + optimizer + "' is not sgd or adam");
  }
  if (!std::isfinite(learning_rate) || learning_rate <= 0) {
    return invalid("learning_rate: must be finite and > 0");
  }
  if (!std::isfinite(momentum) || momentum < 0 || momentum >= 1) {
    return invalid("momentum: must be in [0, 1)");
  }
  if (batch_size == 0) return invalid("batch_size: must be >= 1");
  if (local_epochs == 0) return invalid("local_epochs: must be >= 1");
  if (!std::isfinite(fedprox_mu) || fedprox_mu < 0) {
    return invalid("fedprox_mu: must be finite and >= 0");
  }
  return Status::ok();
}

TrainConfig recommended_train_config(std::string_view model) {
  TrainConfig c;
  if (model == "anomaly") {
    c.optimizer = "adam";
    c.learning_rate = 0.01;
  }
  return c;  // mlp, cnn: sgd, lr 0.01, momentum 0.9, batch 32
}

// --- Impl -------------------------------------------------------------------------------------

void Learner::Impl::copy_out(std::span<float> out) const {
  torch::NoGradGuard no_grad;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (on_cpu()) {
      std::memcpy(out.data() + offset, params[i].data_ptr<float>(), sizes[i] * sizeof(float));
    } else {
      torch::from_blob(out.data() + offset, {static_cast<std::int64_t>(sizes[i])}, torch::kFloat32)
          .copy_(params[i].reshape({-1}));
    }
    offset += sizes[i];
  }
}

void Learner::Impl::copy_in(std::span<const float> in) {
  torch::NoGradGuard no_grad;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (on_cpu()) {
      std::memcpy(params[i].data_ptr<float>(), in.data() + offset, sizes[i] * sizeof(float));
    } else {
      params[i].copy_(torch::from_blob(const_cast<float*>(in.data() + offset), params[i].sizes(),
                                       torch::kFloat32));
    }
    offset += sizes[i];
  }
}

Status Learner::Impl::check_data(const Dataset& data) const {
  if (data.rows() == 0) return Status::ok();
  if (data.features() != net->input_features()) {
    return invalid("data set rows have " + std::to_string(data.features()) + " features, model '" +
                   name + "' takes " + std::to_string(net->input_features()));
  }
  if (data.x.size() != data.rows() * data.features()) {
    return invalid("data set holds " + std::to_string(data.x.size()) + " values for " +
                   std::to_string(data.rows()) + " rows of " + std::to_string(data.features()));
  }
  if (net->task() == Task::kClassify) {
    for (std::size_t i = 0; i < data.y.size(); ++i) {
      if (data.y[i] < 0 || data.y[i] >= internal::kClasses) {
        return invalid("label " + std::to_string(data.y[i]) + " of row " + std::to_string(i) +
                       " is outside [0, " + std::to_string(internal::kClasses) + ")");
      }
    }
  }
  return Status::ok();
}

TrainStats Learner::Impl::train(const Dataset& data, const TrainConfig& config,
                                std::uint64_t seed) {
  const auto n = static_cast<std::int64_t>(data.rows());
  const auto batch = static_cast<std::int64_t>(config.batch_size);
  const torch::Tensor x_all = rows_view(data);
  const torch::Tensor y_all = labels_view(data);

  // The parameters train() started from: FedProx's anchor.
  std::vector<torch::Tensor> start;
  if (config.fedprox_mu > 0) {
    torch::NoGradGuard no_grad;
    for (const auto& p : params) start.push_back(p.detach().clone());
  }

  std::unique_ptr<torch::optim::Optimizer> optimizer;
  if (config.optimizer == "adam") {
    optimizer = std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(config.learning_rate));
  } else {
    optimizer = std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(config.learning_rate).momentum(config.momentum));
  }

  net->train();
  Rng rng(seed);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  const torch::Tensor order_view = torch::from_blob(order.data(), {n}, torch::kInt64);
  // Sum of batch loss * batch rows, on the device (no per-batch synchronisation on CUDA).
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));

  for (std::size_t epoch = 0; epoch < config.local_epochs; ++epoch) {
    rng.shuffle(order.begin(), order.end());
    for (std::int64_t begin = 0; begin < n; begin += batch) {
      const std::int64_t len = std::min(batch, n - begin);
      const torch::Tensor index = order_view.narrow(0, begin, len);
      torch::Tensor xb = x_all.index_select(0, index);
      torch::Tensor yb;
      if (!on_cpu()) xb = xb.to(device, /*non_blocking=*/false);
      optimizer->zero_grad();
      const torch::Tensor out = net->forward(xb);
      torch::Tensor loss;
      if (net->task() == Task::kClassify) {
        yb = y_all.index_select(0, index);
        if (!on_cpu()) yb = yb.to(device);
        loss = torch::cross_entropy_loss(out, yb);
      } else {
        loss = torch::mse_loss(out, xb);
      }
      loss.backward();
      if (config.fedprox_mu > 0) {
        // d/dw (mu/2)||w - w0||^2 = mu (w - w0)
        torch::NoGradGuard no_grad;
        for (std::size_t i = 0; i < params.size(); ++i) {
          params[i].mutable_grad().add_(params[i].detach(), config.fedprox_mu)
              .sub_(start[i], config.fedprox_mu);
        }
      }
      optimizer->step();
      loss_sum.add_(loss.detach().to(torch::kFloat64), static_cast<double>(len));
    }
  }

  TrainStats stats;
  stats.samples = data.rows() * config.local_epochs;
  stats.loss = loss_sum.item<double>() / static_cast<double>(stats.samples);
  return stats;
}

std::vector<double> Learner::Impl::row_errors(const Dataset& data, std::size_t batch_size) const {
  torch::NoGradGuard no_grad;
  net->eval();
  const auto n = static_cast<std::int64_t>(data.rows());
  const auto batch = static_cast<std::int64_t>(batch_size);
  const torch::Tensor x_all = rows_view(data);
  std::vector<double> errors;
  errors.reserve(data.rows());
  for (std::int64_t begin = 0; begin < n; begin += batch) {
    const std::int64_t len = std::min(batch, n - begin);
    torch::Tensor xb = x_all.narrow(0, begin, len);
    if (!on_cpu()) xb = xb.to(device);
    const torch::Tensor err =
        (net->forward(xb) - xb).square().mean(1).to(torch::kCPU, torch::kFloat64).contiguous();
    const double* e = err.data_ptr<double>();
    errors.insert(errors.end(), e, e + len);
  }
  return errors;
}

EvalStats Learner::Impl::evaluate(const Dataset& data, std::size_t batch_size) const {
  EvalStats stats;
  stats.samples = data.rows();
  const double rows = static_cast<double>(data.rows());
  if (net->task() == Task::kReconstruct) {
    std::vector<double> errors = row_errors(data, batch_size);
    stats.loss = std::accumulate(errors.begin(), errors.end(), 0.0) / rows;
    double cut = 0;
    if (threshold) {
      cut = *threshold;
    } else {
      std::vector<double> normal;
      for (std::size_t i = 0; i < errors.size(); ++i) {
        if (data.y[i] == 0) normal.push_back(errors[i]);
      }
      if (normal.empty()) normal = errors;
      cut = quantile(normal, kThresholdQuantile);
    }
    std::size_t right = 0;
    for (std::size_t i = 0; i < errors.size(); ++i) {
      const bool anomalous = errors[i] > cut;
      if (anomalous == (data.y[i] != 0)) ++right;
    }
    stats.accuracy = static_cast<double>(right) / rows;
    return stats;
  }

  torch::NoGradGuard no_grad;
  net->eval();
  const auto n = static_cast<std::int64_t>(data.rows());
  const auto batch = static_cast<std::int64_t>(batch_size);
  const torch::Tensor x_all = rows_view(data);
  const torch::Tensor y_all = labels_view(data);
  const auto acc_options = torch::TensorOptions().dtype(torch::kFloat64).device(device);
  torch::Tensor loss_sum = torch::zeros({}, acc_options);
  torch::Tensor correct = torch::zeros({}, acc_options.dtype(torch::kInt64));
  for (std::int64_t begin = 0; begin < n; begin += batch) {
    const std::int64_t len = std::min(batch, n - begin);
    torch::Tensor xb = x_all.narrow(0, begin, len);
    torch::Tensor yb = y_all.narrow(0, begin, len);
    if (!on_cpu()) {
      xb = xb.to(device);
      yb = yb.to(device);
    }
    const torch::Tensor out = net->forward(xb);
    loss_sum.add_(torch::cross_entropy_loss(out, yb, {}, at::Reduction::Sum).to(torch::kFloat64));
    correct.add_(out.argmax(1).eq(yb).sum());
  }
  stats.loss = loss_sum.item<double>() / rows;
  stats.accuracy = static_cast<double>(correct.item<std::int64_t>()) / rows;
  return stats;
}

// --- Learner ----------------------------------------------------------------------------------

Learner::Learner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Learner::~Learner() = default;

std::vector<std::string> Learner::model_names() { return {"mlp", "cnn", "anomaly"}; }

Result<std::unique_ptr<Learner>> Learner::create(std::string_view model, std::uint64_t seed,
                                                 const LearnerOptions& options) {
  const auto names = model_names();
  if (std::find(names.begin(), names.end(), model) == names.end()) {
    return invalid("unknown model '" + std::string(model) + "' (mlp, cnn or anomaly)");
  }
  if (options.threads < 0) return invalid("threads: must be >= 0");
  if (options.anomaly_features < 1 || options.anomaly_features > 4096) {
    return invalid("anomaly_features: must be in [1, 4096]");
  }
  try {
    if (options.threads > 0) set_torch_threads(options.threads);
    auto impl = std::make_unique<Impl>();
    impl->name = std::string(model);
    impl->net = internal::make_model(model, options.anomaly_features);
    STARLING_ASSERT(impl->net != nullptr, "model_names() and make_model() disagree");
    if (options.use_cuda_if_available && torch::cuda::is_available()) {
      impl->device = torch::Device(torch::kCUDA);
      impl->net->to(impl->device);
    }
    impl->params = impl->net->parameters();
    std::vector<float> initial;
    for (const auto& p : impl->params) {
      STARLING_ASSERT(p.scalar_type() == torch::kFloat32 && p.is_contiguous(),
                      "parameters are contiguous float32");
      impl->sizes.push_back(static_cast<std::size_t>(p.numel()));
      impl->count += impl->sizes.back();
    }
    // PyTorch's default bounds for Linear and Conv2d (kaiming_uniform with a = sqrt(5) for the
    // weight, the same bound for the bias): uniform in +-1/sqrt(fan_in), where fan_in is the
    // weight's elements per output unit; a bias (1-d) follows its weight.
    initial.reserve(impl->count);
    Rng rng(seed);
    double bound = 1;
    for (const auto& p : impl->params) {
      if (p.dim() >= 2) bound = 1.0 / std::sqrt(static_cast<double>(p.numel() / p.size(0)));
      for (std::int64_t i = 0; i < p.numel(); ++i) {
        initial.push_back(static_cast<float>((2 * rng.next_double() - 1) * bound));
      }
    }
    impl->copy_in(initial);
    return std::unique_ptr<Learner>(new Learner(std::move(impl)));
  } catch (const c10::Error& e) {
    return torch_failure("create", e.what_without_backtrace());
  } catch (const std::exception& e) {
    return torch_failure("create", e.what());
  }
}

std::string_view Learner::model() const { return impl_->name; }
std::size_t Learner::input_features() const { return impl_->net->input_features(); }
std::size_t Learner::parameter_count() const { return impl_->count; }
std::vector<std::size_t> Learner::tensor_sizes() const { return impl_->sizes; }
std::string Learner::device() const { return impl_->on_cpu() ? "cpu" : "cuda"; }

void Learner::get_parameters(std::span<float> out) const {
  STARLING_ASSERT(out.size() == impl_->count, "get_parameters: out.size() != parameter_count()");
  try {
    impl_->copy_out(out);
  } catch (const std::exception& e) {
    // Only a device copy can fail here (CUDA); a CPU memcpy cannot.
    STARLING_UNREACHABLE(e.what());
  }
}

Status Learner::set_parameters(std::span<const float> in) {
  if (in.size() != impl_->count) {
    return invalid("set_parameters: " + std::to_string(in.size()) + " values for a model of " +
                   std::to_string(impl_->count));
  }
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (!std::isfinite(in[i])) {
      return invalid("set_parameters: value " + std::to_string(i) + " is not finite");
    }
  }
  try {
    impl_->copy_in(in);
    return Status::ok();
  } catch (const c10::Error& e) {
    return torch_failure("set_parameters", e.what_without_backtrace());
  } catch (const std::exception& e) {
    return torch_failure("set_parameters", e.what());
  }
}

Result<TrainStats> Learner::train(const Dataset& data, const TrainConfig& config,
                                  std::uint64_t seed) {
  STARLING_RETURN_IF_ERROR(config.validate());
  STARLING_RETURN_IF_ERROR(impl_->check_data(data));
  if (data.rows() == 0) return TrainStats{};
  const auto started = std::chrono::steady_clock::now();
  std::vector<float> before(impl_->count);
  // Puts the parameters train() started from back after a failure (best effort on CUDA).
  auto restore = [&] {
    try {
      impl_->copy_in(before);
    } catch (const std::exception&) {
    }
  };
  try {
    impl_->copy_out(before);
    TrainStats stats = impl_->train(data, config, seed);
    if (!std::isfinite(stats.loss) || !all_finite(impl_->params)) {
      restore();
      return invalid("training diverged (non-finite loss or parameters); parameters restored: "
                     "lower the learning rate");
    }
    if (impl_->net->task() == Task::kReconstruct) {
      std::vector<double> errors = impl_->row_errors(data, kEvalBatch);
      impl_->threshold = quantile(errors, kThresholdQuantile);
    }
    stats.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return stats;
  } catch (const c10::Error& e) {
    restore();
    return torch_failure("train", e.what_without_backtrace());
  } catch (const std::exception& e) {
    restore();
    return torch_failure("train", e.what());
  }
}

Result<EvalStats> Learner::evaluate(const Dataset& data, std::size_t batch_size) const {
  if (batch_size == 0) return invalid("evaluate: batch_size must be >= 1");
  STARLING_RETURN_IF_ERROR(impl_->check_data(data));
  if (data.rows() == 0) return EvalStats{};
  try {
    return impl_->evaluate(data, batch_size);
  } catch (const c10::Error& e) {
    return torch_failure("evaluate", e.what_without_backtrace());
  } catch (const std::exception& e) {
    return torch_failure("evaluate", e.what());
  }
}

int set_torch_threads(int threads) {
  const int previous = at::get_num_threads();
  if (threads > 0 && threads != previous) {
    try {
      at::set_num_threads(threads);
    } catch (const std::exception&) {
      // Only rejects threads <= 0, excluded above.
    }
  }
  return previous;
}

}  // namespace starling::federated
