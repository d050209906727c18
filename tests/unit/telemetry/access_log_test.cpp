// The access log's writer: sampling, drops when a ring is full, stop() draining, write errors,
// and reopening after a rotation (renamed away, or asked for).
#include "telemetry/access_log.hpp"

#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace infergate;
using namespace infergate::telemetry;
using namespace std::chrono_literals;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char name[] = "/tmp/infergate-alog-XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::vector<std::string> lines_of(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Polls a condition the writer thread makes true, for at most `limit`: a readiness check, not a
// sleep standing in for an assertion.
bool eventually(const std::function<bool()>& ready, std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

double metric(const AccessLog& log, const std::string& name, const std::string& reason = {}) {
  for (const auto& family : log.collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      if (reason.empty() || (!m.label.empty() && m.label[0].value == reason)) return m.counter.value;
    }
  }
  FAIL("no metric " << name);
  return -1;
}

RequestRecord numbered(std::uint64_t n, std::uint16_t status = 200) {
  RequestRecord r;
  r.status = status;
  r.bytes_in = n;
  return r;
}

AccessLogConfig config_for(const std::filesystem::path& file, std::size_t buffer = 1024) {
  AccessLogConfig config;
  config.enabled = true;
  config.path = file.string();
  config.fields = {"bytes_in", "status"};
  config.buffer = buffer;
  return config;
}

std::string expected(std::uint64_t n, int status = 200) {
  return "{\"bytes_in\":" + std::to_string(n) + ",\"status\":" + std::to_string(status) + "}";
}

}  // namespace

TEST_CASE("stop() drains what was queued; each worker's lines keep their order") {
  const TempDir dir;
  const auto file = dir.path / "access.log";
  AccessLog log(config_for(file), 2);
  log.start();
  for (std::uint64_t n = 0; n < 300; ++n) CHECK(log.submit(n % 2, numbered(n)));
  log.stop();
  const auto lines = lines_of(file);
  REQUIRE(lines.size() == 300);
  std::vector<std::uint64_t> last = {0, 0};
  std::vector<bool> seen(300);
  for (const std::string& l : lines) {
    const auto n = std::stoull(l.substr(std::string("{\"bytes_in\":").size()));
    CHECK(l == expected(n));
    if (n >= 2) CHECK(n > last[n % 2]);  // ring order per worker
    last[n % 2] = n;
    seen[n] = true;
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](bool b) { return b; }));
  CHECK(metric(log, "infergate_access_log_records_total") == 300);
}

TEST_CASE("a burst larger than the ring: drops counted, exactly the rest written") {
  const TempDir dir;
  const auto file = dir.path / "access.log";
  AccessLog log(config_for(file, 16), 1);
  std::size_t accepted = 0;
  for (std::uint64_t n = 0; n < 100; ++n) accepted += log.submit(0, numbered(n));
  CHECK(accepted == 16);
  CHECK(metric(log, "infergate_access_log_dropped_total", "buffer_full") == 84);
  log.start();
  log.stop();
  const auto lines = lines_of(file);
  REQUIRE(lines.size() == 16);
  for (std::uint64_t n = 0; n < 16; ++n) CHECK(lines[n] == expected(n));
  CHECK(metric(log, "infergate_access_log_records_total") == 16);
}

TEST_CASE("sampling: ratio 0 still writes every failure; 0.5 keeps about half the successes") {
  const TempDir dir;
  const auto file = dir.path / "access.log";
  auto config = config_for(file, 1 << 15);
  config.sample_ratio = 0;
  {
    AccessLog log(config, 1);
    for (std::uint64_t n = 0; n < 50; ++n) CHECK_FALSE(log.submit(0, numbered(n)));
    CHECK(log.submit(0, numbered(1000, 500)));
    CHECK(log.submit(0, numbered(1001, 429)));
    CHECK(log.submit(0, numbered(1002, 0)));  // the client left before any status
    RequestRecord aborted = numbered(1003, 200);
    aborted.client_aborted = true;
    CHECK(log.submit(0, aborted));
    log.stop();
  }
  CHECK(lines_of(file) ==
        std::vector<std::string>{expected(1000, 500), expected(1001, 429), expected(1002, 0),
                                 expected(1003, 200)});
  std::filesystem::remove(file);
  config.sample_ratio = 0.5;
  AccessLog log(config, 1);
  for (std::uint64_t n = 0; n < 20000; ++n) log.submit(0, numbered(n));
  log.stop();
  const auto kept = lines_of(file).size();
  CHECK(kept > 9000);
  CHECK(kept < 11000);
}

