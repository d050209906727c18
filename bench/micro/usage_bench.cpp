// Microbenchmark of token accounting on the relay path: ns per SSE event through SseUsageTap
// (reading usage, with and without stripping), the usage event itself, BodyTail over a large
// JSON body and find_usage on its tail, and the request rewrite with include_usage.
// Usage: usage_bench [repeats]          (bounded: a fixed number of iterations per repeat)
//        usage_bench --tap-loop N       N vLLM-shaped streams through the tap (for callgrind)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "infergate/request_facts.hpp"
#include "routing/stream_usage.hpp"
#include "routing/usage_reader.hpp"

namespace {

using namespace infergate;
using Clock = std::chrono::steady_clock;

template <typename F>
double best_ns(int repeats, int iterations, F&& f) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < iterations; ++i) f();
    const std::chrono::duration<double, std::nano> elapsed = Clock::now() - start;
    best = std::min(best, elapsed.count() / iterations);
  }
  return best;
}

// A vLLM chat chunk of one token (about 200 bytes), and OpenAI's with "usage":null.
std::string vllm_chunk(int i) {
  return R"(data: {"id":"chatcmpl-6f1b2c3d4e5f","object":"chat.completion.chunk","created":1730000000,)"
         R"("model":"Qwen/Qwen3-0.6B","choices":[{"index":0,"delta":{"content":" token)" +
         std::to_string(i) + R"("},"logprobs":null,"finish_reason":null}]})" "\n\n";
}
std::string openai_chunk(int i) {
  return R"(data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4","object":"chat.completion.chunk","created":1741000000,)"
         R"("model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306",)"
         R"("choices":[{"index":0,"delta":{"content":" token)" + std::to_string(i) +
         R"("},"logprobs":null,"finish_reason":null}],"usage":null})" "\n\n";
}
const std::string kUsageChunk =
    R"(data: {"id":"chatcmpl-6f1b2c3d4e5f","object":"chat.completion.chunk","created":1730000000,)"
    R"("model":"Qwen/Qwen3-0.6B","choices":[],"usage":{"prompt_tokens":1200,"total_tokens":1456,"completion_tokens":256}})" "\n\n";

// ns per event: `events` fed as reads of `per_read` events each (one piece per read), or, with
// `split`, each event cut in two across consecutive reads (the worst case: a carry every event).
double tap_ns(int repeats, const std::vector<std::string>& events, std::size_t per_read, bool strip,
              bool split) {
  std::vector<std::string> reads;
  if (split) {
    std::string pending;
    for (const auto& e : events) {
      reads.push_back(pending + e.substr(0, e.size() / 2));
      pending = e.substr(e.size() / 2);
    }
    reads.push_back(pending);
  } else {
    for (std::size_t i = 0; i < events.size(); i += per_read) {
      std::string read;
      for (std::size_t j = i; j < std::min(events.size(), i + per_read); ++j) read += events[j];
      reads.push_back(read);
    }
  }
  SseUsageTap tap(strip);
  std::vector<std::string_view> out;
  std::size_t sink = 0;
  const double per_stream = best_ns(repeats, 200, [&] {
    tap.reset(strip);
    for (const auto& read : reads) {
      out.clear();
      tap.feed(read, out);
      sink += out.size();
    }
  });
  if (sink == 42) std::puts("");
  return per_stream / static_cast<double>(events.size());
}

}  // namespace

__attribute__((noinline)) std::size_t tap_loop(const std::vector<std::string>& reads, int n) {
  SseUsageTap tap(true);
  std::vector<std::string_view> out;
  std::size_t sink = 0;
  for (int i = 0; i < n; ++i) {
    tap.reset(true);
    for (const auto& read : reads) {
      out.clear();
      tap.feed(read, out);
      sink += out.size();
    }
  }
  return sink + tap.usage()->completion_tokens;
}

