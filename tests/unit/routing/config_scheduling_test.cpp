// The scheduling sections of the config: values, defaults and located errors.
#include <doctest/doctest.h>

#include "infergate/config.hpp"

using namespace infergate;

TEST_CASE("scheduling config: values and defaults") {
  const GatewayConfig c = load_config_string(R"(
scheduler:
  plugins:
    - {type: available-filter}
    - {type: queue-scorer, weight: 1.5}
    - type: prefix-cache-scorer
      weight: 3
      parameters: {block_size: 128, index_bytes: 8MiB, hot_spot_queue: 4}
    - {type: max-score-picker}
queue: {max_size: 50, max_wait: 2s}
objectives:
  - {name: interactive, priority: Critical}
  - {name: batch, priority: -5}
pools:
  - name: a
    endpoints: [127.0.0.1:1]
    metrics: {flavour: vllm, interval: 100ms, staleness: 1s}
    saturation: {queue: 10, kv_cache: 0.9, running: 8}
    scheduler: {plugins: [{type: round-robin}]}
  - name: b
    endpoints: [127.0.0.1:2]
    metrics:
      flavour: custom
      waiting: 'my_queue{kind="waiting"}'
      kv_usage: [my_kv, other_kv]
models:
  - {name: m, pool: a, priority: sheddable}
  - {name: n, pool: b}
)", "t.yaml");
  REQUIRE(c.scheduler.plugins.size() == 4);
  CHECK(c.scheduler.plugins[1].weight == 1.5);
  CHECK(c.scheduler.plugins[2].parameters.at("block_size") == 128);
  CHECK(c.scheduler.plugins[2].parameters.at("index_bytes") == 8 << 20);
  CHECK(c.queue.max_size == 50);
  CHECK(c.queue.max_wait == Millis(2000));
  REQUIRE(c.objectives.size() == 2);
  CHECK(c.objectives[0].priority == priority::critical);
  CHECK(c.objectives[1].priority == -5);
  CHECK(c.pools[0].metrics.flavour == "vllm");
  CHECK(c.pools[0].metrics.interval == Millis(100));
  CHECK(c.pools[0].metrics.staleness == Millis(1000));
  CHECK(c.pools[0].metrics.timeout == Millis(1000));
  CHECK(c.pools[0].saturation.queue == 10);
  CHECK(c.pools[0].saturation.running == 8);
  CHECK(c.pools[1].saturation.running == 0);
  CHECK(c.pools[0].scheduler->plugins.at(0).type == "round-robin");
  CHECK_FALSE(c.pools[1].scheduler.has_value());
  CHECK(c.pools[1].metrics.waiting == std::vector<std::string>{R"(my_queue{kind="waiting"})"});
  CHECK(c.pools[1].metrics.kv_usage.size() == 2);
  CHECK(c.pools[1].saturation.kv_cache == 0.8);
  CHECK(c.models[0].priority == priority::sheddable);
  CHECK(c.models[1].priority == priority::standard);

  // Scraped unless told otherwise: "auto" without a metrics key or without a flavour.
  const GatewayConfig m = load_config_string(R"(
pools:
  - {name: a, endpoints: [127.0.0.1:1]}
  - {name: b, endpoints: [127.0.0.1:2], metrics: {interval: 200ms}}
  - {name: c, endpoints: [127.0.0.1:3], metrics: {flavour: none}}
)", "t.yaml");
  CHECK(m.pools[0].metrics.flavour == "auto");
  CHECK(m.pools[0].metrics.interval == Millis(50));
  CHECK(m.pools[1].metrics.flavour == "auto");
  CHECK(m.pools[1].metrics.interval == Millis(200));
  CHECK(m.pools[2].metrics.flavour == "none");

  const GatewayConfig d = load_config_string("pools: []\n", "t.yaml");
  CHECK(d.scheduler.plugins.empty());  // the built-in default profile
  CHECK(d.queue.max_size == 1024);
}

