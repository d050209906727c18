// random: an even spread.
#include "plugin_fixture.hpp"

#include <algorithm>
#include <map>

using namespace infergate;
using namespace infergate::testing;

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
