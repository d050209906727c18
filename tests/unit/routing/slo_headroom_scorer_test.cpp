// slo-headroom-scorer: neutral until trained; with an SLO, endpoints predicted to meet it outrank
// those predicted to miss; without one, the lowest predicted latency scores highest.
#include "plugin_fixture.hpp"
#include "routing/plugins/slo_headroom_scorer.hpp"

using namespace infergate;
using namespace infergate::testing;

namespace {

EndpointView load(double waiting, double running) {
  EndpointView v;
  v.waiting = waiting;
  v.running = running;
  v.queue = waiting + running;
  return v;
}

// Train on a pool where TTFT = 50 + 100 ms per waiting request, TPOT = 10 + 5 ms per running one.
void train(const plugins::SloHeadroomScorer& scorer, const SchedulingRequest& request, int n) {
  for (int i = 0; i < n; ++i) {
    const EndpointView v = load(i % 5, i % 7);
    const auto f = plugins::SloHeadroomScorer::features(request, v);
    scorer.model().observe_ttft(f, 50 + 100 * v.waiting);
    scorer.model().observe_tpot(f, 10 + 5 * v.running);
  }
}

}  // namespace

TEST_CASE("slo-headroom-scorer: neutral until min_samples observations") {
  auto scorer = make_plugin<plugins::SloHeadroomScorer>("slo-headroom-scorer", {{"min_samples", 10}});
  RequestFacts facts;
  auto request = request_for(facts);
  Fleet fleet({load(0, 0), load(4, 6)});
  CHECK(score(*scorer, request, fleet) == std::vector<double>{1.0, 1.0});
  train(*scorer, request, 9);
  CHECK(score(*scorer, request, fleet) == std::vector<double>{1.0, 1.0});
  train(*scorer, request, 1);
  const auto got = score(*scorer, request, fleet);
  CHECK(got[0] > got[1]);
}

TEST_CASE("slo-headroom-scorer: meeting the SLO outranks missing it; headroom orders the rest") {
  auto scorer = make_plugin<plugins::SloHeadroomScorer>("slo-headroom-scorer");
  RequestFacts facts;
  auto request = request_for(facts);
  train(*scorer, request, 200);
  // Predicted TTFT: 50, 150, 350, 450 ms.
  Fleet fleet({load(0, 0), load(1, 0), load(3, 0), load(4, 0)});
  request.slo_ttft_ms = 400;
  const auto got = score(*scorer, request, fleet);
  CHECK(got[0] == doctest::Approx(0.5 + 0.5 * (1 - 50.0 / 400)).epsilon(0.01));
  CHECK(got[0] > got[1]);
  CHECK(got[1] > got[2]);
  CHECK(got[2] >= 0.5);
  CHECK(got[3] < 0.5);
  CHECK(got[3] == doctest::Approx(0.5 / (450.0 / 400)).epsilon(0.01));
}

TEST_CASE("slo-headroom-scorer: TPOT objective from config, worst dimension counts") {
  auto scorer = make_plugin<plugins::SloHeadroomScorer>("slo-headroom-scorer", {{"tpot_ms", 30}});
  RequestFacts facts;
  auto request = request_for(facts);
  train(*scorer, request, 200);
  // Predicted TPOT: 10 + 5 * running -> 15 (meets 30), 40 (misses).
  Fleet fleet({load(0, 1), load(0, 6)});
  const auto got = score(*scorer, request, fleet);
  CHECK(got[0] > 0.5);
  CHECK(got[1] < 0.5);
}

TEST_CASE("slo-headroom-scorer: no SLO prefers the lowest predicted latency") {
  auto scorer = make_plugin<plugins::SloHeadroomScorer>("slo-headroom-scorer");
  RequestFacts facts;
  auto request = request_for(facts);
  train(*scorer, request, 200);
  Fleet fleet({load(2, 2), load(0, 0), load(4, 6)});
  const auto got = score(*scorer, request, fleet);
  CHECK(got[1] == doctest::Approx(1.0));
  CHECK(got[0] < got[1]);
  CHECK(got[2] < got[0]);
}
