// The simulated model engine: continuous batching, KV block accounting with a prefix cache, LoRA
// residency and the latency model. Event-driven and clock-free: callers pass the current time
// (microseconds) to every call, run due events with advance(now), and sleep until next_event().
//
// Latency model (after llm-d-inference-sim's published design):
//   TTFT = queue wait + LoRA load (if not resident) + prefill_overhead
//          + (prompt tokens not in the prefix cache) * prefill_per_token
//   ITL  = itl * (1 + (load_factor - 1) * (running - 1) / (max_num_seqs - 1))
// each sample scaled by seeded Gaussian jitter (standard deviation = jitter * mean).
//
// Step model (max_num_batched_tokens > 0), after vLLM's scheduler with chunked prefill: prefill
// and decode share one GPU. The batch advances in steps; each step every decoding request takes
// one token of the budget and prefilling requests (in admission order) take the rest in chunks.
//   step = ITL(running) if anything decodes + (prefill_overhead + prefill tokens * prefill_per_token
//          if anything prefills), jittered as a whole
// Every token of a step is emitted at its end, so a long uncached prefill slows every stream in
// the batch and a prefix-cache hit frees GPU time for the others (not only for its own request).
#pragma once

#include <cstdint>
#include <deque>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/kv_cache.hpp"
#include "sim/lora_cache.hpp"
#include "sim/sim_time.hpp"

namespace infergate::sim {

struct EngineConfig {
  std::uint32_t max_num_seqs = 32;     // requests in the running batch
  std::uint32_t max_queue = 1024;      // waiting requests; more are refused
  std::uint32_t kv_blocks = 8192;      // KV cache blocks
  std::uint32_t block_size = 16;       // tokens per block
  std::uint32_t max_loras = 1;         // resident adapters
  Micros lora_load_delay = ms(50);
  Micros prefill_overhead = ms(10);
  double prefill_per_token_us = 20.0;
  Micros itl = ms(10);
  double itl_load_factor = 2.0;        // ITL multiplier when the batch is full
  double jitter = 0.0;                 // standard deviation as a fraction of the mean
  std::uint64_t seed = 1;
  std::uint32_t max_num_batched_tokens = 0;  // > 0: the step model with this token budget
};

enum class Phase : std::uint8_t { waiting, prefill, decode, finished };
enum class FinishReason : std::uint8_t { none, stop, length, abort };

const char* to_string(FinishReason r);

// What a caller asks for. `output_tokens` >= 1 tokens are generated, then the request finishes
// with `finish` (stop or length).
struct RequestSpec {
  std::vector<std::uint32_t> prompt;  // token ids (see tokenizer.hpp)
  std::uint32_t output_tokens = 1;
  FinishReason finish = FinishReason::stop;
  std::string lora;                   // empty: base model
};

// What a caller can observe about a request.
struct RequestState {
  Phase phase = Phase::waiting;
  FinishReason finish_reason = FinishReason::none;
  std::uint32_t prompt_tokens = 0;
  std::uint32_t output_tokens = 0;
  std::uint32_t tokens_emitted = 0;
  std::uint32_t cached_tokens = 0;   // prompt tokens served by the prefix cache
  Micros submitted_at = 0;
  Micros admitted_at = kNever;
  Micros first_token_at = kNever;
  Micros finished_at = kNever;
};

// Hooks for metrics; called synchronously from the engine.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  virtual void on_admitted(const RequestState&) {}
  virtual void on_first_token(const RequestState&) {}
  virtual void on_finished(const RequestState&) {}
};

class Engine {
 public:
  using Id = std::uint64_t;

  explicit Engine(EngineConfig cfg, EngineObserver* observer = nullptr);

  // False when the request could never fit in the KV cache (callers answer 400).
  bool fits(std::size_t prompt_tokens, std::uint32_t output_tokens) const;

  // Runs due events, then queues the request at `now` and admits what fits. Returns 0 when the
  // queue is full (nothing changed).
  Id submit(RequestSpec spec, Micros now);

  // Runs every event due at or before `now` in time order (first tokens, tokens, completions,
  // and the admissions the freed capacity allows).
  void advance(Micros now);

  // Time of the next due event, kNever when nothing is scheduled.
  Micros next_event() const;

  // Finishes the request with `abort` at `now`: it leaves the queue or the batch, frees its KV
  // blocks and its LoRA pin, and waiting requests may be admitted. No-op when already finished.
  void abort(Id id, Micros now);

  // nullptr for an unknown (or forgotten) id. Finished requests stay until forget().
  const RequestState* find(Id id) const;
  void forget(Id id);

  // Ids whose state changed since the last call (admitted, new token, finished).
  void take_changed(std::vector<Id>& out);

  std::uint32_t running() const { return running_; }
  std::uint32_t waiting() const { return static_cast<std::uint32_t>(waiting_.size()); }
  std::vector<std::string> waiting_loras() const;
  const KvCache& kv() const { return kv_; }
  const LoraCache& lora() const { return lora_; }
  const EngineConfig& config() const { return cfg_; }
  // Mean inter-token latency for a batch of `running` requests (no jitter).
  Micros itl_for(std::uint32_t running) const;

 private:
  struct Req {
    RequestState st;
    std::vector<std::uint64_t> hashes;
    std::vector<std::uint32_t> blocks;
    std::string lora;
    FinishReason planned = FinishReason::stop;
    std::uint32_t generation = 0;  // invalidates stale heap entries
    // Step model only.
    Micros ready_at = 0;              // LoRA adapter loaded; prefill may start
    std::uint32_t prefill_left = 0;   // prompt tokens still to compute
    std::uint32_t step_prefill = 0;   // prompt tokens computed by the step in flight
    bool step_decode = false;         // the step in flight emits a token of this request
  };
  struct Event {
    Micros at;
    Id id;
    std::uint32_t generation;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : id > o.id; }
  };

  void try_admit(Micros now);
  bool admit(Id id, Req& r, Micros now, bool& kv_full);
  void on_event(Id id, Req& r, Micros at);
  void finish(Id id, Req& r, Micros at, FinishReason reason);
  void schedule(Id id, Req& r, Micros at);
  Micros jittered(double mean_us);
  void drop_stale_events() const;
  bool step_model() const { return cfg_.max_num_batched_tokens > 0; }
  // Step model (engine_step.cpp): plans the next step when the GPU is idle and work is running,
  // and applies the step in flight at its end.
  void start_step_if_idle(Micros now);
  void plan_step(Micros now);
  void run_step(Micros end);

  EngineConfig cfg_;
  EngineObserver* observer_;
  KvCache kv_;
  LoraCache lora_;
  std::mt19937_64 rng_;
  std::unordered_map<Id, Req> reqs_;
  std::deque<Id> waiting_;
  mutable std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<Id> changed_;
  std::uint32_t running_ = 0;
  Id next_id_ = 1;
  // Step model: the running requests in admission order, the end of the step in flight.
  std::vector<Id> batch_;
  Micros step_end_ = kNever;
  bool in_step_ = false;
};

}  // namespace infergate::sim
