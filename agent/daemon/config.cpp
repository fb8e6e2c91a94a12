// starlingd's configuration (see config.hpp): CLI11 reads the flags, toml++ the --config file,
// each into a layer of optional settings that remembers where every value came from; the
// layers are merged (flag over file) and resolved against the defaults, and each setting is
// validated with its origin so that an error names the flag or key, file and line. CLI11 and
// toml++ exceptions are caught in this file; parse_config turns anything else that throws
// (allocation failure) into kInternal.
#include "agent/daemon/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "agent/membership/config.hpp"
#include "agent/membership/types.hpp"
#include "agent/runtime/control.hpp"
#include "federated/core/aggregate.hpp"
#include "federated/core/codec.hpp"
#include "federated/data/byzantine.hpp"
#include "federated/data/partition.hpp"

#ifndef STARLINGD_VERSION
#define STARLINGD_VERSION "unknown"
#endif

namespace starling::daemon {
namespace {

namespace fs = std::filesystem;

// The single-valued settings, in the order they are validated and written. Each is a TOML key
// and, with '_' as '-', a flag. `join` and `labels` are handled apart (a list and a table).
constexpr std::array<std::string_view, 37> kScalarKeys = {
    "name",     "data_dir", "bind",    "advertise",   "control",   "metrics",       "fleet_pub",
    "cert",     "revocations", "profile", "log_level", "log_format", "leave_timeout",
    // Federated learning.
    "model", "data", "data_shard", "rounds", "local_epochs", "learning_rate", "batch_size",
    "codec", "aggregator", "fanout", "quorum", "round_deadline", "train_threads", "fl_mode",
    "norm_bound", "norm_filter", "byzantine",
    // Consensus and workloads.
    "consensus", "voters", "bootstrap_expect", "capacity", "lease", "election_timeout",
    "heartbeat_interval"};
constexpr std::string_view kJoinKey = "join";
constexpr std::string_view kLabelsKey = "labels";

// A config file is a page of text; the cap bounds what a wrong --config path can make us read.
constexpr std::size_t kConfigFileBytesMax = 1024 * 1024;
// sockaddr_un::sun_path holds 108 bytes with the terminating NUL: longer ipc paths fail to bind.
constexpr std::size_t kIpcPathBytesMax = sizeof(sockaddr_un::sun_path) - 1;
constexpr std::size_t kNameBytesMax = 64;
constexpr std::size_t kSeedKeyHexDigits = 64;
constexpr Duration kLeaveTimeoutMax = std::chrono::seconds(60);
constexpr std::string_view kTcpScheme = "tcp://";

// One setting as one layer (flags or file) gives it: the value, and where it came from
// ("flag --bind", "config key 'bind' at FILE:LINE") to prefix any error about it.
template <typename T>
struct Setting {
  std::optional<T> value;
  std::string origin;
};

struct Layer {
  std::map<std::string, Setting<std::string>, std::less<>> scalars;  // by TOML key
  Setting<std::vector<std::string>> join;
  Setting<std::map<std::string, std::string>> labels;
};

std::string flag_of(std::string_view key) {
  std::string flag = "--" + std::string(key);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

Status invalid(std::string_view origin, std::string_view problem) {
  return error(StatusCode::kInvalidArgument, std::string(origin) + ": " + std::string(problem));
}

// Keeps error messages on one line: newlines and other control characters become spaces.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

// A value quoted for an error message: printable, one line, at most ~100 characters.
std::string shown(std::string_view value) {
  constexpr std::size_t kShown = 100;
  std::string out = "\"";
  for (std::size_t i = 0; i < value.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (value.size() > kShown) out += "...";
  return out + "\"";
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xc0) != 0x80) return false;
      code = (code << 6) | (cont & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points above U+10FFFF are not UTF-8.
    static constexpr std::array<std::uint32_t, 4> kMinimum = {0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[extra] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// Every string setting must be valid UTF-8 (TOML requires it, so to_toml can write it back)
// and free of control characters (no path, endpoint, name or label needs one).
Status check_text(std::string_view origin, std::string_view value) {
  if (!is_valid_utf8(value)) return invalid(origin, "not valid UTF-8: " + shown(value));
  for (const char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return invalid(origin, "contains a control character: " + shown(value));
    }
  }
  return Status::ok();
}

// ---- addresses ----

enum class HostKind { kIpv4, kIpv6, kWildcard, kDnsName, kInvalid };

bool is_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t start = 0;
  while (start <= host.size()) {
    const std::size_t dot = std::min(host.find('.', start), host.size());
    const std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (const char c : label) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-';
      if (!ok) return false;
    }
    start = dot + 1;
  }
  return true;
}

// HOST as written in HOST:PORT: "[v6]" in brackets, an IPv4 literal, "*", or a DNS name.
HostKind classify_host(std::string_view host) {
  if (host == "*") return HostKind::kWildcard;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    const std::string inner(host.substr(1, host.size() - 2));
    in6_addr address{};
    if (::inet_pton(AF_INET6, inner.c_str(), &address) != 1) return HostKind::kInvalid;
    return IN6_IS_ADDR_UNSPECIFIED(&address) ? HostKind::kWildcard : HostKind::kIpv6;
  }
  const std::string text(host);
  in_addr address{};
  if (::inet_pton(AF_INET, text.c_str(), &address) == 1) {
    return address.s_addr == htonl(INADDR_ANY) ? HostKind::kWildcard : HostKind::kIpv4;
  }
  // All-numeric dotted names ("1.2.3", "300.1.1.1") are malformed addresses, not DNS names.
  const bool numeric = std::all_of(text.begin(), text.end(),
                                   [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  if (!numeric && is_dns_name(host)) return HostKind::kDnsName;
  return HostKind::kInvalid;
}

struct HostPort {
  std::string_view host;  // with its brackets for IPv6
  int port = 0;
};

// Splits "HOST:PORT" (IPv6 hosts in brackets); nullopt when there is no port or it is not a
// number in 0..65535.
std::optional<HostPort> split_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5) return std::nullopt;
  int value = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > 65535) return std::nullopt;
  // An unbracketed IPv6 address would be split at its last colon: refuse it.
  if (host.find(':') != std::string_view::npos && host.front() != '[') return std::nullopt;
  return HostPort{host, value};
}

