// Snapshots: built from config, models resolve to pools in the same snapshot, endpoints survive
// rebuilds with their counters.
#include <doctest/doctest.h>

#include "infergate/routing.hpp"

using namespace infergate;

namespace {

GatewayConfig config_of(const std::string& yaml) { return load_config_string(yaml, "test.yaml"); }

const std::string kConfig = R"(
pools:
  - {name: qwen, endpoints: [127.0.0.1:8001, 127.0.0.1:8002]}
  - {name: canary, endpoints: [127.0.0.1:8003]}
  - {name: empty, endpoints: []}
models:
  - name: Qwen/Qwen3-0.6B
    targets: [{pool: qwen, weight: 90}, {pool: canary, weight: 10}]
  - {name: support-bot, pool: qwen, model: support-lora}
  - {name: same-name, pool: canary, model: same-name}
  - {name: a-first, pool: empty}
)";

}  // namespace

TEST_CASE("models point at pools of the same snapshot") {
  const SnapshotPtr snapshot = build_snapshot(config_of(kConfig));
  REQUIRE(snapshot->pools.size() == 3);
  CHECK(snapshot->model_names ==
        std::vector<std::string>{"Qwen/Qwen3-0.6B", "a-first", "same-name", "support-bot"});

  const ModelRoute* qwen = snapshot->find_model("Qwen/Qwen3-0.6B");
  REQUIRE(qwen != nullptr);
  REQUIRE(qwen->targets.size() == 2);
  CHECK(qwen->total_weight == 100);
  CHECK(qwen->targets[0].pool == snapshot->pools[0].get());
  CHECK(qwen->targets[1].pool == snapshot->pools[1].get());
  CHECK(qwen->targets[0].served_model.empty());

  const ModelRoute* alias = snapshot->find_model(std::string_view("support-bot"));
  REQUIRE(alias != nullptr);
  CHECK(alias->targets.at(0).served_model == "support-lora");
  // Naming the requested model again is not a rewrite.
  CHECK(snapshot->find_model("same-name")->targets.at(0).served_model.empty());

  CHECK(snapshot->find_model("qwen") == nullptr);
  CHECK(snapshot->find_model("") == nullptr);
  CHECK(snapshot->pools[0]->endpoints.at(1)->name == "127.0.0.1:8002");
}

TEST_CASE("endpoints keep their identity and counters across rebuilds") {
  const SnapshotPtr first = build_snapshot(config_of(kConfig));
  const EndpointPtr e8001 = first->pools[0]->endpoints[0];
  const EndpointPtr e8003 = first->pools[1]->endpoints[0];
  InFlight lease(e8003);
  CHECK(e8003->in_flight.load() == 1);

  // 8003 moves into the first pool, 8001 goes away, 8004 is new.
  const SnapshotPtr second = build_snapshot(config_of(R"(
pools:
  - {name: qwen, endpoints: [127.0.0.1:8003, 127.0.0.1:8002, 127.0.0.1:8004]}
  - {name: also, endpoints: [127.0.0.1:8003]}
)"), first.get());
  const auto& endpoints = second->pools[0]->endpoints;
  CHECK(endpoints[0] == e8003);
  CHECK(endpoints[0]->in_flight.load() == 1);
  CHECK(endpoints[1] == first->pools[0]->endpoints[1]);
  CHECK(endpoints[2]->name == "127.0.0.1:8004");
  CHECK(endpoints[2]->in_flight.load() == 0);
  // One object per address, even when two pools list it.
  CHECK(second->pools[1]->endpoints[0] == e8003);
  for (const auto& e : endpoints) CHECK(e != e8001);

  lease.release();
  CHECK(e8003->in_flight.load() == 0);

  // Without a previous snapshot every endpoint is new.
  const SnapshotPtr fresh = build_snapshot(config_of(kConfig));
  CHECK(fresh->pools[1]->endpoints[0] != e8003);
}

TEST_CASE("InFlight counts until released, moved or destroyed") {
  auto endpoint = std::make_shared<Endpoint>(HostPort{"127.0.0.1", 1});
  {
    InFlight a(endpoint);
    InFlight b(endpoint);
    CHECK(endpoint->in_flight.load() == 2);
    InFlight c(std::move(a));
    CHECK(endpoint->in_flight.load() == 2);
    b = std::move(c);
    CHECK(endpoint->in_flight.load() == 1);
  }
  CHECK(endpoint->in_flight.load() == 0);
}

TEST_CASE("SnapshotHolder publishes a new snapshot to readers") {
  SnapshotHolder holder(build_snapshot(config_of(kConfig)));
  const SnapshotPtr before = holder.load();
  holder.publish(build_snapshot(config_of("models: []\n"), before.get()));
  CHECK(holder.load()->models.empty());
  CHECK(before->models.size() == 4);  // readers holding the old one keep it
}

// The proxy's handle type is opaque to src/routing; any complete type stands in for it here.
namespace infergate {
struct UpstreamTls {
  std::string pool;
  UpstreamTlsConfig config;
};
}  // namespace infergate

TEST_CASE("a pool with TLS gets its handle from the factory; without one the build refuses") {
  GatewayConfig config = config_of(kConfig);
  config.pools[0].tls = UpstreamTlsConfig{true, "/ca.pem", "vllm.internal", "", "", true};
  config.pools[2].tls = UpstreamTlsConfig{false, "/ca.pem", "", "", "", true};  // off
  config.pools[1].tls.enabled = true;
  std::vector<std::string> asked;
  const UpstreamTlsFactory factory = [&](const PoolConfig& pool) {
    asked.push_back(pool.name);
    return std::make_shared<const UpstreamTls>(UpstreamTls{pool.name, pool.tls});
  };
  const SnapshotPtr snapshot = build_snapshot(config, nullptr, factory);
  CHECK(asked == std::vector<std::string>{"qwen", "canary"});
  REQUIRE(snapshot->pools[0]->tls != nullptr);
  CHECK(snapshot->pools[0]->tls->config.server_name == "vllm.internal");
  CHECK(snapshot->pools[1]->tls != nullptr);
  CHECK(snapshot->pools[2]->tls == nullptr);
  // The scraper speaks plain HTTP: a TLS pool is not scraped unless its config asks for it.
  CHECK(snapshot->pools[0]->mapping == nullptr);
  CHECK(snapshot->pools[0]->metrics.flavour == "none");
  CHECK(snapshot->pools[2]->mapping != nullptr);
  config.pools[1].metrics.flavour = "vllm";
  CHECK(build_snapshot(config, nullptr, factory)->pools[1]->mapping != nullptr);

  // Never a silent fall back to plain TCP.
  CHECK_THROWS_AS(build_snapshot(config), std::invalid_argument);
  CHECK_THROWS_AS(build_snapshot(config, nullptr, [](const PoolConfig&) { return UpstreamTlsPtr{}; }),
                  std::invalid_argument);
  // Without TLS pools no factory is needed.
  CHECK(build_snapshot(config_of(kConfig))->pools[0]->tls == nullptr);
}
