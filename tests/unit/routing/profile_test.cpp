// The pipeline end to end through schedule(): profiles from config, saturation, priorities,
// queue verdicts, dispatch hooks, the scores header and /debug/endpoints.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <thread>

#include "infergate/routing.hpp"
#include "routing/endpoint_health.hpp"
#include "routing/profile.hpp"
#include "routing/registry.hpp"
#include "routing/scheduler.hpp"

using namespace infergate;
using namespace std::chrono_literals;

namespace {

const SteadyClock::time_point t0 = SteadyClock::time_point{} + 1000s;

GatewayConfig fleet_config(std::size_t n, SchedulerConfig scheduler = {}) {
  GatewayConfig config;
  PoolConfig pool;
  pool.name = "p";
  for (std::size_t i = 0; i < n; ++i) pool.endpoints.push_back({"127.0.0.1", static_cast<std::uint16_t>(i + 1)});
  pool.scheduler = scheduler;
  pool.metrics.flavour = "vllm";
  config.pools.push_back(pool);
  config.models.push_back({"m", {{"p", "", 1}}, priority::standard});
  config.models.push_back({"batch", {{"p", "", 1}}, priority::sheddable});
  config.models.push_back({"adapter", {{"p", "lora-a", 1}}, priority::critical});
  config.objectives.push_back({"bulk", priority::sheddable});
  return config;
}

void scrape(Endpoint& e, double waiting, double kv, SteadyClock::time_point at = t0) {
  ScrapedLoad s;
  s.waiting = waiting;
  s.running = 1;
  s.kv_usage = kv;
  record_scrape(e, s, at);
}

}  // namespace

TEST_CASE("profiles: the default and named plugins from config") {
  const auto d = build_profile({});
  CHECK(d->filters.size() == 1);
  REQUIRE(d->scorers.size() == 5);
  const std::map<std::string_view, double> weights = {
      {"queue-scorer", 2}, {"kv-cache-scorer", 2}, {"prefix-cache-scorer", 3}, {"lora-affinity-scorer", 1},
      {"prefill-load-scorer", 1}};
  for (const auto& s : d->scorers) CHECK(weights.at(s.scorer->type()) == s.weight);
  CHECK(d->picker->type() == "max-score-picker");
  const auto rr = build_profile({{{"round-robin", 1, {}}}});
  CHECK(rr->scorers.empty());
  CHECK(rr->picker->type() == "round-robin");
  CHECK_THROWS_AS(build_profile({{{"no-such-plugin", 1, {}}}}), std::invalid_argument);
  CHECK_THROWS_AS(build_profile({{{"random", 1, {}}, {"round-robin", 1, {}}}}), std::invalid_argument);
}

