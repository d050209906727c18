// prefill-load-scorer: 1 - (p - min) / max(max - min, scale) over the pending prefill; the
// PendingPrefill guard that feeds it (counted once, uncounted once) and its estimate.
#include "plugin_fixture.hpp"
#include "routing/scheduler.hpp"

using namespace infergate;
using namespace infergate::testing;

namespace {

EndpointView with_prefill(double tokens) {
  EndpointView v;
  v.pending_prefill = tokens;
  return v;
}

}  // namespace

TEST_CASE("prefill-load-scorer: a difference costs in proportion to scale, a wider spread normalises") {
  struct Case {
    const char* what;
    double scale;  // -1: the default (1024 tokens)
    std::vector<double> pending;
    std::vector<double> expected;
  };
  const std::vector<Case> cases = {
      {"nothing pending anywhere", -1, {0, 0, 0}, {1.0, 1.0, 1.0}},
      {"one short prompt more costs little", -1, {0, 128}, {1.0, 0.875}},
      {"the same difference on busy servers", -1, {2048, 2176}, {1.0, 0.875}},
      {"spread of exactly scale", -1, {0, 512, 1024}, {1.0, 0.5, 0.0}},
      {"wider spread: normalised by it", -1, {0, 2000, 4000}, {1.0, 0.5, 0.0}},
      {"one candidate", -1, {3000}, {1.0}},
      {"scale 0: min-max", 0, {10, 20}, {1.0, 0.0}},
      {"scale 0, all equal", 0, {50, 50}, {1.0, 1.0}},
      {"smaller scale: steeper", 256, {0, 64, 256}, {1.0, 0.75, 0.0}},
  };
  RequestFacts facts;
  for (const Case& c : cases) {
    CAPTURE(c.what);
    auto scorer = c.scale < 0 ? make_plugin<Scorer>("prefill-load-scorer")
                              : make_plugin<Scorer>("prefill-load-scorer", {{"scale", c.scale}});
    std::vector<EndpointView> views;
    for (double p : c.pending) views.push_back(with_prefill(p));
    Fleet fleet(views);
    auto request = request_for(facts);
    const auto got = score(*scorer, request, fleet);
    REQUIRE(got.size() == c.expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(c.expected[i]));
  }
}

TEST_CASE("prefill estimate: uncached prompt bytes / 4") {
  struct Case {
    std::size_t prompt, cached;
    std::int64_t expected;
  };
  const Case cases[] = {{0, 0, 0},        {4000, 0, 1000}, {4000, 3200, 200},
                        {4000, 4000, 0},  {4000, 8192, 0}, {7, 0, 1}};
  for (const Case& c : cases) {
    CAPTURE(c.prompt);
    CAPTURE(c.cached);
    CHECK(prefill_tokens_estimate(c.prompt, c.cached) == c.expected);
  }
}

TEST_CASE("PendingPrefill: counted at construction, uncounted exactly once, moves carry it") {
  auto a = std::make_shared<Endpoint>(HostPort{"127.0.0.1", 1});
  auto b = std::make_shared<Endpoint>(HostPort{"127.0.0.1", 2});
  const auto pending = [](const Endpoint& e) {
    return std::pair{e.prefill_requests.load(), e.prefill_tokens.load()};
  };
  {
    PendingPrefill first(a, 300);
    PendingPrefill second(a, 50);
    CHECK(pending(*a) == std::pair{2, std::int64_t{350}});
    first.release();
    first.release();  // the first body byte, then the end of the request: once only
    CHECK_FALSE(first.counting());
    CHECK(pending(*a) == std::pair{1, std::int64_t{50}});
    PendingPrefill moved(std::move(second));
    CHECK(pending(*a) == std::pair{1, std::int64_t{50}});
    // A retry elsewhere: assigning the new dispatch releases the old one.
    moved = PendingPrefill(b, 70);
    CHECK(pending(*a) == std::pair{0, std::int64_t{0}});
    CHECK(pending(*b) == std::pair{1, std::int64_t{70}});
  }  // an early end (error, abort): the destructor
  CHECK(pending(*b) == std::pair{0, std::int64_t{0}});

  // read_view reports the live count.
  PendingPrefill live(a, 1234);
  EndpointView view;
  read_view(*a, 0, SteadyClock::now(), ViewOptions{}, AdapterKey{}, view);
  CHECK(view.pending_prefill == 1234.0);
  live.release();
  read_view(*a, 0, SteadyClock::now(), ViewOptions{}, AdapterKey{}, view);
  CHECK(view.pending_prefill == 0.0);
}
