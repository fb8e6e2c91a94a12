// Simulator speed: deliveries per wall second of a membership scenario (the real core, wire
// codec and signed records on the simulator), against a baseline measured in the same run: the
// bare simulator kernel carrying the same number of messages of the same average size between
// processes that do nothing but forward them. The ratio says what the protocol stack costs per
// delivered message on top of the kernel. Prints a table, or one JSON line with --json.
// Usage: starling-bench-sim [--nodes N] [--duration 120s] [--verify full|shared-cache|off] [--json]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "sim/swarm/scenario.hpp"
#include "sim/world.hpp"

namespace {

using namespace starling;
using namespace starling::sim;

double wall_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Each node forwards every message it receives to a random node, until `budget` deliveries.
class Forwarder final : public Process {
 public:
  Forwarder(Context& context, std::uint64_t& remaining, std::size_t size)
      : context_(context), remaining_(remaining), size_(size) {}
  void on_start() override { send(); }
  void on_message(NodeIndex, const Bytes&) override {
    if (remaining_ == 0) return;
    --remaining_;
    send();
  }

 private:
  void send() {
    const auto to = static_cast<NodeIndex>(context_.rng().uniform(context_.node_count()));
    context_.send(to, Bytes(size_, 0x5a));
  }
  Context& context_;
  std::uint64_t& remaining_;
  std::size_t size_;
};

double kernel_deliveries_per_second(std::size_t nodes, std::uint64_t deliveries, std::size_t size) {
  WorldConfig config;
  config.node_count = nodes;
  config.seed = 1;
  std::uint64_t remaining = deliveries;
  World world(config, [&](NodeIndex, Context& context) {
    return std::make_unique<Forwarder>(context, remaining, size);
  });
  const double start = wall_seconds();
  world.start_all();
  world.scheduler().run_all();
  const double wall = wall_seconds() - start;
  return static_cast<double>(world.network().stats().delivered) / wall;
}

}  // namespace

int main(int argc, char** argv) {
  ScenarioConfig c;
  c.nodes = 300;
  c.duration = std::chrono::seconds(120);
  c.loss = 0.01;
  c.crashes = 3;
  c.seed = 7;
  c.verify = VerifyMode::kSharedCache;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--nodes" && has_value) c.nodes = std::stoul(argv[++i]);
    else if (arg == "--duration" && has_value) c.duration = *parse_duration(argv[++i]);
    else if (arg == "--verify" && has_value) {
      const std::string v = argv[++i];
      c.verify = v == "full" ? VerifyMode::kFull : v == "off" ? VerifyMode::kOff
                                                              : VerifyMode::kSharedCache;
    } else if (arg == "--json") json = true;
    else {
      std::fprintf(stderr, "usage: starling-bench-sim [--nodes N] [--duration D] "
                           "[--verify full|shared-cache|off] [--json]\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  if (Status s = c.validate(); !s) {
    std::fprintf(stderr, "starling-bench-sim: %s\n", s.message().c_str());
    return 2;
  }
  const ScenarioReport r = run_scenario(c, nullptr, wall_seconds);
  const double scenario_rate = static_cast<double>(r.deliveries) / r.wall_s;
  const auto average_size = static_cast<std::size_t>(r.bytes / std::max<std::uint64_t>(r.messages, 1));
  const double kernel_rate = kernel_deliveries_per_second(c.nodes, r.deliveries, average_size);
  if (json) {
    std::printf("{\"nodes\":%zu,\"virtual_s\":%.0f,\"deliveries\":%llu,\"scenario_wall_s\":%.2f,"
                "\"scenario_deliveries_per_s\":%.0f,\"kernel_deliveries_per_s\":%.0f,"
                "\"ratio\":%.3f,\"average_message_bytes\":%zu}\n",
                c.nodes, r.virtual_s, static_cast<unsigned long long>(r.deliveries), r.wall_s,
                scenario_rate, kernel_rate, scenario_rate / kernel_rate, average_size);
  } else {
    std::printf("membership scenario: %zu nodes, %.0f virtual s, %llu deliveries in %.2f s\n",
                c.nodes, r.virtual_s, static_cast<unsigned long long>(r.deliveries), r.wall_s);
    std::printf("%-28s %14s\n", "", "deliveries/s");
    std::printf("%-28s %14.0f\n", "kernel only (baseline)", kernel_rate);
    std::printf("%-28s %14.0f\n", "membership stack", scenario_rate);
    std::printf("%-28s %14.3f\n", "ratio (stack / kernel)", scenario_rate / kernel_rate);
  }
  return 0;
}
