// A worker's key cache answers exactly what the table answers, across publishes.
#include "auth/key_cache.hpp"

#include <doctest/doctest.h>

#include <string>

#include "temp_dir.hpp"

using namespace infergate;
using namespace infergate::auth;
using infergate::test::SecretVolume;
using infergate::test::TempDir;

namespace {

AuthConfig config_with(const std::string& dir) {
  AuthConfig config;
  config.enabled = true;
  ApiKeyConfig key;
  key.name = "fixed";
  key.team = "ops";
  key.key = "sk-fixed";
  config.keys.push_back(key);
  config.keys_dir = dir;
  return config;
}

std::string who(KeyCache& cache, const std::string& presented) {
  cache.table();
  const ApiKey* key = cache.find(presented);
  return key ? key->name : "";
}

}  // namespace

TEST_CASE("a repeat caller is found again; unknown and near-miss keys never are") {
  TempDir dir;
  KeySource source(config_with(dir.path()));
  KeyCache cache(source, 42);
  for (int round = 0; round < 3; ++round) {
    CHECK(who(cache, "sk-fixed") == "fixed");
    CHECK(who(cache, "sk-fixeD") == "");
    CHECK(who(cache, "sk-fixed ") == "");
    CHECK(who(cache, "sk-fixe") == "");
    CHECK(who(cache, "") == "");
  }
}

TEST_CASE("a key removed from the directory stops working at the publish, cached or not") {
  TempDir dir;
  SecretVolume volume(dir);
  volume.set({{"team-a", "sk-team-a"}});
  KeySource source(config_with(dir.path()));
  KeyCache cache(source, 7);
  CHECK(who(cache, "sk-team-a") == "team-a");
  CHECK(who(cache, "sk-team-a") == "team-a");  // now from the cache

  volume.set({{"team-b", "sk-team-b"}});
  REQUIRE(source.poll());
  CHECK(who(cache, "sk-team-a") == "");
  CHECK(who(cache, "sk-team-b") == "team-b");
  CHECK(who(cache, "sk-fixed") == "fixed");
}

TEST_CASE("many keys through few slots: every answer matches the table") {
  AuthConfig config;
  config.enabled = true;
  for (int i = 0; i < 64; ++i) {
    ApiKeyConfig key;
    key.name = "k" + std::to_string(i);
    key.team = "t";
    key.key = "sk-" + std::to_string(i * 7919);
    config.keys.push_back(key);
  }
  KeySource source(config);
  KeyCache cache(source, 1);
  for (int pass = 0; pass < 4; ++pass) {
    for (int i = 0; i < 80; ++i) {
      const std::string presented = "sk-" + std::to_string(i * 7919);
      CHECK(who(cache, presented) == (i < 64 ? "k" + std::to_string(i) : ""));
    }
  }
}
