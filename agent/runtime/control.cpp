// The control API server (see control.hpp): endpoint checks, the JSON protocol (pure functions
// from request bytes to a reply document) and the ROUTER socket that carries it. Single-
// threaded. zmq::error_t and nlohmann::json exceptions are caught in this file: open() returns
// them as Status, poll_once() counts a failed reply as dropped, and a request that makes the
// protocol code throw is answered with an "internal" error reply.
#include "agent/runtime/control.hpp"
#include "agent/runtime/internal/port.hpp"

#include <arpa/inet.h>

#include <zmq.hpp>

#include <cerrno>
#include <exception>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace starling::runtime {
namespace {

using nlohmann::json;

// A ROUTER message is the routing id, the REQ delimiter when the client is a REQ socket, then
// the payload; anything longer is not from a well-behaved client and is dropped.
constexpr std::size_t kFramesMax = 4;

constexpr std::string_view kIpcScheme = "ipc://";
constexpr std::string_view kTcpScheme = "tcp://";

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "[::1]") return true;
  in_addr address{};
  if (::inet_pton(AF_INET, host.c_str(), &address) != 1) return false;
  // s_addr is in network byte order: the first octet is the first byte in memory.
  return reinterpret_cast<const unsigned char*>(&address.s_addr)[0] == 127;
}

using internal::is_port;

json member_json(const MemberView& m) {
  json meta = json::object();
  for (const auto& [key, value] : m.meta) meta[key] = value;
  return json{{"id", m.id},           {"name", m.name},
              {"addr", m.addr},       {"status", m.status},
              {"incarnation", m.incarnation}, {"meta", meta},
              {"last_change_unix_ms", m.last_change_unix_ms}};
}

json status_json(const StatusView& s) {
  json refused = json::object();
  for (const auto& [reason, count] : s.peers_refused) refused[reason] = count;
  json rejected = json::object();
  for (const auto& [reason, count] : s.rejected) rejected[reason] = count;
  json out{{"id", s.id},
              {"name", s.name},
              {"addr", s.addr},
              {"incarnation", s.incarnation},
              {"uptime_s", s.uptime_s},
              {"members", json{{"alive", s.members.alive},
                               {"suspect", s.members.suspect},
                               {"dead", s.members.dead},
                               {"left", s.members.left}}},
              {"peers_refused", refused},
              {"rejected", rejected},
              {"traffic", json{{"bytes_sent", s.bytes_sent},
                               {"bytes_received", s.bytes_received},
                               {"messages_sent", s.messages_sent},
                               {"messages_received", s.messages_received}}}};
  if (s.round) out["round"] = *s.round;
  if (s.accuracy) out["accuracy"] = *s.accuracy;
  if (s.leader) out["leader"] = *s.leader;
  if (s.term) out["term"] = *s.term;
  return out;
}

json string_map_json(const std::map<std::string, std::string>& m) {
  json out = json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

json workload_json(const WorkloadView& w) {
  json counters = json::object();
  for (const auto& [k, v] : w.counters) counters[k] = v;
  return json{{"name", w.name},
              {"kind", w.kind},
              {"replicas", w.replicas},
              {"replica", w.replica},
              {"owner", w.owner},
              {"owner_name", w.owner_name},
              {"epoch", w.epoch},
              {"state", w.state},
              {"progress", w.progress},
              {"total", w.total ? json(*w.total) : json(nullptr)},
              {"counters", counters},
              {"labels", string_map_json(w.labels)},
              {"params", string_map_json(w.params)}};
}

json leader_json(const LeaderView& l) {
  return json{{"cluster", l.cluster},
              {"leader", l.leader},
              {"leader_name", l.leader_name},
              {"role", l.role},
              {"term", l.term},
              {"voters", l.voters},
              {"learners", l.learners},
              {"commit_index", l.commit_index},
              {"applied_index", l.applied_index}};
}

// A string-to-string object from the request, or an error message.
std::optional<std::string> read_string_map(const json& doc, const char* key,
                                           std::map<std::string, std::string>& out) {
  auto it = doc.find(key);
  if (it == doc.end()) return std::nullopt;
  if (!it->is_object()) return std::string("\"") + key + "\" must be an object of strings";
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) return std::string("\"") + key + "." + k + "\" must be a string";
    out[k] = v.get<std::string>();
  }
  return std::nullopt;
}

