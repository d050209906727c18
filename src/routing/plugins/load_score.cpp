// The normalisation shared by the load scorers (queue, prefill load).
#include "routing/plugins/plugins.hpp"

#include <algorithm>

namespace infergate::plugins {

void score_lower_load(std::span<const EndpointView* const> candidates, double EndpointView::*load,
                      double scale, std::span<double> out) {
  double lo = candidates.empty() ? 0 : candidates[0]->*load, hi = lo;
  for (const EndpointView* v : candidates) lo = std::min(lo, v->*load), hi = std::max(hi, v->*load);
  const double range = std::max(hi - lo, scale);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    out[i] = range <= 0 ? 1.0 : 1.0 - (candidates[i]->*load - lo) / range;
  }
}

}  // namespace infergate::plugins
