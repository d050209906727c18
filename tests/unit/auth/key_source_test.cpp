// The live key table over a watched directory: add, rotate (Kubernetes-style), remove, bad
// files keep their keys, and every change is seen by the next poll.
#include "auth/key_source.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "temp_dir.hpp"

using namespace infergate;
using namespace infergate::auth;
using infergate::test::SecretVolume;
using infergate::test::TempDir;

namespace {

AuthConfig config_for(const std::string& dir, std::vector<ApiKeyConfig> keys = {}) {
  AuthConfig config;
  config.enabled = true;
  config.keys = std::move(keys);
  config.keys_dir = dir;
  return config;
}

ApiKeyConfig config_key(std::string name, std::string key) {
  ApiKeyConfig config;
  config.name = std::move(name);
  config.key = std::move(key);
  config.team = "ops";
  return config;
}

// The name of the key `presented` finds, or "" when none.
std::string who(const KeySource& source, const std::string& presented) {
  const auto table = source.current();
  const ApiKey* key = table->find(presented);
  return key ? key->name : "";
}

}  // namespace

TEST_CASE("config keys only: no directory, nothing to poll") {
  KeySource source(config_for("", {config_key("root", "sk-root")}));
  CHECK(who(source, "sk-root") == "root");
  CHECK(source.keys_loaded() == 1);
  CHECK_FALSE(source.poll());
  CHECK(source.reloads() == 0);
  CHECK(source.reload_errors() == 0);
}

TEST_CASE("plain files: added, changed and removed keys are seen by the next poll") {
  const TempDir dir;
  dir.write("alice", "sk-alice-1\n");
  KeySource source(config_for(dir.path(), {config_key("root", "sk-root")}));
  CHECK(who(source, "sk-alice-1") == "alice");
  CHECK(who(source, "sk-root") == "root");
  CHECK(source.current()->find("sk-alice-1")->team == "default");
  CHECK(source.keys_loaded() == 2);
  const auto first = source.current();

  CHECK_FALSE(source.poll());  // nothing changed: the same table
  CHECK(source.current() == first);

  dir.write("bob", "  sk-bob-1  \n");
  CHECK(source.poll());
  CHECK(who(source, "sk-bob-1") == "bob");
  CHECK(source.keys_loaded() == 3);

  dir.write("alice", "sk-alice-2\n");  // rotated
  CHECK(source.poll());
  CHECK(who(source, "sk-alice-2") == "alice");
  CHECK(who(source, "sk-alice-1") == "");
  CHECK(first->find("sk-alice-1") != nullptr);  // a reader's old table stays valid

  dir.remove("bob");
  CHECK(source.poll());
  CHECK(who(source, "sk-bob-1") == "");
  CHECK(who(source, "sk-root") == "root");
  CHECK(source.keys_loaded() == 2);
  CHECK(source.reloads() == 3);
  CHECK(source.reload_errors() == 0);
}

TEST_CASE("a Kubernetes Secret: ..data swaps add, rotate and remove keys") {
  const TempDir dir;
  SecretVolume secret(dir);
  secret.set({{"alice", "sk-alice-1"}});
  KeySource source(config_for(dir.path()));
  CHECK(who(source, "sk-alice-1") == "alice");
  CHECK(source.keys_loaded() == 1);  // ..data and ..2026_... are not key files

  secret.set({{"alice", "sk-alice-1"}, {"team.yaml", "- {key: sk-team-1, team: research, models: [\"qwen*\"]}\n"}});
  CHECK(source.poll());
  CHECK(who(source, "sk-team-1") == "team.yaml-0");
  CHECK(source.current()->find("sk-team-1")->team == "research");
  CHECK(source.current()->find("sk-team-1")->allows("qwen3"));

  secret.set({{"alice", "sk-alice-2"}, {"team.yaml", "- {key: sk-team-1, team: research, models: [\"qwen*\"]}\n"}});
  CHECK(source.poll());
  CHECK(who(source, "sk-alice-2") == "alice");
  CHECK(who(source, "sk-alice-1") == "");
  CHECK(who(source, "sk-team-1") == "team.yaml-0");

  secret.set({{"team.yaml", "keys:\n  - {name: carol, key: sk-carol-1, team: research}\n"}});
  CHECK(source.poll());
  CHECK(who(source, "sk-alice-2") == "");
  CHECK(who(source, "sk-team-1") == "");
  CHECK(who(source, "sk-carol-1") == "carol");
  CHECK(source.keys_loaded() == 1);
  CHECK_FALSE(source.poll());
  CHECK(source.reload_errors() == 0);
}