json model_json(const ModelView& m) {
  json rejected = json::object();
  for (const auto& [reason, count] : m.updates_rejected) rejected[reason] = count;
  json history = json::array();
  for (const auto& e : m.history) {
    history.push_back({{"round", e.round}, {"accuracy", e.accuracy}, {"loss", e.loss}});
  }
  return json{{"model", m.model},
              {"state", m.state},
              {"round", m.round},
              {"accuracy", m.accuracy ? json(*m.accuracy) : json(nullptr)},
              {"loss", m.loss ? json(*m.loss) : json(nullptr)},
              {"params", m.params},
              {"samples", m.samples},
              {"bytes_per_round", m.bytes_per_round},
              {"updates_accepted", m.updates_accepted},
              {"updates_rejected", rejected},
              {"codec", m.codec},
              {"aggregator", m.aggregator},
              {"peers", m.peers},
              {"train_images_per_s",
               m.train_images_per_s ? json(*m.train_images_per_s) : json(nullptr)},
              {"history", std::move(history)},
              {"byzantine", m.byzantine.empty() ? json(nullptr) : json(m.byzantine)}};
}

json event_json(const EventView& e) {
  return json{{"seq", e.seq},
              {"type", e.type},
              {"node", e.node},
              {"incarnation", e.incarnation},
              {"unix_ms", e.unix_ms}};
}

json ok_reply(json result) {
  return json{{"v", kControlProtocolVersion}, {"ok", true}, {"result", std::move(result)}};
}

json error_reply(std::string_view code, std::string message) {
  return json{{"v", kControlProtocolVersion},
              {"ok", false},
              {"error", json{{"code", code}, {"message", std::move(message)}}}};
}

json answer_members(ControlSource& source) {
  json list = json::array();
  for (const MemberView& m : source.members()) list.push_back(member_json(m));
  return ok_reply(std::move(list));
}

json answer_events(const json& request, ControlSource& source, const ControlServerConfig& config) {
  std::uint64_t since = 0;
  if (auto it = request.find("since"); it != request.end()) {
    if (!it->is_number_unsigned()) {
      return error_reply("bad_request", "\"since\" must be a non-negative integer");
    }
    since = it->get<std::uint64_t>();
  }
  json list = json::array();
  std::uint64_t last_seq = since;
  for (const EventView& e : source.events_since(since, config.events_per_reply_max)) {
    list.push_back(event_json(e));
    if (e.seq > last_seq) last_seq = e.seq;
  }
  return ok_reply(json{{"events", std::move(list)}, {"last_seq", last_seq}});
}

