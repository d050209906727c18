// kv-cache-scorer: 1 - KV-cache use.
#include "plugin_fixture.hpp"

using namespace infergate;
using namespace infergate::testing;

TEST_CASE("kv-cache-scorer prefers free KV cache") {
  struct Case {
    double kv;
    double expected;
  };
  const Case cases[] = {{0.0, 1.0}, {0.25, 0.75}, {0.8, 0.2}, {1.0, 0.0}};
  auto scorer = make_plugin<Scorer>("kv-cache-scorer");
  std::vector<EndpointView> views;
  for (const Case& c : cases) {
    EndpointView v;
    v.kv_usage = c.kv;
    views.push_back(v);
  }
  Fleet fleet(views);
  RequestFacts facts;
  auto request = request_for(facts);
  const auto got = score(*scorer, request, fleet);
  for (std::size_t i = 0; i < std::size(cases); ++i) CHECK(got[i] == doctest::Approx(cases[i].expected));
}
