#include "routing/plugins/slo_headroom_scorer.hpp"

#include <algorithm>
#include <limits>

#include "routing/plugins/plugins.hpp"
#include "routing/registry.hpp"

namespace infergate::plugins {

SloHeadroomScorer::SloHeadroomScorer(const PluginConfig& config)
    : ttft_ms_(plugin_param(config, "ttft_ms")),
      tpot_ms_(plugin_param(config, "tpot_ms")),
      model_(static_cast<std::uint64_t>(plugin_param(config, "min_samples"))) {}

LatencyFeatures SloHeadroomScorer::features(const SchedulingRequest& request,
                                            const EndpointView& view) {
  // queue is scraped waiting plus this replica's dispatches since the scrape.
  return {std::max(view.queue - view.running, view.waiting), view.running, view.kv_usage,
          double(request.facts->prompt_token_estimate()), 0};
}

void SloHeadroomScorer::score(const SchedulingRequest& request,
                              std::span<const EndpointView* const> candidates,
                              std::span<double> out) const {
  const double slo_ttft = request.slo_ttft_ms > 0 ? request.slo_ttft_ms : ttft_ms_;
  const double slo_tpot = request.slo_tpot_ms > 0 ? request.slo_tpot_ms : tpot_ms_;
  std::vector<LatencyModel::Prediction> p(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    p[i] = model_.predict(features(request, *candidates[i]));
    if (!p[i].trained) {
      std::fill(out.begin(), out.end(), 1.0);
      return;
    }
  }
  if (slo_ttft <= 0 && slo_tpot <= 0) {
    double min_ttft = std::numeric_limits<double>::max(), min_tpot = min_ttft;
    for (const auto& q : p) min_ttft = std::min(min_ttft, q.ttft_ms), min_tpot = std::min(min_tpot, q.tpot_ms);
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double a = p[i].ttft_ms > 0 ? min_ttft / p[i].ttft_ms : 1;
      const double b = p[i].tpot_ms > 0 ? min_tpot / p[i].tpot_ms : 1;
      out[i] = 0.5 * (a + b);
    }
    return;
  }
  for (std::size_t i = 0; i < p.size(); ++i) {
    // Relative headroom per dimension: 1 - predicted / slo (negative: predicted to miss).
    double headroom = 1;
    if (slo_ttft > 0) headroom = std::min(headroom, 1 - p[i].ttft_ms / slo_ttft);
    if (slo_tpot > 0) headroom = std::min(headroom, 1 - p[i].tpot_ms / slo_tpot);
    out[i] = headroom >= 0 ? 0.5 + 0.5 * headroom : 0.5 / (1 - headroom);
  }
}

std::unique_ptr<Plugin> make_slo_headroom_scorer(const PluginConfig& config) {
  return std::make_unique<SloHeadroomScorer>(config);
}

}  // namespace infergate::plugins
