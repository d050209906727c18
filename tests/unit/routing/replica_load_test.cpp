// Load seen from the server (issue 14, part 1): with several gateway replicas each sees only its
// own in-flight requests, so the default profile must weigh what the servers report. These run
// the real default profile on scraped values, as the proxy does: schedule() at a time just after
// the scrape, InFlight held while a request runs.
#include <doctest/doctest.h>

#include <vector>

#include "infergate/routing.hpp"
#include "routing/endpoint_health.hpp"
#include "routing/scheduler.hpp"

using namespace infergate;
using namespace std::chrono_literals;

namespace {

const SteadyClock::time_point t0 = SteadyClock::time_point{} + 1000s;

SnapshotPtr four_servers(const char* metrics) {
  return build_snapshot(load_config_string(std::string(R"(
pools:
  - name: p
    endpoints: [127.0.0.1:1, 127.0.0.1:2, 127.0.0.1:3, 127.0.0.1:4]
)") + metrics + R"(
models:
  - {name: m, pool: p}
)", "t.yaml"));
}

// One scrape of `e` as the scraper publishes it: the page's counts, and this gateway's in-flight
// count when the scrape's request left.
void scrape(Endpoint& e, double waiting, double running, double kv, int ours_at_scrape) {
  ScrapedLoad s;
  s.waiting = waiting;
  s.running = running;
  s.kv_usage = kv;
  e.load.in_flight_at_scrape = ours_at_scrape;
  record_scrape(e, s, t0);
}

// The first choice for a short request with no reusable prefix; counts its dispatch.
EndpointPtr pick(const Snapshot& snapshot, Rng& rng, int i) {
  const std::string text = "question " + std::to_string(i);  // under a prefix block: no affinity
  RequestFacts facts;
  facts.model = "m";
  facts.prompt = {{"user", text}};
  RequestContext request;
  request.facts = &facts;
  auto decision = schedule(snapshot, request, rng, 4, t0 + 10ms);
  REQUIRE(decision.has_value());
  REQUIRE_FALSE(decision->endpoints.empty());
  note_dispatch(*decision->endpoints.front());
  return decision->endpoints.front();
}

}  // namespace

TEST_CASE("the scene: 40 streams placed by others on one server; 20 short requests avoid it") {
  struct Case {
    const char* name;
    const char* metrics;  // the pool's metrics line
    bool scraped;         // the scraper publishes the servers' counts (not for flavour none)
    bool held;            // each short request still runs when the next is scheduled
    int avoided_at_least, avoided_at_most;
  };
  const Case cases[] = {
      {"scraped (the default), one after another", "", true, false, 20, 20},
      {"scraped (the default), all running at once", "", true, true, 20, 20},
      {"scraped as vllm", "    metrics: {flavour: vllm}", true, true, 20, 20},
      // Without scraping the 40 streams are invisible: every server looks idle, ties are random.
      {"not scraped: random", "    metrics: {flavour: none}", false, false, 5, 19},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const SnapshotPtr snapshot = four_servers(c.metrics);
    const auto& endpoints = snapshot->pools[0]->endpoints;
    CHECK((snapshot->pools[0]->mapping != nullptr) == c.scraped);
    if (c.scraped) {
      scrape(*endpoints[0], 0, 40, 0.35, 0);  // 40 streams, none of them ours
      for (std::size_t i = 1; i < endpoints.size(); ++i) scrape(*endpoints[i], 0, 0, 0, 0);
    }
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      Rng rng(seed);
      std::vector<InFlight> running;
      int avoided = 0;
      for (int i = 0; i < 20; ++i) {
        EndpointPtr chosen = pick(*snapshot, rng, i);
        avoided += chosen != endpoints[0];
        if (c.held) running.emplace_back(std::move(chosen));
      }
      CHECK(avoided >= c.avoided_at_least);
      CHECK(avoided <= c.avoided_at_most);
    }
  }
}

TEST_CASE("load estimate: others' requests from the scrape, ours live, never twice") {
  // Two servers. `a`: scraped waiting + running, of which `ours_at_scrape` were this gateway's;
  // `ours_now` in flight from here now. `b`: 3 running, none ours. Which one is picked tells
  // which the estimate found lighter.
  struct Case {
    const char* name;
    double waiting, running;
    int ours_at_scrape, ours_now;
    double queue;  // the estimate of `a`: others' (scraped - ours at scrape) + ours now
    bool picks_a;
  };
  const Case cases[] = {
      {"the scrape counts our 4: 4, not 8", 0, 4, 4, 4, 4, false},
      {"ours finished since the scrape: 0", 0, 4, 4, 0, 0, true},
      {"2 of others + 1 of ours sent since", 0, 2, 0, 1, 3, false},  // a tie with b: not asserted
      {"others only: as scraped", 1, 1, 0, 0, 2, true},
      {"ours in transit at the scrape are not lost", 0, 0, 2, 2, 2, true},
      {"waiting counts like running", 5, 0, 0, 0, 5, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const SnapshotPtr snapshot = build_snapshot(load_config_string(R"(
pools:
  - {name: p, endpoints: [127.0.0.1:1, 127.0.0.1:2]}
models:
  - {name: m, pool: p}
)", "t.yaml"));
    const auto& endpoints = snapshot->pools[0]->endpoints;
    Endpoint& a = *endpoints[0];
    scrape(a, c.waiting, c.running, 0.1, c.ours_at_scrape);
    scrape(*endpoints[1], 0, 3, 0.1, 0);
    a.in_flight = c.ours_now;
    EndpointView view;
    read_view(a, 0, t0 + 10ms, view_options(*snapshot->pools[0], priority::standard), AdapterKey{}, view);
    CHECK(view.queue == doctest::Approx(c.queue));
    if (c.queue == 3) continue;
    Rng rng(7);
    CHECK((pick(*snapshot, rng, 0) == endpoints[0]) == c.picks_a);
  }
}

TEST_CASE("/debug/endpoints shows the load the scorers read and the part others placed") {
  const SnapshotPtr snapshot = four_servers("");
  const auto& endpoints = snapshot->pools[0]->endpoints;
  scrape(*endpoints[0], 1, 40, 0.35, 3);  // 3 of the 41 were ours when scraped; 2 still are
  endpoints[0]->in_flight = 2;
  for (std::size_t i = 1; i < endpoints.size(); ++i) scrape(*endpoints[i], 0, 0, 0, 0);
  const std::string json = render_endpoints_json(*snapshot, t0 + 10ms);
  CHECK(json.find(R"("load":{"fresh":true,"queue":40,"backlog":0,"others":38,"saturated":false})") !=
        std::string::npos);
  CHECK(json.find(R"("load":{"fresh":false,"queue":0,"backlog":0,"others":0,"saturated":false})") ==
        std::string::npos);  // the others were scraped too
}

TEST_CASE("a stale scrape falls back to this gateway's own counts") {
  const SnapshotPtr snapshot = four_servers("");
  const auto& endpoints = snapshot->pools[0]->endpoints;
  scrape(*endpoints[0], 0, 40, 0.35, 0);
  EndpointView view;
  const ViewOptions options = view_options(*snapshot->pools[0], priority::standard);
  read_view(*endpoints[0], 0, t0 + 1s, options, AdapterKey{}, view);
  CHECK(view.queue == 40);
  read_view(*endpoints[0], 0, t0 + 3s, options, AdapterKey{}, view);  // past the 2 s staleness
  CHECK_FALSE(view.fresh);
  CHECK(view.queue == 0);
}