int main(int argc, char** argv) {
  std::vector<std::string> vllm, openai;
  for (int i = 0; i < 256; ++i) vllm.push_back(vllm_chunk(i)), openai.push_back(openai_chunk(i));
  if (argc == 3 && std::strcmp(argv[1], "--tap-loop") == 0) {
    std::vector<std::string> reads = vllm;  // one event per read, the usage event, [DONE]
    reads.push_back(kUsageChunk);
    reads.push_back("data: [DONE]\n\n");
    std::printf("%zu\n", tap_loop(reads, std::atoi(argv[2])));
    return 0;
  }
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  std::printf("%-52s %10s\n", "SseUsageTap, 256 events of ~200 bytes", "ns/event");
  struct Row {
    const char* name;
    const std::vector<std::string>* events;
    std::size_t per_read;
    bool strip, split;
  };
  for (const Row& row : {Row{"vLLM chunks, 1 per read, read only", &vllm, 1, false, false},
                         Row{"vLLM chunks, 1 per read, strip on", &vllm, 1, true, false},
                         Row{"vLLM chunks, 16 per read, strip on", &vllm, 16, true, false},
                         Row{"vLLM chunks, each split across 2 reads, read only", &vllm, 1, false, true},
                         Row{"vLLM chunks, each split across 2 reads, strip on", &vllm, 1, true, true},
                         Row{"OpenAI chunks (\"usage\":null), 1 per read, strip on", &openai, 1, true, false}}) {
    std::printf("%-52s %10.1f\n", row.name, tap_ns(repeats, *row.events, row.per_read, row.strip, row.split));
  }
  // The usage event alone: found, parsed (simdjson on a padded copy) and left out.
  SseUsageTap tap(true);
  std::vector<std::string_view> out;
  const double usage_event = best_ns(repeats, 100'000, [&] {
    tap.reset(true);
    out.clear();
    tap.feed(kUsageChunk, out);
  });
  std::printf("%-52s %10.1f\n", "the usage-only event: read and stripped", usage_event);
  const double empty_feed = best_ns(repeats, 100'000, [&] {
    tap.reset(true);
    out.clear();
    tap.feed(std::string_view("data: [DONE]\n\n"), out);
  });
  std::printf("%-52s %10.1f\n", "data: [DONE] (reset + feed, the floor)", empty_feed);

  // JSON: BodyTail over a 1 MiB body in 16 KiB pieces with its Content-Length, and find_usage.
  std::string body = R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"content":")";
  body += std::string(1 << 20, 'x');
  body += R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":1200,"total_tokens":1456,"completion_tokens":256,"prompt_tokens_details":null},"prompt_logprobs":null})";
  BodyTail tail;
  const double tail_ns = best_ns(repeats, 2'000, [&] {
    tail.reset(body.size());
    for (std::size_t at = 0; at < body.size(); at += 16384) {
      tail.append(std::string_view(body).substr(at, 16384));
    }
  });
  const double find_ns = best_ns(repeats, 100'000, [&] {
    if (!find_usage(tail.view())) std::abort();
  });
  std::printf("\nBodyTail, 1 MiB body in 16 KiB pieces (Content-Length): %.0f ns per body\n", tail_ns);
  std::printf("find_usage on its 4 KiB tail: %.0f ns\n", find_ns);

  // The request side: the 2 KB streamed chat body, model rewrite alone and with include_usage.
  std::string request = R"({"model":"support-bot","messages":[{"role":"user","content":")" +
                        std::string(2000, 'q') + R"("}],"max_tokens":64,"stream":true})";
  request.reserve(request.size() + kBodyPadding);
  const RequestFacts facts = *extract_request_facts(request, request.capacity());
  std::string rewritten;
  const double model_only = best_ns(repeats, 200'000, [&] { rewritten = rewrite_model(request, facts, "lora"); });
  const double both = best_ns(repeats, 200'000, [&] { add_include_usage(request, facts, "lora", rewritten); });
  std::printf("rewrite_model, 2 KB body: %.0f ns; with include_usage, into a kept buffer: %.0f ns\n",
              model_only, both);
  return 0;
}