TEST_CASE("schedule: load, KV and warm prefixes steer the default profile") {
  const SnapshotPtr snapshot = build_snapshot(fleet_config(3));
  const auto& eps = snapshot->pools[0]->endpoints;
  const std::string system(512, 's');
  RequestFacts facts;
  facts.model = "m";
  facts.prompt = {{"system", system}, {"user", "hi"}};
  RequestContext request;
  request.facts = &facts;
  request.want_scores = true;
  Rng rng(1);
  struct Case {
    const char* what;
    std::vector<double> waiting, kv;
    std::string expected;
  };
  const Case cases[] = {
      {"shortest queue", {3, 0, 2}, {0.1, 0.1, 0.1}, "127.0.0.1:2"},
      {"most free KV", {1, 1, 1}, {0.5, 0.6, 0.1}, "127.0.0.1:3"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    for (std::size_t i = 0; i < 3; ++i) scrape(*eps[i], c.waiting[i], c.kv[i]);
    const auto d = schedule(*snapshot, request, rng, 3, t0 + 10ms);
    REQUIRE(d.has_value());
    CHECK(d->verdict == Verdict::dispatch);
    CHECK(d->endpoints.size() == 3);
    CHECK(d->endpoints[0]->name == c.expected);
    CHECK(d->scores.size() == 3);
    CHECK(d->scores[0] >= d->scores[1]);
  }
  // A warm prefix: dispatch to endpoint 1 once, equal load: it wins from then on.
  for (std::size_t i = 0; i < 3; ++i) scrape(*eps[i], 1, 0.2);
  auto d = schedule(*snapshot, request, rng, 3, t0 + 10ms);
  REQUIRE(d.has_value());
  CHECK_FALSE(d->prefix_hashes.empty());
  record_dispatch(*d, eps[0]);
  CHECK(eps[0]->load.dispatched_since_scrape == 1);
  scrape(*eps[0], 1, 0.2);
  for (int i = 0; i < 20; ++i) {
    d = schedule(*snapshot, request, rng, 3, t0 + 10ms);
    CHECK(d->endpoints[0] == eps[0]);
  }
  CHECK(scores_header(*d).starts_with("127.0.0.1:1="));
  const std::string json = render_endpoints_json(*snapshot, t0 + 10ms);
  CHECK(json.find(R"("name":"127.0.0.1:1","scraped":{"waiting":1,"running":1,"kv_usage":0.2,"age_ms":10.0)") !=
        std::string::npos);
  CHECK(json.find(R"("prefix_index_entries":8,"load":)") != std::string::npos);  // 520 bytes / 64
}

TEST_CASE("saturation: sheddable refused, the rest queued; stale metrics never saturate") {
  const SnapshotPtr snapshot = build_snapshot(fleet_config(2));
  const auto& eps = snapshot->pools[0]->endpoints;
  Rng rng(2);
  struct Case {
    const char* what;
    std::string model, objective;
    std::vector<double> waiting, kv;
    std::chrono::milliseconds age;
    bool refused;     // 429
    Verdict verdict;  // when not refused
  };
  const Case cases[] = {
      {"not saturated", "batch", "", {6, 0}, {0.1, 0.1}, 10ms, false, Verdict::dispatch},
      {"all saturated, sheddable", "batch", "", {6, 0}, {0.1, 0.9}, 10ms, true, Verdict::dispatch},
      {"all saturated, standard", "m", "", {6, 9}, {0.1, 0.1}, 10ms, false, Verdict::queue},
      {"objective makes it sheddable", "m", "bulk", {6, 9}, {0.1, 0.1}, 10ms, true, Verdict::dispatch},
      {"unknown objective: model's", "m", "nope", {6, 9}, {0.1, 0.1}, 10ms, false, Verdict::queue},
      {"stale metrics", "batch", "", {60, 60}, {1, 1}, 3s, false, Verdict::dispatch},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    for (std::size_t i = 0; i < 2; ++i) scrape(*eps[i], c.waiting[i], c.kv[i]);
    RequestFacts facts;
    facts.model = c.model;
    RequestContext request;
    request.facts = &facts;
    request.objective = c.objective;
    const auto d = schedule(*snapshot, request, rng, 3, t0 + c.age);
    if (c.refused) {
      REQUIRE_FALSE(d.has_value());
      CHECK(d.error() == ErrorKind::saturated);
    } else {
      REQUIRE(d.has_value());
      CHECK(d->verdict == c.verdict);
    }
  }
}

TEST_CASE("an empty pool queues non-sheddable requests; the old overload refuses with 503") {
  GatewayConfig config = fleet_config(0);
  const SnapshotPtr snapshot = build_snapshot(config);
  Rng rng(3);
  RequestFacts facts;
  facts.model = "m";
  RequestContext request;
  request.facts = &facts;
  const auto d = schedule(*snapshot, request, rng, 3, t0);
  REQUIRE(d.has_value());
  CHECK(d->verdict == Verdict::queue);
  CHECK(d->endpoints.empty());
  CHECK(schedule(*snapshot, facts, rng).error() == ErrorKind::no_ready_endpoint);
  facts.model = "batch";
  CHECK(schedule(*snapshot, request, rng, 3, t0).error() == ErrorKind::no_ready_endpoint);
}

TEST_CASE("LoRA: the adapter's served name steers to the server that runs it") {
  const SnapshotPtr snapshot = build_snapshot(fleet_config(3));
  const auto& eps = snapshot->pools[0]->endpoints;
  for (std::size_t i = 0; i < 3; ++i) {
    ScrapedLoad s;
    s.waiting = 0;
    s.kv_usage = 0.1;
    s.has_lora_info = true;
    s.max_loras = 1;
    if (i == 2) s.running_loras = {"lora-a"};
    else s.running_loras = {"lora-b"};
    record_scrape(*eps[i], s, t0);
  }
  RequestFacts facts;
  facts.model = "adapter";
  RequestContext request;
  request.facts = &facts;
  Rng rng(4);
  for (int i = 0; i < 10; ++i) {
    const auto d = schedule(*snapshot, request, rng, 3, t0);
    REQUIRE(d.has_value());
    CHECK(d->served_model() == "lora-a");
    CHECK(d->endpoints[0] == eps[2]);
  }
}

TEST_CASE("a reload with the same scheduler config keeps the profile (and its index)") {
  const GatewayConfig config = fleet_config(2);
  const SnapshotPtr first = build_snapshot(config);
  const SnapshotPtr second = build_snapshot(config, first.get());
  CHECK(first->pools[0]->profile == second->pools[0]->profile);
  GatewayConfig changed = config;
  changed.pools[0].scheduler = SchedulerConfig{{{"random", 1, {}}}};
  const SnapshotPtr third = build_snapshot(changed, second.get());
  CHECK(third->pools[0]->profile != second->pools[0]->profile);
  CHECK(third->pools[0]->profile->picker->type() == "random");
}

TEST_CASE("pool_accepts: endpoints present and not all saturated") {
  const SnapshotPtr snapshot = build_snapshot(fleet_config(2));
  const Pool& pool = *snapshot->pools[0];
  struct Case {
    std::vector<double> waiting;
    std::chrono::milliseconds age;
    bool accepts;
  };
  const Case cases[] = {{{6, 6}, 10ms, false}, {{6, 1}, 10ms, true}, {{60, 60}, 5s, true}};
  for (const Case& c : cases) {
    for (std::size_t i = 0; i < 2; ++i) scrape(*pool.endpoints[i], c.waiting[i], 0.1);
    CHECK(pool_accepts(pool, priority::standard, t0 + c.age) == c.accepts);
  }
  const SnapshotPtr empty = build_snapshot(fleet_config(0));
  CHECK_FALSE(pool_accepts(*empty->pools[0], priority::critical, t0));
}

TEST_CASE("saturation.reserve: the last batch slots only take Critical requests") {
  GatewayConfig config = fleet_config(1);
  config.pools[0].saturation.running = 4;
  config.pools[0].saturation.reserve = 1;
  const SnapshotPtr snapshot = build_snapshot(config);
  const Pool& pool = *snapshot->pools[0];
  struct Case {
    double running;
    bool critical_accepted, standard_accepted, sheddable_accepted;
  };
  const Case cases[] = {{2, true, true, true}, {3, true, false, false}, {4, false, false, false}};
  for (const Case& c : cases) {
    CAPTURE(c.running);
    ScrapedLoad s;
    s.waiting = 0;
    s.running = c.running;
    s.kv_usage = 0.1;
    record_scrape(*pool.endpoints[0], s, t0);
    CHECK(pool_accepts(pool, priority::critical, t0) == c.critical_accepted);
    CHECK(pool_accepts(pool, priority::standard, t0) == c.standard_accepted);
    CHECK(pool_accepts(pool, priority::sheddable, t0) == c.sheddable_accepted);
  }
}

TEST_CASE("workers schedule and dispatch while the control thread publishes scrapes") {
  const SnapshotPtr snapshot = build_snapshot(fleet_config(8));
  const auto& eps = snapshot->pools[0]->endpoints;
  std::atomic<bool> stop{false};
  std::thread control([&] {
    for (int round = 0; round < 200 && !stop; ++round) {
      for (std::size_t i = 0; i < eps.size(); ++i) {
        ScrapedLoad s;
        s.waiting = static_cast<double>((round + i) % 4);
        s.kv_usage = 0.1;
        s.has_lora_info = true;
        s.max_loras = 2;
        s.running_loras = {round % 2 ? "lora-a" : "lora-b"};
        record_scrape(*eps[i], s, SteadyClock::now());
      }
    }
  });
  std::vector<std::thread> workers;
  std::atomic<int> dispatched{0};
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&, w] {
      Rng rng(static_cast<std::uint64_t>(w));
      const std::string prompt = std::string(300, 'a' + static_cast<char>(w));
      RequestFacts facts;
      facts.model = w == 0 ? "adapter" : "m";
      facts.prompt = {{"user", prompt}};
      RequestContext request;
      request.facts = &facts;
      for (int i = 0; i < 2000; ++i) {
        const auto d = schedule(*snapshot, request, rng, 3, SteadyClock::now());
        if (!d || d->endpoints.empty()) continue;
        InFlight in_flight(d->endpoints[0]);
        record_dispatch(*d, d->endpoints[0]);
        record_upstream_status(*d->endpoints[0], i % 50 == 0 ? 503 : 200, SteadyClock::now());
        ++dispatched;
      }
    });
  }
  for (auto& t : workers) t.join();
  stop = true;
  control.join();
  CHECK(dispatched == 6000);
  for (const auto& e : eps) CHECK(e->in_flight == 0);
  CHECK(render_endpoints_json(*snapshot, SteadyClock::now()).size() > 100);
}

