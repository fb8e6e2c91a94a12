// starling-bench-aggregate: how close FedAvg comes to the machine's memory bandwidth, and what
// the robust aggregators cost. With N updates of P float32 parameters (default 10 x 1M, 40 MB of
// input), it times, in the same run:
//   read          a plain vectorized sum over all the inputs: the least FedAvg must do (read
//                 every input once), so its GB/s is the baseline bandwidth
//   fedavg        federated::aggregate with FedAvg
//   median, trimmed-mean:0.1, krum:2, multi-krum:2
// Runs are interleaved (one of each per round, read and fedavg several times per round) so that
// drift on a shared, noisy machine hits every case alike; each figure is the median over rounds,
// timed in thread CPU time (time spent descheduled does not count). GB/s counts the input bytes
// (N x P x 4) over the median time. The goal is fedavg >= 50% of read; it reports and does not
// gate: exit 0 unless an aggregation fails (1) or the command line is wrong (2).
// Single-threaded. On this machine the 40 MB of inputs fit in the (large, shared) last-level
// cache, so "bandwidth" is that of the cache level holding them; the ratio is what matters.
//
// Usage: starling-bench-aggregate [--rounds N] [--updates N] [--params N] [--json]
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/node_id.hpp"
#include "base/rng.hpp"
#include "federated/core/aggregate.hpp"

