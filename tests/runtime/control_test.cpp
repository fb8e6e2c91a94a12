// Tests of the control API over real ZeroMQ (ipc in a temporary directory and tcp on
// 127.0.0.1): runtime::ControlServer answering from a fake ControlSource, and
// runtime::control_request. The server stays on the test thread; a client call runs on a
// std::async thread while the test thread polls the server until the reply is in, and raw
// ZeroMQ sockets play misbehaving clients. Every wait has a bounded deadline; nothing sleeps.
#include "agent/runtime/control.hpp"

#include <doctest/doctest.h>

#include <zmq.hpp>

#include <chrono>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/runtime/control_client.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"

namespace starling::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr auto kDeadline = 5s;

class FakeSource final : public ControlSource {
 public:
  FakeSource() {
    members_.push_back({"00000000000000000000000000000001", "gw-1", "tcp://10.0.0.1:7400",
                        "alive", 3, {{"site", "a"}}, 1'700'000'000'000});
    members_.push_back({"00000000000000000000000000000002", "gw-2", "tcp://10.0.0.2:7400",
                        "suspect", 1, {}, 1'700'000'001'000});
    status_.id = "00000000000000000000000000000001";
    status_.name = "gw-1";
    status_.uptime_s = 42;
    status_.members = {1, 1, 0, 0};
    status_.addr = "tcp://10.0.0.1:7400";
    status_.incarnation = 3;
    status_.peers_refused = {{"revoked", 2}};
    status_.rejected = {{"truncated", 5}};
    status_.bytes_sent = 1000;
    for (std::uint64_t seq = 1; seq <= 3; ++seq) {
      events_.push_back({seq, "joined", "0000000000000000000000000000000" + std::to_string(seq),
                         seq, 1'700'000'000'000 + static_cast<std::int64_t>(seq)});
    }
  }
  std::vector<MemberView> members() override { return members_; }
  StatusView status() override {
    if (throw_on_status) throw std::runtime_error("boom");
    return status_;
  }
  std::vector<EventView> events_since(std::uint64_t seq, std::size_t max) override {
    std::vector<EventView> out;
    for (const auto& e : events_) {
      if (e.seq > seq && out.size() < max) out.push_back(e);
    }
    return out;
  }

  bool throw_on_status = false;

 private:
  std::vector<MemberView> members_;
  StatusView status_;
  std::vector<EventView> events_;
};

ControlServerConfig loopback_config() {
  ControlServerConfig config;
  config.endpoint = "tcp://127.0.0.1:0";
  return config;
}

// Calls control_request on another thread while this one polls `server`; returns its result.
Result<json> ask(ControlServer& server, const json& request) {
  auto reply = std::async(std::launch::async, [endpoint = server.endpoint(), request] {
    return control_request(endpoint, request, std::chrono::milliseconds(kDeadline));
  });
  while (reply.wait_for(1ms) != std::future_status::ready) server.poll_once();
  return reply.get();
}

// The result of a successful request; fails the test otherwise.
json ask_result(ControlServer& server, const json& request) {
  auto reply = ask(server, request);
  REQUIRE(reply.is_ok());
  auto result = control_result(*reply);
  REQUIRE(result.is_ok());
  return *result;
}

// Sends `frames` from a raw socket of `type` and polls `server` until a reply arrives or
// `limit` passes; returns the reply's last frame, or nullopt.
std::optional<std::string> raw_exchange(ControlServer& server, zmq::socket_type type,
                                        const std::vector<std::string>& frames,
                                        Clock::duration limit = kDeadline) {
  zmq::context_t context{1};
  zmq::socket_t socket(context, type);
  socket.set(zmq::sockopt::linger, 0);
  socket.connect(server.endpoint());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    REQUIRE(socket.send(zmq::buffer(frames[i]), flags));
  }
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    server.poll_once();
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 1ms) == 0) continue;
    std::string last;
    bool more = true;
    while (more) {
      zmq::message_t frame;
      REQUIRE(socket.recv(frame));
      more = frame.more();
      last = frame.to_string();
    }
    return last;
  }
  return std::nullopt;
}

// The error code of the reply to `bytes`, sent by a REQ socket.
std::string error_code_for(ControlServer& server, const std::string& bytes) {
  auto reply = raw_exchange(server, zmq::socket_type::req, {bytes});
  REQUIRE(reply.has_value());
  const json doc = json::parse(*reply);
  CHECK(doc["v"] == 1);
  CHECK(doc["ok"] == false);
  CHECK(doc["error"]["message"].get<std::string>() != "");
  return doc["error"]["code"].get<std::string>();
}

