#include "sim/engine.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace infergate::sim {

const char* to_string(FinishReason r) {
  switch (r) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::abort: return "abort";
    case FinishReason::none: break;
  }
  return "none";
}

Engine::Engine(EngineConfig cfg, EngineObserver* observer)
    : cfg_(cfg),
      observer_(observer),
      kv_(cfg.kv_blocks, cfg.block_size),
      lora_(cfg.max_loras, cfg.lora_load_delay),
      rng_(cfg.seed) {
  if (cfg_.max_num_seqs == 0) cfg_.max_num_seqs = 1;
}

bool Engine::fits(std::size_t prompt_tokens, std::uint32_t output_tokens) const {
  return kv_.blocks_for(prompt_tokens + output_tokens) <= kv_.num_blocks();
}

Micros Engine::itl_for(std::uint32_t running) const {
  const double base = static_cast<double>(cfg_.itl);
  if (cfg_.max_num_seqs <= 1 || running <= 1) return cfg_.itl;
  const double load = static_cast<double>(running - 1) / static_cast<double>(cfg_.max_num_seqs - 1);
  return static_cast<Micros>(std::llround(base * (1.0 + (cfg_.itl_load_factor - 1.0) * load)));
}

Micros Engine::jittered(double mean_us) {
  if (cfg_.jitter <= 0.0 || mean_us <= 0.0) return static_cast<Micros>(std::llround(mean_us));
  std::normal_distribution<double> d(mean_us, cfg_.jitter * mean_us);
  // Clamp so that a rare draw neither goes back in time nor stalls the stream.
  return static_cast<Micros>(std::llround(std::clamp(d(rng_), 0.0, 3.0 * mean_us)));
}

Engine::Id Engine::submit(RequestSpec spec, Micros now) {
  advance(now);
  if (waiting_.size() >= cfg_.max_queue) return 0;
  const Id id = next_id_++;
  Req& r = reqs_[id];
  r.st.prompt_tokens = static_cast<std::uint32_t>(spec.prompt.size());
  r.st.output_tokens = std::max<std::uint32_t>(1, spec.output_tokens);
  r.st.submitted_at = now;
  r.hashes = kv_.block_hashes(spec.prompt);
  r.lora = std::move(spec.lora);
  r.planned = spec.finish == FinishReason::length ? FinishReason::length : FinishReason::stop;
  waiting_.push_back(id);
  try_admit(now);
  return id;
}

void Engine::try_admit(Micros now) {
  // FCFS: a request that does not fit in the KV cache blocks those behind it; one whose adapter
  // cannot be loaded yet is skipped, as vLLM's scheduler does for LoRA limits.
  for (auto it = waiting_.begin(); it != waiting_.end() && running_ < cfg_.max_num_seqs;) {
    bool kv_full = false;
    if (admit(*it, reqs_.at(*it), now, kv_full)) {
      it = waiting_.erase(it);
    } else if (kv_full) {
      break;
    } else {
      ++it;
    }
  }
  if (step_model()) start_step_if_idle(now);
}

bool Engine::admit(Id id, Req& r, Micros now, bool& kv_full) {
  const std::uint32_t total = kv_.blocks_for(std::uint64_t{r.st.prompt_tokens} + r.st.output_tokens);
  // At least one prompt token is always computed, so a fully cached prompt still prefills a bit.
  const std::uint32_t max_cached = r.st.prompt_tokens == 0 ? 0 : (r.st.prompt_tokens - 1) / kv_.block_size();
  auto alloc = kv_.allocate(r.hashes, total, max_cached);
  if (!alloc) {
    kv_full = true;
    return false;
  }
  Micros ready = now;
  if (!r.lora.empty()) {
    auto at = lora_.acquire(r.lora, now);
    if (!at) {
      kv_.release(alloc->blocks);
      return false;
    }
    ready = *at;
  }
  r.blocks = std::move(alloc->blocks);
  r.st.cached_tokens = alloc->cached_blocks * kv_.block_size();
  r.st.admitted_at = now;
  r.st.phase = Phase::prefill;
  ++running_;
  if (step_model()) {  // the steps compute the prompt (engine_step.cpp)
    r.ready_at = ready;
    r.prefill_left = std::max<std::uint32_t>(1, r.st.prompt_tokens - r.st.cached_tokens);
    batch_.push_back(id);
  } else {
    const double uncached = static_cast<double>(r.st.prompt_tokens - r.st.cached_tokens);
    const double prefill = static_cast<double>(cfg_.prefill_overhead) + uncached * cfg_.prefill_per_token_us;
    schedule(id, r, ready + jittered(prefill));
  }
  changed_.push_back(id);
  if (observer_) observer_->on_admitted(r.st);
  return true;
}

