// The front door's config blocks: auth (keys), limits, and per pool upstream_auth and tls.
// Every setting is read; every mistake is reported at its line and field, never quoting a key.
#include "infergate/config.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include "routing/api_key_text.hpp"
#include "routing/config_auth.hpp"

#include "config_issues.hpp"

using namespace infergate;
using namespace std::chrono_literals;

namespace {

// SHA-256 of "test" (printf %s test | sha256sum).
const std::string kTestDigest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

// A readable scratch file (the loader checks that key and certificate files can be read), and a
// scratch directory for keys_dir; both removed by the destructor.
struct Scratch {
  std::string file;
  std::string dir;
  Scratch() {
    char file_path[] = "/tmp/infergate-auth-cfg-XXXXXX";
    const int fd = mkstemp(file_path);
    REQUIRE(fd >= 0);
    close(fd);
    file = file_path;
    char dir_path[] = "/tmp/infergate-auth-dir-XXXXXX";
    REQUIRE(mkdtemp(dir_path) != nullptr);
    dir = dir_path;
  }
  ~Scratch() {
    std::remove(file.c_str());
    rmdir(dir.c_str());
  }
  // `yaml` with FILE and DIR replaced by the scratch paths.
  std::string fill(std::string yaml) const {
    for (const auto& [token, value] : {std::pair<std::string, std::string>{"FILE", file}, {"DIR", dir}}) {
      for (std::size_t at = yaml.find(token); at != std::string::npos; at = yaml.find(token, at + value.size())) {
        yaml.replace(at, token.size(), value);
      }
    }
    return yaml;
  }
};

const std::string kPool = "pools:\n  - name: p\n    endpoints: [127.0.0.1:8001]\n";

}  // namespace

TEST_CASE("auth and limits absent: everything as before") {
  const GatewayConfig config = load_config_string(kPool);
  CHECK_FALSE(config.auth.enabled);
  CHECK(config.auth.keys.empty());
  CHECK(config.limits == LimitsConfig{});
  CHECK_FALSE(config.pools[0].upstream_auth.mode.has_value());
  CHECK_FALSE(config.pools[0].tls.enabled);
}