Result<HostPort> parse_tcp(std::string_view origin, std::string_view value) {
  const std::string expected = "expected tcp://HOST:PORT, got " + shown(value);
  if (!value.starts_with(kTcpScheme)) return invalid(origin, expected);
  const auto split = split_host_port(value.substr(kTcpScheme.size()));
  if (!split) return invalid(origin, expected);
  return *split;
}

Status validate_bind(std::string_view origin, std::string_view value) {
  STARLING_ASSIGN_OR_RETURN(const HostPort hp, parse_tcp(origin, value));
  const HostKind kind = classify_host(hp.host);
  if (kind == HostKind::kDnsName || kind == HostKind::kInvalid) {
    return invalid(origin, "HOST must be an IPv4 address, an IPv6 address in brackets, * or "
                           "0.0.0.0, got " + shown(value));
  }
  return Status::ok();
}

// advertise and seeds: an address another machine can connect to.
Status validate_reachable(std::string_view origin, std::string_view value,
                          std::string_view what) {
  STARLING_ASSIGN_OR_RETURN(const HostPort hp, parse_tcp(origin, value));
  const HostKind kind = classify_host(hp.host);
  if (kind == HostKind::kInvalid) {
    return invalid(origin, std::string(what) + " HOST must be an IP address (IPv6 in brackets) "
                           "or a DNS name, got " + shown(value));
  }
  if (kind == HostKind::kWildcard) {
    return invalid(origin, std::string(what) + " must name an address peers can reach, not a "
                           "wildcard, got " + shown(value));
  }
  if (hp.port == 0) {
    return invalid(origin, std::string(what) + " port must be 1..65535, got " + shown(value));
  }
  if (value.size() > membership::kAddressMaxLength) {
    return invalid(origin, std::string(what) + " is longer than " +
                               std::to_string(membership::kAddressMaxLength) + " bytes");
  }
  return Status::ok();
}

