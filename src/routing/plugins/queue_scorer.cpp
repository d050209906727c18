// "queue-scorer": a shorter hybrid queue (scraped waiting + sent since the scrape + in flight)
// scores higher, normalized across the candidates as the EPP does: (max - q) / (max - min);
// all equal: 1 for everyone.
#include "routing/plugins/plugins.hpp"

#include <algorithm>

namespace infergate::plugins {
namespace {

class QueueScorer final : public Scorer {
 public:
  std::string_view type() const noexcept override { return "queue-scorer"; }
  void score(const SchedulingRequest&, std::span<const EndpointView* const> candidates,
             std::span<double> out) const override {
    double lo = candidates.empty() ? 0 : candidates[0]->queue, hi = lo;
    for (const EndpointView* v : candidates) lo = std::min(lo, v->queue), hi = std::max(hi, v->queue);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      out[i] = hi == lo ? 1.0 : (hi - candidates[i]->queue) / (hi - lo);
    }
  }
};

}  // namespace

std::unique_ptr<Plugin> make_queue_scorer(const PluginConfig&) {
  return std::make_unique<QueueScorer>();
}

}  // namespace infergate::plugins
