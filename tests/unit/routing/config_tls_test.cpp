// The tls block: both files required and readable, located errors otherwise.
#include "infergate/config.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include "config_issues.hpp"

using namespace infergate;

namespace {

// A readable file for the loader's check (its contents are only read at start-up).
std::string scratch_file() {
  char path[] = "/tmp/infergate-tls-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  return path;
}

}  // namespace

TEST_CASE("tls: absent is plain HTTP; cert and key set it") {
  CHECK_FALSE(load_config_string("workers: 1\n").tls.enabled());
  const std::string file = scratch_file();
  const auto config = load_config_string("tls:\n  cert: " + file + "\n  key: " + file + "\n");
  CHECK(config.tls.enabled());
  CHECK(config.tls.cert == file);
  CHECK(config.tls.key == file);
  std::remove(file.c_str());
}

TEST_CASE("tls: a missing file, a missing key and an unknown key are located errors") {
  const std::string file = scratch_file();
  auto issues = issues_of("tls:\n  cert: /nonexistent/server.crt\n  key: " + file + "\n");
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].line == 2);
  CHECK(issues[0].field == "tls.cert");
  CHECK(issues[0].message.find("cannot read '/nonexistent/server.crt'") != std::string::npos);

  issues = issues_of("tls:\n  cert: " + file + "\n");
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].field == "tls");
  CHECK(issues[0].message.find("missing required key 'key'") != std::string::npos);

  issues = issues_of("tls:\n  cert: " + file + "\n  key: " + file + "\n  ca: " + file + "\n");
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].field == "tls.ca");
  CHECK(issues[0].message.find("unknown key 'ca'") != std::string::npos);
  std::remove(file.c_str());
}
