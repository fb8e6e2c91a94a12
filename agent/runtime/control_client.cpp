// The control API client (see control_client.hpp). zmq::error_t and nlohmann::json exceptions
// stop here and become Status.
#include "agent/runtime/control_client.hpp"

#include <zmq.hpp>

#include <cerrno>
#include <exception>
#include <string_view>
#include <utility>

namespace starling::runtime {
namespace {

using nlohmann::json;

Status no_answer(const std::string& endpoint, std::chrono::milliseconds timeout) {
  return error(StatusCode::kUnavailable, "no agent answered at " + endpoint + " within " +
                                             std::to_string(timeout.count()) + " ms");
}

// Sends `request` and returns the reply's bytes, or why there is none. Throws zmq::error_t.
Result<std::string> exchange(const std::string& endpoint, const std::string& request,
                             std::chrono::milliseconds timeout) {
  zmq::context_t context{1};
  // Declared after the context, so closed before it: zmq_ctx_term waits for open sockets.
  zmq::socket_t socket(context, zmq::socket_type::req);
  socket.set(zmq::sockopt::linger, 0);  // an unanswered request must not delay exit
  socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(kControlReplyBytesMax));
  socket.connect(endpoint);
  // Without ZMQ_IMMEDIATE, a connecting REQ queues the request instead of refusing it.
  if (!socket.send(zmq::buffer(request), zmq::send_flags::dontwait)) {
    return no_answer(endpoint, timeout);
  }
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) == 0) return no_answer(endpoint, timeout);
  zmq::message_t reply;
  if (!socket.recv(reply, zmq::recv_flags::dontwait)) return no_answer(endpoint, timeout);
  return reply.to_string();
}

Result<json> parse_reply(const std::string& endpoint, const std::string& bytes) {
  json reply = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  const bool well_formed = !reply.is_discarded() && reply.is_object() &&
                           reply.contains("v") && reply["v"] == 1 && reply.contains("ok") &&
                           reply["ok"].is_boolean();
  if (!well_formed) {
    return error(StatusCode::kCorrupt,
                 "the agent at " + endpoint + " sent a reply that is not a version 1 document");
  }
  return reply;
}

StatusCode code_for(std::string_view agent_code) {
  if (agent_code == "bad_request" || agent_code == "bad_version" ||
      agent_code == "unknown_command") {
    return StatusCode::kInvalidArgument;
  }
  if (agent_code == "too_large") return StatusCode::kTooLarge;
  if (agent_code == "not_available") return StatusCode::kUnavailable;
  return StatusCode::kInternal;
}

}  // namespace

Result<json> control_request(const std::string& endpoint, const json& request,
                             std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) {
    return error(StatusCode::kInvalidArgument, "the control timeout must be positive");
  }
  try {
    const std::string bytes = request.dump(-1, ' ', false, json::error_handler_t::replace);
    STARLING_ASSIGN_OR_RETURN(const std::string reply, exchange(endpoint, bytes, timeout));
    return parse_reply(endpoint, reply);
  } catch (const zmq::error_t& e) {
    const StatusCode code = e.num() == EINVAL || e.num() == EPROTONOSUPPORT
                                ? StatusCode::kInvalidArgument
                                : StatusCode::kUnavailable;
    return error(code, "control endpoint '" + endpoint + "': " + e.what());
  } catch (const std::exception& e) {
    return error(StatusCode::kInternal, std::string("control request: ") + e.what());
  }
}

Result<json> control_result(const json& reply) {
  try {
    if (reply.value("ok", false)) {
      if (!reply.contains("result")) return error(StatusCode::kCorrupt, "reply without result");
      return reply["result"];
    }
    const json& details = reply.at("error");
    const std::string code = details.value("code", std::string("internal"));
    return error(code_for(code),
                 "agent: " + code + ": " + details.value("message", std::string()));
  } catch (const std::exception& e) {
    return error(StatusCode::kCorrupt, std::string("malformed reply: ") + e.what());
  }
}

}  // namespace starling::runtime
