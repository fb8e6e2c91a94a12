// starling-bench-crypto: how much our signed-record layer costs on top of a bare Ed25519 check.
// For 1 KiB and 4 MiB payloads it times crypto::open_record(bytes, key, max_payload) on a sealed
// record against libsodium's crypto_sign_verify_detached over the same signed bytes (all but the
// trailing 64-byte signature), and for 1 KiB also open_record through a KeyDirectory lookup.
// The two sides run in alternating batches (A B A B ...) so that drift on a shared, noisy
// machine hits both alike; batches are timed in thread CPU time, so time spent descheduled does
// not count; each side's figure is its median batch time, and the median of the per-pair ratios
// is printed beside it as a cross-check. Prints a table, and with --json one JSON line at the
// end. It reports and does not gate: exit 0 unless a
// verification fails (1) or the command line is wrong (2). Single-threaded.
//
// Usage: starling-bench-crypto [--seconds N] [--json]
#include <sodium.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "crypto/identity.hpp"
#include "crypto/keys.hpp"
#include "crypto/signed_record.hpp"

namespace starling::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kOverheadGoal_pct = 5.0;
// A batch lasts about this long: long enough to dwarf the clock's cost and scheduler noise in
// the timing of one batch, short enough to give a median over many batches.
constexpr double kBatchTarget_s = 0.02;
// Fewest A/B batch pairs per case, even when the time budget is spent.
constexpr std::size_t kMinPairs = 5;
// Authors in the KeyDirectory variant: a fleet's worth of certificates to look the author up in.
constexpr std::size_t kDirectorySize = 256;
constexpr crypto::RecordKind kKind = 2;

struct Options {
  double seconds = 10.0;
  bool json = false;
};

// One comparison: `ours` and `raw` each check the same bytes once and say whether they verified.
struct Case {
  std::string name;
  std::size_t payload_bytes = 0;
  double budget_share = 0.0;  // fraction of --seconds
  std::function<bool()> ours;
  std::function<bool()> raw;
};

struct Figures {
  std::string name;
  std::size_t payload_bytes = 0;
  std::size_t batch_ops = 0;
  std::size_t pairs = 0;
  double ours_ops_s = 0.0;
  double raw_ops_s = 0.0;
  double overhead_pct = 0.0;         // from the two medians
  double paired_overhead_pct = 0.0;  // the median of the per-pair ratios
};

class MapKeyDirectory final : public crypto::KeyDirectory {
 public:
  void add(const crypto::PublicKey& key) { keys_[crypto::node_id_of(key)] = key; }
  const crypto::PublicKey* find_key(const NodeId& author) const override {
    auto it = keys_.find(author);
    return it == keys_.end() ? nullptr : &it->second;
  }

