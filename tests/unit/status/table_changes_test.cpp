// TableChanges: newest first, bounded to kKept, JSON-escaped details, safe from many threads.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "proxy/table_changes.hpp"

using infergate::proxy::TableChanges;

namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("empty: an empty list") {
  const TableChanges changes;
  CHECK(changes.render_json() == "{\"changes\":[]}\n");
}

TEST_CASE("newest first, with every field") {
  TableChanges changes;
  changes.record_at(1000, "startup", true, "models=2 pools=1");
  changes.record_at(2000, "sighup", false, "gateway.yaml:7:3: pools[0].endpoints: bad \"port\"");
  CHECK(changes.render_json() ==
        "{\"changes\":["
        "{\"unix_ms\":2000,\"source\":\"sighup\",\"applied\":false,"
        "\"detail\":\"gateway.yaml:7:3: pools[0].endpoints: bad \\\"port\\\"\"},"
        "{\"unix_ms\":1000,\"source\":\"startup\",\"applied\":true,\"detail\":\"models=2 pools=1\"}"
        "]}\n");
}

TEST_CASE("keeps the last kKept") {
  TableChanges changes;
  for (int i = 0; i < 25; ++i) changes.record_at(i, "file", i % 2 == 0, "change " + std::to_string(i));
  const std::string json = changes.render_json();
  CHECK(count(json, "\"unix_ms\":") == TableChanges::kKept);
  CHECK(json.find("\"detail\":\"change 24\"") < json.find("\"detail\":\"change 5\""));
  CHECK(json.find("\"change 4\"") == std::string::npos);  // the five oldest are gone
}

TEST_CASE("record() stamps the wall clock") {
  TableChanges changes;
  changes.record("kubernetes", true, "models=1 pools=1");
  const std::string json = changes.render_json();
  // After 2020-09-13 (1600000000000 ms): a real Unix time in milliseconds, not steady_clock.
  const auto at = json.find("\"unix_ms\":") + 10;
  CHECK(std::stoll(json.substr(at, 13)) > 1'600'000'000'000LL);
}

TEST_CASE("many threads record at once") {
  TableChanges changes;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&changes, t] {
      for (int i = 0; i < 500; ++i) changes.record_at(i, "file", true, std::to_string(t));
    });
  }
  for (auto& th : threads) th.join();
  CHECK(count(changes.render_json(), "\"source\":\"file\"") == TableChanges::kKept);
}
