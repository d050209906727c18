// Scrape targets from a snapshot; backoff of failing scrapes.
#include <doctest/doctest.h>

#include "routing/scrape_plan.hpp"

using namespace infergate;
using namespace std::chrono_literals;

TEST_CASE("scrape targets: scraped pools only, each endpoint once, the pool's settings") {
  const SnapshotPtr snapshot = build_snapshot(load_config_string(R"(
pools:
  - name: a
    endpoints: [127.0.0.1:1, 127.0.0.1:2]
    metrics: {flavour: vllm, interval: 100ms, timeout: 300ms, path: /m}
  - {name: b, endpoints: [127.0.0.1:2, 127.0.0.1:3], metrics: {flavour: sglang}}
  - {name: c, endpoints: [127.0.0.1:4], metrics: {flavour: none}}
)", "t.yaml"));
  const auto targets = scrape_targets(*snapshot);
  REQUIRE(targets.size() == 3);
  for (const auto& t : targets) CHECK_FALSE(t.advisory);
  CHECK(targets[0].endpoint->name == "127.0.0.1:1");
  CHECK(targets[0].path == "/m");
  CHECK(targets[0].interval == 100ms);
  CHECK(targets[0].timeout == 300ms);
  CHECK(targets[0].mapping->waiting.at(0).name == "vllm:num_requests_waiting");
  CHECK(targets[1].endpoint->name == "127.0.0.1:2");  // first pool's settings
  CHECK(targets[1].interval == 100ms);
  CHECK(targets[2].endpoint->name == "127.0.0.1:3");
  CHECK(targets[2].mapping->waiting.at(0).name == "sglang:num_queue_reqs");
  CHECK(targets[2].interval == 50ms);
}

TEST_CASE("a pool without metrics is scraped for vLLM or SGLang names, advisory") {
  const SnapshotPtr snapshot = build_snapshot(load_config_string(R"(
pools:
  - {name: a, endpoints: [127.0.0.1:1]}
  - {name: b, endpoints: [127.0.0.1:2], metrics: {interval: 200ms}}
  - {name: c, endpoints: [127.0.0.1:3], metrics: {flavour: auto, running: my_running}}
)", "t.yaml"));
  const auto targets = scrape_targets(*snapshot);
  REQUIRE(targets.size() == 3);
  for (const auto& t : targets) CHECK(t.advisory);
  CHECK(targets[0].interval == 50ms);
  CHECK(targets[0].path == "/metrics");
  CHECK(targets[1].interval == 200ms);
  const MetricsMapping& m = *targets[0].mapping;
  CHECK(parse_load("vllm:num_requests_running 40\nvllm:num_requests_waiting 0\n", m).running == 40);
  CHECK(parse_load("sglang:num_running_reqs 7\nsglang:num_queue_reqs 2\n", m).waiting == 2);
  CHECK(m.lora_info == "vllm:lora_requests_info");
  CHECK(targets[2].mapping->running.at(0).name == "my_running");
}

TEST_CASE("custom mappings from config") {
  const SnapshotPtr snapshot = build_snapshot(load_config_string(R"(
pools:
  - name: a
    endpoints: [127.0.0.1:1]
    metrics: {flavour: custom, waiting: 'q{kind="wait"}', kv_usage: kv, running: [r1, r2]}
)", "t.yaml"));
  const auto targets = scrape_targets(*snapshot);
  REQUIRE(targets.size() == 1);
  const MetricsMapping& m = *targets[0].mapping;
  CHECK(m.waiting.at(0).name == "q");
  CHECK(m.waiting.at(0).label == "kind");
  CHECK(m.waiting.at(0).label_value == "wait");
  CHECK(m.running.size() == 2);
  CHECK(m.lora_info.empty());
  const ScrapedLoad load = parse_load("q{kind=\"wait\"} 3\nkv 0.5\nr2 4\n", m);
  CHECK(load.waiting == 3);
  CHECK(load.kv_usage == 0.5);
  CHECK(load.running == 4);
}

TEST_CASE("scrape backoff doubles per failure, capped") {
  struct Case {
    std::chrono::milliseconds interval;
    std::uint32_t failures;
    std::chrono::milliseconds expected;
  };
  const Case cases[] = {{50ms, 0, 50ms}, {50ms, 1, 100ms}, {50ms, 3, 400ms},
                        {50ms, 10, 5000ms}, {50ms, 1000, 5000ms}, {10s, 2, 10s}};
  for (const Case& c : cases) CHECK(next_scrape_delay(c.interval, c.failures) == c.expected);
}
