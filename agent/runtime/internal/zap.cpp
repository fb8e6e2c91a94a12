// The ZAP decision for the transport's Curve handshakes (see zap.hpp).
#include "agent/runtime/internal/zap.hpp"

#include <algorithm>

#include "base/bytes.hpp"

namespace starling::runtime::internal {
namespace {

constexpr std::size_t kRequestFrames = 7;  // six header frames and one Curve credential

std::vector<std::string> reply_frames(const std::string& request_id, std::string code,
                                      std::string text, std::string user_id) {
  return {"1.0", request_id, std::move(code), std::move(text), std::move(user_id), ""};
}

}  // namespace

ZapVerdict evaluate_zap_request(const std::vector<std::string>& request,
                                const CurveKeyAuthorizer& authorize) {
  ZapVerdict verdict;
  const std::string request_id = request.size() > 1 ? request[1] : std::string();
  if (request.size() != kRequestFrames || request[0] != "1.0") {
    verdict.reply = reply_frames(request_id, "500", "malformed ZAP request", "");
    return verdict;
  }
  const std::string& credential = request[6];
  if (request[5] != "CURVE" || credential.size() != CurvePublicKey{}.size()) {
    verdict.reply = reply_frames(request_id, "400", "CURVE required", "");
    return verdict;
  }
  CurvePublicKey key{};
  std::transform(credential.begin(), credential.end(), key.begin(),
                 [](char c) { return static_cast<std::uint8_t>(c); });
  if (!authorize || !authorize(key)) {
    verdict.reply = reply_frames(request_id, "400", "key not authorised", "");
    return verdict;
  }
  verdict.accepted = true;
  verdict.reply = reply_frames(request_id, "200", "OK", to_hex(key));
  return verdict;
}

}  // namespace starling::runtime::internal
