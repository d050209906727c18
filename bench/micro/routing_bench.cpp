// Microbenchmark of one inference-aware routing decision: 16 endpoints with fresh scraped load,
// a ~4 KB chat prompt, the default profile (available-filter, queue 2, kv-cache 2, prefix-cache 3,
// lora-affinity 1, prefill-load 1, max-score-picker), keeping 3 endpoints (max_attempts).
// Per-decision latency percentiles over many decisions, each timed on its own.
// Usage: routing_bench [decisions]              latency table
//        routing_bench --loop SCENARIO N        N decisions only (for callgrind, see README.md)
//        routing_bench --extract-loop N         N extractions of a 50 KB many-turn chat body
//        routing_bench --extract-loop-4k N      N extractions of the 4 KB chat body (with
//                                               max_tokens and stream_options)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "infergate/request_facts.hpp"
#include "infergate/routing.hpp"
#include "routing/endpoint_health.hpp"
#include "routing/metrics_text.hpp"

namespace {

using namespace infergate;
using Clock = std::chrono::steady_clock;

// A chat body of about `size` bytes: a long system prompt shared by a group of users, then a
// short user turn that differs per request.
std::string chat_body(std::size_t size, int user) {
  const std::string sentence = "You are a careful assistant for the billing team; answer briefly. ";
  std::string system;
  while (system.size() + 200 < size) system += sentence;
  return R"({"model":"Qwen/Qwen3-0.6B","messages":[{"role":"system","content":")" + system +
         R"("},{"role":"user","content":"Question number )" + std::to_string(user) +
         R"(: why was I charged twice this month?"}],"max_tokens":64,"stream":true})";
}

struct Scenario {
  const char* name;
  const char* scheduler;  // YAML plugins list; empty: the default profile
  int warm_endpoints;     // endpoints that were sent this prompt's prefix before
};

const Scenario kScenarios[] = {
    {"default, prefix warm on 4 of 16", "", 4},
    {"default, prefix warm on all 16", "", 16},
    {"default, cold prompt", "", 0},
    {"round-robin", "[{type: round-robin}]", 0},
    {"least-request", "[{type: least-request}]", 0},
    {"power-of-two-choices", "[{type: power-of-two-choices}]", 0},
};

struct Fixture {
  SnapshotPtr snapshot;
  std::string body;
  RequestFacts facts;
  Clock::time_point now;
};

Fixture make_fixture(const Scenario& s) {
  std::string yaml = "pools:\n  - name: big\n    metrics: {flavour: vllm}\n    endpoints: [";
  for (int i = 0; i < 16; ++i) yaml += (i ? ", " : "") + std::string("127.0.0.1:") + std::to_string(8000 + i);
  yaml += "]\n";
  if (*s.scheduler) yaml += std::string("    scheduler: {plugins: ") + s.scheduler + "}\n";
  yaml += "models:\n  - {name: Qwen/Qwen3-0.6B, pool: big}\n";
  Fixture f;
  f.snapshot = build_snapshot(load_config_string(yaml));
  f.now = Clock::now();
  const auto& endpoints = f.snapshot->pools[0]->endpoints;
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    ScrapedLoad load;
    load.waiting = static_cast<double>(i % 4);
    load.running = 8;
    load.kv_usage = 0.1 + 0.04 * static_cast<double>(i);
    record_scrape(*endpoints[i], load, f.now);
    endpoints[i]->in_flight = static_cast<int>(i % 3);
  }
  // Warm the index: this group's prefix on `warm_endpoints`, other groups' prefixes elsewhere.
  Rng rng(1);
  for (int other = 0; other < 200; ++other) {
    std::string body = chat_body(4 << 10, other);
    body.insert(body.find("You are"), "Team " + std::to_string(other) + ". ");
    body.reserve(body.size() + kBodyPadding);
    auto facts = extract_request_facts(body, body.capacity());
    RequestContext request{&*facts, {}, {}, false};
    auto d = schedule(*f.snapshot, request, rng, 3, f.now);
    record_dispatch(*d, endpoints[static_cast<std::size_t>(other) % endpoints.size()]);
  }
  f.body = chat_body(4 << 10, 1);
  f.body.reserve(f.body.size() + kBodyPadding);
  f.facts = *extract_request_facts(f.body, f.body.capacity());
  for (int i = 0; i < s.warm_endpoints; ++i) {
    RequestContext request{&f.facts, {}, {}, false};
    auto d = schedule(*f.snapshot, request, rng, 3, f.now);
    record_dispatch(*d, endpoints[static_cast<std::size_t>(i)]);
  }
  // Restore the scraped view (dispatches above counted as sent since the scrape).
  for (const auto& e : endpoints) e->load.dispatched_since_scrape = 0;
  return f;
}

