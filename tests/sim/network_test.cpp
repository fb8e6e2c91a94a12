// Tests for the simulated Network: latency bounds, loss and duplication rates, reordering,
// partitions, cut links, uplink serialization delays, receivers going down, per-link
// overrides, the counters' invariant and seeded determinism. Statistical checks use bounds of
// about 5 standard deviations, so they fail only when the code is wrong.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/rng.hpp"
#include "sim/network.hpp"
#include "sim/scheduler.hpp"
#include "sim/trace.hpp"
#include "tests/common/test_support.hpp"

namespace starling::sim {
namespace {

struct Arrival {
  NodeIndex from;
  NodeIndex to;
  Bytes payload;
  Instant at;
};

// A network with a recording delivery handler.
struct Fixture {
  Fixture(std::size_t nodes, NetworkConfig config, std::uint64_t seed)
      : network(scheduler, trace, nodes, config, Rng(seed)) {
    network.set_delivery_handler([this](NodeIndex from, NodeIndex to, const Bytes& payload) {
      arrivals.push_back({from, to, payload, scheduler.now()});
    });
  }
  Scheduler scheduler;
  Trace trace;
  Network network;
  std::vector<Arrival> arrivals;
};

NetworkConfig quiet_config(std::int64_t base_us, std::int64_t jitter_us) {
  NetworkConfig config;
  config.link.latency_base_us = base_us;
  config.link.latency_jitter_us = jitter_us;
  return config;
}

Bytes message(std::uint32_t n) {
  return Bytes{static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
               static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 24)};
}

std::uint32_t number_of(const Bytes& payload) {
  return static_cast<std::uint32_t>(payload[0]) | (static_cast<std::uint32_t>(payload[1]) << 8) |
         (static_cast<std::uint32_t>(payload[2]) << 16) |
         (static_cast<std::uint32_t>(payload[3]) << 24);
}

void check_counters_balance(const Network& network) {
  const NetworkStats& s = network.stats();
  CHECK(s.sent + s.duplicated == s.delivered + s.dropped() + network.in_flight());
}

TEST_CASE("config validation rejects negative times and bad probabilities") {
  CHECK(NetworkConfig{}.validate().is_ok());
  LinkConfig link;
  link.latency_base_us = -1;
  CHECK(link.validate().code() == StatusCode::kInvalidArgument);
  link = LinkConfig{};
  link.loss_probability = 1.5;
  CHECK(link.validate().code() == StatusCode::kInvalidArgument);
  link = LinkConfig{};
  link.reorder_window_us = -5;
  CHECK(link.validate().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("every latency lies between base and base plus jitter and the whole range is used") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  Fixture f(2, quiet_config(1'000, 500), seed);
  constexpr int kMessages = 2'000;
  for (int i = 0; i < kMessages; ++i) {
    f.scheduler.schedule_at(Instant(Duration(i * 10'000)), [&f, i] {
      f.network.send(0, 1, message(static_cast<std::uint32_t>(i)));
    });
  }
  f.scheduler.run_all();
  REQUIRE(f.arrivals.size() == kMessages);
  std::int64_t low = INT64_MAX;
  std::int64_t high = 0;
  for (const Arrival& a : f.arrivals) {
    const std::int64_t latency = a.at.time_since_epoch().count() - number_of(a.payload) * 10'000;
    low = std::min(low, latency);
    high = std::max(high, latency);
  }
  CHECK(low >= 1'000);
  CHECK(high <= 1'500);
  CHECK(low < 1'020);  // the jitter range is explored, both ends
  CHECK(high > 1'480);
}

TEST_CASE("the loss rate is close to the configured probability") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  NetworkConfig config;
  config.link.loss_probability = 0.2;
  Fixture f(3, config, seed);
  constexpr int kMessages = 20'000;
  for (int i = 0; i < kMessages; ++i) f.network.send(0, 2, message(1));
  f.scheduler.run_all();
  const double sigma = std::sqrt(kMessages * 0.2 * 0.8);
  CHECK(std::abs(static_cast<double>(f.network.stats().dropped_loss) - kMessages * 0.2) <
        5 * sigma);
  CHECK(f.network.stats().delivered + f.network.stats().dropped_loss == kMessages);
  check_counters_balance(f.network);
}

TEST_CASE("duplication delivers extra copies at the configured rate") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  NetworkConfig config;
  config.link.duplicate_probability = 0.3;
  Fixture f(2, config, seed);
  constexpr int kMessages = 10'000;
  for (int i = 0; i < kMessages; ++i) f.network.send(0, 1, message(static_cast<std::uint32_t>(i)));
  f.scheduler.run_all();
  const NetworkStats& stats = f.network.stats();
  const double sigma = std::sqrt(kMessages * 0.3 * 0.7);
  CHECK(std::abs(static_cast<double>(stats.duplicated) - kMessages * 0.3) < 5 * sigma);
  CHECK(stats.delivered == kMessages + stats.duplicated);
  CHECK(stats.bytes_delivered == 4 * stats.delivered);
  std::vector<int> copies(kMessages, 0);
  for (const Arrival& a : f.arrivals) ++copies[number_of(a.payload)];
  CHECK(std::count(copies.begin(), copies.end(), 0) == 0);
  CHECK(std::count(copies.begin(), copies.end(), 2) == static_cast<long>(stats.duplicated));
}

TEST_CASE("without jitter a link is FIFO and reordering lets later messages overtake") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  auto overtakes = [seed](double reorder_probability) {
    NetworkConfig config = quiet_config(1'000, 0);
    config.link.reorder_probability = reorder_probability;
    config.link.reorder_window_us = 5'000;
    Fixture f(2, config, seed);
    for (int i = 0; i < 1'000; ++i) {
      f.scheduler.schedule_at(Instant(Duration(i * 100)), [&f, i] {
        f.network.send(0, 1, message(static_cast<std::uint32_t>(i)));
      });
    }
    f.scheduler.run_all();
    int count = 0;
    for (std::size_t i = 1; i < f.arrivals.size(); ++i) {
      if (number_of(f.arrivals[i].payload) < number_of(f.arrivals[i - 1].payload)) ++count;
    }
    return count;
  };
  CHECK(overtakes(0.0) == 0);
  CHECK(overtakes(0.3) > 50);
}

TEST_CASE("a partition drops messages between groups until healed") {
  Fixture f(5, quiet_config(100, 0), testing::test_seed());
  f.network.partition({{0, 1}, {2}});  // 3 and 4 are unlisted: a group of their own
  CHECK(f.network.connected(0, 1));
  CHECK(f.network.connected(3, 4));
  CHECK_FALSE(f.network.connected(0, 2));
  CHECK_FALSE(f.network.connected(1, 3));
  CHECK_FALSE(f.network.connected(2, 4));
  f.network.send(0, 1, message(1));
  f.network.send(3, 4, message(2));
  f.network.send(0, 2, message(3));
  f.network.send(2, 3, message(4));
  f.scheduler.run_all();
  CHECK(f.arrivals.size() == 2);
  CHECK(f.network.stats().dropped_partition == 2);
  f.network.heal();
  f.network.send(0, 2, message(5));
  f.network.send(2, 3, message(6));
  f.scheduler.run_all();
  CHECK(f.arrivals.size() == 4);
  check_counters_balance(f.network);
}

TEST_CASE("a partition that starts while a message is in flight drops it on arrival") {
  Fixture f(2, quiet_config(1'000, 0), testing::test_seed());
  f.network.send(0, 1, message(1));
  f.scheduler.run_until(Instant(Duration(500)));
  f.network.partition({{0}, {1}});
  f.scheduler.run_all();
  CHECK(f.arrivals.empty());
  CHECK(f.network.stats().dropped_partition == 1);
}

TEST_CASE("cut drops both directions of a link and cut_one_way one and restore undoes them") {
  Fixture f(3, quiet_config(100, 0), testing::test_seed());
  f.network.cut(0, 1);
  f.network.cut_one_way(1, 2);
  CHECK_FALSE(f.network.connected(0, 1));
  CHECK_FALSE(f.network.connected(1, 0));
  CHECK_FALSE(f.network.connected(1, 2));
  CHECK(f.network.connected(2, 1));
  CHECK(f.network.connected(0, 2));
  f.network.heal();  // heal() is about partitions: cuts stay
  CHECK_FALSE(f.network.connected(0, 1));
  f.network.send(0, 1, message(1));
  f.network.send(2, 1, message(2));
  f.scheduler.run_all();
  REQUIRE(f.arrivals.size() == 1);
  CHECK(number_of(f.arrivals[0].payload) == 2);
  f.network.restore(0, 1);
  f.network.restore_one_way(1, 2);
  CHECK(f.network.connected(0, 1));
  CHECK(f.network.connected(1, 2));
}

TEST_CASE("serialization delay is size / bandwidth rounded up to a microsecond") {
  struct Row {
    std::size_t size;
    std::uint64_t bytes_per_second;
    std::int64_t expected_us;
  };
  const Row rows[] = {
      {0, 1'000, 0},                  // nothing to send
      {1'500, 0, 0},                  // unlimited uplink
      {1'000, 1'000'000, 1'000},      // 1 MB/s: 1 us per byte
      {125'000, 125'000, 1'000'000},  // one second's worth (1 Mbit/s)
      {1, 3, 333'334},                // 333333.3 us rounds up
      {3, 3, 1'000'000},
      {1'000'000, 12'500'000, 80'000},                   // 1 MB at 100 Mbit/s
      {std::size_t{1} << 32, 1, 4'294'967'296'000'000},  // no overflow in the product
  };
  for (const Row& row : rows) {
    INFO("size " << row.size << " at " << row.bytes_per_second << " B/s");
    CHECK(serialization_delay(row.size, row.bytes_per_second).count() == row.expected_us);
  }
}

TEST_CASE("messages queue behind each other on a limited uplink") {
  Fixture f(3, quiet_config(100, 0), testing::test_seed());
  f.network.set_uplink_bandwidth(0, 1'000);  // 1 kB/s: 100 bytes take 100 ms
  struct Row {
    std::int64_t send_at_us;
    std::size_t size;
    NodeIndex to;
    std::int64_t expected_arrival_us;
  };
  const Row rows[] = {
      {0, 100, 1, 100'000 + 100},           // departs when fully serialized
      {0, 100, 2, 200'000 + 100},           // waits for the first, whatever the receiver
      {50'000, 50, 1, 250'000 + 100},       // waits for both, then 50 ms of its own
      {1'000'000, 10, 1, 1'010'000 + 100},  // the uplink was idle again
  };
  for (const Row& row : rows) {
    f.scheduler.schedule_at(Instant(Duration(row.send_at_us)),
                            [&f, row] { f.network.send(0, row.to, Bytes(row.size, 0xab)); });
  }
  f.network.send(1, 2, Bytes(100, 1));  // another node's uplink is unlimited
  f.scheduler.run_all();
  REQUIRE(f.arrivals.size() == 5);
  CHECK(f.arrivals[0].from == 1);
  CHECK(f.arrivals[0].at == Instant(Duration(100)));
  for (std::size_t i = 0; i < 4; ++i) {
    INFO("row " << i);
    CHECK(f.arrivals[i + 1].at == Instant(Duration(rows[i].expected_arrival_us)));
    CHECK(f.arrivals[i + 1].payload.size() == rows[i].size);
  }
}

TEST_CASE("messages to a down node are dropped including those in flight when it went down") {
  Fixture f(2, quiet_config(1'000, 0), testing::test_seed());
  f.network.send(0, 1, message(1));  // in flight when 1 goes down and comes back: lost
  f.scheduler.run_until(Instant(Duration(100)));
  f.network.set_node_up(1, false);
  CHECK_FALSE(f.network.is_node_up(1));
  f.network.send(0, 1, message(2));  // sent while down, arrives while down: lost
  f.scheduler.run_until(Instant(Duration(1'200)));
  f.network.send(0, 1, message(3));  // sent while down, arrives after it is up: delivered
  f.scheduler.run_until(Instant(Duration(1'500)));
  f.network.set_node_up(1, true);
  f.scheduler.run_all();
  REQUIRE(f.arrivals.size() == 1);
  CHECK(number_of(f.arrivals[0].payload) == 3);
  CHECK(f.network.stats().dropped_node_down == 2);
  check_counters_balance(f.network);
}

TEST_CASE("a per-link override changes one direction only") {
  Fixture f(2, quiet_config(1'000, 0), testing::test_seed());
  LinkConfig slow;
  slow.latency_base_us = 50'000;
  slow.latency_jitter_us = 0;
  f.network.set_link(0, 1, slow);
  CHECK(f.network.link(0, 1).latency_base_us == 50'000);
  CHECK(f.network.link(1, 0).latency_base_us == 1'000);
  f.network.send(0, 1, message(1));
  f.network.send(1, 0, message(2));
  f.scheduler.run_all();
  REQUIRE(f.arrivals.size() == 2);
  CHECK(f.arrivals[0].at == Instant(Duration(1'000)));
  CHECK(f.arrivals[1].at == Instant(Duration(50'000)));
  f.network.clear_link(0, 1);
  CHECK(f.network.link(0, 1).latency_base_us == 1'000);
}

TEST_CASE("the same seed gives the same arrivals and another seed does not") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: " << seed);
  auto run = [](std::uint64_t s) {
    NetworkConfig config;
    config.link.loss_probability = 0.1;
    config.link.duplicate_probability = 0.1;
    config.link.reorder_probability = 0.1;
    Fixture f(4, config, s);
    for (std::uint32_t i = 0; i < 500; ++i) f.network.send(i % 4, (i * 7 + 1) % 4, message(i));
    f.scheduler.run_all();
    std::vector<std::pair<std::int64_t, std::uint32_t>> seen;
    for (const Arrival& a : f.arrivals)
      seen.emplace_back(a.at.time_since_epoch().count(), number_of(a.payload));
    return std::make_pair(seen, f.trace.hash());
  };
  CHECK(run(seed) == run(seed));
  CHECK(run(seed).second != run(seed + 1).second);
}

}  // namespace
}  // namespace starling::sim
