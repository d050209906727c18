// Microbenchmark of the routing hot path. Time to find the top-level "model" (with full validation of the body) when
// "model" is the last field, and to rewrite it. Chat bodies carry an escape every ~27 bytes
// (a pessimistic case); image bodies are one long base64 string; token bodies are ~8,000 ints.
// Usage: extract_bench [repeats]   (bounded: a fixed number of iterations per repeat)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "infergate/request_facts.hpp"
#include "infergate/routing.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// A chat request: several messages of English-like text with newlines and quotes (escaped),
// then sampling parameters, then "model" last, as some SDKs serialize it.
std::string chat_body(std::size_t size) {
  const std::string sentence =
      "The quick brown fox jumps over the lazy dog, then writes \\\"hello\\\" to stdout.\\n";
  std::string body = R"({"messages":[{"role":"system","content":"You are a helpful assistant."})";
  while (body.size() + 200 < size) {
    body += R"(,{"role":"user","content":")";
    for (int i = 0; i < 8 && body.size() + 200 < size; ++i) body += sentence;
    body += R"("})";
  }
  body += R"(],"temperature":0.7,"max_tokens":128,"stream":true,"model":"Qwen/Qwen3-0.6B"})";
  return body;
}

// Best of `repeats` runs: the machine is shared, the minimum is the least disturbed figure.
// The body bench/wrk/chat_post.lua sends: short messages without escapes, "model" after them.
std::string wrk_body(std::size_t size) {
  std::string filler;
  for (int i = 0; i < 8; ++i) filler += "lorem ipsum dolor sit amet ";
  std::string body = R"({"messages":[)";
  for (int i = 0; body.size() + 300 < size; ++i) {
    if (i > 0) body += ',';
    body += R"({"role":")" + std::string(i % 2 ? "assistant" : "user") + R"(","content":")" +
            std::to_string(i) + " " + filler + R"("})";
  }
  body += R"(],"model":"Qwen/Qwen3-0.6B","max_tokens":16,"stream":true})";
  return body;
}

// A vision request: one user message whose image travels as a base64 data URL (no escapes).
std::string image_body(std::size_t size) {
  static constexpr char kBase64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string body =
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"What is in this image?"},)"
      R"({"type":"image_url","image_url":{"url":"data:image/png;base64,)";
  for (std::size_t i = 0; body.size() + 120 < size; ++i) body += kBase64[(i * 7919) % 64];
  body += R"("}}]}],"max_tokens":64,"stream":true,"model":"Qwen/Qwen3-0.6B"})";
  return body;
}

// A completion request whose prompt is already tokenized: an array of token ids.
std::string tokens_body(std::size_t size) {
  std::string body = R"({"prompt":[)";
  for (unsigned i = 0; body.size() + 80 < size; ++i) body += std::to_string((i * 7919) % 151000) + ",";
  body += R"(0],"max_tokens":16,"model":"Qwen/Qwen3-0.6B","stream":true})";
  return body;
}

template <typename F>
double best_ns(int repeats, int iterations, F&& f) {
  std::vector<double> runs;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < iterations; ++i) f();
    const std::chrono::duration<double, std::nano> elapsed = Clock::now() - start;
    runs.push_back(elapsed.count() / iterations);
  }
  return *std::min_element(runs.begin(), runs.end());
}

// schedule(): model lookup, a weighted draw over two targets, 16 endpoints ordered by load.
void schedule_bench(int repeats) {
  std::string yaml = "pools:\n  - name: big\n    endpoints: [";
  for (int i = 0; i < 16; ++i) yaml += (i ? ", " : "") + std::string("127.0.0.1:") + std::to_string(8000 + i);
  yaml += "]\n  - {name: canary, endpoints: [127.0.0.1:9000]}\nmodels:\n"
          "  - name: Qwen/Qwen3-0.6B\n    targets: [{pool: big, weight: 90}, {pool: canary, weight: 10}]\n";
  const infergate::SnapshotPtr snapshot = infergate::build_snapshot(infergate::load_config_string(yaml));
  for (std::size_t i = 0; i < snapshot->pools[0]->endpoints.size(); ++i) {
    snapshot->pools[0]->endpoints[i]->in_flight = static_cast<int>(i % 3);
  }
  infergate::RequestFacts facts;
  facts.model = "Qwen/Qwen3-0.6B";
  infergate::Rng rng(1);
  std::size_t sink = 0;
  const double all = best_ns(repeats, 200'000, [&] {
    sink += infergate::schedule(*snapshot, facts, rng)->endpoints.size();
  });
  const double three = best_ns(repeats, 200'000, [&] {
    sink += infergate::schedule(*snapshot, facts, rng, 3)->endpoints.size();
  });
  std::printf("\nschedule(), 16 endpoints, 90/10 split: %.0f ns (all ordered), %.0f ns (first 3)\n",
              all, three);
  if (sink == 42) std::puts("");
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  std::printf("%-12s %10s %14s %14s %12s\n", "body", "bytes", "in place ns", "copied ns",
              "rewrite ns");
  struct Workload {
    const char* name;
    std::string (*make)(std::size_t);
    std::size_t size;
  };
  for (const Workload& w : {Workload{"wrk-2KB", wrk_body, 2 << 10},
                            Workload{"wrk-50KB", wrk_body, 50 << 10},
                            Workload{"chat-2KB", chat_body, 2 << 10},
                            Workload{"chat-50KB", chat_body, 50 << 10},
                            Workload{"image-50KB", image_body, 50 << 10},
                            Workload{"tokens-50KB", tokens_body, 50 << 10},
                            Workload{"image-4MB", image_body, 4 << 20}}) {
    std::string body = w.make(w.size);
    body.reserve(body.size() + infergate::kBodyPadding);
    const auto facts = infergate::extract_request_facts(body, body.capacity());
    if (!facts || facts->model != "Qwen/Qwen3-0.6B" || !facts->stream) {
      std::fprintf(stderr, "extraction failed on the %zu-byte body\n", body.size());
      return 1;
    }
    const int iterations = static_cast<int>(std::max<std::size_t>(200, (40u << 20) / body.size()));
    std::size_t sink = 0;
    const double in_place = best_ns(repeats, iterations, [&] {
      sink += infergate::extract_request_facts(body, body.capacity())->model_offset;
    });
    const std::string_view unpadded(body);
    const double copied = best_ns(repeats, iterations, [&] {
      sink += infergate::extract_request_facts(unpadded, 0)->model_offset;
    });
    const double rewrite = best_ns(repeats, iterations, [&] {
      sink += infergate::rewrite_model(body, *facts, "support-lora").size();
    });
    std::printf("%-12s %10zu %14.0f %14.0f %12.0f\n", w.name, body.size(), in_place, copied,
                rewrite);
    if (sink == 42) std::puts("");  // keeps the loops from being optimized away
  }
  schedule_bench(repeats);
  return 0;
}
