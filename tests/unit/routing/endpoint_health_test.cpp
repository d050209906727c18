// Endpoint load and health: the hybrid signal, staleness, saturation, LoRA sets, ejection.
#include <doctest/doctest.h>

#include <cmath>

#include "routing/endpoint_health.hpp"
#include "routing/endpoint_view.hpp"

using namespace infergate;
using namespace std::chrono_literals;

namespace {

const SteadyClock::time_point t0 = SteadyClock::time_point{} + 1000s;

ScrapedLoad scraped(double waiting, double running, double kv) {
  ScrapedLoad s;
  s.waiting = waiting;
  s.running = running;
  s.kv_usage = kv;
  return s;
}

}  // namespace

TEST_CASE("hybrid load: scraped counts + this gateway's in-flight change since the scrape; stale falls back") {
  constexpr double kUnreported = -1;
  struct Case {
    const char* name;
    double waiting, running, kv;
    int at_scrape;   // this gateway's in-flight count when the scrape was requested
    int dispatched;  // sent since the scrape (debug only: finished ones must not count)
    int in_flight;   // now
    std::chrono::milliseconds age;
    bool fresh;
    double queue, backlog;
    bool saturated;
  };
  const Case cases[] = {
      {"fresh idle", 0, 0, 0.1, 0, 0, 0, 10ms, true, 0, 0, false},
      {"the scrape already counts ours", 2, 3, 0.1, 4, 0, 4, 10ms, true, 5, 2, false},
      {"a burst that finished since adds nothing", 0, 2, 0.1, 2, 5, 2, 10ms, true, 2, 0, false},
      {"sent since and still running", 0, 2, 0.1, 2, 3, 5, 10ms, true, 5, 3, false},
      {"finished since: waiting ones take the slots", 3, 8, 0.1, 8, 0, 6, 10ms, true, 9, 1, false},
      {"other clients' load counts", 1, 6, 0.1, 2, 1, 3, 10ms, true, 8, 2, false},
      {"requests in transit at the scrape", 0, 0, 0.1, 2, 0, 2, 10ms, true, 2, 0, false},
      {"waiting past 5", 6, 8, 0.1, 0, 0, 0, 10ms, true, 14, 6, true},
      {"sent since pushes past 5", 4, 8, 0.1, 8, 2, 10, 10ms, true, 14, 6, true},
      {"a burst onto an empty queue runs (batch size unknown)", 0, 2, 0.1, 2, 38, 40, 10ms, true, 40, 38, false},
      {"kv past 0.8", 0, 0, 0.85, 0, 0, 0, 10ms, true, 0, 0, true},
      {"in flight the scrape counted never saturates", 0, 50, 0.1, 50, 0, 50, 10ms, true, 50, 0, false},
      {"no running count: waiting + in flight", 2, kUnreported, 0.1, 3, 1, 4, 10ms, true, 6, 3, false},
      {"stale: local counts only", 60, 8, 0.99, 0, 4, 2, 2500ms, false, 2, 0, false},
      {"at the staleness bound", 1, 1, 0.1, 0, 0, 0, 2000ms, true, 2, 1, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Endpoint e(HostPort{"127.0.0.1", 1});
    ScrapedLoad s = scraped(c.waiting, c.running, c.kv);
    if (c.running == kUnreported) s.running.reset();
    e.load.in_flight_at_scrape = c.at_scrape;
    record_scrape(e, s, t0);
    for (int i = 0; i < c.dispatched; ++i) note_dispatch(e);
    e.in_flight = c.in_flight;
    EndpointView v;
    read_view(e, 0, t0 + c.age, ViewOptions{}, "", v);
    CHECK(v.fresh == c.fresh);
    CHECK(v.queue == doctest::Approx(c.queue));
    CHECK(v.backlog == doctest::Approx(c.backlog));
    CHECK(v.saturated == c.saturated);
    CHECK(v.dispatched == static_cast<std::uint32_t>(c.dispatched));
  }
}

TEST_CASE("saturation.running: full at the batch size, counting this gateway's requests since the scrape") {
  struct Case {
    const char* name;
    double waiting, running;
    int at_scrape, in_flight;
    double limit;  // 0: off
    bool saturated;
  };
  const Case cases[] = {
      {"off: a full batch with an empty queue accepts", 0, 8, 8, 8, 0, false},
      {"a free slot accepts", 0, 7, 7, 7, 8, false},
      {"a full batch is full", 0, 8, 8, 8, 8, true},
      {"ours sent since the scrape fill it", 0, 6, 6, 8, 8, true},
      {"ours finished since the scrape free it", 0, 8, 8, 6, 8, false},
      {"other clients' requests count", 1, 7, 2, 2, 8, true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Endpoint e(HostPort{"127.0.0.1", 1});
    e.load.in_flight_at_scrape = c.at_scrape;
    record_scrape(e, scraped(c.waiting, c.running, 0.1), t0);
    e.in_flight = c.in_flight;
    ViewOptions options;
    options.saturation.running = c.limit;
    EndpointView v;
    read_view(e, 0, t0, options, "", v);
    CHECK(v.saturated == c.saturated);
  }
}

TEST_CASE("a scrape resets dispatched_since_scrape; never scraped is stale") {
  Endpoint e(HostPort{"127.0.0.1", 1});
  EndpointView v;
  read_view(e, 0, t0, ViewOptions{}, "", v);
  CHECK_FALSE(v.fresh);
  note_dispatch(e);
  note_dispatch(e);
  CHECK(e.load.dispatched_since_scrape == 2);
  record_scrape(e, scraped(1, 1, 0.2), t0);
  CHECK(e.load.dispatched_since_scrape == 0);
}

TEST_CASE("missing signals read as 0, not as saturation") {
  Endpoint e(HostPort{"127.0.0.1", 1});
  ScrapedLoad s;  // nothing reported
  record_scrape(e, s, t0);
  CHECK(std::isnan(e.load.waiting.load()));
  EndpointView v;
  read_view(e, 0, t0, ViewOptions{}, "", v);
  CHECK(v.fresh);
  CHECK(v.queue == 0);
  CHECK_FALSE(v.saturated);
}

TEST_CASE("LoRA match from the scraped sets") {
  struct Case {
    std::vector<std::string> running, waiting;
    int max_loras;
    std::string adapter;
    LoraMatch expected;
  };
  const Case cases[] = {
      {{"a", "b"}, {}, 4, "a", LoraMatch::running},
      {{"a"}, {}, 4, "c", LoraMatch::free_slot},
      {{"a", "b"}, {"c"}, 3, "c", LoraMatch::waiting},
      {{"a", "b"}, {}, 2, "c", LoraMatch::none},
      {{"a"}, {}, 4, "", LoraMatch::unknown},
  };
  for (const Case& c : cases) {
    CAPTURE(c.adapter);
    Endpoint e(HostPort{"127.0.0.1", 1});
    ScrapedLoad s = scraped(0, 0, 0);
    s.has_lora_info = true;
    s.running_loras = c.running;
    s.waiting_loras = c.waiting;
    s.max_loras = c.max_loras;
    record_scrape(e, s, t0);
    EndpointView v;
    read_view(e, 0, t0, ViewOptions{}, c.adapter, v);
    CHECK(v.lora == c.expected);
  }
  Endpoint e(HostPort{"127.0.0.1", 1});
  EndpointView v;
  read_view(e, 0, t0, ViewOptions{}, "a", v);
  CHECK(v.lora == LoraMatch::unknown);  // no LoRA info at all
}

TEST_CASE("passive health: connect failures and 5xx bursts eject with backoff") {
  const HealthPolicy policy;  // 5 in a row, 1 s doubling to 30 s
  Endpoint e(HostPort{"127.0.0.1", 1});
  CHECK(is_available(e, t0));
  record_connect_failure(e, t0, policy);
  CHECK_FALSE(is_available(e, t0 + 999ms));
  CHECK(is_available(e, t0 + 1001ms));
  record_connect_failure(e, t0 + 1001ms, policy);  // second in a row: 2 s
  CHECK_FALSE(is_available(e, t0 + 2900ms));
  CHECK(is_available(e, t0 + 3002ms));

  Endpoint f(HostPort{"127.0.0.1", 2});
  for (int i = 0; i < 4; ++i) record_upstream_status(f, 503, t0, policy);
  CHECK(is_available(f, t0));
  record_upstream_status(f, 200, t0, policy);  // breaks the streak
  for (int i = 0; i < 4; ++i) record_upstream_status(f, 500, t0, policy);
  CHECK(is_available(f, t0));
  record_upstream_status(f, 502, t0, policy);
  CHECK_FALSE(is_available(f, t0 + 500ms));
  CHECK(is_available(f, t0 + 1001ms));
}

TEST_CASE("scrapes failing repeatedly mark unhealthy until one succeeds") {
  Endpoint e(HostPort{"127.0.0.1", 1});
  for (int i = 0; i < 2; ++i) record_scrape_failure(e, t0);
  CHECK(is_available(e, t0));
  record_scrape_failure(e, t0);
  CHECK(is_unhealthy(e));
  EndpointView v;
  read_view(e, 0, t0, ViewOptions{}, "", v);
  CHECK_FALSE(v.available);
  record_scrape(e, scraped(0, 0, 0), t0);
  CHECK(is_available(e, t0));
}

TEST_CASE("scrape misses (a pool that did not ask for metrics) never make an endpoint unhealthy") {
  Endpoint e(HostPort{"127.0.0.1", 1});
  for (int i = 0; i < 10; ++i) record_scrape_miss(e);
  CHECK(e.load.scrape_misses == 10);
  CHECK(e.load.scrape_failures == 0);
  CHECK_FALSE(is_unhealthy(e));
  CHECK(is_available(e, t0));
  EndpointView v;
  read_view(e, 0, t0, ViewOptions{}, "", v);
  CHECK(v.available);
  record_scrape(e, scraped(0, 1, 0.1), t0);  // the server serves metrics now
  CHECK(e.load.scrape_misses == 0);
  // A reload from a named flavour to auto: the failures counted before no longer keep it out.
  for (int i = 0; i < 3; ++i) record_scrape_failure(e, t0);
  CHECK(is_unhealthy(e));
  record_scrape_miss(e);
  CHECK_FALSE(is_unhealthy(e));
  CHECK(e.load.scrape_misses == 1);
  record_scrape_failure(e, t0);  // and back
  CHECK(e.load.scrape_misses == 0);
  CHECK(e.load.scrape_failures == 1);
}
