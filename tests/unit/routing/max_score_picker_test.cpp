// max-score-picker: highest score first, random among ties, the rest as fallbacks by score.
#include "plugin_fixture.hpp"

#include <map>
#include <set>

using namespace infergate;
using namespace infergate::testing;

TEST_CASE("max-score-picker orders by score, random among ties") {
  struct Case {
    std::vector<double> scores;
    std::set<std::uint32_t> firsts;  // candidates tied for first
    std::uint32_t last;
  };
  const std::vector<Case> cases = {
      {{0.1, 0.9, 0.5}, {1}, 0},
      {{2.0, 2.0, 1.0}, {0, 1}, 2},
      {{0, 0, 0, -1}, {0, 1, 2}, 3},
  };
  auto picker = make_plugin<Picker>("max-score-picker");
  RequestFacts facts;
  Rng rng(5);
  for (const Case& c : cases) {
    Fleet fleet(std::vector<EndpointView>(c.scores.size()));
    std::map<std::uint32_t, int> first;
    for (int i = 0; i < 300; ++i) {
      const auto order = pick(*picker, request_for(facts), fleet, rng, c.scores);
      REQUIRE(order.size() == c.scores.size());
      CHECK(order.back() == c.last);
      ++first[order[0]];
    }
    CHECK(first.size() == c.firsts.size());
    for (auto [i, n] : first) {
      CHECK(c.firsts.contains(i));
      CHECK(n > 300 / static_cast<int>(c.firsts.size()) / 2);
    }
  }
  Fleet fleet(std::vector<EndpointView>(4));
  CHECK(pick(*picker, request_for(facts), fleet, rng, {0.1, 0.4, 0.3, 0.2}, 2) ==
        std::vector<std::uint32_t>{1, 2});
}