namespace starling::bench {
namespace {

constexpr double kGoalRatio = 0.5;
// read and fedavg are fast (milliseconds): time them this many times per round.
constexpr int kFastPerRound = 4;

struct Options {
  int rounds = 11;
  std::size_t updates = 10;
  std::size_t params = 1 << 20;
  bool json = false;
};

struct Case {
  std::string name;
  int per_round = 1;
  std::function<bool()> run;
  std::vector<double> seconds;
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// The baseline: sum every value of every input, 16 float lanes per input (vectorized without
// reassociation, like the aggregation loops). noinline: inlined into the loop over inputs, GCC
// 12 vectorizes the outer loop and turns the lanes into scalar additions, a baseline 2x too
// slow. Compiled with -O3 -ftree-vectorize (bench/CMakeLists.txt).
[[gnu::noinline]] float stream_sum_one(const float* x, std::size_t n) {
  constexpr std::size_t kLanes = 16;
  float lanes[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) lanes[l] += x[i + l];
  }
  float sum = 0.0f;
  for (float lane : lanes) sum += lane;
  for (; i < n; ++i) sum += x[i];
  return sum;
}

float stream_sum(const std::vector<std::vector<float>>& inputs) {
  float sum = 0.0f;
  for (const std::vector<float>& input : inputs) sum += stream_sum_one(input.data(), input.size());
  return sum;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  if (!(in >> one >> five >> fifteen)) return "n/a";
  return one + " " + five + " " + fifteen;
}

bool parse_options(int argc, char** argv, Options& options) {
  auto number = [](const char* text, long min, long max, long& out) {
    char* end = nullptr;
    out = std::strtol(text, &end, 10);
    return *end == '\0' && out >= min && out <= max;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    long value = 0;
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--rounds" && i + 1 < argc && number(argv[++i], 1, 1000, value)) {
      options.rounds = static_cast<int>(value);
    } else if (arg == "--updates" && i + 1 < argc && number(argv[++i], 5, 1000, value)) {
      options.updates = static_cast<std::size_t>(value);
    } else if (arg == "--params" && i + 1 < argc && number(argv[++i], 1, 1L << 28, value)) {
      options.params = static_cast<std::size_t>(value);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace
}  // namespace starling::bench

int main(int argc, char** argv) {
  using namespace starling;
  using namespace starling::bench;
  Options options;
  if (!parse_options(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: starling-bench-aggregate [--rounds N (default 11)] [--updates N "
                 "(default 10, >= 5)] [--params N (default 1048576)] [--json]\n");
    return argc == 2 && std::string_view(argv[1]) == "--help" ? 0 : 2;
  }
  const std::size_t n = options.updates;
  const std::size_t p = options.params;
  const double input_bytes = static_cast<double>(n) * static_cast<double>(p) * 4.0;

  Rng rng(20261121);
  std::vector<std::vector<float>> inputs(n, std::vector<float>(p));
  std::vector<federated::WeightedUpdate> updates;
  for (std::size_t j = 0; j < n; ++j) {
    for (float& x : inputs[j]) x = static_cast<float>(rng.next_double() * 0.02 - 0.01);
    updates.push_back({NodeId::from_u64(rng.next_u64()), inputs[j],
                       static_cast<double>(rng.uniform_range(100, 1000))});
  }
  std::vector<float> out(p);

  auto aggregator = [&](std::string_view spec) -> std::function<bool()> {
    const Result<federated::AggregatorConfig> config = federated::parse_aggregator(spec);
    if (!config) return [] { return false; };
    const federated::AggregatorConfig c = *config;
    return [&updates, &out, c] { return federated::aggregate(updates, c, out).is_ok(); };
  };
  volatile float sink = 0.0f;
  std::vector<Case> cases = {
      {"read", kFastPerRound, [&] { sink = sink + stream_sum(inputs); return true; }, {}},
      {"fedavg", kFastPerRound, aggregator("fedavg"), {}},
      {"median", 1, aggregator("median"), {}},
      {"trimmed-mean:0.1", 1, aggregator("trimmed-mean:0.1"), {}},
      {"krum:2", 1, aggregator("krum:2"), {}},
      {"multi-krum:2", 1, aggregator("multi-krum:2"), {}},
  };
  std::printf("starling-bench-aggregate: %zu updates x %zu parameters (%.1f MB of input), %d "
              "rounds, %u hardware threads, load average %s\n",
              n, p, input_bytes / 1e6, options.rounds, std::thread::hardware_concurrency(),
              load_average().c_str());
  // Warm-up: every case once (touches every page, fills caches the same way for all).
  for (Case& c : cases) {
    if (!c.run()) {
      std::fprintf(stderr, "starling-bench-aggregate: %s failed\n", c.name.c_str());
      return 1;
    }
  }
  for (int round = 0; round < options.rounds; ++round) {
    for (int k = 0; k < kFastPerRound; ++k) {
      for (Case& c : cases) {
        if (k >= c.per_round) continue;
        const double start = thread_cpu_seconds();
        const bool ok = c.run();
        const double elapsed = thread_cpu_seconds() - start;
        if (!ok) {
          std::fprintf(stderr, "starling-bench-aggregate: %s failed\n", c.name.c_str());
          return 1;
        }
        c.seconds.push_back(std::max(elapsed, 1e-9));
      }
    }
  }
  const double read_s = median(cases[0].seconds);
  const double fedavg_s = median(cases[1].seconds);
  const double ratio = read_s / fedavg_s;
  std::printf("%-18s %10s %9s %9s %6s\n", "case", "median ms", "GB/s", "vs read", "runs");
  for (const Case& c : cases) {
    const double s = median(c.seconds);
    std::printf("%-18s %10.3f %9.2f %8.1f%% %6zu\n", c.name.c_str(), s * 1e3,
                input_bytes / s / 1e9, read_s / s * 100.0, c.seconds.size());
  }
  std::printf("fedavg / read = %.1f%% (goal >= %.0f%%: %s); GB/s = input bytes / median thread "
              "CPU time\nload average at the end: %s\n",
              ratio * 100.0, kGoalRatio * 100.0, ratio >= kGoalRatio ? "met" : "MISSED",
              load_average().c_str());
  if (options.json) {
    std::printf("{\"bench\":\"aggregate\",\"updates\":%zu,\"params\":%zu,\"rounds\":%d,"
                "\"goal_ratio\":%.2f,\"fedavg_read_ratio\":%.4f,\"results\":[",
                n, p, options.rounds, kGoalRatio, ratio);
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const double s = median(cases[i].seconds);
      std::printf("%s{\"case\":\"%s\",\"median_ms\":%.4f,\"gb_s\":%.3f,\"runs\":%zu}",
                  i == 0 ? "" : ",", cases[i].name.c_str(), s * 1e3, input_bytes / s / 1e9,
                  cases[i].seconds.size());
    }
    std::printf("]}\n");
  }
  return 0;
}
