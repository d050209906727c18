// A pool's own key file: read, rotated, and bad contents keep the last good value.
#include "auth/secret_file.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "temp_dir.hpp"

using namespace infergate::auth;
using infergate::test::SecretVolume;
using infergate::test::TempDir;

namespace {

std::string value_of(const SecretFile& file) {
  const auto value = file.current();
  return value ? *value : "<none>";
}

}  // namespace

TEST_CASE("the header value, with the final newline and a Bearer prefix taken care of") {
  const TempDir dir;
  struct Case {
    std::string content;
    std::string value;
  };
  const std::vector<Case> cases = {
      {"sk-pool-1", "Bearer sk-pool-1"},
      {"sk-pool-1\n", "Bearer sk-pool-1"},
      {"  sk-pool-1\r\n", "Bearer sk-pool-1"},
      {"Bearer sk-pool-1\n", "Bearer sk-pool-1"},
      {"bearer   sk-pool-1", "Bearer sk-pool-1"},
      {"", "<none>"},
      {"\n", "<none>"},
      {"sk-pool-1\nX-Injected: yes\n", "<none>"},
      {"sk pool", "<none>"},
      {std::string("sk-\0", 4), "<none>"},
      {"Bearer", "Bearer Bearer"},  // a key that happens to be the word
      {std::string(1025, 'k'), "<none>"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.content.substr(0, 40));
    dir.write("key", c.content);
    const SecretFile file(dir.file("key"));
    CHECK(value_of(file) == c.value);
    CHECK(file.reload_errors() == (c.value == "<none>" ? 1u : 0u));
  }
}

TEST_CASE("rotated, broken, missing and back: the last good value stays") {
  const TempDir dir;
  dir.write("key", "sk-pool-1\n");
  SecretFile file(dir.file("key"));
  CHECK(value_of(file) == "Bearer sk-pool-1");
  const auto first = file.current();
  CHECK_FALSE(file.poll());
  CHECK(file.current() == first);

  dir.write("key", "sk-pool-2\n");
  CHECK(file.poll());
  CHECK(value_of(file) == "Bearer sk-pool-2");
  CHECK(*first == "Bearer sk-pool-1");  // a reader's old value stays valid
  CHECK(file.reloads() == 1);

  dir.write("key", "");
  CHECK_FALSE(file.poll());
  CHECK(value_of(file) == "Bearer sk-pool-2");
  CHECK(file.reload_errors() == 1);
  CHECK_FALSE(file.poll());
  CHECK(file.reload_errors() == 1);  // the same bad version: once

  dir.remove("key");
  CHECK_FALSE(file.poll());
  CHECK_FALSE(file.poll());
  CHECK(value_of(file) == "Bearer sk-pool-2");
  CHECK(file.reload_errors() == 2);

  dir.write("key", "sk-pool-3");
  CHECK(file.poll());
  CHECK(value_of(file) == "Bearer sk-pool-3");
  dir.write("key", "sk-pool-3\n");  // same key, new file: no change
  CHECK_FALSE(file.poll());
  CHECK(file.reloads() == 2);
}

TEST_CASE("a missing file at start: no value until it appears") {
  const TempDir dir;
  SecretFile file(dir.file("key"));
  CHECK(file.current() == nullptr);
  CHECK(file.reload_errors() == 1);
  CHECK_FALSE(file.poll());
  dir.write("key", "sk-pool-1");
  CHECK(file.poll());
  CHECK(value_of(file) == "Bearer sk-pool-1");
}

TEST_CASE("a Secret mounted by kubelet: the ..data swap is seen") {
  const TempDir dir;
  SecretVolume secret(dir);
  secret.set({{"token", "sk-pool-1"}});
  SecretFile file(dir.file("token"));
  CHECK(value_of(file) == "Bearer sk-pool-1");
  secret.set({{"token", "sk-pool-2"}});
  CHECK(file.poll());
  CHECK(value_of(file) == "Bearer sk-pool-2");
}
