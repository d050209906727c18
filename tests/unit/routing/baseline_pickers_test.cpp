// The baseline pickers: round-robin, random, least-request, power-of-two-choices.
#include "plugin_fixture.hpp"

#include <algorithm>
#include <map>

using namespace infergate;
using namespace infergate::testing;

TEST_CASE("round-robin rotates the first choice, fallbacks in list order") {
  auto picker = make_plugin<Picker>("round-robin");
  RequestFacts facts;
  Rng rng(1);
  Fleet fleet(std::vector<EndpointView>(3));
  const std::vector<std::vector<std::uint32_t>> expected = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 1, 2}};
  for (const auto& e : expected) CHECK(pick(*picker, request_for(facts), fleet, rng) == e);
}

TEST_CASE("random spreads first choices evenly and returns each candidate once") {
  auto picker = make_plugin<Picker>("random");
  RequestFacts facts;
  Rng rng(2);
  Fleet fleet(std::vector<EndpointView>(4));
  std::map<std::uint32_t, int> first;
  for (int i = 0; i < 4000; ++i) {
    auto order = pick(*picker, request_for(facts), fleet, rng);
    ++first[order[0]];
    std::sort(order.begin(), order.end());
    CHECK(order == std::vector<std::uint32_t>{0, 1, 2, 3});
  }
  for (auto [i, n] : first) CHECK(std::abs(n - 1000) < 150);
}

TEST_CASE("least-request orders by local in-flight only") {
  struct Case {
    std::vector<std::int32_t> in_flight;
    std::vector<double> queue;  // ignored by least-request
    std::vector<std::uint32_t> expected;
  };
  const std::vector<Case> cases = {
      {{3, 1, 2}, {0, 9, 9}, {1, 2, 0}},
      {{0, 5}, {100, 0}, {0, 1}},
  };
  auto picker = make_plugin<Picker>("least-request");
  RequestFacts facts;
  Rng rng(3);
  for (const Case& c : cases) {
    std::vector<EndpointView> views;
    for (std::size_t i = 0; i < c.in_flight.size(); ++i) views.push_back(with_queue(c.queue[i], c.in_flight[i]));
    Fleet fleet(views);
    CHECK(pick(*picker, request_for(facts), fleet, rng) == c.expected);
  }
}

TEST_CASE("power-of-two-choices: the shorter queue of two random candidates first") {
  auto picker = make_plugin<Picker>("power-of-two-choices");
  RequestFacts facts;
  Rng rng(4);
  // Queues 0..3: the longest queue is never first (it loses every pair), the shortest is first
  // whenever it is drawn (half the time with 4 candidates).
  Fleet fleet({with_queue(0), with_queue(1), with_queue(2), with_queue(3)});
  std::map<std::uint32_t, int> first;
  for (int i = 0; i < 3000; ++i) {
    const auto order = pick(*picker, request_for(facts), fleet, rng);
    REQUIRE(order.size() == 4);
    ++first[order[0]];
  }
  CHECK(first[3] == 0);
  CHECK(std::abs(first[0] - 1500) < 150);
  CHECK(std::abs(first[1] - 1000) < 150);
  CHECK(std::abs(first[2] - 500) < 150);
  Fleet one({with_queue(7)});
  CHECK(pick(*picker, request_for(facts), one, rng) == std::vector<std::uint32_t>{0});
}
