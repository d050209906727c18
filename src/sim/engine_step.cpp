// The engine's step model (see engine.hpp): one GPU shared by decode and chunked prefill.
#include <algorithm>

#include "sim/engine.hpp"

namespace infergate::sim {

void Engine::start_step_if_idle(Micros now) {
  if (in_step_ || step_end_ != kNever || batch_.empty()) return;
  plan_step(now);
}

void Engine::plan_step(Micros now) {
  // As vLLM's scheduler: running decodes first, one token each, then prefill chunks in admission
  // order from what is left of the budget.
  std::uint32_t budget = cfg_.max_num_batched_tokens;
  std::uint32_t decoding = 0;
  std::uint64_t prefill_tokens = 0;
  Micros adapter_ready = kNever;
  for (Id id : batch_) {
    Req& r = reqs_.at(id);
    r.step_prefill = 0;
    r.step_decode = r.st.phase == Phase::decode && budget > 0;
    if (r.step_decode) {
      --budget;
      ++decoding;
    }
  }
  for (Id id : batch_) {
    Req& r = reqs_.at(id);
    if (r.st.phase != Phase::prefill) continue;
    if (r.ready_at > now) {
      adapter_ready = std::min(adapter_ready, r.ready_at);
      continue;
    }
    r.step_prefill = std::min(r.prefill_left, budget);
    budget -= r.step_prefill;
    prefill_tokens += r.step_prefill;
  }
  if (decoding == 0 && prefill_tokens == 0) {
    step_end_ = adapter_ready;  // only adapters loading: an empty step until the first is ready
    return;
  }
  double duration = decoding > 0 ? static_cast<double>(itl_for(running_)) : 0.0;
  if (prefill_tokens > 0) {
    duration += static_cast<double>(cfg_.prefill_overhead) +
                static_cast<double>(prefill_tokens) * cfg_.prefill_per_token_us;
  }
  step_end_ = now + std::max<Micros>(1, jittered(duration));
}

void Engine::run_step(Micros end) {
  in_step_ = true;
  step_end_ = kNever;
  std::vector<Id> done;
  for (Id id : batch_) {
    Req& r = reqs_.at(id);
    bool emitted = false;
    if (r.step_decode) {
      emitted = true;
    } else if (r.step_prefill > 0) {
      r.prefill_left -= r.step_prefill;
      if (r.prefill_left == 0) {
        // The step that computes the last prompt token also samples the first output token.
        r.st.phase = Phase::decode;
        r.st.first_token_at = end;
        emitted = true;
        if (observer_) observer_->on_first_token(r.st);
      }
    }
    r.step_decode = false;
    r.step_prefill = 0;
    if (!emitted) continue;
    ++r.st.tokens_emitted;
    changed_.push_back(id);
    if (r.st.tokens_emitted >= r.st.output_tokens) done.push_back(id);
  }
  for (Id id : done) {
    Req& r = reqs_.at(id);
    finish(id, r, end, r.planned);
  }
  in_step_ = false;
  try_admit(end);  // admits what the finished requests freed, then plans the next step
}

}  // namespace infergate::sim