TEST_CASE("every auth setting is read, with the documented defaults") {
  const Scratch scratch;
  const GatewayConfig config = load_config_string(scratch.fill(R"(auth:
  keys:
    - name: alice-laptop
      key: ")" + kTestDigest + R"("
      team: research
      models: ["llama-3-8b", "qwen*"]
      priority: critical
      limits: {requests_per_minute: 600, tokens_per_minute: 100000}
      model_limits:
        llama-3-8b: {requests_per_minute: 60}
    - key: clear-key-1
    - key: clear-key-2
      team: support
      priority: -3
  keys_dir: DIR
  reload_interval: 250ms
)"));
  const AuthConfig& auth = config.auth;
  CHECK(auth.enabled);
  CHECK(auth.keys_dir == scratch.dir);
  CHECK(auth.reload_interval == 250ms);
  REQUIRE(auth.keys.size() == 3);
  const ApiKeyConfig& alice = auth.keys[0];
  CHECK(alice.name == "alice-laptop");
  CHECK(alice.key == kTestDigest);
  CHECK(alice.team == "research");
  CHECK(alice.models == std::vector<std::string>{"llama-3-8b", "qwen*"});
  CHECK(alice.priority == priority::critical);
  CHECK(alice.limits == RateLimit{600, 100000});
  REQUIRE(alice.model_limits.size() == 1);
  CHECK(alice.model_limits.at("llama-3-8b") == RateLimit{60, 0});
  // Defaults: "<team>-<index in the list>", team "default", every model, no priority, no limits.
  CHECK(auth.keys[1].name == "default-1");
  CHECK(auth.keys[1].team == "default");
  CHECK(auth.keys[1].models.empty());
  CHECK_FALSE(auth.keys[1].priority.has_value());
  CHECK_FALSE(auth.keys[1].limits.any());
  CHECK(auth.keys[2].name == "support-2");
  CHECK(auth.keys[2].priority == -3);
}

TEST_CASE("limits, upstream_auth and tls are read") {
  const Scratch scratch;
  struct Case {
    std::string store;
    HostPort redis;
    unsigned db;
  };
  for (const Case& c : std::vector<Case>{{"local", {}, 0},
                                         {"redis://127.0.0.1:6379", {"127.0.0.1", 6379}, 0},
                                         {"redis://redis.infra:6380/2", {"redis.infra", 6380}, 2},
                                         {"\"redis://[::1]:7000/15\"", {"::1", 7000}, 15}}) {
    CAPTURE(c.store);
    const LimitsConfig limits = load_config_string("limits:\n  store: " + c.store + "\n").limits;
    CHECK(limits.redis == c.redis);
    CHECK(limits.redis_db == c.db);
  }
  const LimitsConfig limits = load_config_string(R"(limits:
  store: redis://10.0.0.1:6379
  on_store_error: deny
  redis_timeout: 50ms
  default_max_tokens: 256
  stream_usage: false
)").limits;
  CHECK(limits.store == "redis://10.0.0.1:6379");
  CHECK_FALSE(limits.fail_open);
  CHECK(limits.redis_timeout == 50ms);
  CHECK(limits.default_max_tokens == 256);
  CHECK_FALSE(limits.stream_usage);
  CHECK(load_config_string("limits: {on_store_error: allow}\n").limits.fail_open);

  const GatewayConfig config = load_config_string(scratch.fill(R"(pools:
  - name: a
    endpoints: []
    upstream_auth: {mode: replace, key_file: FILE}
    tls: {ca_file: FILE, server_name: vllm.internal, cert_file: FILE, key_file: FILE, verify: false}
  - name: b
    endpoints: []
    upstream_auth: {mode: drop}
    tls: {}
  - name: c
    endpoints: []
    upstream_auth: {mode: pass}
    tls:
)"));
  REQUIRE(config.pools.size() == 3);
  CHECK(config.pools[0].upstream_auth == UpstreamAuthConfig{UpstreamAuthMode::replace, scratch.file});
  CHECK(config.pools[0].tls == UpstreamTlsConfig{true, scratch.file, "vllm.internal", scratch.file,
                                                 scratch.file, false});
  CHECK(config.pools[1].upstream_auth.mode == UpstreamAuthMode::drop);
  CHECK(config.pools[1].tls == UpstreamTlsConfig{.enabled = true});
  CHECK(config.pools[2].upstream_auth.mode == UpstreamAuthMode::pass);
  CHECK(config.pools[2].tls.enabled);
  CHECK(config.pools[2].tls.verify);
}

TEST_CASE("each mistake in the front door's blocks is located: line and field") {
  const Scratch scratch;
  struct Case {
    std::string yaml;
    int line;
    std::string field;
    std::string message_part;
  };
  const std::string keys = "auth:\n  keys:\n";  // entries start at line 3
  const std::string k1025(1025, 'k');
  const std::vector<Case> cases = {
      // auth
      {"auth: {}\n", 1, "auth", "auth needs keys or keys_dir"},
      {"auth:\n  keys: []\n", 2, "auth", "auth needs keys or keys_dir"},
      {"auth:\n  reload_interval: 1s\n", 2, "auth", "auth needs keys or keys_dir"},
      {"auth:\n", 1, "auth", "no value given"},
      {"auth: [a]\n", 1, "auth", "expected a map"},
      {"auth:\n  keys_dir: DIR\n  key: x\n", 3, "auth.key", "did you mean 'keys'"},
      {"auth:\n  keys_dir: /nonexistent/keys\n", 2, "auth.keys_dir", "not a readable directory"},
      {"auth:\n  keys_dir: FILE\n", 2, "auth.keys_dir", "not a readable directory"},
      {"auth:\n  keys_dir: DIR\n  reload_interval: 0s\n", 3, "auth.reload_interval", "longer than 0"},
      {"auth:\n  keys: {key: x}\n", 2, "auth.keys", "expected a list"},
      {keys + "    - team: t\n", 3, "auth.keys[0]", "missing required key 'key'"},
      {keys + "    - key: \"sha256:9f86\"\n", 3, "auth.keys[0].key", "64 hex digits"},
      {keys + "    - key: \"" + kTestDigest + "0\"\n", 3, "auth.keys[0].key", "64 hex digits"},
      {keys + "    - key: \"sha256:" + std::string(64, 'g') + "\"\n", 3, "auth.keys[0].key", "64 hex"},
      {keys + "    - key: \"a b\"\n", 3, "auth.keys[0].key", "printable ASCII without spaces"},
      {keys + "    - key: \"a\\tb\"\n", 3, "auth.keys[0].key", "printable ASCII"},
      {keys + "    - key: \"a\\0b\"\n", 3, "auth.keys[0].key", "printable ASCII"},
      {keys + "    - key: \"ключ\"\n", 3, "auth.keys[0].key", "printable ASCII"},
      {keys + "    - key: \"\"\n", 3, "auth.keys[0].key", "must not be empty"},
      {keys + "    - key: " + k1025 + "\n", 3, "auth.keys[0].key", "at most 1024 bytes"},
      {keys + "    - key: [a]\n", 3, "auth.keys[0].key", "as a string"},
      {keys + "    - key: a\n      name: n\n    - key: b\n      name: n\n", 6, "auth.keys[1].name",
       "duplicate key name 'n' (first at line 4)"},
      {keys + "    - key: a\n      team: t\n    - key: b\n      name: t-0\n", 6, "auth.keys[1].name",
       "duplicate key name 't-0'"},
      {keys + "    - key: test\n    - key: \"" + kTestDigest + "\"\n", 4, "auth.keys[1].key",
       "the same key as the one at line 3"},
      {keys + "    - key: a\n    - key: a\n", 4, "auth.keys[1].key", "the same key"},
      {keys + "    - key: a\n      teams: t\n", 4, "auth.keys[0].teams", "did you mean 'team'"},
      {keys + "    - key: a\n      team: \"\"\n", 4, "auth.keys[0].team", "must not be empty"},
      {keys + "    - key: a\n      models: [\"q*en\"]\n", 4, "auth.keys[0].models[0]", "may only end"},
      {keys + "    - key: a\n      models: [m, m]\n", 4, "auth.keys[0].models[1]", "listed twice"},
      {keys + "    - key: a\n      models: m\n", 4, "auth.keys[0].models", "expected a list"},
      {keys + "    - key: a\n      priority: urgent\n", 4, "auth.keys[0].priority", "Critical"},
      {keys + "    - key: a\n      limits: {requests_per_minute: -1}\n", 4,
       "auth.keys[0].limits.requests_per_minute", "integer"},
      {keys + "    - key: a\n      limits: {rpm: 1}\n", 4, "auth.keys[0].limits.rpm", "unknown key"},
      {keys + "    - key: a\n      model_limits: {\"\": {requests_per_minute: 1}}\n", 4,
       "auth.keys[0].model_limits", "exact, non-empty model names"},
      {keys + "    - key: a\n      model_limits: {\"q*\": {requests_per_minute: 1}}\n", 4,
       "auth.keys[0].model_limits", "exact"},
      {keys + "    - key: a\n      model_limits: [m]\n", 4, "auth.keys[0].model_limits", "expected a map"},
      {keys + "    - key: a\n      model_limits: {m: {tokens_per_minute: x}}\n", 4,
       "auth.keys[0].model_limits.m.tokens_per_minute", "integer"},
      {keys + "    - key: a\n      models: [m]\n      model_limits:\n        n: {requests_per_minute: 1}\n",
       6, "auth.keys[0].model_limits.n", "not one of this key's models"},
      {keys + "    - key: a\n      models: [\"q*\"]\n      model_limits: {qwen: {requests_per_minute: 1}}\n",
       0, "", ""},  // a pattern covers it
      // limits
      {"limits:\n  store: redis://\n", 2, "limits.store", "expected local or redis://HOST:PORT[/DB]"},
      {"limits:\n  store: redis://host\n", 2, "limits.store", "redis://HOST:PORT[/DB]"},
      {"limits:\n  store: redis://host:0\n", 2, "limits.store", "redis://HOST:PORT[/DB]"},
      {"limits:\n  store: redis://host:6379/x\n", 2, "limits.store", "redis://HOST:PORT[/DB]"},
      {"limits:\n  store: redis://host:6379/\n", 2, "limits.store", "redis://HOST:PORT[/DB]"},
      {"limits:\n  store: redis://:pw@host:6379\n", 2, "limits.store", "redis://HOST:PORT[/DB]"},
      {"limits:\n  store: rediss://host:6379\n", 2, "limits.store", "redis://HOST:PORT[/DB]"},
      {"limits:\n  store: memcached\n", 2, "limits.store", "expected local or redis://"},
      {"limits:\n  on_store_error: maybe\n", 2, "limits.on_store_error", "allow (fail open) or deny"},
      {"limits:\n  redis_timeout: soon\n", 2, "limits.redis_timeout", "duration"},
      {"limits:\n  default_max_tokens: lots\n", 2, "limits.default_max_tokens", "integer"},
      {"limits:\n  stream_usage: yes please\n", 2, "limits.stream_usage", "true or false"},
      {"limits:\n  stores: local\n", 2, "limits.stores", "did you mean 'store'"},
      // upstream_auth
      {kPool + "    upstream_auth: {mode: replace}\n", 4, "pools[0].upstream_auth", "needs key_file"},
      {kPool + "    upstream_auth: {mode: replace, key_file: /nonexistent/k}\n", 4,
       "pools[0].upstream_auth.key_file", "cannot read '/nonexistent/k'"},
      {kPool + "    upstream_auth: {mode: replace, key_file: DIR}\n", 4, "pools[0].upstream_auth.key_file",
       "cannot read"},
      {kPool + "    upstream_auth: {mode: drop, key_file: FILE}\n", 4, "pools[0].upstream_auth.key_file",
       "only used with mode: replace"},
      {kPool + "    upstream_auth: {mode: swap}\n", 4, "pools[0].upstream_auth.mode", "pass, drop or replace"},
      {kPool + "    upstream_auth: {key_file: FILE}\n", 4, "pools[0].upstream_auth",
       "missing required key 'mode'"},
      {kPool + "    upstream_auth: drop\n", 4, "pools[0].upstream_auth", "expected a map"},
      {"auth:\n  keys: [{key: a}]\n" + kPool + "    upstream_auth: {mode: pass}\n", 6,
       "pools[0].upstream_auth.mode", "use drop or replace"},
      {"auth:\n  keys: [{key: a}]\n" + kPool + "    upstream_auth: {mode: drop}\n", 0, "", ""},
      // tls
      {kPool + "    tls: {cert_file: FILE}\n", 4, "pools[0].tls", "cert_file and key_file go together"},
      {kPool + "    tls: {key_file: FILE}\n", 4, "pools[0].tls", "go together"},
      {kPool + "    tls: {ca_file: /nonexistent/ca.pem}\n", 4, "pools[0].tls.ca_file", "cannot read"},
      {kPool + "    tls: {verify: sometimes}\n", 4, "pools[0].tls.verify", "true or false"},
      {kPool + "    tls: {server_name: \"\"}\n", 4, "pools[0].tls.server_name", "must not be empty"},
      {kPool + "    tls: {ca: FILE}\n", 4, "pools[0].tls.ca", "unknown key"},
      {kPool + "    tls: true\n", 4, "pools[0].tls", "expected a map"},
  };
  for (const auto& c : cases) {
    const std::string yaml = scratch.fill(c.yaml);
    CAPTURE(yaml);
    const auto issues = issues_of(yaml);
    if (c.line == 0) {
      CHECK(issues.empty());
      continue;
    }
    REQUIRE(issues.size() == 1);
    const ConfigIssue& issue = issues.front();
    CAPTURE(issue.str());
    CHECK(issue.file == "test.yaml");
    CHECK(issue.line == c.line);
    CHECK(issue.column > 0);
    CHECK(issue.field == c.field);
    CHECK(issue.message.find(c.message_part) != std::string::npos);
  }
}

TEST_CASE("a message about a key never quotes the key") {
  const std::string secret = "s3cr3t-but-has space";
  const auto issues = issues_of("auth:\n  keys:\n    - key: \"" + secret + "\"\n");
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].str().find("s3cr3t") == std::string::npos);
}