// The reply to one request; throws only what the source or nlohmann::json throw.
json answer(std::string_view request, ControlSource& source, const ControlServerConfig& config) {
  if (request.size() > config.request_bytes_max) {
    return error_reply("too_large", "the request is " + std::to_string(request.size()) +
                                        " bytes; the limit is " +
                                        std::to_string(config.request_bytes_max));
  }
  const json doc = json::parse(request, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return error_reply("bad_request", "the request is not a JSON object");
  }
  const auto v = doc.find("v");
  if (v == doc.end() || !v->is_number_integer() ||
      v->get<std::int64_t>() != kControlProtocolVersion) {
    return error_reply("bad_version", "this agent speaks control protocol version " +
                                          std::to_string(kControlProtocolVersion) +
                                          " (\"v\": 1)");
  }
  const auto cmd = doc.find("cmd");
  if (cmd == doc.end() || !cmd->is_string()) {
    return error_reply("bad_request", "\"cmd\" must be a string");
  }
  const std::string& name = cmd->get_ref<const std::string&>();
  if (name == "members") return answer_members(source);
  if (name == "status") return ok_reply(status_json(source.status()));
  if (name == "events") return answer_events(doc, source, config);
  if (name == "model") {
    const std::optional<ModelView> model = source.model();
    if (!model) {
      return error_reply("not_available", "this agent runs no federated learning (no model "
                                          "configured: starlingd --model NAME)");
    }
    return ok_reply(model_json(*model));
  }
  if (name == "workloads") {
    auto list = source.workloads();
    if (!list) return error_reply("not_available", "this agent runs no consensus");
    json out = json::array();
    for (const WorkloadView& w : *list) out.push_back(workload_json(w));
    return ok_reply(json{{"workloads", std::move(out)}});
  }
  if (name == "leader") {
    auto view = source.leader();
    if (!view) return error_reply("not_available", "this agent runs no consensus");
    return ok_reply(leader_json(*view));
  }
  if (name == "workload_add") {
    const auto spec = doc.find("spec");
    if (spec == doc.end() || !spec->is_object()) {
      return error_reply("bad_request", "\"spec\" must be an object");
    }
    WorkloadRequest spec_request;
    const auto field = [&](const char* key) { return spec->find(key); };
    if (auto it = field("name"); it == spec->end() || !it->is_string()) {
      return error_reply("bad_request", "\"spec.name\" must be a string");
    } else {
      spec_request.name = it->get<std::string>();
    }
    if (auto it = field("kind"); it == spec->end() || !it->is_string()) {
      return error_reply("bad_request", "\"spec.kind\" must be a string");
    } else {
      spec_request.kind = it->get<std::string>();
    }
    if (auto it = field("replicas"); it != spec->end()) {
      if (!it->is_number_unsigned() || it->get<std::uint64_t>() > 1000) {
        return error_reply("bad_request", "\"spec.replicas\" must be a small positive integer");
      }
      spec_request.replicas = it->get<std::uint32_t>();
    }
    if (auto bad = read_string_map(*spec, "labels", spec_request.labels)) {
      return error_reply("bad_request", "spec: " + *bad);
    }
    if (auto bad = read_string_map(*spec, "params", spec_request.params)) {
      return error_reply("bad_request", "spec: " + *bad);
    }
    auto id = source.add_workload(spec_request);
    if (!id) return error_reply(status_code_name(id.status().code()), id.status().message());
    return ok_reply(json{{"request", *id}});
  }
  if (name == "workload_rm") {
    const auto target = doc.find("name");
    if (target == doc.end() || !target->is_string()) {
      return error_reply("bad_request", "\"name\" must be a string");
    }
    auto id = source.remove_workload(target->get<std::string>());
    if (!id) return error_reply(status_code_name(id.status().code()), id.status().message());
    return ok_reply(json{{"request", *id}});
  }
  return error_reply("unknown_command",
                     "unknown command \"" + name +
                         "\" (known: members, status, events, model, workloads, leader, "
                         "workload_add, workload_rm)");
}

json answer_safely(std::string_view request, ControlSource& source,
                   const ControlServerConfig& config) {
  try {
    return answer(request, source, config);
  } catch (const std::exception& e) {
    return error_reply("internal", std::string("the agent failed to answer: ") + e.what());
  }
}

std::string dump_reply(const json& reply) {
  // Replace invalid UTF-8 (a name or label from a peer) rather than throw.
  return reply.dump(-1, ' ', false, json::error_handler_t::replace);
}

Status status_from(const zmq::error_t& e, const std::string& what) {
  StatusCode code = StatusCode::kInternal;
  if (e.num() == EADDRINUSE || e.num() == EADDRNOTAVAIL) code = StatusCode::kUnavailable;
  if (e.num() == EINVAL || e.num() == EPROTONOSUPPORT || e.num() == ENOENT ||
      e.num() == ENODEV) {
    code = StatusCode::kInvalidArgument;
  }
  return error(code, what + ": " + e.what());
}

}  // namespace

Status validate_control_endpoint(std::string_view endpoint) {
  const std::string quoted = "control endpoint '" + std::string(endpoint) + "'";
  if (endpoint.starts_with(kIpcScheme)) {
    if (endpoint.size() == kIpcScheme.size()) {
      return error(StatusCode::kInvalidArgument, quoted + " has no path");
    }
    return Status::ok();
  }
  if (!endpoint.starts_with(kTcpScheme)) {
    return error(StatusCode::kInvalidArgument,
                 quoted + " must be ipc://PATH or tcp://127.0.0.1:PORT");
  }
  const std::string_view rest = endpoint.substr(kTcpScheme.size());
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || !is_port(rest.substr(colon + 1))) {
    return error(StatusCode::kInvalidArgument, quoted + " must end in :PORT");
  }
  if (!is_loopback_host(std::string(rest.substr(0, colon)))) {
    return error(StatusCode::kInvalidArgument,
                 quoted + " is not on a loopback address (127.0.0.0/8, [::1] or localhost): "
                          "the control API must not be reachable from the network");
  }
  return Status::ok();
}

std::string default_control_endpoint(const std::string& data_dir) {
  return std::string(kIpcScheme) + data_dir + "/control.sock";
}

