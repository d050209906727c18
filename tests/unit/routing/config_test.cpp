// Config loading: the example file loads, and every mistake is reported where it is.
#include "infergate/config.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "routing/config_values.hpp"

#include "config_issues.hpp"

using namespace infergate;
using namespace std::chrono_literals;

namespace {

// The one issue `yaml` must produce.
ConfigIssue single_issue(const std::string& yaml) {
  const auto issues = issues_of(yaml);
  REQUIRE_MESSAGE(issues.size() == 1, yaml);
  return issues.front();
}

const std::string kPools = R"(pools:
  - name: qwen
    endpoints: [127.0.0.1:8001, 127.0.0.1:8002]
  - name: canary
    endpoints: [127.0.0.1:8003]
)";

}  // namespace

TEST_CASE("the example config/gateway.yaml loads") {
  const GatewayConfig config = load_config_file(INFERGATE_SOURCE_ROOT "/config/gateway.yaml");
  REQUIRE(config.pools.size() == 2);
  CHECK(config.pools[0].name == "qwen");
  CHECK(config.pools[0].endpoints == std::vector<HostPort>{{"127.0.0.1", 8001}, {"127.0.0.1", 8002}});
  REQUIRE(config.models.size() == 2);
  const ModelConfig& qwen = config.models[0];
  CHECK(qwen.name == "Qwen/Qwen3-0.6B");
  REQUIRE(qwen.targets.size() == 2);
  CHECK(qwen.targets[0].pool == "qwen");
  CHECK(qwen.targets[0].weight == 90);
  CHECK(qwen.targets[1].pool == "qwen-canary");
  CHECK(qwen.targets[1].weight == 10);
  const ModelConfig& alias = config.models[1];
  CHECK(alias.name == "support-bot");
  REQUIRE(alias.targets.size() == 1);
  CHECK(alias.targets[0].model == "support-lora");
  CHECK(alias.targets[0].weight == 1);
  CHECK(config.workers == 0);
}

TEST_CASE("the configuration reference in README.md loads") {
  std::ifstream in(INFERGATE_SOURCE_ROOT "/README.md");
  REQUIRE(in.good());
  const std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t section = readme.find("## Configuration reference");
  REQUIRE(section != std::string::npos);
  const std::size_t start = readme.find("```yaml\n", section);
  REQUIRE(start != std::string::npos);
  const std::size_t end = readme.find("```", start + 8);
  REQUIRE(end != std::string::npos);
  const GatewayConfig config = load_config_string(readme.substr(start + 8, end - start - 8));
  CHECK(config.models.size() >= 1);
  CHECK(config.pools.size() >= 1);
}

TEST_CASE("every setting is read") {
  const GatewayConfig config = load_config_string(R"(
listen: "[::1]:0"
admin: localhost:9191
workers: 3
max_body_bytes: 8MiB
max_header_bytes: 16384
max_attempts: 2
debug_headers: true
timeouts: {connect: 500ms, first_byte: 10m, stream_idle: 1m30s, client_header: 5s,
           client_body: 1.5s, keepalive_idle: 2000, drain: 0}
pools:
  - {name: p, endpoints: []}
models:
  - {name: short, pool: p, model: served}
  - {name: plain, pool: p}
)");
  CHECK(config.listen == HostPort{"::1", 0});
  CHECK(config.admin == HostPort{"localhost", 9191});
  CHECK(config.workers == 3);
  CHECK(config.max_body_bytes == 8u << 20);
  CHECK(config.max_header_bytes == 16384);
  CHECK(config.max_attempts == 2);
  CHECK(config.debug_headers);
  CHECK(config.timeouts.connect == 500ms);
  CHECK(config.timeouts.first_byte == 10min);
  CHECK(config.timeouts.stream_idle == 90s);
  CHECK(config.timeouts.client_header == 5s);
  CHECK(config.timeouts.client_body == 1500ms);
  CHECK(config.timeouts.keepalive_idle == 2s);
  CHECK(config.timeouts.drain == 0ms);
  CHECK(config.pools.at(0).endpoints.empty());
  REQUIRE(config.models.size() == 2);
  CHECK(config.models[0].targets.at(0).pool == "p");
  CHECK(config.models[0].targets.at(0).model == "served");
  CHECK(config.models[1].targets.at(0).model.empty());
}

