// queue-scorer: 1 - (q - min) / max(max - min, scale) over the hybrid load; all equal scores 1.
#include "plugin_fixture.hpp"

using namespace infergate;
using namespace infergate::testing;

TEST_CASE("queue-scorer: a difference costs in proportion to scale, a wider spread normalises") {
  struct Case {
    const char* what;
    double scale;  // -1: the default (4)
    std::vector<double> queues;
    std::vector<double> expected;
  };
  const std::vector<Case> cases = {
      {"one request more costs a quarter, not everything", -1, {0, 1}, {1.0, 0.75}},
      {"the same difference on busy servers", -1, {20, 21}, {1.0, 0.75}},
      {"spread of exactly scale", -1, {0, 2, 4}, {1.0, 0.5, 0.0}},
      {"wider spread: normalised by it", -1, {0, 5, 10}, {1.0, 0.5, 0.0}},
      {"all equal", -1, {3, 3, 3}, {1.0, 1.0, 1.0}},
      {"one candidate", -1, {2}, {1.0}},
      {"fractions", -1, {1.5, 2.5, 1.5, 11.5}, {1.0, 0.9, 1.0, 0.0}},
      {"scale 0: the EPP's min-max", 0, {4, 5}, {1.0, 0.0}},
      {"scale 0, all equal", 0, {3, 3}, {1.0, 1.0}},
      {"larger scale: gentler", 16, {0, 4, 8}, {1.0, 0.75, 0.5}},
  };
  RequestFacts facts;
  for (const Case& c : cases) {
    CAPTURE(c.what);
    auto scorer = c.scale < 0 ? make_plugin<Scorer>("queue-scorer")
                              : make_plugin<Scorer>("queue-scorer", {{"scale", c.scale}});
    std::vector<EndpointView> views;
    for (double q : c.queues) views.push_back(with_queue(q));
    Fleet fleet(views);
    auto request = request_for(facts);
    const auto got = score(*scorer, request, fleet);
    REQUIRE(got.size() == c.expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(c.expected[i]));
  }
}
