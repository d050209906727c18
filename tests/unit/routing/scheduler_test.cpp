// Scheduling: weighted targets, least-in-flight endpoint order with random ties, refusals.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "infergate/routing.hpp"
#include "routing/scheduler.hpp"

using namespace infergate;

namespace {

SnapshotPtr snapshot_of(const std::string& yaml) {
  return build_snapshot(load_config_string(yaml, "test.yaml"));
}

RequestFacts facts_for(std::string model) {
  RequestFacts facts;
  facts.model = std::move(model);
  return facts;
}

}  // namespace

TEST_CASE("weighted split lands within one percentage point over 10,000 requests") {
  struct Case {
    std::string targets;
    std::vector<double> shares;  // expected share of each target
  };
  const std::vector<Case> cases = {
      {"[{pool: a, weight: 90}, {pool: b, weight: 10}]", {0.9, 0.1}},
      {"[{pool: a, weight: 1}, {pool: b, weight: 1}]", {0.5, 0.5}},
      {"[{pool: a, weight: 0}, {pool: b, weight: 3}]", {0.0, 1.0}},
      {"[{pool: a, weight: 5}, {pool: b, weight: 0}, {pool: a, weight: 5}]", {0.5, 0.0, 0.5}},
      {"[{pool: a, weight: 1}, {pool: b, weight: 2}, {pool: a, weight: 7}]", {0.1, 0.2, 0.7}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.targets);
    const SnapshotPtr snapshot = snapshot_of(R"(
pools:
  - {name: a, endpoints: [127.0.0.1:1]}
  - {name: b, endpoints: [127.0.0.1:2]}
models:
  - {name: m, targets: )" + c.targets + "}\n");
    const ModelRoute& model = *snapshot->find_model("m");
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      Rng rng(seed);
      std::vector<int> counts(model.targets.size());
      constexpr int kDraws = 10'000;
      for (int i = 0; i < kDraws; ++i) {
        const auto decision = schedule(*snapshot, facts_for("m"), rng);
        REQUIRE(decision.has_value());
        ++counts[static_cast<std::size_t>(decision->target - model.targets.data())];
      }
      for (std::size_t t = 0; t < counts.size(); ++t) {
        CAPTURE(t);
        const double share = static_cast<double>(counts[t]) / kDraws;
        CHECK(std::abs(share - c.shares[t]) < 0.01);
        if (c.shares[t] == 0.0) CHECK(counts[t] == 0);
      }
    }
  }
}

TEST_CASE("endpoints ordered by fewest in flight, ties in random order") {
  const SnapshotPtr snapshot = snapshot_of(R"(
pools:
  - {name: p, endpoints: [127.0.0.1:1, 127.0.0.1:2, 127.0.0.1:3, 127.0.0.1:4]}
models:
  - {name: m, pool: p}
)");
  const auto& endpoints = snapshot->pools[0]->endpoints;
  struct Case {
    std::vector<int> loads;
    std::vector<std::set<std::string>> groups;  // expected order, as sets of tied endpoints
  };
  const std::vector<Case> cases = {
      {{3, 1, 2, 0}, {{"127.0.0.1:4"}, {"127.0.0.1:2"}, {"127.0.0.1:3"}, {"127.0.0.1:1"}}},
      {{1, 0, 1, 0}, {{"127.0.0.1:2", "127.0.0.1:4"}, {"127.0.0.1:1", "127.0.0.1:3"}}},
      {{0, 0, 0, 0}, {{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"}}},
  };
  Rng rng(42);
  for (const auto& c : cases) {
    for (std::size_t i = 0; i < endpoints.size(); ++i) endpoints[i]->in_flight = c.loads[i];
    std::map<std::string, int> first_choice;
    for (int run = 0; run < 400; ++run) {
      const auto decision = schedule(*snapshot, facts_for("m"), rng);
      REQUIRE(decision.has_value());
      REQUIRE(decision->endpoints.size() == endpoints.size());
      std::size_t next = 0;
      for (const auto& group : c.groups) {
        std::set<std::string> seen;
        for (std::size_t k = 0; k < group.size(); ++k) seen.insert(decision->endpoints[next++]->name);
        CHECK(seen == group);
      }
      ++first_choice[decision->endpoints[0]->name];
    }
    // Every endpoint tied for first place is chosen first about equally often.
    const auto& tied = c.groups.front();
    CHECK(first_choice.size() == tied.size());
    for (const auto& [name, count] : first_choice) {
      CAPTURE(name);
      CHECK(count > 400 / static_cast<int>(tied.size()) / 2);
    }
  }
  // Keeping only the first choices: the least loaded, in order.
  const std::vector<int> loads = {3, 1, 2, 0};
  for (std::size_t i = 0; i < endpoints.size(); ++i) endpoints[i]->in_flight = loads[i];
  for (std::size_t limit : {0, 1, 2, 4, 9}) {
    CAPTURE(limit);
    const auto decision = schedule(*snapshot, facts_for("m"), rng, limit);
    REQUIRE(decision.has_value());
    const std::vector<std::string> expected = {"127.0.0.1:4", "127.0.0.1:2", "127.0.0.1:3",
                                               "127.0.0.1:1"};
    REQUIRE(decision->endpoints.size() == std::min(limit, expected.size()));
    for (std::size_t i = 0; i < decision->endpoints.size(); ++i) {
      CHECK(decision->endpoints[i]->name == expected[i]);
    }
  }
  for (const auto& e : endpoints) e->in_flight = 0;
}

TEST_CASE("refusals and rewrites") {
  const SnapshotPtr snapshot = snapshot_of(R"(
pools:
  - {name: p, endpoints: [127.0.0.1:1]}
  - {name: empty, endpoints: []}
models:
  - {name: m, pool: p}
  - {name: alias, pool: p, model: base-lora}
  - {name: scaled-to-zero, pool: empty}
)");
  Rng rng(7);
  CHECK(schedule(*snapshot, facts_for("nope"), rng).error() == ErrorKind::model_not_found);
  CHECK(schedule(*snapshot, facts_for("M"), rng).error() == ErrorKind::model_not_found);
  CHECK(schedule(*snapshot, facts_for("scaled-to-zero"), rng).error() ==
        ErrorKind::no_ready_endpoint);
  const auto plain = schedule(*snapshot, facts_for("m"), rng);
  REQUIRE(plain.has_value());
  CHECK_FALSE(plain->rewrite());
  CHECK(plain->model->name == "m");
  const auto alias = schedule(*snapshot, facts_for("alias"), rng);
  REQUIRE(alias.has_value());
  CHECK(alias->rewrite());
  CHECK(alias->target->served_model == "base-lora");
  CHECK(alias->endpoints.at(0)->name == "127.0.0.1:1");
}

TEST_CASE("pick_target never draws a zero weight and refuses an all-zero model") {
  Pool pool;
  ModelRoute model;
  model.targets = {{&pool, "", 0}, {&pool, "", 0}};
  Rng rng(3);
  CHECK(pick_target(model, rng) == nullptr);
  model.targets[1].weight = 1;
  model.total_weight = 1;
  for (int i = 0; i < 100; ++i) CHECK(pick_target(model, rng) == &model.targets[1]);
}