TEST_CASE("redis URLs") {
  struct Case {
    std::string url;
    bool ok;
    HostPort address;
    unsigned db;
  };
  const std::vector<Case> cases = {
      {"redis://127.0.0.1:6379", true, {"127.0.0.1", 6379}, 0},
      {"redis://r:1/0", true, {"r", 1}, 0},
      {"redis://r:1/65535", true, {"r", 1}, 65535},
      {"redis://[::1]:6379/3", true, {"::1", 6379}, 3},
      {"redis://r:1/65536", false, {}, 0},
      {"redis://r:1//2", false, {}, 0},
      {"redis://r:1/2/", false, {}, 0},
      {"redis://r:65536", false, {}, 0},
      {"redis://[::1]/2", false, {}, 0},
      {"redis://::1:6379", false, {}, 0},
      {"redis:/r:1", false, {}, 0},
      {"REDIS://r:1", false, {}, 0},
      {"", false, {}, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.url);
    const auto parsed = parse_redis_url(c.url);
    REQUIRE(parsed.has_value() == c.ok);
    if (!c.ok) continue;
    CHECK(parsed->address == c.address);
    CHECK(parsed->db == c.db);
  }
}

TEST_CASE("key text: validation and digests") {
  KeyDigest digest{};
  REQUIRE(sha256("test", digest));
  CHECK(digest_text(digest) == kTestDigest);
  CHECK(configured_key_digest("test") == digest);
  CHECK(configured_key_digest(kTestDigest) == digest);
  std::string upper = kTestDigest;
  for (std::size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  CHECK(configured_key_digest(upper) == digest);
  CHECK_FALSE(configured_key_digest("sha256:").has_value());
  CHECK_FALSE(configured_key_digest("").has_value());
  CHECK(valid_clear_key(std::string(1024, '~')));
  CHECK_FALSE(valid_clear_key(std::string(1025, '~')));
  CHECK_FALSE(valid_clear_key(std::string("a\x7f", 2)));
  CHECK_FALSE(valid_clear_key(std::string("a\x00", 2)));
  CHECK(valid_clear_key("!"));
}

TEST_CASE("a keys file: a list, a map with keys:, or JSON, errors located in that file") {
  const auto list = load_api_keys_string("- key: a\n  team: t\n- key: b\n  name: bob\n", "team.yaml", "team.yaml");
  REQUIRE(list.size() == 2);
  CHECK(list[0].name == "team.yaml-0");
  CHECK(list[0].team == "t");
  CHECK(list[1].name == "bob");
  const auto map = load_api_keys_string("keys:\n  - {key: a, models: [m]}\n", "k.yaml", "k");
  REQUIRE(map.size() == 1);
  CHECK(map[0].name == "k-0");
  CHECK(map[0].models == std::vector<std::string>{"m"});
  const auto json = load_api_keys_string(R"({"keys": [{"key": "a", "limits": {"requests_per_minute": 5}}]})",
                                         "k.json", "k");
  REQUIRE(json.size() == 1);
  CHECK(json[0].limits.requests_per_minute == 5);
  CHECK(load_api_keys_string("[]", "k.json", "k").empty());

  struct Case {
    std::string text;
    int line;
    std::string field;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"- key: a\n- key: \"a b\"\n", 2, "keys[1].key", "printable ASCII"},
      {"keys:\n  - key: a\n  - key: a\n", 3, "keys[1].key", "the same key"},
      {"keys:\n  - key: a\nteams: []\n", 3, "teams", "unknown key"},
      {"just a line\n", 1, "", "expected a list of keys"},
      {"{\"keys\": [{\"key\": \"a\",}\n", 2, "", ""},  // syntax error, located
      {"- key: a\n  prio: 1\n", 2, "keys[0].prio", "unknown key"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    try {
      load_api_keys_string(c.text, "/keys/team.yaml", "team.yaml");
      FAIL("no error");
    } catch (const ConfigError& e) {
      REQUIRE(!e.issues().empty());
      const ConfigIssue& issue = e.issues().front();
      CAPTURE(issue.str());
      CHECK(issue.file == "/keys/team.yaml");
      CHECK(issue.line == c.line);
      CHECK(issue.field == c.field);
      CHECK(issue.message.find(c.message_part) != std::string::npos);
    }
  }
}