 private:
  std::map<NodeId, crypto::PublicKey> keys_;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of this thread (POSIX): unlike a wall clock, it stops while other jobs run.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs `check` `ops` times; returns the CPU seconds spent, or a negative value if one failed.
double time_batch(const std::function<bool()>& check, std::size_t ops) {
  bool all_verified = true;
  const double start = thread_cpu_seconds();
  for (std::size_t i = 0; i < ops; ++i) all_verified &= check();
  const double elapsed = thread_cpu_seconds() - start;
  return all_verified ? std::max(elapsed, 1e-9) : -1.0;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Alternates batches of `ours` and `raw` for the case's share of the budget. False when a
// verification failed.
bool measure(const Case& c, double total_seconds, Figures& out) {
  if (time_batch(c.ours, 1) < 0 || time_batch(c.raw, 1) < 0) return false;  // warm-up
  const double one_op = std::max(time_batch(c.raw, 3) / 3, 1e-9);
  const auto batch_ops =
      static_cast<std::size_t>(std::max(1.0, std::ceil(kBatchTarget_s / one_op)));
  const double budget = total_seconds * c.budget_share;
  std::vector<double> ours;
  std::vector<double> raw;
  std::vector<double> ratios;
  const Clock::time_point start = Clock::now();
  while (ours.size() < kMinPairs || seconds_since(start) < budget) {
    const double a = time_batch(c.ours, batch_ops);
    const double b = time_batch(c.raw, batch_ops);
    if (a < 0 || b < 0) return false;
    ours.push_back(a);
    raw.push_back(b);
    ratios.push_back(a / b);
  }
  const double ours_median = median(ours);
  const double raw_median = median(raw);
  out = Figures{c.name, c.payload_bytes, batch_ops, ours.size(),
                static_cast<double>(batch_ops) / ours_median,
                static_cast<double>(batch_ops) / raw_median,
                (ours_median / raw_median - 1.0) * 100.0, (median(ratios) - 1.0) * 100.0};
  return true;
}

Bytes make_payload(std::size_t size) {
  Bytes payload(size);
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;  // any fixed pattern: the content does not matter
  for (auto& byte : payload) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    byte = static_cast<std::uint8_t>(x);
  }
  return payload;
}

// libSodium's check of the same bytes open_record verifies: the bytes before the signature.
bool raw_verify(const Bytes& record, const crypto::PublicKey& key) {
  const std::size_t signed_size = record.size() - crypto::Signature::kSize;
  return crypto_sign_verify_detached(record.data() + signed_size, record.data(), signed_size,
                                     key.bytes.data()) == 0;
}

// `ours` checks the payload view too, so a wrong view could not pass as a fast success.
bool opened(const Result<crypto::RecordView>& view, std::size_t payload_bytes) {
  return view.is_ok() && view->payload.size() == payload_bytes;
}

std::string size_label(std::size_t bytes) {
  if (bytes >= 1024 * 1024) return std::to_string(bytes / (1024 * 1024)) + " MiB";
  if (bytes >= 1024) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " B";
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  if (!(in >> one >> five >> fifteen)) return "n/a";
  return one + " " + five + " " + fifteen;
}

void print_table(const std::vector<Figures>& figures) {
  std::printf("%-23s %7s %11s %11s %9s %7s %6s %9s\n", "case", "payload", "ours ops/s",
              "raw ops/s", "overhead", "paired", "goal", "batches");
  for (const Figures& f : figures) {
    const bool met = f.overhead_pct <= kOverheadGoal_pct;
    std::printf("%-23s %7s %11.1f %11.1f %+8.2f%% %+6.2f%% %6s %4zux%zu\n", f.name.c_str(),
                size_label(f.payload_bytes).c_str(), f.ours_ops_s, f.raw_ops_s, f.overhead_pct,
                f.paired_overhead_pct, met ? "met" : "MISSED", f.pairs * 2, f.batch_ops);
  }
  std::printf("overhead = (ours median batch time / raw median batch time - 1) * 100, goal <= "
              "%.0f%%;\npaired = median over A/B batch pairs of (A/B - 1) * 100; times are thread "
              "CPU time;\nbatches = batches run (A and B) x operations per batch\n",
              kOverheadGoal_pct);
}

void print_json(const std::vector<Figures>& figures, const Options& options) {
  std::printf("{\"bench\":\"crypto\",\"seconds\":%.1f,\"goal_pct\":%.1f,\"results\":[",
              options.seconds, kOverheadGoal_pct);
  for (std::size_t i = 0; i < figures.size(); ++i) {
    const Figures& f = figures[i];
    std::printf("%s{\"case\":\"%s\",\"payload_bytes\":%zu,\"ours_ops_s\":%.2f,"
                "\"raw_ops_s\":%.2f,\"overhead_pct\":%.3f,\"paired_overhead_pct\":%.3f,"
                "\"batches\":%zu,\"batch_ops\":%zu}",
                i == 0 ? "" : ",", f.name.c_str(), f.payload_bytes, f.ours_ops_s, f.raw_ops_s,
                f.overhead_pct, f.paired_overhead_pct, f.pairs * 2, f.batch_ops);
  }
  std::printf("]}\n");
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--seconds" && i + 1 < argc) {
      char* end = nullptr;
      options.seconds = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(options.seconds > 0)) return false;
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
    std::fprintf(stderr, "usage: starling-bench-crypto [--seconds N (default 10)] [--json]\n");
    return argc == 2 && std::string_view(argv[1]) == "--help" ? 0 : 2;
  }
  if (!crypto::ensure_sodium().is_ok()) return 1;

  const crypto::Identity author = crypto::Identity::for_simulation(1, 1);
  const crypto::PublicKey& key = author.public_key();
  MapKeyDirectory directory;
  for (std::uint64_t i = 1; i <= kDirectorySize; ++i) {
    directory.add(crypto::Identity::for_simulation(1, i).public_key());
  }
  const Bytes small = crypto::seal_record(author, kKind, 1, make_payload(1024));
  const Bytes large = crypto::seal_record(author, kKind, 2, make_payload(4 * 1024 * 1024));
  const std::size_t small_payload = small.size() - crypto::kRecordOverhead;
  const std::size_t large_payload = large.size() - crypto::kRecordOverhead;

  const std::vector<Case> cases = {
      {"open_record(key)", small_payload, 0.35,
       [&] { return opened(crypto::open_record(small, key, small_payload), small_payload); },
       [&] { return raw_verify(small, key); }},
      {"open_record(key)", large_payload, 0.40,
       [&] { return opened(crypto::open_record(large, key, large_payload), large_payload); },
       [&] { return raw_verify(large, key); }},
      {"open_record(directory)", small_payload, 0.25,
       [&] { return opened(crypto::open_record(small, directory, small_payload), small_payload); },
       [&] { return raw_verify(small, key); }},
  };
  std::printf("starling-bench-crypto: %.1f s budget, %u hardware threads, load average %s\n",
              options.seconds, std::thread::hardware_concurrency(), load_average().c_str());
  std::vector<Figures> figures;
  for (const Case& c : cases) {
    Figures f;
    if (!measure(c, options.seconds, f)) {
      std::fprintf(stderr, "starling-bench-crypto: %s (%s): a verification failed\n",
                   c.name.c_str(), size_label(c.payload_bytes).c_str());
      return 1;
    }
    figures.push_back(f);
  }
  print_table(figures);
  std::printf("load average at the end: %s\n", load_average().c_str());
  if (options.json) print_json(figures, options);
  return 0;
}
