// StatusHistory: columns oldest first, the bound, endpoints that come and go, and take_sample's
// reading of a real snapshot.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <string>

#include "proxy/status_history.hpp"

using namespace infergate;
using infergate::proxy::EndpointSample;
using infergate::proxy::StatusHistory;
using infergate::proxy::StatusSample;

namespace {

StatusSample sample(std::int64_t t, double requests, std::vector<EndpointSample> endpoints = {}) {
  return {t, requests, requests / 10, std::move(endpoints)};
}

EndpointSample endpoint(std::string address, double waiting, std::int32_t in_flight,
                        std::uint64_t dispatched) {
  return {"qwen", std::move(address), waiting, 1, 0.25, in_flight, dispatched, true};
}

}  // namespace

TEST_CASE("empty: empty columns") {
  const StatusHistory history(3);
  CHECK(history.size() == 0);
  CHECK(history.render_json() ==
        "{\"capacity\":3,\"unix_ms\":[],\"requests\":[],\"errors\":[],\"endpoints\":[]}\n");
}

TEST_CASE("columns, oldest first") {
  StatusHistory history(5);
  history.add(sample(1000, 10, {endpoint("127.0.0.1:8001", 2, 1, 7)}));
  history.add(sample(2000, 20, {endpoint("127.0.0.1:8001", 3, 0, 9)}));
  CHECK(history.render_json() ==
        "{\"capacity\":5,\"unix_ms\":[1000,2000],\"requests\":[10,20],\"errors\":[1,2],"
        "\"endpoints\":[{\"pool\":\"qwen\",\"address\":\"127.0.0.1:8001\",\"waiting\":[2,3],"
        "\"running\":[1,1],\"kv_usage\":[0.25,0.25],\"in_flight\":[1,0],\"dispatched\":[7,9],"
        "\"healthy\":[true,true]}]}\n");
}

TEST_CASE("bounded: the oldest samples go, order stays") {
  StatusHistory history(3);
  for (int i = 1; i <= 7; ++i) history.add(sample(i * 1000, i));
  CHECK(history.size() == 3);
  const std::string json = history.render_json();
  CHECK(json.find("\"unix_ms\":[5000,6000,7000]") != std::string::npos);
  CHECK(json.find("\"requests\":[5,6,7]") != std::string::npos);
}

TEST_CASE("the default bound is 300 samples") {
  StatusHistory history;
  for (int i = 0; i < 1000; ++i) history.add(sample(i, i));
  CHECK(history.size() == StatusHistory::kDefaultCapacity);
  CHECK(history.render_json().find("\"unix_ms\":[700,701,") != std::string::npos);
}

TEST_CASE("an endpoint absent from a sample has null there; unknown values are null") {
  StatusHistory history(4);
  history.add(sample(1, 0, {endpoint("a:1", 1, 0, 0)}));
  history.add(sample(2, 0, {endpoint("a:1", std::nan(""), 0, 0), endpoint("b:2", 5, 2, 3)}));
  history.add(sample(3, 0, {endpoint("b:2", 6, 1, 4)}));
  const std::string json = history.render_json();
  CHECK(json.find("\"address\":\"a:1\",\"waiting\":[1,null,null]") != std::string::npos);
  CHECK(json.find("\"address\":\"b:2\",\"waiting\":[null,5,6]") != std::string::npos);
  CHECK(json.find("\"in_flight\":[null,2,1]") != std::string::npos);
  CHECK(json.find("\"healthy\":[true,true,null]") != std::string::npos);
}

TEST_CASE("take_sample reads every endpoint of a snapshot") {
  const SnapshotPtr snapshot = build_snapshot(load_config_string(R"(
pools:
  - {name: qwen, endpoints: [127.0.0.1:8001, 127.0.0.1:8002]}
  - {name: canary, endpoints: [127.0.0.1:8003]}
models:
  - {name: m, pool: qwen}
)", "test.yaml"));
  Endpoint& first = *snapshot->pools[0]->endpoints[0];
  first.in_flight.store(3);
  first.load.dispatched_total.store(42);
  first.load.waiting.store(4);
  first.load.running.store(2);
  first.load.kv_usage.store(0.5);
  first.load.scraped_at_ns.store(1);
  const auto now = std::chrono::steady_clock::now();
  const StatusSample s = proxy::take_sample(*snapshot, now, 1234, 100, 7);
  CHECK(s.unix_ms == 1234);
  CHECK(s.requests == 100);
  CHECK(s.errors == 7);
  REQUIRE(s.endpoints.size() == 3);
  CHECK(s.endpoints[0].pool == "qwen");
  CHECK(s.endpoints[0].address == "127.0.0.1:8001");
  CHECK(s.endpoints[0].waiting == 4);
  CHECK(s.endpoints[0].running == 2);
  CHECK(s.endpoints[0].kv_usage == 0.5);
  CHECK(s.endpoints[0].in_flight == 3);
  CHECK(s.endpoints[0].dispatched == 42);
  CHECK(s.endpoints[0].healthy);
  CHECK(std::isnan(s.endpoints[1].waiting));  // never scraped: unknown, not zero
  CHECK(s.endpoints[2].pool == "canary");
}