TEST_CASE("a file that does not parse keeps its keys; fixed, it is read again") {
  const TempDir dir;
  dir.write("alice", "sk-alice-1\n");
  dir.write("team.json", R"({"keys": [{"key": "sk-team-1"}, {"key": "sk-team-2"}]})");
  KeySource source(config_for(dir.path()));
  REQUIRE(source.keys_loaded() == 3);

  struct Case {
    std::string file;
    std::string content;
  };
  const std::vector<Case> garbled = {
      {"alice", ""},
      {"alice", "\n\n"},
      {"alice", "sk alice with spaces"},
      {"alice", std::string("sk-\0alice", 9)},
      {"alice", std::string(2000, 'k')},
      {"team.json", R"({"keys": [{"key": "sk-team-1"},)"},
      {"team.json", R"({"keys": [{"key": "sk-team-1", "team": ""}]})"},
      {"team.json", R"({"keys": [{"key": "sk-team-1"}, {"key": "sk-team-1"}]})"},
      {"team.json", "[1, 2]"},
  };
  std::uint64_t errors = 0;
  for (const Case& c : garbled) {
    CAPTURE(c.file);
    CAPTURE(c.content.substr(0, 60));
    dir.write(c.file, c.content);
    CHECK_FALSE(source.poll());
    CHECK(source.reload_errors() == ++errors);
    CHECK(who(source, "sk-alice-1") == "alice");
    CHECK(who(source, "sk-team-2") == "team.json-1");
    CHECK(source.keys_loaded() == 3);
    CHECK_FALSE(source.poll());  // the same bad version: logged and counted once
    CHECK(source.reload_errors() == errors);
  }
  dir.write("team.json", R"([{"key": "sk-team-3"}])");
  dir.write("alice", "sk-alice-2");
  CHECK(source.poll());
  CHECK(who(source, "sk-team-3") == "team.json-0");
  CHECK(who(source, "sk-team-1") == "");
  CHECK(who(source, "sk-alice-2") == "alice");
  CHECK(source.keys_loaded() == 2);
}

TEST_CASE("a file bad from the start has no keys, and counts") {
  const TempDir dir;
  dir.write("broken.yaml", "- key: [x]\n");
  dir.write("good", "sk-good");
  KeySource source(config_for(dir.path()));
  CHECK(source.reload_errors() == 1);
  CHECK(source.keys_loaded() == 1);
  CHECK(who(source, "sk-good") == "good");
  dir.write("broken.yaml", "- key: sk-fixed\n");
  CHECK(source.poll());
  CHECK(who(source, "sk-fixed") == "broken.yaml-0");
}

TEST_CASE("hidden names, subdirectories and dangling links are not key files") {
  const TempDir dir;
  dir.write(".hidden", "sk-hidden");
  std::filesystem::create_directory(dir.file("sub"));
  std::filesystem::create_symlink("nowhere", dir.file("dangling"));
  dir.write("real", "sk-real");
  std::filesystem::create_symlink("real", dir.file("link"));
  KeySource source(config_for(dir.path()));
  CHECK(who(source, "sk-hidden") == "");
  CHECK(who(source, "sk-real") == "link");  // the same key twice: the first by name wins
  CHECK(source.keys_loaded() == 1);
  CHECK(source.reload_errors() == 1);       // ... and the second is reported
}

TEST_CASE("a key in a file that the config already has: the config's entry wins") {
  const TempDir dir;
  dir.write("dup", "sk-root");
  KeySource source(config_for(dir.path(), {config_key("root", "sk-root")}));
  CHECK(who(source, "sk-root") == "root");
  CHECK(source.keys_loaded() == 1);
  CHECK(source.reload_errors() == 1);
}

TEST_CASE("a directory that cannot be listed keeps the keys; back, it is read again") {
  const TempDir parent;
  const std::string dir = parent.file("keys");
  std::filesystem::create_directory(dir);
  {
    std::ofstream(dir + "/alice") << "sk-alice-1";
  }
  KeySource source(config_for(dir));
  CHECK(who(source, "sk-alice-1") == "alice");
  std::filesystem::rename(dir, parent.file("moved"));
  CHECK_FALSE(source.poll());
  CHECK_FALSE(source.poll());
  CHECK(source.reload_errors() == 1);  // once per state change
  CHECK(who(source, "sk-alice-1") == "alice");
  std::filesystem::rename(parent.file("moved"), dir);
  {
    std::ofstream(dir + "/bob") << "sk-bob-1";
  }
  CHECK(source.poll());
  CHECK(who(source, "sk-bob-1") == "bob");
  CHECK(who(source, "sk-alice-1") == "alice");
}

TEST_CASE("poll timing: every change is seen by the poll right after it, 50 times in a row") {
  const TempDir dir;
  KeySource source(config_for(dir.path()));
  for (int i = 0; i < 50; ++i) {
    const std::string key = "sk-rotating-" + std::to_string(i);
    dir.write("k", key);
    REQUIRE(source.poll());
    CHECK(who(source, key) == "k");
    CHECK(who(source, "sk-rotating-" + std::to_string(i - 1)) == "");
  }
  CHECK(source.reloads() == 50);
}

TEST_CASE("the table holds digests only") {
  const TempDir dir;
  dir.write("alice", "sk-alice-1");
  KeySource source(config_for(dir.path(), {config_key("root", "sk-root")}));
  const auto table = source.current();
  for (const ApiKey& key : table->keys()) {
    const std::string_view bytes(reinterpret_cast<const char*>(key.digest.data()), key.digest.size());
    CHECK(bytes.find("sk-") == std::string_view::npos);
  }
  CHECK(table->size() == 2);
}
