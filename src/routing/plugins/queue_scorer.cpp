// "queue-scorer": a lighter hybrid load (EndpointView::queue: requests on the server now,
// estimated) scores higher: 1 - (q - min) / max(max - min, scale). The EPP normalises by the
// spread alone, (max - q) / (max - min), so one request more than the others costs the full weight
// and outweighs a full prefix-cache or LoRA match at any load; here a difference costs in
// proportion to `scale` (requests, default 4) until the spread grows past it, and then the spread
// normalises as in the EPP. All equal: 1 for everyone.
#include "routing/plugins/plugins.hpp"

#include "routing/registry.hpp"

namespace infergate::plugins {
namespace {

class QueueScorer final : public Scorer {
 public:
  explicit QueueScorer(const PluginConfig& config) : scale_(plugin_param(config, "scale")) {}

  std::string_view type() const noexcept override { return "queue-scorer"; }
  void score(const SchedulingRequest&, std::span<const EndpointView* const> candidates,
             std::span<double> out) const override {
    score_lower_load(candidates, &EndpointView::queue, scale_, out);
  }

 private:
  double scale_;
};

}  // namespace

std::unique_ptr<Plugin> make_queue_scorer(const PluginConfig& config) {
  return std::make_unique<QueueScorer>(config);
}

}  // namespace infergate::plugins
