// "slo-headroom-scorer": rates candidates by predicted TTFT/TPOT (LatencyModel) against the
// request's SLO. Exposed as a class so the proxy can feed it observations and /debug read it.
#pragma once

#include "infergate/config.hpp"
#include "routing/latency_model.hpp"
#include "routing/plugin.hpp"

namespace infergate::plugins {

class SloHeadroomScorer final : public Scorer {
 public:
  explicit SloHeadroomScorer(const PluginConfig& config);

  std::string_view type() const noexcept override { return "slo-headroom-scorer"; }
  // Untrained model: 1 for everyone (neutral). With an SLO (request's, else the configured
  // ttft_ms / tpot_ms): a candidate predicted to meet it scores 0.5 + 0.5 * its smallest relative
  // headroom, one predicted to miss scores 0.5 * slo / predicted on the worst dimension, so
  // every meeting endpoint outranks every missing one. No SLO: min predicted / predicted.
  void score(const SchedulingRequest& request, std::span<const EndpointView* const> candidates,
             std::span<double> out) const override;

  static LatencyFeatures features(const SchedulingRequest& request, const EndpointView& view);
  LatencyModel& model() const { return model_; }  // thread-safe

 private:
  double ttft_ms_, tpot_ms_;
  mutable LatencyModel model_;
};

}  // namespace infergate::plugins