TEST_CASE("defaults: an empty file") {
  const GatewayConfig config = load_config_string("");
  CHECK(config.max_body_bytes == 32u << 20);
  CHECK(config.listen == HostPort{"0.0.0.0", 8080});
  CHECK(config.pools.empty());
}

TEST_CASE("each mistake is located: line, column, field") {
  struct Case {
    std::string yaml;
    int line;
    int column;
    std::string field;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"listen: 1.2.3.4\n", 1, 9, "listen", "missing ':port'"},
      {"listen: 1.2.3.4:70000\n", 1, 9, "listen", "port"},
      {"admin: '::1:80'\n", 1, 8, "admin", "[addr]:port"},
      {"admin: 300.1.1.1:80\n", 1, 8, "admin", "invalid IPv4"},
      {"admin: bad/host:80\n", 1, 8, "admin", "invalid host name"},
      {"workers: lots\n", 1, 10, "workers", "'auto'"},
      {"workers: 0\n", 1, 10, "workers", "1 to 1024"},
      {"max_body_bytes: 32XB\n", 1, 17, "max_body_bytes", "expected a size"},
      {"max_header_bytes: 10\n", 1, 19, "max_header_bytes", "from 1024"},
      {"max_attempts: two\n", 1, 15, "max_attempts", "integer"},
      {"debug_headers: sometimes\n", 1, 16, "debug_headers", "true or false"},
      {"timeouts:\n  connect: 2 s\n", 2, 12, "timeouts.connect", "duration"},
      {"timeouts:\n  connect: 0s\n", 2, 12, "timeouts.connect", "longer than 0"},
      {"timeouts:\n  conect: 2s\n", 2, 3, "timeouts.conect", "did you mean 'connect'"},
      {"timeouts: 5s\n", 1, 11, "timeouts", "expected a map"},
      {"listen:\n  - a\n", 2, 3, "listen", "expected host:port"},
      {"listen: [::1]\n", 1, 9, "listen", "quote IPv6 addresses"},
      {"pools:\n  - name: p\n    endpoints: [[::1]:80]\n", 3, 17, "pools[0].endpoints[0]",
       "quote IPv6 addresses"},
      {"listen: [::1]:80\n", 1, 14, "", "quote IPv6 addresses"},
      {"listeners: 1.2.3.4:80\n", 1, 1, "listeners", "unknown key"},
      {"pools: {name: x}\n", 1, 8, "pools", "expected a list"},
      {"pools:\n  - name: p\n", 2, 5, "pools[0]", "missing required key 'endpoints'"},
      {"pools:\n  - name: p\n    endpoints: [1.2.3.4:0]\n", 3, 17, "pools[0].endpoints[0]",
       "port from 1"},
      {"pools:\n  - name: p\n    endpoints: [a:1, a:1]\n", 3, 22, "pools[0].endpoints[1]",
       "listed twice"},
      {"pools:\n  - name: p\n    endpoints: []\n  - name: p\n    endpoints: []\n", 4, 11,
       "pools[1].name", "duplicate pool name 'p' (first at line 2)"},
      {"pools:\n  - name: ''\n    endpoints: []\n", 2, 11, "pools[0].name", "must not be empty"},
      {"pools:\n  - name: [a]\n    endpoints: []\n", 2, 11, "pools[0].name", "expected a string"},
      {"pools:\n  - name:\n    endpoints: []\n", 2, 5, "pools[0].name", "no value given"},
      {"pools:\n  - name: p\n    endpoints: [~]\n", 3, 17, "pools[0].endpoints[0]", "got nothing"},
      {"pools:\n  - name: p\n    endpoints:\n", 0, 0, "", ""},  // no endpoints: allowed
      {kPools + "models:\n  - name: m\n    targets: [{pool: nope}]\n", 8, 22,
       "models[0].targets[0].pool", "unknown pool 'nope' (pools: canary qwen)"},
      {kPools + "models:\n  - name: m\n    pool: nope\n", 8, 11, "models[0].pool",
       "unknown pool 'nope'"},
      {kPools + "models:\n  - name: m\n    targets: [{pool: qwen, weight: 0}]\n", 8, 14,
       "models[0].targets", "add up to 0"},
      {kPools + "models:\n  - name: m\n    targets: [{pool: qwen, weight: -3}]\n", 8, 36,
       "models[0].targets[0].weight", "integer"},
      {kPools + "models:\n  - name: m\n    targets: [{pool: qwen, wieght: 3}]\n", 8, 28,
       "models[0].targets[0].wieght", "did you mean 'weight'"},
      {kPools + "models:\n  - name: m\n    targets: []\n", 8, 14, "models[0].targets",
       "at least one target"},
      {kPools + "models:\n  - name: m\n", 7, 5, "models[0]", "missing required key 'targets'"},
      {kPools + "models:\n  - name: m\n    pool: qwen\n    targets: [{pool: qwen}]\n", 7, 5,
       "models[0]", "not both"},
      {kPools + "models:\n  - {name: m, pool: qwen}\n  - {name: m, pool: canary}\n", 8, 12,
       "models[1].name", "duplicate model name 'm' (first at line 7)"},
      {kPools + "models:\n  - {name: m, pool: qwen, model: ''}\n", 7, 34, "models[0].model",
       "must not be empty"},
      {kPools + "models:\n  - {pool: qwen}\n", 7, 5, "models[0]", "missing required key 'name'"},
      {"listen: 127.0.0.1:80\nadmin: 127.0.0.1:80\n", 2, 8, "admin", "same address"},
      {"pools: []\npools: []\n", 2, 1, "pools", "duplicate key (first at line 1)"},
      {"listen: [1.2.3.4:80\n", 2, 1, "", ""},  // YAML syntax error, located
      {"workers: 2\n---\nworkers: 3\n", 3, 1, "", "must be one document"},
      {"workers: 2\n%models:\n  - x\n", 3, 3, "", "must be one document"},
      {" workers: 2\nmax_attempts: 2\n", 2, 1, "", "must be one document"},
      {"workers: 2\n---\n", 0, 0, "", ""},  // an empty second document is nothing
      {"---\nworkers: 2\n...\n", 0, 0, "", ""},  // markers around one document: fine
      {"# comment\n\n, a\nworkers: 2\n", 3, 1, "", "expected a map"},
      {"  , 8003 is the canary\nworkers: 2\n", 1, 3, "", "expected a map"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.yaml);
    if (c.line == 0) {
      CHECK(issues_of(c.yaml).empty());
      continue;
    }
    const ConfigIssue issue = single_issue(c.yaml);
    CAPTURE(issue.str());
    CHECK(issue.file == "test.yaml");
    CHECK(issue.line == c.line);
    CHECK(issue.column == c.column);
    CHECK(issue.field == c.field);
    CHECK(issue.message.find(c.message_part) != std::string::npos);
  }
}

