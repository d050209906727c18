// The `access_log:` block: the shorthand, every setting with its default, and every mistake
// reported at its line and field.
#include "infergate/config.hpp"

#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config_issues.hpp"

using namespace infergate;

TEST_CASE("access_log absent or false: off, with the documented defaults") {
  const AccessLogConfig off = load_config_string("listen: 127.0.0.1:8080\n").access_log;
  CHECK(off == AccessLogConfig{});
  CHECK_FALSE(off.enabled);
  CHECK(off.path == "-");
  CHECK(off.format == AccessLogConfig::Format::json);
  CHECK(off.fields.empty());
  CHECK(off.sample_ratio == 1.0);
  CHECK(off.buffer == 8192);
  CHECK_FALSE(load_config_string("access_log: false\n").access_log.enabled);
}

TEST_CASE("access_log: true, an empty block, or enabled: false") {
  AccessLogConfig on = load_config_string("access_log: true\n").access_log;
  CHECK(on.enabled);
  on.enabled = false;
  CHECK(on == AccessLogConfig{});
  CHECK(load_config_string("access_log:\n").access_log.enabled);
  CHECK(load_config_string("access_log: {}\n").access_log.enabled);
  CHECK_FALSE(load_config_string("access_log: {enabled: false, format: text}\n").access_log.enabled);
}

TEST_CASE("every access_log setting is read") {
  char dir[] = "/tmp/infergate-alog-cfg-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string file = std::string(dir) + "/access.log";
  const AccessLogConfig config = load_config_string("access_log:\n  path: " + file +
                                                    "\n  format: text\n"
                                                    "  fields: [time, status, model, duration_ms]\n"
                                                    "  sample_ratio: 0.25\n  buffer: 100\n")
                                     .access_log;
  rmdir(dir);
  CHECK(config.enabled);
  CHECK(config.path == file);
  CHECK(config.format == AccessLogConfig::Format::text);
  CHECK(config.fields == std::vector<std::string>{"time", "status", "model", "duration_ms"});
  CHECK(config.sample_ratio == 0.25);
  CHECK(config.buffer == 100);
}

TEST_CASE("access_log mistakes: file, line, field and message") {
  struct Case {
    std::string yaml;
    int line;  // 0: no issue
    std::string field;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"access_log: yes please\n", 1, "access_log", "true or false"},
      {"access_log:\n  format: csv\n", 2, "access_log.format", "json or text, got 'csv'"},
      {"access_log:\n  fields: [time, latency]\n", 2, "access_log.fields[1]", "unknown field 'latency'"},
      {"access_log:\n  fields: [status, status]\n", 2, "access_log.fields[1]", "listed twice"},
      {"access_log:\n  fields: []\n", 2, "access_log.fields", "lists no field"},
      {"access_log:\n  fields: status\n", 2, "access_log.fields", "expected a list"},
      {"access_log:\n  sample_ratio: 1.5\n", 2, "access_log.sample_ratio", "from 0 to 1"},
      {"access_log:\n  sample_ratio: -0.1\n", 2, "access_log.sample_ratio", "from 0 to 1"},
      {"access_log:\n  sample_ratio: 0\n", 0, "", ""},
      {"access_log:\n  buffer: 0\n", 2, "access_log.buffer", "from 1 to"},
      {"access_log:\n  buffer: lots\n", 2, "access_log.buffer", "integer"},
      {"access_log:\n  path: \"\"\n", 2, "access_log.path", "must not be empty"},
      {"access_log:\n  path: /nonexistent-dir/access.log\n", 2, "access_log.path",
       "directory '/nonexistent-dir' does not exist"},
      {"access_log:\n  path: /tmp\n", 2, "access_log.path", "is a directory"},
      {"access_log:\n  path: \"-\"\n", 0, "", ""},
      {"access_log:\n  sample: 0.5\n", 2, "access_log.sample", "unknown key"},
      {"access_log: [a]\n", 1, "access_log", "expected a map"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.yaml);
    const auto issues = issues_of(c.yaml);
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

TEST_CASE("the commented example in config/gateway.yaml loads once uncommented") {
  std::ifstream in(INFERGATE_SOURCE_ROOT "/config/gateway.yaml");
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  const auto start = text.find("# access_log:\n");
  REQUIRE(start != std::string::npos);
  std::istringstream lines(text.substr(start));
  std::string yaml;
  for (std::string l; std::getline(lines, l) && l.starts_with("# ");) yaml += l.substr(2) + "\n";
  const auto path = yaml.find("/var/log/infergate/access.log");
  REQUIRE(path != std::string::npos);
  yaml.replace(path, std::string("/var/log/infergate/access.log").size(), "\"-\"");
  CAPTURE(yaml);
  const AccessLogConfig config = load_config_string(yaml).access_log;
  CHECK(config.enabled);
  CHECK(config.fields.size() == 14);
}
