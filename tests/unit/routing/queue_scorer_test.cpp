// queue-scorer: (max - q) / (max - min) over the hybrid queue; all equal scores 1.
#include "plugin_fixture.hpp"

using namespace infergate;
using namespace infergate::testing;

TEST_CASE("queue-scorer normalizes the hybrid queue across candidates") {
  struct Case {
    std::vector<double> queues;
    std::vector<double> expected;
  };
  const std::vector<Case> cases = {
      {{0, 5, 10}, {1.0, 0.5, 0.0}},
      {{3, 3, 3}, {1.0, 1.0, 1.0}},
      {{2}, {1.0}},
      {{4, 0}, {0.0, 1.0}},
      {{1.5, 2.5, 1.5, 11.5}, {1.0, 0.9, 1.0, 0.0}},
  };
  auto scorer = make_plugin<Scorer>("queue-scorer");
  RequestFacts facts;
  for (const Case& c : cases) {
    std::vector<EndpointView> views;
    for (double q : c.queues) views.push_back(with_queue(q));
    Fleet fleet(views);
    auto request = request_for(facts);
    const auto got = score(*scorer, request, fleet);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(c.expected[i]));
  }
}
