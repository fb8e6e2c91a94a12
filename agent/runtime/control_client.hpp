// The control API, client side: one request, one reply, over a fresh ZeroMQ REQ socket in a
// context of its own, with a deadline. Used by the `starling` CLI; see docs/PROTOCOL.md,
// section "Control API", for the messages. Thread-compatible: each call is self-contained and
// shares nothing, so concurrent calls from different threads are fine. No exception leaves
// this API: ZeroMQ and JSON errors are caught here and returned as Status.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.hpp"

namespace starling::runtime {

// Replies above this are refused by ZeroMQ (the call then times out). A 1,000-member reply is
// about 300 KB; 16 MiB bounds what a wrong endpoint can make the CLI allocate.
inline constexpr std::size_t kControlReplyBytesMax = 16 * 1024 * 1024;

// Sends `request` to the agent at `endpoint` and waits at most `timeout` for its reply.
// Returns the reply document once it is a JSON object with "v": 1 and a boolean "ok" (an
// "ok": false reply is still a value here; see control_result). Errors: kUnavailable "no agent
// answered at ENDPOINT within N ms" when nothing answers in time (no agent, a dead agent, a
// missing socket file); kInvalidArgument for a timeout <= 0 or an endpoint ZeroMQ refuses;
// kCorrupt for a reply that is not such a document.
Result<nlohmann::json> control_request(const std::string& endpoint,
                                       const nlohmann::json& request,
                                       std::chrono::milliseconds timeout);

// The "result" of an "ok": true reply. For an error reply, a Status carrying the agent's error
// code and message: kInvalidArgument for bad_request, bad_version and unknown_command,
// kTooLarge for too_large, kInternal otherwise.
Result<nlohmann::json> control_result(const nlohmann::json& reply);

}  // namespace starling::runtime
