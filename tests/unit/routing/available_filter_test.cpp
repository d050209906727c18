// available-filter: drops ejected or unhealthy endpoints, keeps all when none is available.
#include "plugin_fixture.hpp"

using namespace infergate;
using namespace infergate::testing;

TEST_CASE("available-filter drops unavailable endpoints but never empties the list") {
  struct Case {
    std::vector<bool> available;
    std::vector<std::uint32_t> kept;  // view indices
  };
  const std::vector<Case> cases = {
      {{true, false, true}, {0, 2}},
      {{false, false}, {0, 1}},
      {{true}, {0}},
      {{false, true}, {1}},
  };
  auto filter = make_plugin<Filter>("available-filter");
  RequestFacts facts;
  for (const Case& c : cases) {
    std::vector<EndpointView> views;
    for (bool a : c.available) {
      EndpointView v;
      v.available = a;
      views.push_back(v);
    }
    Fleet fleet(views);
    Candidates candidates = fleet.candidates();
    filter->filter(request_for(facts), candidates);
    std::vector<std::uint32_t> kept;
    for (const auto* v : candidates) kept.push_back(v->index);
    CHECK(kept == c.kept);
  }
}
