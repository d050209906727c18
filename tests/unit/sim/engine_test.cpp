#include <doctest/doctest.h>

#include <vector>

#include "sim/engine.hpp"

using namespace infergate::sim;

namespace {

EngineConfig base_config() {
  EngineConfig c;
  c.max_num_seqs = 4;
  c.kv_blocks = 1024;
  c.block_size = 16;
  c.prefill_overhead = ms(10);
  c.prefill_per_token_us = 0;
  c.itl = ms(10);
  c.itl_load_factor = 1.0;
  c.jitter = 0;
  c.lora_load_delay = ms(50);
  return c;
}

std::vector<std::uint32_t> prompt(std::uint32_t n, std::uint32_t salt) {
  std::vector<std::uint32_t> t(n);
  for (std::uint32_t i = 0; i < n; ++i) t[i] = salt * 100000 + i;
  return t;
}

RequestSpec spec(std::uint32_t prompt_tokens, std::uint32_t output, std::uint32_t salt, std::string lora = {}) {
  RequestSpec s;
  s.prompt = prompt(prompt_tokens, salt);
  s.output_tokens = output;
  s.lora = std::move(lora);
  return s;
}

// Runs every event in time order until nothing is scheduled (bounded).
void run_until_idle(Engine& e) {
  for (int i = 0; i < 100000 && e.next_event() != kNever; ++i) e.advance(e.next_event());
}

Micros ttft(const Engine& e, Engine::Id id) {
  const RequestState* s = e.find(id);
  REQUIRE(s);
  return s->first_token_at - s->submitted_at;
}

}  // namespace

TEST_CASE("waiting time grows with the queue") {
  Engine e(base_config());
  std::vector<Engine::Id> ids;
  for (std::uint32_t i = 0; i < 12; ++i) ids.push_back(e.submit(spec(32, 5, i), 0));
  CHECK(e.running() == 4);
  CHECK(e.waiting() == 8);
  run_until_idle(e);
  // Each wave of 4 waits for the previous wave: 10 ms prefill + 4 more tokens of 10 ms.
  const Micros wave = ms(10) + 4 * ms(10);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    CAPTURE(i);
    CHECK(ttft(e, ids[i]) == ms(10) + static_cast<Micros>(i / 4) * wave);
    CHECK(e.find(ids[i])->finish_reason == FinishReason::stop);
  }
}

TEST_CASE("TTFT = overhead + uncached prompt tokens x per-token time; a prefix hit cuts it") {
  EngineConfig c = base_config();
  c.prefill_overhead = ms(1);
  c.prefill_per_token_us = 100;
  struct Row {
    const char* name;
    std::uint32_t shared_blocks;  // blocks of the second prompt equal to the first
    Micros want_ttft;
  };
  const Row rows[] = {
      {"cold", 0, ms(1) + 160 * 100},
      {"half the prefix", 5, ms(1) + 80 * 100},
      {"same prompt (last block always recomputed)", 10, ms(1) + 16 * 100},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    Engine e(c);
    const auto first = e.submit(spec(160, 1, 1), 0);
    run_until_idle(e);
    CHECK(ttft(e, first) == ms(1) + 160 * 100);
    RequestSpec s = spec(160, 1, 1);
    for (std::uint32_t i = r.shared_blocks * 16; i < 160; ++i) s.prompt[i] += 7;  // diverge here
    const auto second = e.submit(std::move(s), ms(100));
    run_until_idle(e);
    CHECK(ttft(e, second) == r.want_ttft);
  }
}

TEST_CASE("KV exhaustion makes a request wait until blocks are freed") {
  EngineConfig c = base_config();
  c.kv_blocks = 10;
  Engine e(c);
  const auto a = e.submit(spec(80, 16, 1), 0);  // (80 + 16) / 16 = 6 blocks
  const auto b = e.submit(spec(80, 16, 2), 0);  // does not fit in the 4 left
  CHECK(e.running() == 1);
  CHECK(e.waiting() == 1);
  CHECK(e.kv().used_blocks() == 6);
  run_until_idle(e);
  CHECK(e.find(b)->admitted_at == e.find(a)->finished_at);
  CHECK(ttft(e, b) > ttft(e, a));
  CHECK(e.kv().used_blocks() == 0);
}

TEST_CASE("a request that can never fit is refused up front") {
  EngineConfig c = base_config();
  c.kv_blocks = 4;
  Engine e(c);
  CHECK(e.fits(48, 16));
  CHECK_FALSE(e.fits(64, 16));
}

TEST_CASE("an abort frees the batch slot and the KV blocks at once") {
  EngineConfig c = base_config();
  c.max_num_seqs = 1;
  Engine e(c);
  const auto a = e.submit(spec(64, 100, 1), 0);
  const auto b = e.submit(spec(64, 100, 2), 0);
  CHECK(e.waiting() == 1);
  const auto used_by_one = e.kv().used_blocks();
  e.abort(a, ms(25));
  CHECK(e.find(a)->phase == Phase::finished);
  CHECK(e.find(a)->finish_reason == FinishReason::abort);
  CHECK(e.find(b)->admitted_at == ms(25));
  CHECK(e.waiting() == 0);
  CHECK(e.running() == 1);
  CHECK(e.kv().used_blocks() == used_by_one);
  e.abort(b, ms(30));
  CHECK(e.running() == 0);
  CHECK(e.kv().used_blocks() == 0);
}