TEST_CASE("renamed away (logrotate): the new file gets the next lines, the old keeps its own") {
  const TempDir dir;
  const auto file = dir.path / "access.log";
  const auto rotated = dir.path / "access.log.1";
  AccessLog log(config_for(file), 1);
  log.start();
  for (std::uint64_t n = 0; n < 3; ++n) log.submit(0, numbered(n));
  REQUIRE(eventually([&] { return lines_of(file).size() == 3; }));
  std::filesystem::rename(file, rotated);
  // The writer looks about once a second; lines before it noticed still go to the old file.
  REQUIRE(eventually([&] { return metric(log, "infergate_access_log_reopens_total") == 1; }));
  CHECK(std::filesystem::exists(file));
  for (std::uint64_t n = 3; n < 5; ++n) log.submit(0, numbered(n));
  log.stop();
  CHECK(lines_of(rotated) == std::vector<std::string>{expected(0), expected(1), expected(2)});
  CHECK(lines_of(file) == std::vector<std::string>{expected(3), expected(4)});
}

TEST_CASE("deleted: reopened as a new file") {
  const TempDir dir;
  const auto file = dir.path / "access.log";
  AccessLog log(config_for(file), 1);
  log.start();
  log.submit(0, numbered(0));
  REQUIRE(eventually([&] { return lines_of(file).size() == 1; }));
  std::filesystem::remove(file);
  REQUIRE(eventually([&] { return metric(log, "infergate_access_log_reopens_total") == 1; }));
  log.submit(0, numbered(1));
  log.stop();
  CHECK(lines_of(file) == std::vector<std::string>{expected(1)});
}

TEST_CASE("reopen(): the writer reopens at its next turn, whether or not the file moved") {
  const TempDir dir;
  const auto file = dir.path / "access.log";
  const auto rotated = dir.path / "access.log.1";
  AccessLog log(config_for(file), 1);
  log.start();
  log.submit(0, numbered(0));
  REQUIRE(eventually([&] { return lines_of(file).size() == 1; }));
  log.reopen();  // in place: lines continue in the same file
  REQUIRE(eventually([&] { return metric(log, "infergate_access_log_reopens_total") == 1; }));
  log.submit(0, numbered(1));
  REQUIRE(eventually([&] { return lines_of(file).size() == 2; }));
  std::filesystem::rename(file, rotated);
  log.reopen();  // what logrotate's postrotate does with SIGUSR1
  REQUIRE(eventually([&] { return metric(log, "infergate_access_log_reopens_total") == 2; }));
  log.submit(0, numbered(2));
  log.stop();
  CHECK(lines_of(rotated) == std::vector<std::string>{expected(0), expected(1)});
  CHECK(lines_of(file) == std::vector<std::string>{expected(2)});
}

TEST_CASE("a failing write is counted, its records too, and the writer carries on") {
  AccessLogConfig config = config_for("/dev/full");
  AccessLog log(config, 1);
  log.submit(0, numbered(0));
  log.submit(0, numbered(1));
  log.start();
  log.stop();
  CHECK(metric(log, "infergate_access_log_write_errors_total") >= 1);
  CHECK(metric(log, "infergate_access_log_dropped_total", "write_error") == 2);
  CHECK(metric(log, "infergate_access_log_records_total") == 0);
}

TEST_CASE("a file that cannot be opened is a start-up error") {
  const TempDir dir;
  CHECK_THROWS_AS(AccessLog(config_for(dir.path / "missing" / "access.log"), 1), std::runtime_error);
}
