// The ZAP (ZeroMQ Authentication Protocol, RFC 27) decision, kept free of sockets so that it is
// tested directly: a request's frames in, the reply's frames out. Private to starling::runtime.
// Pure functions; the authorizer is called on the caller's thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/transport.hpp"

namespace starling::runtime::internal {

// The endpoint libzmq sends ZAP requests to, per ZeroMQ context.
inline constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
// The ZAP domain of the ROUTER, echoed in requests.
inline constexpr std::string_view kZapDomain = "starling";

struct ZapVerdict {
  bool accepted = false;
  // The reply, frame by frame: version, request id, status code, status text, user id,
  // metadata. Always six frames: the REP socket must answer every request to take the next.
  std::vector<std::string> reply;
};

// Evaluates one request: version "1.0", request id, domain, address, routing id, mechanism
// "CURVE" and one 32-byte credential (the client's X25519 key). Accepts with status "200" and
// user id = hex of the key iff `authorize` returns true; "400" for a refused key, a wrong
// mechanism or credential; "500" for a malformed request. Never throws.
ZapVerdict evaluate_zap_request(const std::vector<std::string>& request,
                                const CurveKeyAuthorizer& authorize);

}  // namespace starling::runtime::internal
