// Logging for starlingd: spdlog to stderr (journald adds its own timestamps under systemd, but
// a hand-run agent needs them), as human text or as one JSON object per line for log shippers.
#pragma once

#include <string_view>

#include "base/status.hpp"

namespace starling::daemon {

// `level`: trace|debug|info|warn|error|off; `format`: text|json. kInvalidArgument otherwise
// (the config layer has validated both already; this is the last line of defence).
Status setup_logging(std::string_view level, std::string_view format);

}  // namespace starling::daemon
