// lora-affinity-scorer: running 1.0, free slot 0.8, waiting 0.6, else 0.
#include "plugin_fixture.hpp"

using namespace infergate;
using namespace infergate::testing;

TEST_CASE("lora-affinity-scorer ranks where the adapter stands") {
  struct Case {
    LoraMatch match;
    double expected;
  };
  const Case cases[] = {{LoraMatch::running, 1.0}, {LoraMatch::free_slot, 0.8},
                        {LoraMatch::waiting, 0.6}, {LoraMatch::none, 0.0},
                        {LoraMatch::unknown, 0.0}};
  auto scorer = make_plugin<Scorer>("lora-affinity-scorer");
  std::vector<EndpointView> views;
  for (const Case& c : cases) {
    EndpointView v;
    v.lora = c.match;
    views.push_back(v);
  }
  Fleet fleet(views);
  RequestFacts facts;
  auto request = request_for(facts);
  const auto got = score(*scorer, request, fleet);
  for (std::size_t i = 0; i < std::size(cases); ++i) CHECK(got[i] == doctest::Approx(cases[i].expected));
}
