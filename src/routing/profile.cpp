// The pipeline of one scheduling decision, on one screen: filter, score with weights, pick.
#include "routing/profile.hpp"

#include <algorithm>

namespace infergate {

void SchedulerProfile::run(SchedulingRequest& request, std::span<const EndpointView> views,
                           Rng& rng, std::size_t limit, std::vector<std::uint32_t>& order,
                           std::vector<double>* scores) const {
  // Per-thread scratch: no allocation per decision once warm.
  thread_local Candidates candidates;
  thread_local std::vector<double> total, one;
  thread_local std::vector<std::uint32_t> picked;
  candidates.clear();
  for (const EndpointView& view : views) candidates.push_back(&view);
  for (const auto& filter : filters) filter->filter(request, candidates);
  order.clear();
  if (scores) scores->clear();
  if (candidates.empty()) return;

  const std::size_t n = candidates.size();
  total.assign(n, 0.0);
  for (const auto& s : scorers) s.scorer->prepare(request);
  for (const auto& s : scorers) {
    one.assign(n, 0.0);
    s.scorer->score(request, candidates, one);
    for (std::size_t i = 0; i < n; ++i) total[i] += s.weight * std::clamp(one[i], 0.0, 1.0);
  }
  picker->pick(request, candidates, total, rng, limit, picked);

  // Back from candidate positions to view positions.
  for (const std::uint32_t i : picked) {
    order.push_back(static_cast<std::uint32_t>(candidates[i] - views.data()));
    if (scores) scores->push_back(total[i]);
  }
}

std::size_t SchedulerProfile::on_dispatched(const Endpoint& endpoint,
                                            const DispatchedRequest& request) const {
  std::size_t cached = 0;
  for (const auto& s : scorers) cached = std::max(cached, s.scorer->on_dispatched(endpoint, request));
  return cached;
}

std::unordered_map<std::uint32_t, std::size_t> SchedulerProfile::state_entries_by_endpoint() const {
  std::unordered_map<std::uint32_t, std::size_t> counts;
  for (const auto& s : scorers) s.scorer->count_state_entries(counts);
  return counts;
}

std::size_t SchedulerProfile::state_entries(const Endpoint& endpoint) const {
  std::size_t n = 0;
  for (const auto& s : scorers) n += s.scorer->state_entries(endpoint);
  return n;
}

}  // namespace infergate
