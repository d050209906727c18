// Scrape targets from a snapshot, and the backoff of failing endpoints.
#include "routing/scrape_plan.hpp"

#include <algorithm>
#include <unordered_set>

namespace infergate {

std::vector<ScrapeTarget> scrape_targets(const Snapshot& snapshot) {
  std::vector<ScrapeTarget> targets;
  std::unordered_set<const Endpoint*> seen;
  for (const auto& pool : snapshot.pools) {
    if (!pool->mapping) continue;
    for (const EndpointPtr& endpoint : pool->endpoints) {
      if (!seen.insert(endpoint.get()).second) continue;
      targets.push_back({endpoint, pool->mapping, pool->metrics.path, pool->metrics.interval,
                         pool->metrics.timeout, pool->metrics.flavour == "auto"});
    }
  }
  return targets;
}

std::chrono::milliseconds next_scrape_delay(std::chrono::milliseconds interval,
                                            std::uint32_t consecutive_failures,
                                            std::chrono::milliseconds max_backoff) {
  const std::uint32_t doublings = std::min<std::uint32_t>(consecutive_failures, 20);
  const auto delay = interval * (std::int64_t{1} << doublings);
  return std::max(interval, std::min(delay, max_backoff));
}

}  // namespace infergate