void Engine::schedule(Id id, Req& r, Micros at) {
  events_.push(Event{at, id, ++r.generation});
}

void Engine::drop_stale_events() const {
  while (!events_.empty()) {
    const Event& e = events_.top();
    auto it = reqs_.find(e.id);
    if (it != reqs_.end() && it->second.generation == e.generation &&
        it->second.st.phase != Phase::finished) {
      return;
    }
    events_.pop();
  }
}

Micros Engine::next_event() const {
  drop_stale_events();
  return std::min(step_end_, events_.empty() ? kNever : events_.top().at);
}

void Engine::advance(Micros now) {
  for (;;) {
    drop_stale_events();
    const Micros event_at = events_.empty() ? kNever : events_.top().at;
    if (step_end_ <= now && step_end_ <= event_at) {
      run_step(step_end_);
      continue;
    }
    if (event_at > now) return;
    const Event e = events_.top();
    events_.pop();
    on_event(e.id, reqs_.at(e.id), e.at);
  }
}

void Engine::on_event(Id id, Req& r, Micros at) {
  ++r.st.tokens_emitted;
  changed_.push_back(id);
  if (r.st.phase == Phase::prefill) {
    r.st.phase = Phase::decode;
    r.st.first_token_at = at;
    if (observer_) observer_->on_first_token(r.st);
  }
  if (r.st.tokens_emitted >= r.st.output_tokens) {
    finish(id, r, at, r.planned);
    return;
  }
  schedule(id, r, at + jittered(static_cast<double>(itl_for(running_))));
}

void Engine::finish(Id id, Req& r, Micros at, FinishReason reason) {
  const bool was_running = r.st.phase == Phase::prefill || r.st.phase == Phase::decode;
  if (was_running) {
    kv_.release(r.blocks);
    r.blocks.clear();
    if (!r.lora.empty()) lora_.release(r.lora);
    --running_;
    if (step_model()) batch_.erase(std::find(batch_.begin(), batch_.end(), id));
  }
  r.st.phase = Phase::finished;
  r.st.finish_reason = reason;
  r.st.finished_at = at;
  ++r.generation;
  changed_.push_back(id);
  if (observer_) observer_->on_finished(r.st);
  if (was_running) try_admit(at);
}

void Engine::abort(Id id, Micros now) {
  auto it = reqs_.find(id);
  if (it == reqs_.end() || it->second.st.phase == Phase::finished) return;
  advance(now);
  if (it->second.st.phase == Phase::finished) return;  // completed during advance
  if (it->second.st.phase == Phase::waiting) {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), id));
  }
  finish(id, it->second, now, FinishReason::abort);
}

const RequestState* Engine::find(Id id) const {
  auto it = reqs_.find(id);
  return it == reqs_.end() ? nullptr : &it->second.st;
}

void Engine::forget(Id id) {
  auto it = reqs_.find(id);
  if (it != reqs_.end() && it->second.st.phase == Phase::finished) reqs_.erase(it);
}

void Engine::take_changed(std::vector<Id>& out) {
  out.insert(out.end(), changed_.begin(), changed_.end());
  changed_.clear();
}

std::vector<std::string> Engine::waiting_loras() const {
  std::set<std::string> names;
  for (Id id : waiting_) {
    const Req& r = reqs_.at(id);
    if (!r.lora.empty()) names.insert(r.lora);
  }
  return {names.begin(), names.end()};
}

}  // namespace infergate::sim