bool is_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// Checks "KEY@tcp://HOST:PORT" and returns it with KEY in lower case.
Result<std::string> normalize_seed(std::string_view origin, std::string_view seed) {
  const auto at = seed.find('@');
  if (at == std::string_view::npos) {
    return invalid(origin, "expected KEY@tcp://HOST:PORT (KEY: the seed's public key in 64 hex "
                           "digits), got " + shown(seed));
  }
  const std::string_view key = seed.substr(0, at);
  if (key.size() != kSeedKeyHexDigits || !is_hex(key)) {
    return invalid(origin, "seed " + shown(seed) + ": KEY must be the seed's Ed25519 public key "
                           "in 64 hex digits (starling keygen --json: public_key)");
  }
  STARLING_RETURN_IF_ERROR(validate_reachable(origin, seed.substr(at + 1), "seed address"));
  std::string out(seed);
  std::transform(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(at), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

Status validate_metrics(std::string_view origin, std::string_view value) {
  const std::string expected =
      "expected 127.0.0.1:PORT or [::1]:PORT (loopback only), or \"\" for no metrics, got " +
      shown(value);
  const auto hp = split_host_port(value);
  if (!hp) return invalid(origin, expected);
  if (hp->host == "[::1]") return Status::ok();
  in_addr address{};
  const std::string host(hp->host);
  if (::inet_pton(AF_INET, host.c_str(), &address) != 1 ||
      reinterpret_cast<const unsigned char*>(&address.s_addr)[0] != 127) {
    return invalid(origin, expected);
  }
  return Status::ok();
}

Status validate_control(std::string_view origin, std::string_view value) {
  if (Status s = runtime::validate_control_endpoint(value); !s) return invalid(origin, s.message());
  constexpr std::string_view kIpc = "ipc://";
  if (value.starts_with(kIpc) && value.size() - kIpc.size() > kIpcPathBytesMax) {
    return invalid(origin, "the ipc socket path is " + std::to_string(value.size() - kIpc.size()) +
                               " bytes; the system's limit is " +
                               std::to_string(kIpcPathBytesMax) +
                               " (choose a shorter data_dir or set control)");
  }
  return Status::ok();
}

Status validate_name(std::string_view origin, std::string_view value) {
  const bool ok = !value.empty() && value.size() <= kNameBytesMax &&
                  std::all_of(value.begin(), value.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
                  });
  if (!ok) {
    return invalid(origin, "expected 1..64 characters of [A-Za-z0-9._-] (or \"\" for the "
                           "certificate's name), got " + shown(value));
  }
  return Status::ok();
}

Status validate_choice(std::string_view origin, std::string_view value,
                       std::initializer_list<std::string_view> choices) {
  std::string list;
  for (const auto choice : choices) {
    if (value == choice) return Status::ok();
    list += (list.empty() ? "" : "|") + std::string(choice);
  }
  return invalid(origin, "expected " + list + ", got " + shown(value));
}

// ---- the file ----

std::string location(const std::string& path, const toml::source_region& region) {
  return path + ":" + std::to_string(region.begin.line);
}

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date or time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

Status unknown_key(const std::string& origin, std::string_view key) {
  std::string_view best;
  std::size_t best_distance = 3;  // suggest only close matches
  std::string all;
  auto consider = [&](std::string_view known) {
    all += (all.empty() ? "" : ", ") + std::string(known);
    const std::size_t d = edit_distance(key, known);
    if (d < best_distance) {
      best_distance = d;
      best = known;
    }
  };
  for (const auto known : kScalarKeys) consider(known);
  consider(kJoinKey);
  consider(kLabelsKey);
  const std::string hint =
      best.empty() ? " (known keys: " + all + ")" : " (did you mean '" + std::string(best) + "'?)";
  return invalid(origin, "unknown key " + shown(key) + hint);
}

Result<std::string> read_file(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found) {
    return error(StatusCode::kNotFound, "config file " + path + " does not exist");
  }
  if (status.type() == fs::file_type::directory) {
    return error(StatusCode::kInvalidArgument, "config file " + path + " is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(StatusCode::kIoError, "config file " + path + ": cannot open it");
  std::string content;
  std::array<char, 8192> buffer{};
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    content.append(buffer.data(), static_cast<std::size_t>(in.gcount()));
    if (content.size() > kConfigFileBytesMax) {
      return error(StatusCode::kInvalidArgument,
                   "config file " + path + " is larger than " +
                       std::to_string(kConfigFileBytesMax) + " bytes");
    }
  }
  if (in.bad()) return error(StatusCode::kIoError, "config file " + path + ": read failed");
  return content;
}

Result<Layer> read_config_file(const std::string& path) {
  STARLING_ASSIGN_OR_RETURN(const std::string content, read_file(path));
  toml::table table;
  try {
    table = toml::parse(content, path);
  } catch (const toml::parse_error& e) {
    return error(StatusCode::kInvalidArgument,
                 "config file " + path + ":" + std::to_string(e.source().begin.line) + ":" +
                     std::to_string(e.source().begin.column) +
                     ": TOML syntax error: " + one_line(e.description()));
  }
  Layer layer;
  for (auto&& [toml_key, node] : table) {
    const std::string key(toml_key.str());
    const std::string origin = "config key '" + key + "' at " + location(path, toml_key.source());
    const bool scalar =
        std::find(kScalarKeys.begin(), kScalarKeys.end(), key) != kScalarKeys.end();
    if (scalar) {
      // Numbers are accepted for the numeric settings (rounds = 10); everything is a string
      // to the validation below.
      if (const auto* number = node.as_integer()) {
        layer.scalars[key] = {std::to_string(number->get()), origin};
        continue;
      }
      if (const auto* number = node.as_floating_point()) {
        std::ostringstream text;
        text.precision(17);
        text << number->get();
        layer.scalars[key] = {text.str(), origin};
        continue;
      }
      const auto* value = node.as_string();
      if (value == nullptr) return invalid(origin, "expected a string, got " + type_name(node));
      layer.scalars[key] = {value->get(), origin};
    } else if (key == kJoinKey) {
      const auto* array = node.as_array();
      if (array == nullptr) {
        return invalid(origin, "expected an array of strings, got " + type_name(node));
      }
      std::vector<std::string> seeds;
      for (const auto& item : *array) {
        const auto* value = item.as_string();
        if (value == nullptr) {
          return invalid(origin, "expected an array of strings, found " + type_name(item));
        }
        seeds.push_back(value->get());
      }
      layer.join = {std::move(seeds), origin};
    } else if (key == kLabelsKey) {
      const auto* labels = node.as_table();
      if (labels == nullptr) {
        return invalid(origin, "expected a table of strings ([labels]), got " + type_name(node));
      }
      std::map<std::string, std::string> map;
      for (auto&& [label_key, label_node] : *labels) {
        const std::string name(label_key.str());
        const auto* value = label_node.as_string();
        if (value == nullptr) {
          std::string hint;
          if (label_node.is_table()) hint = " (quote keys that contain dots: \"a.b\" = \"...\")";
          return invalid("config key 'labels." + name + "' at " +
                             location(path, label_key.source()),
                         "expected a string, got " + type_name(label_node) + hint);
        }
        map.emplace(name, value->get());
      }
      layer.labels = {std::move(map), origin};
    } else {
      return unknown_key("config file " + location(path, toml_key.source()), key);
    }
  }
  return layer;
}

// ---- the command line ----

// The flags as CLI11 fills them; an option's count() tells whether it was given.
struct FlagValues {
  std::map<std::string, std::string, std::less<>> scalars;
  std::map<std::string, CLI::Option*, std::less<>> options;
  std::vector<std::string> join;
  CLI::Option* join_option = nullptr;
  std::vector<std::string> labels;
  CLI::Option* labels_option = nullptr;
  std::string config_file;
  CLI::Option* config_option = nullptr;
  bool check_config = false;
};

struct FlagHelp {
  std::string_view key;
  std::string_view type;
  std::string_view help;
};

// Same order as kScalarKeys.
constexpr std::array<FlagHelp, kScalarKeys.size()> kFlagHelp = {{
    {"name", "NAME", "This device's name, 1-64 of [A-Za-z0-9._-] (default: from the certificate)"},
    {"data_dir", "DIR", "Data directory (default: $STATE_DIRECTORY, else "
                        "$XDG_STATE_HOME/starling, else ~/.local/state/starling)"},
    {"bind", "tcp://HOST:PORT", "Where the transport listens; HOST an IP address, * or 0.0.0.0; "
                                "port 0 picks one (default: tcp://127.0.0.1:7946)"},
    {"advertise", "tcp://HOST:PORT", "The address peers use to reach this agent (default: "
                                     "--bind; required when --bind is a wildcard)"},
    {"control", "ENDPOINT", "Control API endpoint, ipc://PATH or tcp://127.0.0.1:PORT (default: "
                            "ipc://DATA_DIR/control.sock)"},
    {"metrics", "HOST:PORT", "Prometheus metrics on 127.0.0.1:PORT or [::1]:PORT (default: off)"},
    {"fleet_pub", "FILE", "The fleet's public key (default: DATA_DIR/fleet.pub)"},
    {"cert", "FILE", "This device's certificate (default: DATA_DIR/device.cert)"},
    {"revocations", "FILE", "A signed revocation list (default: none)"},
    {"profile", "NAME", "Membership timing profile: default or lan (default: default)"},
    {"log_level", "LEVEL", "trace, debug, info, warn, error or off (default: info)"},
    {"log_format", "FORMAT", "text or json (default: text)"},
    {"leave_timeout", "DURATION", "How long a graceful leave may take, 0s..60s (default: 2s)"},
    {"model", "NAME", "Federated learning: the model, mlp, cnn or anomaly (default: none, off)"},
    {"data", "SOURCE", "Training data: fashion-mnist or a directory of device data (default: "
                       "fashion-mnist)"},
    {"data_shard", "PARTITION:I/N", "For fashion-mnist: this device's share I of N, e.g. "
                                    "dirichlet:0.5:3/10 (default: the whole training set)"},
    {"rounds", "N", "Federated rounds to run, 0 = until stopped (default: 0)"},
    {"local_epochs", "N", "Local epochs per round (default: 1)"},
    {"learning_rate", "RATE", "Learning rate (default: 0.01)"},
    {"batch_size", "N", "Batch size (default: 32)"},
    {"codec", "NAME", "Update codec: float32, float16, int8, topk[:FRACTION] (default: float32)"},
    {"aggregator", "NAME", "fedavg, median, trimmed-mean[:BETA], krum[:F], multi-krum[:F[:M]] "
                           "(default: fedavg)"},
    {"fanout", "N", "Peers each update is sent to (default: 16)"},
    {"quorum", "FRACTION", "Fraction of the expected updates that ends a round (default: 1.0)"},
    {"round_deadline", "DURATION", "Longest wait for peers' updates in a round (default: 30s)"},
    {"train_threads", "N", "libtorch threads of the training worker, 1-64 (default: 1)"},
    {"fl_mode", "MODE", "sync (rounds with a quorum) or async (gossip learning) (default: sync)"},
    {"norm_bound", "L2", "Reject peer updates above this L2 norm, 0 = no bound (default: 0)"},
    {"norm_filter", "FACTOR", "Leave out updates above FACTOR x the round's median norm, 0 = "
                              "off (default: 0)"},
    {"byzantine", "KIND", "TESTING ONLY, fault injection: send corrupted updates (signflip, scale, "
                          "noise, labelflip) to exercise the robust aggregators; never on a "
                          "production fleet (default: none)"},
    {"consensus", "on|off", "Take part in the workload consensus (default: on)"},
    {"voters", "N", "Consensus voters to keep, 1, 3, 5 or 7 (default: 5)"},
    {"bootstrap_expect", "N", "Members that found a new cluster, 1, 3, 5 or 7 (default: 3)"},
    {"capacity", "N", "This device's weight for workload placement, 0 = runs none (default: 1)"},
    {"lease", "DURATION", "Workload lease, 100ms..60s (default: 1s)"},
    {"election_timeout", "DURATION", "Raft election timeout (minimum; the maximum is twice it), "
                                     "100ms..60s (default: 500ms)"},
    {"heartbeat_interval", "DURATION", "Raft leader heartbeat, at most a fifth of "
                                       "election_timeout (default: 100ms)"},
}};

void add_flags(CLI::App& app, FlagValues& flags) {
  flags.config_option =
      app.add_option("--config", flags.config_file, "Read settings from this TOML file "
                                                    "(flags win over it)")
          ->type_name("FILE");
  app.add_flag("--check-config", flags.check_config,
               "Validate the configuration, print it as TOML and exit");
  for (const FlagHelp& f : kFlagHelp) {
    const std::string key(f.key);
    flags.options[key] = app.add_option(flag_of(key), flags.scalars[key], std::string(f.help))
                             ->type_name(std::string(f.type));
  }
  flags.join_option = app.add_option("--join", flags.join,
                                     "A seed to join through, KEY@tcp://HOST:PORT with KEY its "
                                     "public key in hex (repeatable)")
                          ->type_name("KEY@tcp://HOST:PORT")
                          ->allow_extra_args(false);
  flags.labels_option =
      app.add_option("--label", flags.labels, "A metadata label, KEY=VALUE (repeatable)")
          ->type_name("KEY=VALUE")
          ->allow_extra_args(false);
}

Result<Layer> layer_of_flags(const FlagValues& flags) {
  Layer layer;
  for (const auto& [key, option] : flags.options) {
    if (option->count() > 0) layer.scalars[key] = {flags.scalars.at(key), "flag " + flag_of(key)};
  }
  if (flags.join_option->count() > 0) layer.join = {flags.join, "flag --join"};
  if (flags.labels_option->count() > 0) {
    std::map<std::string, std::string> labels;
    for (const auto& item : flags.labels) {
      const auto eq = item.find('=');
      if (eq == std::string::npos || eq == 0) {
        return invalid("flag --label", "expected KEY=VALUE, got " + shown(item));
      }
      if (!labels.emplace(item.substr(0, eq), item.substr(eq + 1)).second) {
        return invalid("flag --label", "key " + shown(item.substr(0, eq)) + " given twice");
      }
    }
    layer.labels = {std::move(labels), "flag --label"};
  }
  return layer;
}

// ---- merging and defaults ----

template <typename T>
const Setting<T>& pick(const Setting<T>& flag, const Setting<T>& file) {
  return flag.value ? flag : file;
}

// The default data directory from the environment (see DaemonConfig::data_dir).
Result<std::string> default_data_dir(const Environment& env) {
  if (auto state = env.get("STATE_DIRECTORY")) {
    // systemd joins several StateDirectory= paths with ':'; ours is the first.
    const std::string first = state->substr(0, state->find(':'));
    if (!first.empty()) return first;
  }
  if (auto xdg = env.get("XDG_STATE_HOME"); xdg && xdg->front() == '/') {
    return (fs::path(*xdg) / "starling").string();  // relative values are ignored (XDG spec)
  }
  if (auto home = env.get("HOME")) return (fs::path(*home) / ".local/state/starling").string();
  return invalid("config key 'data_dir'",
                 "no default: none of STATE_DIRECTORY, XDG_STATE_HOME and HOME is set; set "
                 "--data-dir or data_dir");
}

}  // namespace