TEST_CASE("scheduling config: located errors") {
  struct Case {
    std::string yaml;
    std::string expected;  // the first issue, as printed
  };
  const std::vector<Case> cases = {
      {"scheduler:\n  plugins:\n    - {type: queue-scorr}\n",
       "t.yaml:3:14: scheduler.plugins[0].type: unknown plugin type 'queue-scorr' (did you mean 'queue-scorer'?)"},
      {"scheduler:\n  plugins: [{type: round-robin, weight: 2}]\n",
       "t.yaml:2:41: scheduler.plugins[0].weight: 'round-robin' is a picker: only scorers take a weight"},
      {"scheduler:\n  plugins: [{type: random}, {type: round-robin}]\n",
       "t.yaml:2:12: scheduler.plugins: a profile has at most one picker (without one: max-score-picker)"},
      {"scheduler:\n  plugins: [{type: prefix-cache-scorer, parameters: {block: 3}}]\n",
       "t.yaml:2:54: scheduler.plugins[0].parameters.block: unknown key 'block' (known keys: block_size max_blocks index_bytes hot_spot_queue)"},
      {"scheduler:\n  plugins: [{type: prefix-cache-scorer, parameters: {block_size: 0}}]\n",
       "t.yaml:2:66: scheduler.plugins[0].parameters.block_size: expected a number from 1 to 1048576, got '0'"},
      {"scheduler:\n  plugins: [{type: kv-cache-scorer, parameters: {x: 1}}]\n",
       "t.yaml:2:49: scheduler.plugins[0].parameters: plugin 'kv-cache-scorer' takes no parameters"},
      {"scheduler:\n  plugins: [{type: queue-scorer, weight: heavy}]\n",
       "t.yaml:2:42: scheduler.plugins[0].weight: expected a number from 0 to 1000000, got 'heavy'"},
      {"scheduler: {plugns: []}\n",
       "t.yaml:1:12: scheduler: missing required key 'plugins'"},
      {"pools:\n  - {name: a, endpoints: [], metrics: {flavour: vlm}}\n",
       "t.yaml:2:49: pools[0].metrics.flavour: unknown metrics flavour 'vlm' (auto, vllm, sglang, trtllm, custom, none)"},
      {"pools:\n  - {name: a, endpoints: [], metrics: {flavour: custom, waiting: x}}\n",
       "t.yaml:2:49: pools[0].metrics.flavour: flavour 'custom' needs 'waiting' and 'kv_usage' selectors"},
      {"pools:\n  - {name: a, endpoints: [], metrics: {flavour: vllm, waiting: 'a{b'}}\n",
       "t.yaml:2:64: pools[0].metrics.waiting: expected a metric name, optionally with one label: name or name{label=\"value\"}, got 'a{b'"},
      {"pools:\n  - {name: a, endpoints: [], metrics: {flavour: vllm, interval: soon}}\n",
       "t.yaml:2:65: pools[0].metrics.interval: expected a duration such as 500ms, 2s, 10m, 1h30m or milliseconds, got 'soon'"},
      {"pools:\n  - {name: a, endpoints: [], saturation: {kv_cache: 1.5}}\n",
       "t.yaml:2:53: pools[0].saturation.kv_cache: expected a number from 0 to 1, got '1.5'"},
      {"pools:\n  - {name: a, endpoints: []}\nmodels:\n  - {name: m, pool: a, priority: urgent}\n",
       "t.yaml:4:34: models[0].priority: expected Critical, Standard, Sheddable or an integer from -1000 to 1000 (below 0 is sheddable), got 'urgent'"},
      {"objectives:\n  - {name: a, priority: Critical}\n  - {name: a, priority: Standard}\n",
       "t.yaml:3:12: objectives[1].name: duplicate objective name 'a'"},
      {"objectives:\n  - {name: a}\n", "t.yaml:2:5: objectives[0]: missing required key 'priority'"},
      {"queue: {max_size: -1}\n",
       "t.yaml:1:19: queue.max_size: expected an integer from 0 to 1000000, got '-1'"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.yaml);
    try {
      load_config_string(c.yaml, "t.yaml");
      FAIL("accepted");
    } catch (const ConfigError& e) {
      REQUIRE_FALSE(e.issues().empty());
      CHECK(e.issues().front().str() == c.expected);
    }
  }
}