namespace {

// One scrape with every signal given. This gateway is the only client: its in-flight count is
// the running count, all of it seen by the scrape.
void scrape_full(Endpoint& e, double waiting, double running, double kv) {
  ScrapedLoad s;
  s.waiting = waiting;
  s.running = running;
  s.kv_usage = kv;
  e.in_flight = static_cast<std::int32_t>(running + waiting);
  e.load.in_flight_at_scrape = e.in_flight.load();
  record_scrape(e, s, t0);
}

}  // namespace

TEST_CASE("default profile: a warm prefix beats a small load difference; load wins once it queues") {
  const SnapshotPtr snapshot = build_snapshot(fleet_config(3));
  const auto& eps = snapshot->pools[0]->endpoints;
  // The same system prompt, another question: about 60% of the blocks match.
  const std::string system(512, 's'), question_a(300, 'a'), question_b(300, 'b');
  RequestFacts earlier;
  earlier.model = "m";
  earlier.prompt = {{"system", system}, {"user", question_a}};
  RequestFacts facts;
  facts.model = "m";
  facts.prompt = {{"system", system}, {"user", question_b}};
  RequestContext request;
  request.facts = &earlier;
  Rng rng(5);
  for (const auto& e : eps) scrape_full(*e, 0, 0, 0);
  const auto warmup = schedule(*snapshot, request, rng, 3, t0 + 10ms);
  REQUIRE(warmup.has_value());
  record_dispatch(*warmup, eps[0]);  // endpoint 1 holds the earlier prompt's blocks
  request.facts = &facts;

  struct Case {
    const char* what;
    std::vector<double> waiting, running, kv;
    bool warm_wins;
  };
  // Score = 2 queue + 2 (1 - kv) + 3 prefix. With the EPP's min-max queue score, one request more
  // cost the warm server 2 points and it lost the second and third cases.
  const Case cases[] = {
      {"equal load", {0, 0, 0}, {1, 1, 1}, {0.2, 0.2, 0.2}, true},
      {"warm runs one more", {0, 0, 0}, {2, 1, 1}, {0.25, 0.2, 0.2}, true},
      {"warm runs two more", {0, 0, 0}, {3, 1, 1}, {0.3, 0.2, 0.2}, true},
      {"warm has one waiting, the others room", {1, 0, 0}, {8, 5, 5}, {0.6, 0.5, 0.5}, false},
      {"everyone waits alike", {3, 3, 3}, {8, 8, 8}, {0.7, 0.7, 0.7}, true},
      {"everyone waits, the warm one a little more", {4, 3, 3}, {8, 8, 8}, {0.7, 0.7, 0.7}, true},
      {"everyone waits, the warm one over twice as deep", {7, 3, 3}, {8, 8, 8}, {0.7, 0.7, 0.7}, false},
      {"warm far busier though nobody waits", {0, 0, 0}, {30, 1, 1}, {0.9, 0.1, 0.1}, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    for (std::size_t i = 0; i < 3; ++i) scrape_full(*eps[i], c.waiting[i], c.running[i], c.kv[i]);
    for (int round = 0; round < 5; ++round) {
      const auto d = schedule(*snapshot, request, rng, 3, t0 + 10ms);
      REQUIRE(d.has_value());
      CHECK((d->endpoints[0] == eps[0]) == c.warm_wins);
    }
  }
  for (const auto& e : eps) e->in_flight = 0;
}

TEST_CASE("default profile: the adapter's server wins with one request more (weight 1 against 2 + 2)") {
  const SnapshotPtr snapshot = build_snapshot(fleet_config(3));
  const auto& eps = snapshot->pools[0]->endpoints;
  struct Case {
    std::vector<double> running;
    bool adapter_wins;
  };
  // KV use grows with the running count here: two requests more cost 2 x 2/4 + 2 x 0.2 > 1.
  const Case cases[] = {{{1, 1, 1}, true}, {{1, 1, 2}, true}, {{1, 1, 3}, false}, {{0, 0, 6}, false}};
  RequestFacts facts;
  facts.model = "adapter";
  RequestContext request;
  request.facts = &facts;
  Rng rng(6);
  for (const Case& c : cases) {
    CAPTURE(c.running[2]);
    for (std::size_t i = 0; i < 3; ++i) {
      ScrapedLoad s;
      s.waiting = 0;
      s.running = c.running[i];
      s.kv_usage = 0.1 * c.running[i];
      s.has_lora_info = true;
      s.max_loras = 1;
      s.running_loras = {i == 2 ? "lora-a" : "lora-b"};
      eps[i]->in_flight = static_cast<std::int32_t>(c.running[i]);
      eps[i]->load.in_flight_at_scrape = eps[i]->in_flight.load();
      record_scrape(*eps[i], s, t0);
    }
    for (int round = 0; round < 5; ++round) {
      const auto d = schedule(*snapshot, request, rng, 3, t0 + 10ms);
      REQUIRE(d.has_value());
      CHECK((d->endpoints[0] == eps[2]) == c.adapter_wins);
    }
  }
  for (const auto& e : eps) e->in_flight = 0;
}

TEST_CASE("record_dispatch: the uncached part of the prompt is pending prefill until released") {
  const SnapshotPtr snapshot = build_snapshot(fleet_config(2));
  const auto& eps = snapshot->pools[0]->endpoints;
  // Canonical prompt: "system" 0x1F 512 x 's' 0x1E "user" 0x1F 300 chars 0x1E = 826 bytes; the
  // first 8 blocks of 64 bytes hold only the system part.
  const std::string system(512, 's'), question_a(300, 'a'), question_b(300, 'b');
  RequestFacts first, second;
  first.model = second.model = "m";
  first.prompt = {{"system", system}, {"user", question_a}};
  second.prompt = {{"system", system}, {"user", question_b}};
  RequestContext request;
  Rng rng(8);
  const auto decide = [&](const RequestFacts& facts) {
    request.facts = &facts;
    auto d = schedule(*snapshot, request, rng, 2, t0 + 10ms);
    REQUIRE(d.has_value());
    CHECK(d->prompt_bytes == 826);
    return *d;
  };
  const auto pending = [](const Endpoint& e) {
    return std::pair{e.prefill_requests.load(), e.prefill_tokens.load()};
  };
  const Decision d1 = decide(first), d2 = decide(second);
  PendingPrefill cold = record_dispatch(d1, eps[0]);  // nothing cached: 826 / 4
  CHECK(pending(*eps[0]) == std::pair{1, std::int64_t{206}});
  PendingPrefill warm = record_dispatch(d2, eps[0]);  // 512 bytes predicted cached: 314 / 4
  CHECK(warm.tokens() == 78);
  PendingPrefill elsewhere = record_dispatch(d2, eps[1]);
  CHECK(elsewhere.tokens() == 206);
  CHECK(pending(*eps[0]) == std::pair{2, std::int64_t{284}});
  std::string json = render_endpoints_json(*snapshot, t0 + 10ms);
  CHECK(json.find(R"("name":"127.0.0.1:1","scraped":null,"in_flight":0,"pending_prefill":{"requests":2,"tokens":284})") !=
        std::string::npos);
  cold.release();  // first body byte
  warm.release();
  elsewhere.release();
  CHECK(pending(*eps[0]) == std::pair{0, std::int64_t{0}});
  CHECK(pending(*eps[1]) == std::pair{0, std::int64_t{0}});
  json = render_endpoints_json(*snapshot, t0 + 10ms);
  CHECK(json.find(R"("pending_prefill":{"requests":0,"tokens":0})") != std::string::npos);

  // The compatibility schedule() has no response to wait for: nothing stays counted.
  REQUIRE(schedule(*snapshot, first, rng).has_value());
  CHECK(pending(*eps[0]) == std::pair{0, std::int64_t{0}});
  CHECK(pending(*eps[1]) == std::pair{0, std::int64_t{0}});
}