TEST_CASE("several mistakes are reported at once, in file order") {
  const auto issues = issues_of(R"(listen: nowhere
workers: many
pools:
  - name: a
    endpoints: [x:1]
    extra: 1
models:
  - name: m
    targets: [{pool: b}]
)");
  REQUIRE(issues.size() == 4);
  CHECK(issues[0].str() == "test.yaml:1:9: listen: 'nowhere' is not host:port: missing ':port'");
  CHECK(issues[1].line == 2);
  CHECK(issues[2].line == 6);
  CHECK(issues[2].field == "pools[0].extra");
  CHECK(issues[3].str() == "test.yaml:9:22: models[0].targets[0].pool: unknown pool 'b' (pools: a)");
  // what() lists them all, one per line.
  try {
    load_config_string("workers: many\nmax_attempts: 0\n", "x.yaml");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          "x.yaml:1:10: workers: expected 'auto' or a number of threads from 1 to 1024, got 'many'\n"
          "x.yaml:2:15: max_attempts: expected an integer from 1 to 16, got '0'");
  }
}

TEST_CASE("a directory is not an empty config") {
  try {
    load_config_file(INFERGATE_SOURCE_ROOT "/config");
    FAIL("no error");
  } catch (const ConfigError& e) {
    REQUIRE(e.issues().size() == 1);
    CHECK(e.issues()[0].message == "is a directory, not a config file");
  }
}

TEST_CASE("a missing file is an error naming it") {
  try {
    load_config_file("/nonexistent/gateway.yaml");
    FAIL("no error");
  } catch (const ConfigError& e) {
    REQUIRE(e.issues().size() == 1);
    CHECK(e.issues()[0].str() == "/nonexistent/gateway.yaml: cannot open the file");
  }
}

