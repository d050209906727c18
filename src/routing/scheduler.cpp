// Model -> priority -> weighted target -> pool -> views -> saturation -> the pool's profile.
#include "routing/scheduler.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "routing/prefix_hash.hpp"
#include "routing/profile.hpp"

namespace infergate {

using ScheduleResult = boost::system::result<Decision, ErrorKind>;

std::string_view Decision::served_model() const {
  if (target && !target->served_model.empty()) return target->served_model;
  return model ? std::string_view(model->name) : std::string_view();
}

const Target* pick_target(const ModelRoute& model, Rng& rng) {
  if (model.total_weight == 0) return nullptr;
  if (model.targets.size() == 1) return &model.targets.front();
  std::uniform_int_distribution<std::uint64_t> draw(0, model.total_weight - 1);
  std::uint64_t ticket = draw(rng);
  for (const Target& target : model.targets) {
    if (ticket < target.weight) return &target;
    ticket -= target.weight;
  }
  return nullptr;  // unreachable while total_weight is the sum of the weights
}

int request_priority(const Snapshot& snapshot, const ModelRoute& model, std::string_view objective,
                     std::optional<int> key_priority) {
  if (!objective.empty()) {
    if (auto it = snapshot.objective_priorities.find(objective);
        it != snapshot.objective_priorities.end()) {
      return it->second;
    }
  }
  return key_priority.value_or(model.priority);
}

ViewOptions view_options(const Pool& pool, int priority) {
  ViewOptions options;
  options.staleness = pool.metrics.staleness;
  const SaturationConfig& s = pool.saturation;
  double running = s.running;
  if (running > 0 && priority <= priority::standard) running = std::max(1.0, running - s.reserve);
  options.saturation = {s.queue, s.kv_cache, running};
  return options;
}

bool pool_saturated(std::span<const EndpointView> views) {
  if (views.empty()) return false;
  const bool any_available =
      std::any_of(views.begin(), views.end(), [](const EndpointView& v) { return v.available; });
  return std::all_of(views.begin(), views.end(), [&](const EndpointView& v) {
    return v.saturated || (any_available && !v.available);
  });
}

bool pool_accepts(const Pool& pool, int priority, SteadyClock::time_point now) {
  if (pool.endpoints.empty()) return false;
  thread_local std::vector<EndpointView> views;
  const ViewOptions options = view_options(pool, priority);
  views.resize(pool.endpoints.size());
  for (std::uint32_t i = 0; i < views.size(); ++i) {
    read_view(*pool.endpoints[i], i, now, options, AdapterKey{}, views[i]);
  }
  return !pool_saturated(views);
}

ScheduleResult schedule(const Snapshot& snapshot, const RequestContext& request, Rng& rng,
                        std::size_t max_endpoints, std::chrono::steady_clock::time_point now) {
  Decision decision;
  decision.model = snapshot.find_model(request.facts->model);
  if (!decision.model) return ErrorKind::model_not_found;
  decision.priority =
      request_priority(snapshot, *decision.model, request.objective, request.key_priority);
  const bool sheddable = decision.priority < 0;
  decision.target = pick_target(*decision.model, rng);
  if (!decision.target || !decision.target->pool) return ErrorKind::no_ready_endpoint;
  const Pool& pool = *decision.target->pool;
  if (pool.endpoints.empty() || !pool.profile) {
    if (sheddable) return ErrorKind::no_ready_endpoint;
    decision.verdict = Verdict::queue;  // scaling from zero: wait for an endpoint
    return decision;
  }

  thread_local std::vector<EndpointView> views;
  thread_local std::vector<std::uint32_t> order;
  const ViewOptions options = view_options(pool, decision.priority);
  const std::string_view served = decision.served_model();
  const AdapterKey adapter = AdapterKey::of(served);
  views.resize(pool.endpoints.size());
  for (std::uint32_t i = 0; i < views.size(); ++i) {
    read_view(*pool.endpoints[i], i, now, options, adapter, views[i]);
  }
  if (pool_saturated(views)) {
    if (sheddable) return ErrorKind::saturated;
    decision.verdict = Verdict::queue;
  }

  SchedulingRequest scheduling{request.facts, served, request.session_id, decision.priority, {}};
  pool.profile->run(scheduling, views, rng, max_endpoints, order,
                    request.want_scores ? &decision.scores : nullptr);
  if (order.empty() && max_endpoints > 0) {  // the filters left nothing
    if (sheddable) return ErrorKind::no_ready_endpoint;
    decision.verdict = Verdict::queue;
  }
  decision.endpoints.reserve(order.size());
  for (const std::uint32_t i : order) decision.endpoints.push_back(pool.endpoints[i]);
  decision.profile = pool.profile.get();
  decision.prefix_hashes = std::move(scheduling.prefix_hashes);
  decision.prompt_bytes = canonical_prompt_bytes(request.facts->prompt);
  return decision;
}

ScheduleResult schedule(const Snapshot& snapshot, const RequestFacts& facts, Rng& rng,
                        std::size_t max_endpoints) {
  RequestContext request;
  request.facts = &facts;
  ScheduleResult result =
      schedule(snapshot, request, rng, max_endpoints, std::chrono::steady_clock::now());
  if (!result) return result;
  if (result->verdict == Verdict::queue) {
    // A caller without a wait queue: dispatch anyway while there is somewhere to go.
    if (result->endpoints.empty()) return ErrorKind::no_ready_endpoint;
    result->verdict = Verdict::dispatch;
  }
  // No response to wait for here: the prefill is counted and uncounted at once.
  if (!result->endpoints.empty()) record_dispatch(*result, result->endpoints.front());
  return result;
}

ScheduleResult schedule(const Snapshot& snapshot, const RequestFacts& facts, Rng& rng) {
  return schedule(snapshot, facts, rng, SIZE_MAX);
}

std::int64_t prefill_tokens_estimate(std::size_t prompt_bytes, std::size_t cached_bytes) {
  const std::size_t uncached = prompt_bytes - std::min(prompt_bytes, cached_bytes);
  return static_cast<std::int64_t>(uncached / kPromptBytesPerToken);
}

PendingPrefill record_dispatch(const Decision& decision, const EndpointPtr& endpoint) {
  note_dispatch(*endpoint);
  std::size_t cached = 0;
  if (decision.profile) {
    cached = decision.profile->on_dispatched(*endpoint,
                                             {decision.prefix_hashes, decision.served_model()});
  }
  return PendingPrefill(endpoint, prefill_tokens_estimate(decision.prompt_bytes, cached));
}

std::string scores_header(const Decision& decision) {
  std::string out;
  for (std::size_t i = 0; i < decision.endpoints.size() && i < decision.scores.size(); ++i) {
    if (!out.empty()) out += ',';
    fmt::format_to(std::back_inserter(out), "{}={:.3f}", decision.endpoints[i]->name,
                   decision.scores[i]);
  }
  return out;
}

}  // namespace infergate