// N decisions, nothing else: the function callgrind counts (--toggle-collect=decide_loop*).
__attribute__((noinline)) std::size_t decide_loop(const Fixture& f, Rng& rng, int n) {
  std::size_t sink = 0;
  const RequestContext request{&f.facts, {}, {}, false};
  for (int i = 0; i < n; ++i) sink += schedule(*f.snapshot, request, rng, 3, f.now)->endpoints.size();
  return sink;
}

// A 50 KB chat body of many short turns (the wrk body of bench/wrk): the worst case for the
// prompt capture, one PromptPart per message.
std::string many_turns_body(std::size_t size) {
  std::string body = R"({"messages":[)";
  for (int i = 0; body.size() + 300 < size; ++i) {
    if (i > 0) body += ',';
    body += R"({"role":")" + std::string(i % 2 ? "assistant" : "user") + R"(","content":")" +
            std::to_string(i) + " lorem ipsum dolor sit amet consectetur adipiscing elit sed do " +
            "eiusmod tempor incididunt ut labore et dolore magna aliqua" + R"("})";
  }
  body += R"(],"model":"Qwen/Qwen3-0.6B","max_tokens":16,"stream":true})";
  return body;
}

__attribute__((noinline)) std::size_t extract_loop(const std::string& body, int n) {
  std::size_t sink = 0;
  for (int i = 0; i < n; ++i) sink += extract_request_facts(body, body.capacity())->model_offset;
  return sink;
}

// A vLLM v1 /metrics page of realistic size: the load gauges and LoRA info among 12 labelled
// histograms of 30 buckets (HELP/TYPE lines included): ~460 lines, ~55 KB.
std::string vllm_page() {
  std::string page;
  const std::string labels = R"(engine="0",model_name="Qwen/Qwen3-0.6B")";
  for (const char* h : {"time_to_first_token_seconds", "e2e_request_latency_seconds",
                        "request_queue_time_seconds", "request_inference_time_seconds",
                        "request_prefill_time_seconds", "request_decode_time_seconds",
                        "inter_token_latency_seconds", "request_prompt_tokens",
                        "request_generation_tokens", "iteration_tokens_total",
                        "request_max_num_generation_tokens", "request_params_max_tokens"}) {
    page += std::string("# HELP vllm:") + h + " Histogram.\n# TYPE vllm:" + h + " histogram\n";
    for (int b = 0; b < 30; ++b) {
      page += std::string("vllm:") + h + "_bucket{" + labels + ",le=\"" + std::to_string(0.001 * (1 << (b % 20))) +
              "\"} " + std::to_string(b * 37) + "\n";
    }
    page += std::string("vllm:") + h + "_sum{" + labels + "} 1234.5\n";
    page += std::string("vllm:") + h + "_count{" + labels + "} 1110\n";
  }
  page += "# HELP vllm:num_requests_running x\n# TYPE vllm:num_requests_running gauge\n";
  page += "vllm:num_requests_running{" + labels + "} 12\n";
  page += "vllm:num_requests_waiting{" + labels + "} 3\n";
  page += "vllm:kv_cache_usage_perc{" + labels + "} 0.42\n";
  page += R"(vllm:lora_requests_info{max_lora="4",running_lora_adapters="a,b",waiting_lora_adapters="c"} 1.7e9)" "\n";
  return page;
}