TEST_CASE("control members over ipc in a data directory") {
  testing::TempDir dir;
  FakeSource source;
  ControlServerConfig config;
  config.endpoint = default_control_endpoint(dir.path().string());
  auto server = ControlServer::open(config, source);
  REQUIRE(server.is_ok());
  CHECK(server->endpoint() == "ipc://" + (dir / "control.sock").string());
  CHECK(server->fd() >= 0);

  const json members = ask_result(*server, {{"v", 1}, {"cmd", "members"}});
  REQUIRE(members.is_array());
  REQUIRE(members.size() == 2);
  CHECK(members[0]["id"] == "00000000000000000000000000000001");
  CHECK(members[0]["name"] == "gw-1");
  CHECK(members[0]["addr"] == "tcp://10.0.0.1:7400");
  CHECK(members[0]["status"] == "alive");
  CHECK(members[0]["incarnation"] == 3);
  CHECK(members[0]["meta"] == json{{"site", "a"}});
  CHECK(members[0]["last_change_unix_ms"] == 1'700'000'000'000);
  CHECK(members[1]["status"] == "suspect");
  CHECK(members[1]["meta"] == json::object());
  CHECK(server->counters().requests == 1);
  CHECK(server->counters().error_replies == 0);
}

TEST_CASE("control status over loopback tcp") {
  FakeSource source;
  auto server = ControlServer::open(loopback_config(), source);
  REQUIRE(server.is_ok());
  CHECK(server->endpoint().rfind("tcp://127.0.0.1:", 0) == 0);
  const json status = ask_result(*server, {{"v", 1}, {"cmd", "status"}});
  CHECK(status["id"] == "00000000000000000000000000000001");
  CHECK(status["name"] == "gw-1");
  CHECK(status["uptime_s"] == 42);
  CHECK(status["members"] == json{{"alive", 1}, {"suspect", 1}, {"dead", 0}, {"left", 0}});
  CHECK(status["addr"] == "tcp://10.0.0.1:7400");
  CHECK(status["incarnation"] == 3);
  CHECK(status["peers_refused"] == json{{"revoked", 2}});
  CHECK(status["rejected"] == json{{"truncated", 5}});
  CHECK(status["traffic"]["bytes_sent"] == 1000);
  CHECK(status["traffic"]["messages_received"] == 0);
}

TEST_CASE("control events page with since") {
  FakeSource source;
  ControlServerConfig config = loopback_config();
  config.events_per_reply_max = 2;
  auto server = ControlServer::open(config, source);
  REQUIRE(server.is_ok());

  json page = ask_result(*server, {{"v", 1}, {"cmd", "events"}});
  REQUIRE(page["events"].size() == 2);
  CHECK(page["events"][0] == json{{"seq", 1},
                                  {"type", "joined"},
                                  {"node", "00000000000000000000000000000001"},
                                  {"incarnation", 1},
                                  {"unix_ms", 1'700'000'000'001}});
  CHECK(page["last_seq"] == 2);
  page = ask_result(*server, {{"v", 1}, {"cmd", "events"}, {"since", 2}});
  REQUIRE(page["events"].size() == 1);
  CHECK(page["events"][0]["seq"] == 3);
  CHECK(page["last_seq"] == 3);
  page = ask_result(*server, {{"v", 1}, {"cmd", "events"}, {"since", 3}});
  CHECK(page["events"].empty());
  CHECK(page["last_seq"] == 3);
}

TEST_CASE("control error replies for bad json and unknown commands and versions") {
  FakeSource source;
  auto server = ControlServer::open(loopback_config(), source);
  REQUIRE(server.is_ok());
  CHECK(error_code_for(*server, "{not json") == "bad_request");
  CHECK(error_code_for(*server, "") == "bad_request");
  CHECK(error_code_for(*server, "[1, 2]") == "bad_request");
  CHECK(error_code_for(*server, R"({"v": 1})") == "bad_request");
  CHECK(error_code_for(*server, R"({"v": 1, "cmd": 7})") == "bad_request");
  CHECK(error_code_for(*server, R"({"v": 1, "cmd": "events", "since": -1})") == "bad_request");
  CHECK(error_code_for(*server, R"({"v": 1, "cmd": "reboot"})") == "unknown_command");
  CHECK(error_code_for(*server, R"({"v": 2, "cmd": "members"})") == "bad_version");
  CHECK(error_code_for(*server, R"({"v": "1", "cmd": "members"})") == "bad_version");
  CHECK(error_code_for(*server, R"({"cmd": "members"})") == "bad_version");
  CHECK(server->counters().error_replies == 10);

  // The client turns an error reply into a Status; the server still answers good requests.
  auto reply = ask(*server, {{"v", 1}, {"cmd", "reboot"}});
  REQUIRE(reply.is_ok());
  CHECK_CODE(control_result(*reply), StatusCode::kInvalidArgument);
  CHECK(ask_result(*server, {{"v", 1}, {"cmd", "members"}}).size() == 2);
}

