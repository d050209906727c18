// "prefill-load-scorer": less pending prefill (EndpointView::pending_prefill: uncached prompt
// tokens this gateway sent that have no response body byte yet) scores higher, normalised as the
// queue scorer does: 1 - (p - min) / max(max - min, scale). Why: a server runs prefill and
// decode in the same steps (vLLM's chunked prefill), so a newcomer's first token waits for the
// prompts already sent there as well as its own; the request counts cannot tell a server about
// to prefill 2000 tokens from one that only decodes. `scale` (tokens, default 1024, half of vLLM's
// usual 2048-token step budget) keeps small differences small: a difference costs in proportion
// to it until the spread grows past it. All equal (no prefill pending anywhere): 1 for everyone.
#include "routing/plugins/plugins.hpp"

#include "routing/registry.hpp"

namespace infergate::plugins {
namespace {

class PrefillLoadScorer final : public Scorer {
 public:
  explicit PrefillLoadScorer(const PluginConfig& config) : scale_(plugin_param(config, "scale")) {}

  std::string_view type() const noexcept override { return "prefill-load-scorer"; }
  void score(const SchedulingRequest&, std::span<const EndpointView* const> candidates,
             std::span<double> out) const override {
    score_lower_load(candidates, &EndpointView::pending_prefill, scale_, out);
  }

 private:
  double scale_;
};

}  // namespace

std::unique_ptr<Plugin> make_prefill_load_scorer(const PluginConfig& config) {
  return std::make_unique<PrefillLoadScorer>(config);
}

}  // namespace infergate::plugins
