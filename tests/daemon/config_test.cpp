// Tests of starlingd's configuration (agent/daemon/config.hpp): defaults from a fake
// environment, flags over file over defaults, one-line errors naming the flag or key (and file
// and line) for every setting, unknown keys and TOML syntax errors, the to_toml round trip and
// the packaged example file. Hermetic: the environment is a map and files live in a TempDir.
#include "agent/daemon/config.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"

namespace starling::daemon {
namespace {

using starling::testing::TempDir;

const std::string kKeyA(64, 'a');
const std::string kKeyB = std::string(63, '0') + "F";

Environment home_env() { return Environment::from_map({{"HOME", "/home/op"}}); }

Result<ParseOutcome> parse(const std::vector<std::string>& args,
                           const Environment& env = home_env()) {
  std::vector<const char*> argv{"starlingd"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return parse_config(static_cast<int>(argv.size()), argv.data(), env);
}

std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

std::string message_of(const Result<ParseOutcome>& result) { return result.status().message(); }

TEST_CASE("defaults without any flag come from HOME") {
  const auto result = parse({});
  REQUIRE_OK(result);
  CHECK(result->kind == ParseOutcome::kRun);
  const DaemonConfig& c = result->config;
  CHECK(c.name.empty());
  CHECK(c.data_dir == "/home/op/.local/state/starling");
  CHECK(c.bind == "tcp://127.0.0.1:7946");
  CHECK(c.advertise == "tcp://127.0.0.1:7946");
  CHECK(c.join.empty());
  CHECK(c.control == "ipc:///home/op/.local/state/starling/control.sock");
  CHECK(c.metrics.empty());
  CHECK(c.fleet_pub == "/home/op/.local/state/starling/fleet.pub");
  CHECK(c.cert == "/home/op/.local/state/starling/device.cert");
  CHECK(c.revocations.empty());
  CHECK(c.profile == "default");
  CHECK(c.labels.empty());
  CHECK(c.log_level == "info");
  CHECK(c.log_format == "text");
  CHECK(c.leave_timeout == std::chrono::seconds(2));
  CHECK(c.config_file.empty());
}

TEST_CASE("data_dir defaults to STATE_DIRECTORY then XDG_STATE_HOME then HOME") {
  struct Row {
    std::map<std::string, std::string> env;
    std::string data_dir;
  };
  const std::vector<Row> rows = {
      {{{"STATE_DIRECTORY", "/var/lib/starling"}, {"XDG_STATE_HOME", "/x"}, {"HOME", "/h"}},
       "/var/lib/starling"},
      {{{"STATE_DIRECTORY", "/var/lib/starling:/var/lib/other"}}, "/var/lib/starling"},
      {{{"STATE_DIRECTORY", ""}, {"XDG_STATE_HOME", "/x/state"}, {"HOME", "/h"}},
       "/x/state/starling"},
      {{{"XDG_STATE_HOME", "relative/is/ignored"}, {"HOME", "/h"}}, "/h/.local/state/starling"},
      {{{"HOME", "/"}}, "/.local/state/starling"},
  };
  for (const Row& row : rows) {
    INFO("expected " << row.data_dir);
    const auto result = parse({}, Environment::from_map(row.env));
    REQUIRE_OK(result);
    CHECK(result->config.data_dir == row.data_dir);
    CHECK(result->config.control == "ipc://" + row.data_dir + "/control.sock");
  }
}

TEST_CASE("without STATE_DIRECTORY XDG_STATE_HOME or HOME data_dir must be given") {
  const auto missing = parse({}, Environment{});
  CHECK_CODE(missing, StatusCode::kInvalidArgument);
  CHECK(message_of(missing).find("config key 'data_dir'") == 0);
  const auto given = parse({"--data-dir", "/srv/starling"}, Environment{});
  REQUIRE_OK(given);
  CHECK(given->config.fleet_pub == "/srv/starling/fleet.pub");
}

TEST_CASE("flags win over the file and the file wins over defaults") {
  TempDir dir;
  const std::string path = write_file(dir, "agent.toml", R"(
data_dir = "/from/file"
bind = "tcp://10.0.0.1:7000"
log_level = "debug"
join = [")" + kKeyA + R"(@tcp://10.0.0.2:7946"]
[labels]
site = "file"
rack = "r1"
)");

  const auto file_only = parse({"--config", path});
  REQUIRE_OK(file_only);
  CHECK(file_only->config.config_file == path);
  CHECK(file_only->config.data_dir == "/from/file");
  CHECK(file_only->config.cert == "/from/file/device.cert");
  CHECK(file_only->config.bind == "tcp://10.0.0.1:7000");
  CHECK(file_only->config.advertise == "tcp://10.0.0.1:7000");
  CHECK(file_only->config.log_level == "debug");
  CHECK(file_only->config.log_format == "text");  // default: in neither
  CHECK(file_only->config.join == std::vector<std::string>{kKeyA + "@tcp://10.0.0.2:7946"});
  CHECK(file_only->config.labels == std::map<std::string, std::string>{{"rack", "r1"},
                                                                       {"site", "file"}});

  const auto both = parse({"--config", path, "--bind", "tcp://10.0.0.9:7001", "--log-level",
                           "warn", "--label", "site=flag", "--join",
                           kKeyB + "@tcp://10.0.0.3:7946"});
  REQUIRE_OK(both);
  CHECK(both->config.data_dir == "/from/file");
  CHECK(both->config.bind == "tcp://10.0.0.9:7001");
  CHECK(both->config.advertise == "tcp://10.0.0.9:7001");
  CHECK(both->config.log_level == "warn");
  // A list or table given by flags replaces the file's.
  CHECK(both->config.labels == std::map<std::string, std::string>{{"site", "flag"}});
  CHECK(both->config.join == std::vector<std::string>{
                                 std::string(63, '0') + "f@tcp://10.0.0.3:7946"});
}

// One bad value per row, given once as a flag and once as a TOML key on line 2 of a file.
struct BadRow {
  std::string key;
  std::vector<std::string> flag_args;  // empty: no flag form for this row
  std::string toml;                    // line 2 of the file; empty: no file form
  std::string expected;                // a substring of the message
};

TEST_CASE("every key rejects a bad value with a one-line message naming it") {
  const std::vector<BadRow> rows = {
      {"name", {"--name", "bad name!"}, R"(name = "bad name!")", "[A-Za-z0-9._-]"},
      {"name", {"--name", std::string(65, 'n')}, R"(name = "-x-/")", "[A-Za-z0-9._-]"},
      {"data_dir", {"--data-dir", ""}, R"(data_dir = "")", "must not be empty"},
      {"bind", {"--bind", "foo:1"}, R"(bind = "foo:1")",
       "expected tcp://HOST:PORT, got \"foo:1\""},
      {"bind", {"--bind", "tcp://example.com:7946"}, R"(bind = "tcp://example.com:7946")",
       "HOST must be"},
      {"bind", {"--bind", "tcp://10.0.0.1:65536"}, R"(bind = "tcp://10.0.0.1:")",
       "expected tcp://HOST:PORT"},
      {"bind", {"--bind", "tcp://::1:7946"}, R"(bind = "tcp://[::1]")", "expected tcp://"},
      {"bind", {"--bind", "tcp://1.2.3:7946"}, R"(bind = "tcp://256.0.0.1:7946")", "HOST must"},
      {"advertise", {"--advertise", "tcp://*:7946"}, R"(advertise = "tcp://0.0.0.0:7946")",
       "wildcard"},
      {"advertise", {"--advertise", "tcp://10.0.0.1:0"}, R"(advertise = "tcp://[::]:1")",
       "advertise"},
      {"advertise", {"--advertise", "10.0.0.1:7946"}, R"(advertise = "tcp://bad_host:1")",
       "advertise"},
      {"join", {"--join", "tcp://10.0.0.1:7946"}, R"(join = ["tcp://10.0.0.1:7946"])",
       "expected KEY@tcp://HOST:PORT"},
      {"join", {"--join", "abc@tcp://10.0.0.1:7946"}, R"(join = ["abc@tcp://10.0.0.1:7946"])",
       "64 hex digits"},
      {"join", {"--join", kKeyA + "@tcp://10.0.0.1"}, "join = [\"" + kKeyA + "@udp://h:1\"]",
       "expected tcp://HOST:PORT"},
      {"join", {}, R"(join = "not a list")", "expected an array of strings"},
      {"join", {}, R"(join = [1, 2])", "expected an array of strings"},
      {"control", {"--control", "tcp://10.0.0.1:7947"}, R"(control = "tcp://10.0.0.1:7947")",
       "loopback"},
      {"control", {"--control", "http://x"}, R"(control = "ipc://")", "control endpoint"},
      {"control", {"--control", "ipc:///" + std::string(120, 'p')},
       "control = \"ipc:///" + std::string(120, 'p') + "\"", "limit is 107"},
      {"metrics", {"--metrics", "0.0.0.0:9100"}, R"(metrics = "10.1.1.1:9100")", "loopback only"},
      {"metrics", {"--metrics", "9100"}, R"(metrics = "localhost:9100")", "loopback only"},
      {"fleet_pub", {"--fleet-pub", ""}, R"(fleet_pub = "")", "must not be empty"},
      {"cert", {"--cert", ""}, R"(cert = "")", "must not be empty"},
      {"cert", {"--cert", "a\x01z"}, R"(cert = "a\u0001z")", "control character"},
      {"revocations", {"--revocations", "\x7f"}, R"(revocations = "tab\there")",
       "control character"},
      {"profile", {"--profile", "wan"}, R"(profile = "wan")", "use lan or default"},
      {"profile", {"--profile", ""}, R"(profile = "")", "must not be empty"},
      {"labels", {"--label", "novalue"}, "[labels]\n\"\" = \"x\"", ""},
      {"labels", {"--label", "=x"}, R"(labels = "site=a")", ""},
      {"labels", {"--label", "k=1", "--label", "k=2"}, R"(labels = { a = 1 })", ""},
      {"log_level", {"--log-level", "verbose"}, R"(log_level = "verbose")",
       "expected trace|debug|info|warn|error|off"},
      {"log_format", {"--log-format", "xml"}, R"(log_format = "xml")", "expected text|json"},
      {"log_format", {}, R"(log_format = true)", "expected a string, got a boolean"},
      {"leave_timeout", {"--leave-timeout", "61s"}, R"(leave_timeout = "2m")", "0s and 60s"},
      {"leave_timeout", {"--leave-timeout", "5"}, R"(leave_timeout = "5")", "unit must be"},
      {"leave_timeout", {}, R"(leave_timeout = 5)", "invalid duration"},
      {"profile", {}, R"(profile = true)", "expected a string, got a boolean"},
      {"rounds", {"--rounds", "-1"}, R"(rounds = -1)", "expected a whole number"},
      {"model", {"--model", "resnet"}, R"(model = "resnet")", "resnet"},
      {"data_shard", {"--data-shard", "dirichlet:0.5:10/10"}, R"(data_shard = "iid:3")", "PARTITION:I/N"},
      {"quorum", {"--quorum", "0"}, R"(quorum = 1.5)", "expected a number above"},
      {"codec", {"--codec", "zip"}, R"(codec = "zip")", "zip"},
      {"consensus", {"--consensus", "maybe"}, R"(consensus = "yes")", "on"},
      {"voters", {"--voters", "4"}, R"(voters = 9)", "1|3|5|7"},
      {"bootstrap_expect", {"--bootstrap-expect", "2"}, R"(bootstrap_expect = 0)", "1|3|5|7"},
      {"bootstrap_expect", {"--bootstrap-expect", "7"}, R"(bootstrap_expect = 7)",
       "not be above voters"},
      {"capacity", {"--capacity", "-1"}, R"(capacity = 1001)", "0 to 1000"},
      {"lease", {"--lease", "5ms"}, R"(lease = "2m")", "must be from"},
      {"election_timeout", {"--election-timeout", "1"}, R"(election_timeout = "10ms")", ""},
      {"heartbeat_interval", {"--heartbeat-interval", "400ms"}, R"(heartbeat_interval = "200ms")",
       "a fifth of election_timeout"},
      {"aggregator", {"--aggregator", "mean"}, R"(aggregator = "mean")", "mean"},
      {"byzantine", {"--byzantine", "evil"}, R"(byzantine = "flip")", "signflip, scale"},
      {"round_deadline", {"--round-deadline", "0s"}, R"(round_deadline = "0s")", "above 0s"},
  };
  TempDir dir;
  for (const BadRow& row : rows) {
    INFO("key " << row.key << ", expected '" << row.expected << "'");
    if (!row.flag_args.empty()) {
      const auto result = parse(row.flag_args);
      CHECK_CODE(result, StatusCode::kInvalidArgument);
      const std::string message = message_of(result);
      INFO("flag message: " << message);
      const std::string flag = row.key == "labels" ? "--label" : [&] {
        std::string f = "--" + row.key;
        for (char& c : f) c = c == '_' ? '-' : c;
        return f;
      }();
      CHECK(message.find("flag " + flag + ": ") == 0);
      CHECK(message.find(row.expected) != std::string::npos);
      CHECK(message.find('\n') == std::string::npos);
    }
    if (!row.toml.empty()) {
      const std::string path = write_file(dir, "bad.toml", "# line 1\n" + row.toml + "\n");
      const auto result = parse({"--config", path});
      CHECK_CODE(result, StatusCode::kInvalidArgument);
      const std::string message = message_of(result);
      INFO("file message: " << message);
      CHECK(message.find("config key '" + row.key) == 0);
      CHECK(message.find(" at " + path + ":2") != std::string::npos);
      CHECK(message.find(row.expected) != std::string::npos);
      CHECK(message.find('\n') == std::string::npos);
    }
  }
}

TEST_CASE("a label value that is not a string names the label") {
  TempDir dir;
  const std::string path = write_file(dir, "a.toml", "[labels]\nsite = \"a\"\nzone.a = \"b\"\n");
  const auto result = parse({"--config", path});
  CHECK_CODE(result, StatusCode::kInvalidArgument);
  CHECK(message_of(result).find("config key 'labels.zone' at " + path + ":3") == 0);
  CHECK(message_of(result).find("quote keys that contain dots") != std::string::npos);
}

TEST_CASE("labels come from repeated flags or the labels table within the metadata limits") {
  const auto flags = parse({"--label", "site=plant-3", "--label", "role=a=b", "--label", "e="});
  REQUIRE_OK(flags);
  CHECK(flags->config.labels ==
        std::map<std::string, std::string>{{"e", ""}, {"role", "a=b"}, {"site", "plant-3"}});

  TempDir dir;
  const std::string path =
      write_file(dir, "a.toml", "[labels]\n\"zone.a\" = \"x\"\n\"rack/1\" = \"ü\"\n");
  const auto file = parse({"--config", path});
  REQUIRE_OK(file);
  CHECK(file->config.labels ==
        std::map<std::string, std::string>{{"rack/1", "ü"}, {"zone.a", "x"}});

  std::vector<std::string> many;
  for (int i = 0; i < 33; ++i) {
    many.push_back("--label");
    many.push_back("k" + std::to_string(i) + "=v");
  }
  const auto too_many = parse(many);
  CHECK_CODE(too_many, StatusCode::kInvalidArgument);
  CHECK(message_of(too_many).find("flag --label: metadata has 33 entries") == 0);

  const auto too_big = parse({"--label", "k=" + std::string(1100, 'v')});
  CHECK_CODE(too_big, StatusCode::kInvalidArgument);
  CHECK(message_of(too_big).find("exceeds the limit of 1024") != std::string::npos);

  const auto twice = parse({"--label", "k=1", "--label", "k=2"});
  CHECK(message_of(twice) == "flag --label: key \"k\" given twice");
}

TEST_CASE("join takes repeated seeds as KEY at tcp HOST PORT and lower-cases the key") {
  const std::string upper(64, 'A');
  const auto result = parse({"--join", upper + "@tcp://10.0.0.2:7946", "--join",
                             kKeyA + "@tcp://[fd00::2]:7946", "--join",
                             kKeyA + "@tcp://seed-1.example.com:7946"});
  REQUIRE_OK(result);
  CHECK(result->config.join == std::vector<std::string>{kKeyA + "@tcp://10.0.0.2:7946",
                                                        kKeyA + "@tcp://[fd00::2]:7946",
                                                        kKeyA + "@tcp://seed-1.example.com:7946"});
  // One seed per --join: a second word is not another seed.
  const auto two_words = parse({"--join", kKeyA + "@tcp://10.0.0.2:7946", "x"});
  CHECK_CODE(two_words, StatusCode::kInvalidArgument);
  CHECK(message_of(two_words).find("command line: ") == 0);

  for (const std::string& bad :
       {kKeyA + "@tcp://*:7946", kKeyA + "@tcp://10.0.0.2:0", std::string(65, 'a') + "@tcp://h:1",
        std::string(63, 'a') + "g@tcp://h:1", kKeyA + "tcp://h:1"}) {
    INFO(bad);
    const auto r = parse({"--join", bad});
    CHECK_CODE(r, StatusCode::kInvalidArgument);
    CHECK(message_of(r).find("flag --join: ") == 0);
  }
}

TEST_CASE("a wildcard bind needs advertise and port 0 leaves advertise to the daemon") {
  for (const char* bind : {"tcp://*:7946", "tcp://0.0.0.0:7946", "tcp://[::]:7946",
                           "tcp://0.0.0.0:0"}) {
    INFO(bind);
    const auto missing = parse({"--bind", bind});
    CHECK_CODE(missing, StatusCode::kInvalidArgument);
    CHECK(message_of(missing).find("config key 'advertise': required when bind") == 0);
    const auto empty = parse({"--bind", bind, "--advertise", ""});
    CHECK(message_of(empty).find("flag --advertise: required when bind") == 0);
    const auto given = parse({"--bind", bind, "--advertise", "tcp://10.0.0.5:7946"});
    REQUIRE_OK(given);
    CHECK(given->config.advertise == "tcp://10.0.0.5:7946");
  }
  const auto any_port = parse({"--bind", "tcp://127.0.0.1:0"});
  REQUIRE_OK(any_port);
  CHECK(any_port->config.advertise.empty());
  const auto v6 = parse({"--bind", "tcp://[fd00::1]:7946"});
  REQUIRE_OK(v6);
  CHECK(v6->config.advertise == "tcp://[fd00::1]:7946");
  const auto dns = parse({"--advertise", "tcp://gw-1.plant.example:7946"});
  REQUIRE_OK(dns);
  CHECK(dns->config.advertise == "tcp://gw-1.plant.example:7946");
}

TEST_CASE("an unknown TOML key is an error naming it") {
  TempDir dir;
  const std::string path = write_file(dir, "a.toml", "bind = \"tcp://127.0.0.1:1\"\nbnd = \"x\"\n");
  const auto typo = parse({"--config", path});
  CHECK_CODE(typo, StatusCode::kInvalidArgument);
  CHECK(message_of(typo) ==
        "config file " + path + ":2: unknown key \"bnd\" (did you mean 'bind'?)");

  const std::string other = write_file(dir, "b.toml", "[transport]\nqueue = 3\n");
  const auto table = parse({"--config", other});
  CHECK_CODE(table, StatusCode::kInvalidArgument);
  CHECK(message_of(table).find("unknown key \"transport\" (known keys: name, data_dir") !=
        std::string::npos);

  const std::string config_key = write_file(dir, "c.toml", "config = \"/etc/x.toml\"\n");
  CHECK(message_of(parse({"--config", config_key})).find("unknown key \"config\"") !=
        std::string::npos);
}

TEST_CASE("a TOML syntax error names the file line and column") {
  TempDir dir;
  const std::string path =
      write_file(dir, "a.toml", "name = \"gw-1\"\nlog_level = \"info\"\nbind = tcp://x\n");
  const auto result = parse({"--config", path});
  CHECK_CODE(result, StatusCode::kInvalidArgument);
  const std::string message = message_of(result);
  INFO(message);
  CHECK(message.find("config file " + path + ":3:") == 0);
  CHECK(message.find("TOML syntax error") != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);

  const std::string twice = write_file(dir, "b.toml", "name = \"a\"\nname = \"b\"\n");
  CHECK(message_of(parse({"--config", twice})).find("config file " + twice + ":2:") == 0);
}

TEST_CASE("a missing config file is an error naming the path") {
  TempDir dir;
  const std::string path = (dir / "nope.toml").string();
  const auto result = parse({"--config", path});
  CHECK_CODE(result, StatusCode::kNotFound);
  CHECK(message_of(result) == "config file " + path + " does not exist");
  CHECK_CODE(parse({"--config", dir.path().string()}), StatusCode::kInvalidArgument);
}

TEST_CASE("unknown flags and repeated single flags are usage errors") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--bnd", "tcp://127.0.0.1:1"},
           {"--bind", "tcp://127.0.0.1:1", "--bind", "tcp://127.0.0.1:2"},
           {"--bind"},
           {"positional"}}) {
    const auto result = parse(args);
    CHECK_CODE(result, StatusCode::kInvalidArgument);
    INFO(message_of(result));
    CHECK(message_of(result).find("command line: ") == 0);
    CHECK(message_of(result).find('\n') == std::string::npos);
  }
}

TEST_CASE("help and version return their text without validating anything") {
  const auto help = parse({"--bind", "nonsense", "--help"}, Environment{});
  REQUIRE_OK(help);
  CHECK(help->kind == ParseOutcome::kHelp);
  for (const char* flag : {"--config", "--check-config", "--name", "--data-dir", "--bind",
                           "--advertise", "--join", "--control", "--metrics", "--fleet-pub",
                           "--cert", "--revocations", "--profile", "--label", "--log-level",
                           "--log-format", "--leave-timeout", "--version"}) {
    INFO(flag);
    CHECK(help->text.find(flag) != std::string::npos);
  }
  const auto version = parse({"--version"}, Environment{});
  REQUIRE_OK(version);
  CHECK(version->kind == ParseOutcome::kVersion);
  CHECK(version->text.find("starlingd ") == 0);
  CHECK(version->text.back() == '\n');
}

TEST_CASE("check-config returns the effective config as TOML") {
  const auto result = parse({"--check-config", "--name", "gw-1"});
  REQUIRE_OK(result);
  CHECK(result->kind == ParseOutcome::kCheckConfig);
  CHECK(result->config.name == "gw-1");
  CHECK(result->text == to_toml(result->config));
  CHECK(result->text.find("name = \"gw-1\"\n") != std::string::npos);
  CHECK(result->text.find("leave_timeout = \"2s\"\n") != std::string::npos);
  // An invalid configuration is still an error.
  CHECK_CODE(parse({"--check-config", "--bind", "x"}), StatusCode::kInvalidArgument);
}

TEST_CASE("byzantine is off by default and none keeps it off") {
  const auto defaults = parse({});
  REQUIRE_OK(defaults);
  CHECK(defaults->config.learning.byzantine.empty());
  const auto none = parse({"--byzantine", "none"});
  REQUIRE_OK(none);
  CHECK(none->config.learning.byzantine.empty());
  CHECK(to_toml(none->config).find("byzantine") == std::string::npos);
  const auto flip = parse({"--byzantine", "labelflip"});
  REQUIRE_OK(flip);
  CHECK(flip->config.learning.byzantine == "labelflip");
}

TEST_CASE("to_toml round trips through parse_config") {
  TempDir dir;
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"--bind", "tcp://127.0.0.1:0"},
      {"--name", "gw-1.plant_3", "--data-dir", "/var/lib/star \"ling\"", "--bind",
       "tcp://0.0.0.0:7000", "--advertise", "tcp://gw-1.example.com:7000", "--join",
       kKeyB + "@tcp://10.0.0.2:7946", "--join", kKeyA + "@tcp://[fd00::2]:7946", "--control",
       "tcp://127.0.0.1:7947", "--metrics", "[::1]:0", "--fleet-pub", "/etc/starling/fleet.pub",
       "--cert", "C:\\certs\\device.cert", "--revocations", "/etc/starling/revocations.list",
       "--profile", "lan", "--label", "zone.a=b \"quoted\" \\ back", "--label", "rack/1=ü",
       "--label", "plain=", "--log-level", "debug", "--log-format", "json", "--leave-timeout",
       "1500ms"},
      {"--leave-timeout", "0s", "--log-level", "off", "--metrics", "127.0.0.2:9100"},
      {"--model", "mlp", "--byzantine", "signflip", "--norm-filter", "3"},
  };
  for (const auto& args : cases) {
    const auto first = parse(args);
    REQUIRE_OK(first);
    const std::string text = to_toml(first->config);
    INFO(text);
    const std::string path = write_file(dir, "round.toml", text);
    // No environment: every default was written out.
    const auto second = parse({"--config", path}, Environment{});
    REQUIRE_OK(second);
    DaemonConfig expected = first->config;
    expected.config_file = path;
    CHECK(second->config == expected);
    CHECK(to_toml(second->config) == text);
  }
}

TEST_CASE("the example packaging agent.toml is valid and documents every key at its default") {
  const std::string path = std::string(STARLING_SOURCE_DIR) + "/packaging/agent.toml";
  const Environment env = Environment::from_map({{"STATE_DIRECTORY", "/var/lib/starling"}});
  const auto example = parse({"--config", path}, env);
  REQUIRE_OK(example);
  const auto defaults = parse({}, env);
  REQUIRE_OK(defaults);
  DaemonConfig expected = defaults->config;
  expected.config_file = path;
  CHECK(example->config == expected);

  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  for (const char* key : {"name", "data_dir", "bind", "advertise", "join", "control", "metrics",
                          "fleet_pub", "cert", "revocations", "profile", "log_level",
                          "log_format", "leave_timeout"}) {
    INFO(key);
    const bool set = text.find("\n" + std::string(key) + " = ") != std::string::npos;
    const bool commented = text.find("\n# " + std::string(key) + " = ") != std::string::npos;
    CHECK((set || commented));
  }
  CHECK(text.find("\n[labels]\n") != std::string::npos);
  // The commented defaults are the ones the packaged unit's STATE_DIRECTORY gives.
  for (const std::string& line :
       {"# data_dir = \"" + expected.data_dir + "\"", "# control = \"" + expected.control + "\"",
        "# fleet_pub = \"" + expected.fleet_pub + "\"", "# cert = \"" + expected.cert + "\""}) {
    INFO(line);
    CHECK(text.find(line) != std::string::npos);
  }
}

TEST_CASE("the process environment is read through getenv") {
  const Environment env = Environment::process();
  CHECK(env.get("STARLING_SURELY_UNSET_VARIABLE_1234") == std::nullopt);
  CHECK(Environment{}.get("HOME") == std::nullopt);
  CHECK(Environment::from_map({{"HOME", ""}}).get("HOME") == std::nullopt);
}

}  // namespace
}  // namespace starling::daemon
