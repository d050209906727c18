// round-robin: rotation of the first choice.
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