double percentile(std::vector<double>& v, double p) {
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--extract-loop") == 0) {
    std::string body = many_turns_body(50 << 10);
    body.reserve(body.size() + kBodyPadding);
    std::printf("%zu\n", extract_loop(body, std::atoi(argv[2])));
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--extract-loop-4k") == 0) {
    std::string body = chat_body(4 << 10, 1);
    body.insert(body.size() - 1, R"(,"stream_options":{"include_usage":true})");
    body.reserve(body.size() + kBodyPadding);
    std::printf("%zu\n", extract_loop(body, std::atoi(argv[2])));
    return 0;
  }
  if (argc == 4 && std::strcmp(argv[1], "--loop") == 0) {
    const Scenario& s = kScenarios[std::clamp(std::atoi(argv[2]), 0, 5)];
    const Fixture f = make_fixture(s);
    Rng rng(7);
    const std::size_t sink = decide_loop(f, rng, std::atoi(argv[3]));
    std::printf("%s: %zu\n", s.name, sink);
    return 0;
  }
  const int decisions = argc > 1 ? std::max(1000, std::atoi(argv[1])) : 200'000;
  std::printf("%-34s %9s %9s %9s %9s\n", "scenario (16 endpoints, 4 KB)", "p50 ns", "p99 ns",
              "p99.9 ns", "mean ns");
  for (const Scenario& s : kScenarios) {
    const Fixture f = make_fixture(s);
    Rng rng(7);
    decide_loop(f, rng, 2000);  // warm the per-thread scratch and the caches
    std::vector<double> ns(static_cast<std::size_t>(decisions));
    const RequestContext request{&f.facts, {}, {}, false};
    std::size_t sink = 0;
    double total = 0;
    for (auto& sample : ns) {
      const auto start = Clock::now();
      sink += schedule(*f.snapshot, request, rng, 3, f.now)->endpoints.size();
      sample = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
      total += sample;
    }
    const double mean = total / decisions;
    std::printf("%-34s %9.0f %9.0f %9.0f %9.0f\n", s.name, percentile(ns, 0.5), percentile(ns, 0.99),
                percentile(ns, 0.999), mean);
    if (sink == 42) std::puts("");
  }
  // The other per-request costs around a decision, for the 4 KB body.
  const Fixture f = make_fixture(kScenarios[0]);
  std::vector<double> extract(20'000), dispatch(20'000);
  Rng rng(3);
  auto d = *schedule(*f.snapshot, RequestContext{&f.facts, {}, {}, false}, rng, 3, f.now);
  for (auto& sample : extract) {
    const auto start = Clock::now();
    const auto facts = extract_request_facts(f.body, f.body.capacity());
    sample = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    if (!facts) return 1;
  }
  for (auto& sample : dispatch) {
    const auto start = Clock::now();
    record_dispatch(d, d.endpoints[0]);  // and the pending prefill's release
    sample = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  }
  std::printf("%-34s %9.0f %9.0f %9.0f\n", "extract_request_facts (4 KB)", percentile(extract, 0.5),
              percentile(extract, 0.99), percentile(extract, 0.999));
  std::printf("%-34s %9.0f %9.0f %9.0f\n", "record_dispatch (index update)", percentile(dispatch, 0.5),
              percentile(dispatch, 0.99), percentile(dispatch, 0.999));
  std::printf("prompt blocks per decision: %zu\n", d.prefix_hashes.size());

  // The scraper's parsing share: one vLLM page per endpoint per interval.
  const std::string page = vllm_page();
  const MetricsMapping mapping = MetricsMapping::vllm();
  std::vector<double> parse(2'000);
  for (auto& sample : parse) {
    const auto start = Clock::now();
    const ScrapedLoad load = parse_load(page, mapping);
    sample = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    if (!load.waiting || load.running_loras.size() != 2) return 1;
  }
  const double p50 = percentile(parse, 0.5);
  std::printf("parse_load, vLLM page of %zu bytes: p50 %.0f ns; 64 endpoints every 50 ms: %.2f%% of a core\n",
              page.size(), p50, p50 * 64 * 20 / 1e9 * 100);
  return 0;
}