Result<DataShard> parse_data_shard(std::string_view text) {
  const auto colon = text.rfind(':');
  const auto slash = text.rfind('/');
  DataShard shard;
  bool numbers = false;
  if (colon != std::string_view::npos && slash != std::string_view::npos && slash > colon) {
    auto [e1, ec1] = std::from_chars(text.data() + colon + 1, text.data() + slash, shard.index);
    auto [e2, ec2] = std::from_chars(text.data() + slash + 1, text.data() + text.size(), shard.count);
    numbers = ec1 == std::errc() && ec2 == std::errc() && e1 == text.data() + slash &&
              e2 == text.data() + text.size() && shard.count >= 1 && shard.count <= 1000 &&
              shard.index < shard.count;
  }
  if (!numbers) {
    return error(StatusCode::kInvalidArgument,
                 "expected PARTITION:I/N with 0 <= I < N <= 1000, e.g. dirichlet:0.5:3/10, got " +
                     shown(std::string(text)));
  }
  shard.partition = std::string(text.substr(0, colon));
  STARLING_RETURN_IF_ERROR(federated::parse_partition(shard.partition).status());
  return shard;
}

namespace {

// The consensus settings (DaemonConfig::Consensus), from the merged scalars.
template <typename Given>
Status parse_consensus(const Given& given, DaemonConfig::Consensus& c) {
  if (const auto* s = given("consensus")) {
    STARLING_RETURN_IF_ERROR(validate_choice(s->origin, *s->value, {"on", "off"}));
    c.enabled = *s->value == "on";
  }
  auto odd = [&](std::string_view key, std::size_t& out) -> Status {
    const auto* s = given(key);
    if (s == nullptr) return Status::ok();
    STARLING_RETURN_IF_ERROR(validate_choice(s->origin, *s->value, {"1", "3", "5", "7"}));
    out = static_cast<std::size_t>(std::stoul(*s->value));
    return Status::ok();
  };
  STARLING_RETURN_IF_ERROR(odd("voters", c.voters));
  STARLING_RETURN_IF_ERROR(odd("bootstrap_expect", c.bootstrap_expect));
  if (const auto* s = given("capacity")) {
    std::uint32_t value = 0;
    const std::string& text = *s->value;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 1000) {
      return invalid(s->origin, "expected a whole number from 0 to 1000, got " + shown(text));
    }
    c.capacity = value;
  }
  auto duration = [&](std::string_view key, Duration low, Duration high, Duration& out) -> Status {
    const auto* s = given(key);
    if (s == nullptr) return Status::ok();
    auto parsed = parse_duration(*s->value);
    if (!parsed) return invalid(s->origin, parsed.status().message());
    if (*parsed < low || *parsed > high) {
      return invalid(s->origin, "must be from " + format_duration(low) + " to " +
                                    format_duration(high) + ", got " + shown(*s->value));
    }
    out = *parsed;
    return Status::ok();
  };
  const auto ms = [](int n) { return Duration(std::chrono::milliseconds(n)); };
  STARLING_RETURN_IF_ERROR(duration("lease", ms(100), ms(60'000), c.lease));
  STARLING_RETURN_IF_ERROR(duration("election_timeout", ms(100), ms(60'000), c.election_timeout));
  STARLING_RETURN_IF_ERROR(duration("heartbeat_interval", ms(10), ms(12'000),
                                    c.heartbeat_interval));
  if (c.heartbeat_interval * 5 > c.election_timeout) {
    const auto* s = given("heartbeat_interval");
    return invalid(s != nullptr ? s->origin : std::string("config key 'election_timeout'"),
                   "heartbeat_interval must be at most a fifth of election_timeout");
  }
  if (c.bootstrap_expect > c.voters) {
    const auto* s = given("bootstrap_expect");
    return invalid(s != nullptr ? s->origin : std::string("config key 'voters'"),
                   "bootstrap_expect must not be above voters");
  }
  return Status::ok();
}

// The federated-learning settings (DaemonConfig::Learning), from the merged scalars.
template <typename Given>
Status parse_learning(const Given& given, DaemonConfig::Learning& l) {
  auto integer = [&](std::string_view key, std::uint64_t low, std::uint64_t high,
                     auto& out) -> Status {
    const auto* s = given(key);
    if (s == nullptr) return Status::ok();
    std::uint64_t value = 0;
    const std::string& text = *s->value;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high) {
      return invalid(s->origin, "expected a whole number from " + std::to_string(low) + " to " +
                                    std::to_string(high) + ", got " + shown(text));
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(value);
    return Status::ok();
  };
  auto real = [&](std::string_view key, double low, double high, double& out) -> Status {
    const auto* s = given(key);
    if (s == nullptr) return Status::ok();
    double value = 0;
    const std::string& text = *s->value;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !(value > low) ||
        value > high) {
      return invalid(s->origin, "expected a number above " + shown(std::to_string(low)) +
                                    " and at most " + shown(std::to_string(high)) + ", got " +
                                    shown(text));
    }
    out = value;
    return Status::ok();
  };
  if (const auto* s = given("model")) {
    STARLING_RETURN_IF_ERROR(validate_choice(s->origin, *s->value, {"mlp", "cnn", "anomaly"}));
    l.model = *s->value;
  }
  if (const auto* s = given("data")) l.data = *s->value;
  if (const auto* s = given("data_shard")) {
    if (auto shard = parse_data_shard(*s->value); !shard) {
      return invalid(s->origin, shard.status().message());
    }
    l.data_shard = *s->value;
  }
  STARLING_RETURN_IF_ERROR(integer("rounds", 0, 1'000'000'000, l.rounds));
  STARLING_RETURN_IF_ERROR(integer("local_epochs", 1, 1000, l.local_epochs));
  STARLING_RETURN_IF_ERROR(real("learning_rate", 0.0, 10.0, l.learning_rate));
  STARLING_RETURN_IF_ERROR(integer("batch_size", 1, 65536, l.batch_size));
  if (const auto* s = given("codec")) {
    if (auto k = federated::parse_codec(*s->value); !k) return invalid(s->origin, k.status().message());
    l.codec = *s->value;
  }
  if (const auto* s = given("aggregator")) {
    if (auto a = federated::parse_aggregator(*s->value); !a) {
      return invalid(s->origin, a.status().message());
    }
    l.aggregator = *s->value;
  }
  STARLING_RETURN_IF_ERROR(integer("fanout", 1, 1000, l.fanout));
  STARLING_RETURN_IF_ERROR(real("quorum", 0.0, 1.0, l.quorum));
  if (const auto* s = given("round_deadline")) {
    auto parsed = parse_duration(*s->value);
    if (!parsed) return invalid(s->origin, parsed.status().message());
    if (*parsed <= Duration::zero() || *parsed > std::chrono::hours(24)) {
      return invalid(s->origin, "must be above 0s and at most 24h, got " + shown(*s->value));
    }
    l.round_deadline = *parsed;
  }
  STARLING_RETURN_IF_ERROR(integer("train_threads", 1, 64, l.train_threads));
  if (const auto* s = given("norm_bound")) {
    if (*s->value != "0") STARLING_RETURN_IF_ERROR(real("norm_bound", 0.0, 1e12, l.norm_bound));
  }
  if (const auto* s = given("norm_filter")) {
    if (*s->value != "0") STARLING_RETURN_IF_ERROR(real("norm_filter", 1.0 - 1e-12, 1000.0, l.norm_filter));
  }
  if (const auto* s = given("byzantine")) {
    if (*s->value != "none") {
      if (auto k = federated::parse_byzantine_kind(*s->value); !k) {
        return invalid(s->origin, k.status().message() + " or none");
      }
      l.byzantine = *s->value;
    }
  }
  if (const auto* s = given("fl_mode")) {
    STARLING_RETURN_IF_ERROR(validate_choice(s->origin, *s->value, {"sync", "async"}));
    l.mode = *s->value;
  }
  return Status::ok();
}

Result<DaemonConfig> resolve(const Layer& flags, const Layer& file, const Environment& env,
                             std::string config_file) {
  // The merged scalars; every present value is checked for UTF-8 and control characters.
  std::map<std::string, Setting<std::string>, std::less<>> merged;
  for (const auto key : kScalarKeys) {
    const auto f = flags.scalars.find(key);
    const auto g = file.scalars.find(key);
    if (f != flags.scalars.end()) {
      merged.emplace(std::string(key), f->second);
    } else if (g != file.scalars.end()) {
      merged.emplace(std::string(key), g->second);
    }
  }
  for (const auto key : kScalarKeys) {
    if (auto it = merged.find(key); it != merged.end()) {
      STARLING_RETURN_IF_ERROR(check_text(it->second.origin, *it->second.value));
    }
  }
  // A present, non-empty value; nullptr for absent or "".
  auto given = [&](std::string_view key) -> const Setting<std::string>* {
    const auto it = merged.find(key);
    return it == merged.end() || it->second.value->empty() ? nullptr : &it->second;
  };
  auto origin_of = [&](std::string_view key, std::string_view otherwise) -> std::string {
    const auto it = merged.find(key);
    return it == merged.end() ? std::string(otherwise) : it->second.origin;
  };
  auto required = [&](std::string_view key) -> Status {
    const auto it = merged.find(key);
    if (it != merged.end() && it->second.value->empty()) {
      return invalid(it->second.origin, "must not be empty");
    }
    return Status::ok();
  };

  DaemonConfig c;
  c.config_file = std::move(config_file);

  if (const auto* s = given("name")) {
    STARLING_RETURN_IF_ERROR(validate_name(s->origin, *s->value));
    c.name = *s->value;
  }

  STARLING_RETURN_IF_ERROR(required("data_dir"));
  if (const auto* s = given("data_dir")) {
    c.data_dir = *s->value;
  } else {
    STARLING_ASSIGN_OR_RETURN(c.data_dir, default_data_dir(env));
    STARLING_RETURN_IF_ERROR(check_text("config key 'data_dir' (default from the environment)",
                                        c.data_dir));
  }

  STARLING_RETURN_IF_ERROR(required("bind"));
  if (const auto* s = given("bind")) c.bind = *s->value;
  STARLING_RETURN_IF_ERROR(validate_bind(origin_of("bind", "config key 'bind' (default)"), c.bind));

  const HostPort bound = *split_host_port(std::string_view(c.bind).substr(kTcpScheme.size()));
  if (const auto* s = given("advertise")) {
    STARLING_RETURN_IF_ERROR(validate_reachable(s->origin, *s->value, "advertise"));
    c.advertise = *s->value;
  } else if (classify_host(bound.host) == HostKind::kWildcard) {
    return invalid(origin_of("advertise", "config key 'advertise'"),
                   "required when bind (" + c.bind + ") is a wildcard address: set --advertise "
                   "or advertise to the tcp://HOST:PORT peers can reach");
  } else if (bound.port != 0) {
    c.advertise = c.bind;
  }  // else port 0: left empty, the daemon advertises the port it bound

  const Setting<std::vector<std::string>>& join = pick(flags.join, file.join);
  if (join.value) {
    for (const auto& seed : *join.value) {
      STARLING_RETURN_IF_ERROR(check_text(join.origin, seed));
      STARLING_ASSIGN_OR_RETURN(std::string normal, normalize_seed(join.origin, seed));
      c.join.push_back(std::move(normal));
    }
  }

  STARLING_RETURN_IF_ERROR(required("control"));
  if (const auto* s = given("control")) {
    c.control = *s->value;
    STARLING_RETURN_IF_ERROR(validate_control(s->origin, c.control));
  } else {
    c.control = runtime::default_control_endpoint(c.data_dir);
    STARLING_RETURN_IF_ERROR(
        validate_control("config key 'control' (default from data_dir)", c.control));
  }

  if (const auto* s = given("metrics")) {
    STARLING_RETURN_IF_ERROR(validate_metrics(s->origin, *s->value));
    c.metrics = *s->value;
  }

  STARLING_RETURN_IF_ERROR(required("fleet_pub"));
  c.fleet_pub = given("fleet_pub") ? *given("fleet_pub")->value
                                   : (fs::path(c.data_dir) / "fleet.pub").string();
  STARLING_RETURN_IF_ERROR(required("cert"));
  c.cert = given("cert") ? *given("cert")->value : (fs::path(c.data_dir) / "device.cert").string();
  if (const auto* s = given("revocations")) c.revocations = *s->value;

  STARLING_RETURN_IF_ERROR(required("profile"));
  if (const auto* s = given("profile")) {
    if (auto profile = membership::Config::from_profile(*s->value); !profile) {
      return invalid(s->origin, profile.status().message());
    }
    c.profile = *s->value;
  }

  const Setting<std::map<std::string, std::string>>& labels = pick(flags.labels, file.labels);
  if (labels.value) {
    for (const auto& [key, value] : *labels.value) {
      STARLING_RETURN_IF_ERROR(check_text(labels.origin, key));
      STARLING_RETURN_IF_ERROR(check_text(labels.origin, value));
    }
    if (Status s = membership::validate_metadata(*labels.value); !s) {
      return invalid(labels.origin, s.message());
    }
    c.labels = *labels.value;
  }

  STARLING_RETURN_IF_ERROR(required("log_level"));
  if (const auto* s = given("log_level")) {
    STARLING_RETURN_IF_ERROR(
        validate_choice(s->origin, *s->value, {"trace", "debug", "info", "warn", "error", "off"}));
    c.log_level = *s->value;
  }
  STARLING_RETURN_IF_ERROR(required("log_format"));
  if (const auto* s = given("log_format")) {
    STARLING_RETURN_IF_ERROR(validate_choice(s->origin, *s->value, {"text", "json"}));
    c.log_format = *s->value;
  }

  STARLING_RETURN_IF_ERROR(required("leave_timeout"));
  if (const auto* s = given("leave_timeout")) {
    auto parsed = parse_duration(*s->value);
    if (!parsed) return invalid(s->origin, parsed.status().message());
    if (*parsed < Duration::zero() || *parsed > kLeaveTimeoutMax) {
      return invalid(s->origin, "must be between 0s and 60s, got " + shown(*s->value));
    }
    c.leave_timeout = *parsed;
  }
  STARLING_RETURN_IF_ERROR(parse_learning(given, c.learning));
  STARLING_RETURN_IF_ERROR(parse_consensus(given, c.consensus));
  return c;
}

Result<ParseOutcome> parse_unchecked(int argc, const char* const* argv, const Environment& env) {
  CLI::App app{
      "starlingd: the Starling agent. Joins the fleet's swarm, gossips membership and serves\n"
      "the control API for the `starling` CLI."};
  app.name("starlingd");
  app.footer(
      "Every setting but --config and --check-config is also a key of the --config TOML file,\n"
      "named like the flag with '_' for '-' (--data-dir is data_dir, --label is a [labels]\n"
      "table, --join a list). Flags win over the file, the file over the defaults.\n"
      "Example with every key: /etc/starling/agent.toml (packaging/agent.toml).");
  app.set_version_flag("--version", "starlingd " STARLINGD_VERSION);
  FlagValues flags;
  add_flags(app, flags);

  ParseOutcome outcome;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    outcome.kind = ParseOutcome::kHelp;
    outcome.text = app.help();
    return outcome;
  } catch (const CLI::CallForAllHelp&) {
    outcome.kind = ParseOutcome::kHelp;
    outcome.text = app.help("", CLI::AppFormatMode::All);
    return outcome;
  } catch (const CLI::CallForVersion& e) {
    outcome.kind = ParseOutcome::kVersion;
    outcome.text = std::string(e.what()) + "\n";
    return outcome;
  } catch (const CLI::ParseError& e) {
    return error(StatusCode::kInvalidArgument,
                 "command line: " + one_line(e.what()) + " (see starlingd --help)");
  }

  STARLING_ASSIGN_OR_RETURN(const Layer flag_layer, layer_of_flags(flags));
  Layer file_layer;
  if (flags.config_option->count() > 0) {
    if (flags.config_file.empty()) return invalid("flag --config", "must not be empty");
    STARLING_ASSIGN_OR_RETURN(file_layer, read_config_file(flags.config_file));
  }
  STARLING_ASSIGN_OR_RETURN(outcome.config,
                            resolve(flag_layer, file_layer, env, flags.config_file));
  if (flags.check_config) {
    outcome.kind = ParseOutcome::kCheckConfig;
    outcome.text = to_toml(outcome.config);
  }
  return outcome;
}

// ---- writing TOML ----

std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          static constexpr char kHex[] = "0123456789ABCDEF";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

std::string toml_key(std::string_view key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
  return bare ? std::string(key) : toml_string(key);
}

}  // namespace

std::optional<std::string> Environment::get(std::string_view name) const {
  if (!lookup) return std::nullopt;
  auto value = lookup(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

Environment Environment::process() {
  return Environment{[](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  }};
}

Environment Environment::from_map(std::map<std::string, std::string> variables) {
  return Environment{[vars = std::move(variables)](std::string_view name)
                         -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  }};
}

Result<ParseOutcome> parse_config(int argc, const char* const* argv, const Environment& env) {
  try {
    return parse_unchecked(argc, argv, env);
  } catch (const std::exception& e) {
    return error(StatusCode::kInternal, "parsing the configuration: " + one_line(e.what()));
  }
}

std::string to_toml(const DaemonConfig& config) {
  std::ostringstream out;
  out << "# starlingd configuration: every key at its effective value (starlingd --check-config).\n";
  auto line = [&](std::string_view key, std::string_view value) {
    out << key << " = " << toml_string(value) << "\n";
  };
  line("name", config.name);
  line("data_dir", config.data_dir);
  line("bind", config.bind);
  line("advertise", config.advertise);
  if (config.join.empty()) {
    out << "join = []\n";
  } else {
    out << "join = [\n";
    for (const auto& seed : config.join) out << "  " << toml_string(seed) << ",\n";
    out << "]\n";
  }
  line("control", config.control);
  line("metrics", config.metrics);
  line("fleet_pub", config.fleet_pub);
  line("cert", config.cert);
  line("revocations", config.revocations);
  line("profile", config.profile);
  line("log_level", config.log_level);
  line("log_format", config.log_format);
  line("leave_timeout", format_duration(config.leave_timeout));
  const DaemonConfig::Learning& l = config.learning;
  out << "\n# Federated learning (off while model is empty).\n";
  line("model", l.model);
  line("data", l.data);
  line("data_shard", l.data_shard);
  auto number = [](auto value) {
    std::ostringstream text;
    text.precision(17);
    text << value;
    return text.str();
  };
  line("rounds", number(l.rounds));
  line("local_epochs", number(l.local_epochs));
  line("learning_rate", number(l.learning_rate));
  line("batch_size", number(l.batch_size));
  line("codec", l.codec);
  line("aggregator", l.aggregator);
  line("fanout", number(l.fanout));
  line("quorum", number(l.quorum));
  line("round_deadline", format_duration(l.round_deadline));
  line("train_threads", number(l.train_threads));
  line("fl_mode", l.mode);
  line("norm_bound", number(l.norm_bound));
  line("norm_filter", number(l.norm_filter));
  if (!l.byzantine.empty()) line("byzantine", l.byzantine);
  const DaemonConfig::Consensus& k = config.consensus;
  out << "\n# Consensus and workloads.\n";
  line("consensus", k.enabled ? "on" : "off");
  line("voters", number(k.voters));
  line("bootstrap_expect", number(k.bootstrap_expect));
  line("capacity", number(k.capacity));
  line("lease", format_duration(k.lease));
  line("election_timeout", format_duration(k.election_timeout));
  line("heartbeat_interval", format_duration(k.heartbeat_interval));
  out << "\n[labels]\n";
  for (const auto& [key, value] : config.labels) {
    out << toml_key(key) << " = " << toml_string(value) << "\n";
  }
  return out.str();
}

}  // namespace starling::daemon