TEST_CASE("host:port") {
  struct Case {
    std::string text;
    std::string host;
    std::uint16_t port;
    std::string str;
  };
  const std::vector<Case> good = {
      {"1.2.3.4:80", "1.2.3.4", 80, "1.2.3.4:80"},
      {"[::1]:8080", "::1", 8080, "[::1]:8080"},
      {"[fe80::1:2]:1", "fe80::1:2", 1, "[fe80::1:2]:1"},
      {"model-server.ns.svc:8000", "model-server.ns.svc", 8000, "model-server.ns.svc:8000"},
      {"localhost:0", "localhost", 0, "localhost:0"},
      {"host_1:65535", "host_1", 65535, "host_1:65535"},
  };
  for (const auto& c : good) {
    CAPTURE(c.text);
    const HostPort hp = parse_host_port(c.text);
    CHECK(hp.host == c.host);
    CHECK(hp.port == c.port);
    CHECK(hp.str() == c.str);
  }
  for (const std::string bad : {"", ":80", "host", "host:", "host:x", "host:65536", "host:-1",
                                "::1:80", "[::1]", "[::1]80", "[nothost]:80", "1.2.3:80",
                                "a..b:80", "a b:80", "host:80 "}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_host_port(bad), std::invalid_argument);
  }
}

TEST_CASE("sizes and durations") {
  struct Size {
    std::string_view text;
    std::optional<std::size_t> bytes;
  };
  for (const auto& c : std::vector<Size>{{"0", 0},
                                         {"123", 123},
                                         {"123B", 123},
                                         {"64KiB", 64u << 10},
                                         {"32MiB", 32u << 20},
                                         {"32mib", 32u << 20},
                                         {"1GiB", 1u << 30},
                                         {"2KB", 2000},
                                         {"2MB", 2'000'000},
                                         {"1GB", 1'000'000'000},
                                         {"", std::nullopt},
                                         {"MiB", std::nullopt},
                                         {"-1", std::nullopt},
                                         {"1.5MiB", std::nullopt},
                                         {"32 MiB", std::nullopt},
                                         {"32XiB", std::nullopt},
                                         {"99999999999999999999", std::nullopt},
                                         {"99999999999GiB", std::nullopt}}) {
    CAPTURE(c.text);
    CHECK(parse_size(c.text) == c.bytes);
  }
  struct Duration {
    std::string_view text;
    std::optional<Millis> value;
  };
  for (const auto& c : std::vector<Duration>{{"0", 0ms},
                                             {"250", 250ms},
                                             {"500ms", 500ms},
                                             {"2s", 2s},
                                             {"1.5s", 1500ms},
                                             {"10m", 10min},
                                             {"1h", 1h},
                                             {"1h30m", 90min},
                                             {"1m30s", 90s},
                                             {"0s", 0ms},
                                             {"", std::nullopt},
                                             {"s", std::nullopt},
                                             {"2", 2ms},
                                             {"2 s", std::nullopt},
                                             {"-2s", std::nullopt},
                                             {"2d", std::nullopt},
                                             {"2sec", std::nullopt},
                                             {"infs", std::nullopt},
                                             {"31d", std::nullopt},
                                             {"1000h", std::nullopt}}) {
    CAPTURE(c.text);
    CHECK(parse_duration(c.text) == c.value);
  }
}

TEST_CASE("mangled configs fail with located issues, never anything else") {
  std::ifstream in(INFERGATE_SOURCE_ROOT "/config/gateway.yaml");
  const std::string seed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE_FALSE(seed.empty());
  const std::string alphabet = "[]{},:-#&*!|>'\"%@`\n \t0a~?.\\";
  std::mt19937_64 rng(7);
  int refused = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string yaml = seed;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % yaml.size();
      const char c = alphabet[rng() % alphabet.size()];
      if (rng() % 2) yaml[at] = c; else yaml.insert(yaml.begin() + static_cast<std::ptrdiff_t>(at), c);
    }
    try {
      load_config_string(yaml, "fuzz.yaml");
    } catch (const ConfigError& e) {
      ++refused;
      REQUIRE_FALSE(e.issues().empty());
      for (const auto& issue : e.issues()) {
        CAPTURE(yaml);
        CHECK(issue.file == "fuzz.yaml");
        CHECK_FALSE(issue.message.empty());
      }
    }  // anything else escapes and fails the test
  }
  CHECK(refused > 1000);
}
