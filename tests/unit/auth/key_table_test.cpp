// The key table: clear and sha256 keys are found, anything else is not; patterns and limits.
#include "auth/key_table.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

using namespace infergate;
using namespace infergate::auth;

namespace {

// printf %s test | sha256sum
const std::string kTestDigest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

ApiKeyConfig key(std::string name, std::string text, std::vector<std::string> models = {}) {
  ApiKeyConfig config;
  config.name = std::move(name);
  config.key = std::move(text);
  config.team = std::string("t");  // not = "t": GCC 12 warns falsely (-Wrestrict) on that here
  config.models = std::move(models);
  return config;
}

}  // namespace

TEST_CASE("lookup: clear and sha256 keys, unknown and off-by-one-byte keys") {
  const KeyTable table({key("clear", "sk-alice-0123456789"), key("hashed", kTestDigest),
                        key("upper", "sha256:" + std::string(64, 'A'))});
  REQUIRE(table.size() == 3);
  struct Case {
    std::string presented;
    const char* name;  // nullptr: not found
  };
  const std::vector<Case> cases = {
      {"sk-alice-0123456789", "clear"},
      {"test", "hashed"},
      {"sk-alice-012345678", nullptr},    // one byte short
      {"sk-alice-01234567890", nullptr},  // one byte more
      {"sk-alice-0123456788", nullptr},   // last byte differs
      {"tk-alice-0123456789", nullptr},   // first byte differs
      {"Test", nullptr},
      {"", nullptr},
      {kTestDigest, nullptr},  // the digest's text is not the key
      {std::string("test\0", 5), nullptr},
      {std::string(10'000, 'x'), nullptr},
  };
  for (const auto& c : cases) {
    CAPTURE(c.presented.substr(0, 40));
    const ApiKey* found = table.find(c.presented);
    if (c.name == nullptr) {
      CHECK(found == nullptr);
    } else {
      REQUIRE(found != nullptr);
      CHECK(found->name == c.name);
      CHECK(found->team == "t");
      CHECK(table.find_digest(found->digest) == found);
    }
  }
  // sha256:AAAA... is upper-case hex of the bytes 0xaa.
  Digest aa;
  aa.fill(0xaa);
  REQUIRE(table.find_digest(aa) != nullptr);
  CHECK(table.find_digest(aa)->name == "upper");
}

TEST_CASE("an empty table finds nothing") {
  const KeyTable table;
  CHECK(table.empty());
  CHECK(table.find("anything") == nullptr);
  CHECK(table.teams().empty());
}

TEST_CASE("unusable and duplicate keys are left out, the first one wins, each named") {
  std::vector<std::string> rejected;
  const KeyTable table({key("a", "test"), key("bad", "has space"), key("b", kTestDigest),
                        key("c", "other")},
                       &rejected);
  CHECK(table.size() == 2);
  REQUIRE(table.find("test") != nullptr);
  CHECK(table.find("test")->name == "a");
  CHECK(table.find("other")->name == "c");
  REQUIRE(rejected.size() == 2);
  CHECK(rejected[0].starts_with("bad: "));
  CHECK(rejected[1].starts_with("b: the same key"));
  REQUIRE(table.keys().size() == 2);
  CHECK(table.keys()[0].name == "a");
  CHECK(table.keys()[1].name == "c");
}

TEST_CASE("models: exact names and prefix* patterns; none means every model") {
  const KeyTable table({key("all", "k1"), key("some", "k2", {"llama-3-8b", "qwen*"}),
                        key("star", "k3", {"*"}), key("exact-star", "k4", {"gpt-4o"})});
  struct Case {
    const char* key;
    std::string model;
    bool allowed;
  };
  const std::vector<Case> cases = {
      {"k1", "anything", true},      {"k1", "", true},
      {"k2", "llama-3-8b", true},    {"k2", "llama-3-8b-instruct", false},
      {"k2", "llama-3", false},      {"k2", "qwen", true},
      {"k2", "qwen3-0.6b", true},    {"k2", "Qwen3", false},
      {"k2", "", false},             {"k3", "anything", true},
      {"k3", "", true},              {"k4", "gpt-4o", true},
      {"k4", "gpt-4o-mini", false},  {"k4", "gpt-4", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.key);
    CAPTURE(c.model);
    const ApiKey* found = table.find(c.key);
    REQUIRE(found != nullptr);
    CHECK(found->allows(c.model) == c.allowed);
  }
}

TEST_CASE("limits, model limits, priority and teams are kept") {
  ApiKeyConfig config = key("alice", "k1");
  config.team = "research";
  config.priority = 1;
  config.limits = {600, 100000};
  config.model_limits["llama-3-8b"] = {60, 0};
  ApiKeyConfig other = key("bob", "k2");
  other.team = "support";
  ApiKeyConfig third = key("carol", "k3");
  third.team = "research";
  const KeyTable table({config, other, third});
  const ApiKey* alice = table.find("k1");
  REQUIRE(alice != nullptr);
  CHECK(alice->priority == 1);
  CHECK(alice->limits == RateLimit{600, 100000});
  REQUIRE(alice->model_limit("llama-3-8b") != nullptr);
  CHECK(*alice->model_limit("llama-3-8b") == RateLimit{60, 0});
  CHECK(alice->model_limit("llama-3") == nullptr);
  CHECK(alice->model_limit("llama-3-8b-x") == nullptr);
  CHECK_FALSE(table.find("k2")->priority.has_value());
  CHECK(table.teams() == std::vector<std::string>{"research", "support"});
}

TEST_CASE("many keys: every one is found, a neighbour of each is not") {
  // fmt rather than operator+: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string here.
  std::vector<ApiKeyConfig> keys;
  for (int i = 0; i < 500; ++i) keys.push_back(key(fmt::format("k{}", i), fmt::format("sk-{}", i * 7919)));
  const KeyTable table(keys);
  REQUIRE(table.size() == 500);
  for (int i = 0; i < 500; ++i) {
    const ApiKey* found = table.find(fmt::format("sk-{}", i * 7919));
    REQUIRE(found != nullptr);
    CHECK(found->name == fmt::format("k{}", i));
    CHECK(table.find(fmt::format("sk-{}", i * 7919 + 1)) == nullptr);
  }
}