TEST_CASE("an abort while waiting leaves the queue") {
  EngineConfig c = base_config();
  c.max_num_seqs = 1;
  Engine e(c);
  e.submit(spec(16, 5, 1), 0);
  const auto b = e.submit(spec(16, 5, 2), 0);
  e.abort(b, ms(1));
  CHECK(e.waiting() == 0);
  CHECK(e.find(b)->finish_reason == FinishReason::abort);
  CHECK(e.find(b)->admitted_at == kNever);
}

TEST_CASE("the queue is bounded") {
  EngineConfig c = base_config();
  c.max_num_seqs = 1;
  c.max_queue = 2;
  Engine e(c);
  CHECK(e.submit(spec(16, 5, 1), 0) != 0);
  CHECK(e.submit(spec(16, 5, 2), 0) != 0);
  CHECK(e.submit(spec(16, 5, 3), 0) != 0);
  CHECK(e.submit(spec(16, 5, 4), 0) == 0);
}

TEST_CASE("ITL follows the load factor") {
  EngineConfig c = base_config();
  c.max_num_seqs = 5;
  c.itl_load_factor = 3.0;
  struct Row {
    std::uint32_t running;
    Micros itl;
  };
  const Row rows[] = {{1, ms(10)}, {2, ms(15)}, {3, ms(20)}, {5, ms(30)}};
  for (const auto& r : rows) {
    CAPTURE(r.running);
    Engine e(c);
    CHECK(e.itl_for(r.running) == r.itl);
    std::vector<Engine::Id> ids;
    for (std::uint32_t i = 0; i < r.running; ++i) ids.push_back(e.submit(spec(16, 50, i), 0));
    // Token times of the first request, observed by stepping through its events.
    std::vector<Micros> stamps;
    for (int i = 0; i < 100000 && stamps.size() < 4; ++i) {
      const Micros t = e.next_event();
      REQUIRE(t != kNever);
      const auto before = e.find(ids[0])->tokens_emitted;
      e.advance(t);
      if (e.find(ids[0])->tokens_emitted != before) stamps.push_back(t);
    }
    CHECK(stamps[2] - stamps[1] == r.itl);
    CHECK(stamps[3] - stamps[2] == r.itl);
  }
}

TEST_CASE("a LoRA adapter that is not resident adds its load delay, then it is free") {
  EngineConfig c = base_config();
  Engine e(c);
  const auto a = e.submit(spec(16, 1, 1, "ad1"), 0);
  run_until_idle(e);
  CHECK(ttft(e, a) == ms(50) + ms(10));
  const auto b = e.submit(spec(16, 1, 2, "ad1"), ms(100));
  run_until_idle(e);
  CHECK(ttft(e, b) == ms(10));
  const auto base = e.submit(spec(16, 1, 3), ms(200));
  run_until_idle(e);
  CHECK(ttft(e, base) == ms(10));
}

TEST_CASE("with max_loras=1 a second adapter waits for the first one's requests, then evicts it") {
  EngineConfig c = base_config();
  c.max_loras = 1;
  Engine e(c);
  const auto a = e.submit(spec(16, 5, 1, "ad1"), 0);
  const auto b = e.submit(spec(16, 5, 2, "ad2"), 0);
  const auto base = e.submit(spec(16, 5, 3), 0);  // not blocked by the adapter wait
  CHECK(e.running() == 2);
  CHECK(e.waiting_loras() == std::vector<std::string>{"ad2"});
  CHECK(e.lora().running() == std::vector<std::string>{"ad1"});
  run_until_idle(e);
  CHECK(e.find(b)->admitted_at == e.find(a)->finished_at);
  CHECK(e.lora().resident("ad2"));
  CHECK_FALSE(e.lora().resident("ad1"));
  CHECK(e.find(base)->finish_reason == FinishReason::stop);
}

TEST_CASE("jitter is seeded: same seed, same latencies; other seed, others") {
  EngineConfig c = base_config();
  c.jitter = 0.2;
  auto ttfts = [&](std::uint64_t seed) {
    EngineConfig cc = c;
    cc.seed = seed;
    Engine e(cc);
    std::vector<Engine::Id> ids;
    for (std::uint32_t i = 0; i < 8; ++i) ids.push_back(e.submit(spec(16, 3, i), ms(i)));
    run_until_idle(e);
    std::vector<Micros> out;
    for (auto id : ids) out.push_back(ttft(e, id));
    return out;
  };
  CHECK(ttfts(1) == ttfts(1));
  CHECK(ttfts(1) != ttfts(2));
  bool any_differs = false;
  for (auto t : ttfts(1)) any_differs |= t != ms(10);
  CHECK(any_differs);
}

TEST_CASE("finish reason and token counts") {
  Engine e(base_config());
  RequestSpec s = spec(20, 7, 1);
  s.finish = FinishReason::length;
  const auto id = e.submit(std::move(s), 0);
  std::vector<Engine::Id> changed;
  e.take_changed(changed);
  CHECK(changed == std::vector<Engine::Id>{id});  // admitted
  run_until_idle(e);
  const RequestState* st = e.find(id);
  CHECK(st->tokens_emitted == 7);
  CHECK(st->prompt_tokens == 20);
  CHECK(st->finish_reason == FinishReason::length);
  CHECK(st->finished_at == ms(10) + 6 * ms(10));
  e.forget(id);
  CHECK(e.find(id) == nullptr);
}