Status ControlServerConfig::validate() const {
  STARLING_RETURN_IF_ERROR(validate_control_endpoint(endpoint));
  if (request_bytes_max == 0) {
    return error(StatusCode::kInvalidArgument, "request_bytes_max must be positive");
  }
  if (frame_bytes_max < request_bytes_max) {
    return error(StatusCode::kInvalidArgument, "frame_bytes_max must be >= request_bytes_max");
  }
  if (events_per_reply_max == 0 || batch_max == 0) {
    return error(StatusCode::kInvalidArgument,
                 "events_per_reply_max and batch_max must be positive");
  }
  return Status::ok();
}

std::string handle_control_request(std::string_view request, ControlSource& source,
                                   const ControlServerConfig& config) {
  return dump_reply(answer_safely(request, source, config));
}

struct ControlServer::State {
  State(const ControlServerConfig& c, ControlSource& s) : config(c), source(s) {}
  Status bind();
  bool serve_one();
  void send_reply(std::vector<zmq::message_t>& frames, const std::string& reply);

  const ControlServerConfig config;
  ControlSource& source;
  ControlServerCounters counters;
  std::string endpoint;
  int fd = -1;
  // Declared before the socket, so destroyed after it (zmq_ctx_term waits for sockets).
  zmq::context_t context{1};
  zmq::socket_t socket;
};

Status ControlServer::State::bind() {
  try {
    socket = zmq::socket_t(context, zmq::socket_type::router);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(config.frame_bytes_max));
    socket.bind(config.endpoint);
    endpoint = socket.get(zmq::sockopt::last_endpoint);
    fd = static_cast<int>(socket.get(zmq::sockopt::fd));
  } catch (const zmq::error_t& e) {
    return status_from(e, "control: bind " + config.endpoint);
  } catch (const std::exception& e) {
    return error(StatusCode::kInternal, std::string("control: ") + e.what());
  }
  return Status::ok();
}

// Receives one message, answers it, and returns whether there was one. Throws zmq::error_t.
bool ControlServer::State::serve_one() {
  std::vector<zmq::message_t> frames;
  zmq::message_t frame;
  if (!socket.recv(frame, zmq::recv_flags::dontwait)) return false;
  bool more = frame.more();
  bool too_many = false;
  frames.push_back(std::move(frame));
  while (more) {  // the frames of one message arrive together
    zmq::message_t next;
    if (!socket.recv(next, zmq::recv_flags::dontwait)) break;
    more = next.more();
    if (frames.size() == kFramesMax) too_many = true;
    if (!too_many) frames.push_back(std::move(next));
  }
  if (frames.size() < 2 || too_many) {
    ++counters.dropped;
    return true;
  }
  const zmq::message_t& payload = frames.back();
  const json reply = answer_safely(
      std::string_view(static_cast<const char*>(payload.data()), payload.size()), source,
      config);
  ++counters.requests;
  if (!reply.value("ok", false)) ++counters.error_replies;
  send_reply(frames, dump_reply(reply));
  return true;
}

// Sends `reply` back along the request's envelope (all frames but the payload).
void ControlServer::State::send_reply(std::vector<zmq::message_t>& frames,
                                      const std::string& reply) {
  for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
    if (!socket.send(frames[i], zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      ++counters.dropped;
      return;
    }
  }
  // A ROUTER drops a reply to a departed client silently; a full queue also drops it.
  if (!socket.send(zmq::buffer(reply), zmq::send_flags::dontwait)) ++counters.dropped;
}

Result<ControlServer> ControlServer::open(const ControlServerConfig& config,
                                          ControlSource& source) {
  STARLING_RETURN_IF_ERROR(config.validate());
  auto state = std::make_unique<State>(config, source);
  STARLING_RETURN_IF_ERROR(state->bind());
  return ControlServer(std::move(state));
}

ControlServer::ControlServer(std::unique_ptr<State> state) : state_(std::move(state)) {}
ControlServer::ControlServer(ControlServer&&) noexcept = default;
ControlServer& ControlServer::operator=(ControlServer&&) noexcept = default;
ControlServer::~ControlServer() = default;

const std::string& ControlServer::endpoint() const { return state_->endpoint; }
int ControlServer::fd() const { return state_->fd; }
const ControlServerCounters& ControlServer::counters() const { return state_->counters; }

std::size_t ControlServer::poll_once() {
  std::size_t answered = 0;
  try {
    while (answered < state_->config.batch_max && state_->serve_one()) ++answered;
  } catch (const zmq::error_t&) {
    ++state_->counters.dropped;  // e.g. EHOSTUNREACH; the next call starts afresh
  }
  return answered;
}

}  // namespace starling::runtime
