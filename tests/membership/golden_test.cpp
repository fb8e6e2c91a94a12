// Golden transcripts: small seeded scenarios whose full event sequence (who saw what, when) is
// compared with a file under testdata/. A change in protocol behaviour shows up as a readable
// diff. After an intended change, regenerate with STARLING_UPDATE_GOLDEN=1 and review the diff.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/common/golden.hpp"
#include "tests/membership/cluster.hpp"

using namespace starling;
using namespace starling::membership;
using namespace starling::membership::testing;
using std::chrono::seconds;

namespace {

std::string transcript(Cluster& c) {
  std::ostringstream out;
  for (const auto& [observer, event] : c.events_) {
    std::size_t subject = 0;
    while (subject < c.size() && c.id(subject) != event.node) ++subject;
    char line[128];
    std::snprintf(line, sizeof line, "%9.3f  node %zu: %-16s node %zu  incarnation %llu\n",
                  to_seconds(event.at - Instant{}), observer,
                  std::string(event_type_name(event.type)).c_str(), subject,
                  static_cast<unsigned long long>(event.incarnation));
    out << line;
  }
  return out.str();
}

void check_golden(const std::string& name, const std::string& actual) {
  ::starling::testing::check_golden("membership", name, actual);
}

}  // namespace

TEST_CASE("golden: four nodes join, one crashes and is declared dead") {
  Cluster c(4, Config::tuned(), 101);
  c.join_all();
  c.run_for(seconds(5));
  c.crash(3);
  c.run_for(seconds(15));
  check_golden("join_crash_4.txt", transcript(c));
}

TEST_CASE("golden: a deaf node suspects the others, they refute, one leaves gracefully") {
  Cluster c(3, Config::tuned(), 102);
  c.join_all();
  c.run_for(seconds(3));
  // Node 0 receives nothing for 1 s (the default profile tolerates ~1 s of silence): it suspects
  // the others, who hear of it and refute.
  const Instant until = c.now() + std::chrono::milliseconds(1000);
  c.drop_if = [&](std::size_t, std::size_t to, const Message&) {
    return to == 0 && c.now() < until;
  };
  c.run_for(seconds(6));
  c.core(2).leave(c.now());
  c.run_for(seconds(2));
  check_golden("suspect_refute_leave_3.txt", transcript(c));
}
