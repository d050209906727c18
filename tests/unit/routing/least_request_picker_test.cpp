// least-request: fewest in flight first.
#include "plugin_fixture.hpp"

#include <algorithm>
#include <map>

using namespace infergate;
using namespace infergate::testing;

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
