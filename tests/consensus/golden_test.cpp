// Golden transcripts: small seeded scenarios whose full event sequence (who saw what, when) is
// compared with a file under testdata/. A change in protocol behaviour shows up as a readable
// diff. After an intended change, regenerate with STARLING_UPDATE_GOLDEN=1 and review the diff.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/common/golden.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/consensus/cluster.hpp"

using namespace starling;
using namespace starling::consensus;
using namespace starling::consensus::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// Every event of every node, with the time it was taken from the node's Ready.
class Transcript {
 public:
  explicit Transcript(Cluster& c) : c_(c) {}

  // Appends the events collected since the last call, stamped with the cluster's time.
  void collect() {
    for (; seen_ < c_.events.size(); ++seen_) {
      const auto& [node, e] = c_.events[seen_];
      char line[160];
      std::string what;
      switch (e.type) {
        case EventType::kRoleChanged: what = std::string(role_name(e.role)); break;
        case EventType::kLeaderChanged:
          what = e.node.is_zero() ? "-" : "node " + std::to_string(c_.index_of(e.node));
          break;
        case EventType::kConfigChanged:
          what = "index " + std::to_string(e.index) + " voters";
          for (const auto& v : e.conf.voters) what += " " + std::to_string(c_.index_of(v));
          break;
        case EventType::kTransferAborted:
          what = "node " + std::to_string(c_.index_of(e.node));
          break;
      }
      std::snprintf(line, sizeof line, "%9.3f  node %zu: term %-3llu %-16s %s\n",
                    to_seconds(c_.now() - Instant{}), node,
                    static_cast<unsigned long long>(e.term),
                    std::string(event_type_name(e.type)).c_str(), what.c_str());
      out_ << line;
    }
  }
  void note(const std::string& text) {
    collect();
    char line[160];
    std::snprintf(line, sizeof line, "%9.3f  -- %s\n", to_seconds(c_.now() - Instant{}),
                  text.c_str());
    out_ << line;
  }
  // Runs the cluster for `d`, collecting events every millisecond so that they carry the time
  // they happened at.
  void run_for(Duration d) {
    const Instant end = c_.now() + d;
    while (c_.now() < end) {
      c_.run_for(milliseconds(1));
      collect();
    }
  }
  std::string text() {
    collect();
    return out_.str();
  }

 private:
  Cluster& c_;
  std::size_t seen_ = 0;
  std::ostringstream out_;
};

void check_golden(const std::string& name, const std::string& actual) {
  ::starling::testing::check_golden("consensus", name, actual);
}

}  // namespace

TEST_CASE("golden: three voters elect then lose their leader then re-elect and hand over") {
  Cluster c(3, test_config(), 201);
  c.latency_min = milliseconds(1);
  c.latency_max = milliseconds(3);
  Transcript t(c);
  t.run_for(seconds(3));
  auto first = c.leader();
  REQUIRE(first.has_value());
  t.note("node " + std::to_string(*first) + " crashes");
  c.crash(*first);
  t.run_for(seconds(4));
  t.note("node " + std::to_string(*first) + " restarts");
  c.restart(*first);
  t.run_for(seconds(2));
  auto second = c.leader();
  REQUIRE(second.has_value());
  t.note("node " + std::to_string(*second) + " hands leadership to node " +
         std::to_string(*first));
  REQUIRE_OK(c.transfer(*second, *first));
  t.run_for(seconds(1));
  check_golden("elect_crash_transfer_3.txt", t.text());
  CHECK(c.checker.violations.empty());
}

TEST_CASE("golden: a learner joins and replaces a voter that left") {
  Cluster c(3, test_config(), 202, 1);
  c.latency_min = milliseconds(1);
  c.latency_max = milliseconds(3);
  Transcript t(c);
  t.run_for(seconds(3));
  auto leader = c.leader();
  REQUIRE(leader.has_value());
  const std::size_t leaving = (*leader + 1) % 3;
  std::vector<NodeId> voters;
  for (std::size_t i = 0; i < 4; ++i) {
    if (i != leaving) voters.push_back(c.id(i));
  }
  t.note("voters become all but node " + std::to_string(leaving) + ", with node 3");
  REQUIRE_OK(c.on(*leader, [&](Core& core) { return core.propose_voters(voters); }));
  t.run_for(seconds(2));
  check_golden("replace_voter_4.txt", t.text());
  CHECK(c.checker.violations.empty());
}
