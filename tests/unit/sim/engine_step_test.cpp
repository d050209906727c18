// The engine's step model (max_num_batched_tokens > 0): prefill and decode share one GPU.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sim/engine.hpp"

using namespace infergate::sim;

namespace {

EngineConfig step_config() {
  EngineConfig c;
  c.max_num_seqs = 8;
  c.kv_blocks = 1024;
  c.block_size = 16;
  c.prefill_overhead = ms(1);
  c.prefill_per_token_us = 100;
  c.itl = ms(10);
  c.itl_load_factor = 1.0;
  c.jitter = 0;
  c.lora_load_delay = ms(50);
  c.max_num_batched_tokens = 512;
  return c;
}

RequestSpec spec(std::uint32_t prompt_tokens, std::uint32_t output, std::uint32_t salt) {
  RequestSpec s;
  s.prompt.resize(prompt_tokens);
  for (std::uint32_t i = 0; i < prompt_tokens; ++i) s.prompt[i] = salt * 100000 + i;
  s.output_tokens = output;
  return s;
}

void run_until_idle(Engine& e) {
  for (int i = 0; i < 100000 && e.next_event() != kNever; ++i) e.advance(e.next_event());
}

const RequestState& state(const Engine& e, Engine::Id id) {
  const RequestState* s = e.find(id);
  REQUIRE(s);
  return *s;
}

// Times at which `id` got each of its tokens, by stepping through every event.
std::vector<Micros> token_times(Engine& e, Engine::Id id) {
  std::vector<Micros> times;
  std::vector<Engine::Id> changed;
  std::uint32_t seen = 0;
  for (int i = 0; i < 100000 && e.next_event() != kNever; ++i) {
    const Micros at = e.next_event();
    e.advance(at);
    const std::uint32_t now_emitted = state(e, id).tokens_emitted;
    for (; seen < now_emitted; ++seen) times.push_back(at);
  }
  return times;
}

}  // namespace

TEST_CASE("a lone request: TTFT = overhead + prompt tokens x per-token time, then one ITL per token") {
  Engine e(step_config());
  const auto id = e.submit(spec(160, 3, 1), 0);
  const auto times = token_times(e, id);
  const Micros ttft = ms(1) + 160 * 100;
  REQUIRE(times.size() == 3);
  CHECK(times[0] == ttft);
  CHECK(times[1] == ttft + ms(10));
  CHECK(times[2] == ttft + 2 * ms(10));
  CHECK(state(e, id).finish_reason == FinishReason::stop);
}

TEST_CASE("a prompt longer than the budget is prefilled in chunks, each step paying the overhead") {
  Engine e(step_config());
  const auto id = e.submit(spec(1200, 1, 1), 0);  // 512 + 512 + 176 tokens
  run_until_idle(e);
  CHECK(state(e, id).first_token_at == 3 * ms(1) + 1200 * 100);
}

TEST_CASE("an uncached prefill slows the tokens of every stream in the batch") {
  Engine e(step_config());
  const auto streaming = e.submit(spec(16, 20, 1), 0);
  e.advance(ms(1) + 16 * 100);  // its first token: now it decodes every 10 ms
  REQUIRE(state(e, streaming).tokens_emitted == 1);
  const Micros t0 = e.next_event();
  e.advance(t0);
  e.submit(spec(400, 2, 2), t0);  // joins the next step: 400 prompt tokens = 41 ms more
  const Micros step = e.next_event();
  CHECK(step - t0 == ms(10));  // the step in flight was planned before it came
  e.advance(step);
  const Micros slow = e.next_event() - step;
  CHECK(slow == ms(10) + ms(1) + 400 * 100);
}

TEST_CASE("a prefix-cache hit frees GPU time for the other requests, not only its own TTFT") {
  // The same work twice, a long-prompt request after a streaming one; the second time the long
  // prompt is in the prefix cache, so the streaming request finishes sooner.
  auto finish_of_stream = [](bool warm) {
    Engine e(step_config());
    if (warm) {
      e.submit(spec(496, 1, 7), 0);
      run_until_idle(e);
    }
    const Micros start = e.next_event() == kNever ? ms(100) : e.next_event();
    const auto stream = e.submit(spec(16, 10, 1), start);
    e.advance(start + ms(1) + 16 * 100);
    e.submit(spec(496, 1, 7), start + ms(1) + 16 * 100);
    run_until_idle(e);
    return state(e, stream).finished_at - start;
  };
  const Micros cold = finish_of_stream(false);
  const Micros warm = finish_of_stream(true);
  CHECK(warm < cold);
  // Warm, 480 of the 496 prompt tokens come from the cache (all but the last block).
  CHECK(cold - warm == 480 * 100);
}

TEST_CASE("decodes take the budget first; prefills get what is left, in admission order") {
  EngineConfig c = step_config();
  c.max_num_batched_tokens = 100;
  Engine e(c);
  std::vector<Engine::Id> streams;
  for (std::uint32_t i = 0; i < 4; ++i) streams.push_back(e.submit(spec(16, 50, i + 1), 0));
  Micros now = 0;
  for (int i = 0; i < 100 && state(e, streams.back()).tokens_emitted == 0; ++i) {
    now = e.next_event();
    e.advance(now);
  }
  // All four decode now; the step planned at `now` is theirs alone.
  const auto a = e.submit(spec(200, 1, 10), now);
  const auto b = e.submit(spec(48, 1, 11), now);
  now = e.next_event();
  e.advance(now);
  // 4 decode tokens + 96 of a's prompt, twice; then 4 + a's last 8 + all 48 of b.
  CHECK(e.next_event() - now == ms(10) + ms(1) + 96 * 100);
  e.advance(e.next_event());
  e.advance(e.next_event());
  CHECK(state(e, a).first_token_at == kNever);
  e.advance(e.next_event());
  CHECK(state(e, a).first_token_at != kNever);
  CHECK(state(e, b).first_token_at == state(e, a).first_token_at);
}

TEST_CASE("an abort mid-step leaves the batch; the others go on") {
  Engine e(step_config());
  const auto a = e.submit(spec(16, 10, 1), 0);
  const auto b = e.submit(spec(16, 10, 2), 0);
  e.advance(e.next_event());
  e.abort(a, e.next_event() - 1);
  CHECK(state(e, a).finish_reason == FinishReason::abort);
  CHECK(e.running() == 1);
  run_until_idle(e);
  CHECK(state(e, b).tokens_emitted == 10);
  CHECK(state(e, b).finish_reason == FinishReason::stop);
}

TEST_CASE("a request waiting for its LoRA adapter holds its slot while the others step") {
  EngineConfig c = step_config();
  c.max_loras = 1;
  Engine e(c);
  const auto base = e.submit(spec(16, 30, 1), 0);
  RequestSpec s = spec(16, 1, 2);
  s.lora = std::string("a");  // not = "a": GCC 12 -O2 warns falsely (-Wrestrict, PR 105329)
  const auto lora = e.submit(std::move(s), 0);
  run_until_idle(e);
  CHECK(state(e, lora).first_token_at >= ms(50));
  // At most one step in flight (10 ms) plus its own: a decode and 16 prompt tokens (12.6 ms).
  CHECK(state(e, lora).first_token_at <= ms(50) + ms(10) + ms(10) + ms(1) + 16 * 100);
  CHECK(state(e, base).tokens_emitted == 30);
}