TEST_CASE("control source exceptions become internal error replies") {
  FakeSource source;
  source.throw_on_status = true;
  const json reply = json::parse(
      handle_control_request(R"({"v":1,"cmd":"status"})", source, ControlServerConfig{}));
  CHECK(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "internal");
  CHECK(reply["error"]["message"].get<std::string>().find("boom") != std::string::npos);
}

TEST_CASE("control oversize requests get too_large and huge frames are dropped") {
  FakeSource source;
  ControlServerConfig config = loopback_config();
  config.frame_bytes_max = 128 * 1024;
  auto server = ControlServer::open(config, source);
  REQUIRE(server.is_ok());
  std::string big = R"({"v":1,"cmd":"members","pad":")";
  big.append(64 * 1024, 'x');
  big += "\"}";
  CHECK(error_code_for(*server, big) == "too_large");

  // Above ZMQ_MAXMSGSIZE ZeroMQ drops the connection: no reply, and the server carries on.
  const std::string huge(200 * 1024, 'x');
  CHECK(!raw_exchange(*server, zmq::socket_type::req, {huge}, 300ms).has_value());
  CHECK(ask_result(*server, {{"v", 1}, {"cmd", "status"}})["name"] == "gw-1");
}

TEST_CASE("control dealer clients work and bad envelopes are dropped") {
  FakeSource source;
  auto server = ControlServer::open(loopback_config(), source);
  REQUIRE(server.is_ok());
  auto reply = raw_exchange(*server, zmq::socket_type::dealer, {R"({"v":1,"cmd":"status"})"});
  REQUIRE(reply.has_value());
  CHECK(json::parse(*reply)["ok"] == true);

  const std::vector<std::string> many(6, "frame");
  CHECK(!raw_exchange(*server, zmq::socket_type::dealer, many, 300ms).has_value());
  CHECK(server->counters().dropped == 1);
  CHECK(ask_result(*server, {{"v", 1}, {"cmd", "members"}}).size() == 2);
}

TEST_CASE("control client gives up on an endpoint nobody serves within its timeout") {
  testing::TempDir dir;
  for (const std::string& endpoint :
       {"ipc://" + (dir / "nobody.sock").string(), std::string("tcp://127.0.0.1:1")}) {
    INFO(endpoint);
    const auto start = Clock::now();
    auto reply = control_request(endpoint, {{"v", 1}, {"cmd", "members"}}, 300ms);
    const auto took = Clock::now() - start;
    CHECK_CODE(reply, StatusCode::kUnavailable);
    CHECK(reply.status().message() ==
          "no agent answered at " + endpoint + " within 300 ms");
    CHECK(took >= 250ms);
    CHECK(took < 2s);
  }
  CHECK_CODE(control_request("nonsense", {{"v", 1}}, 300ms), StatusCode::kInvalidArgument);
  CHECK_CODE(control_request("tcp://127.0.0.1:1", {{"v", 1}}, 0ms),
             StatusCode::kInvalidArgument);
}

TEST_CASE("control endpoints must be ipc or loopback tcp") {
  for (const char* ok : {"ipc:///var/lib/starling/control.sock", "tcp://127.0.0.1:0",
                         "tcp://127.1.2.3:7401", "tcp://localhost:7401", "tcp://[::1]:7401"}) {
    INFO(ok);
    CHECK(validate_control_endpoint(ok).is_ok());
  }
  for (const char* bad : {"tcp://0.0.0.0:7401", "tcp://*:7401", "tcp://10.0.0.1:7401",
                          "tcp://[::]:7401", "tcp://eth0:7401", "tcp://127.0.0.1",
                          "tcp://127.0.0.1:99999", "ipc://", "udp://127.0.0.1:1", ""}) {
    INFO(bad);
    CHECK_CODE(validate_control_endpoint(bad), StatusCode::kInvalidArgument);
  }
  FakeSource source;
  ControlServerConfig config;
  config.endpoint = "tcp://0.0.0.0:0";
  auto refused = ControlServer::open(config, source);
  CHECK_CODE(refused, StatusCode::kInvalidArgument);
  CHECK(refused.status().message().find("loopback") != std::string::npos);

  testing::TempDir dir;
  config.endpoint = "ipc://" + (dir / "missing/control.sock").string();
  CHECK(!ControlServer::open(config, source).is_ok());
}

}  // namespace
}  // namespace starling::runtime
