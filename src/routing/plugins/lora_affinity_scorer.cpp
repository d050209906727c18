// "lora-affinity-scorer": where the request's adapter (the served model name) stands on each
// endpoint, from vllm:lora_requests_info: running 1.0, a free adapter slot 0.8, waiting 0.6,
// else 0. Endpoints that report no LoRA info score 0 for everyone alike.
#include "routing/plugins/plugins.hpp"

namespace infergate::plugins {
namespace {

class LoraAffinityScorer final : public Scorer {
 public:
  std::string_view type() const noexcept override { return "lora-affinity-scorer"; }
  void score(const SchedulingRequest&, std::span<const EndpointView* const> candidates,
             std::span<double> out) const override {
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      switch (candidates[i]->lora) {
        case LoraMatch::running: out[i] = 1.0; break;
        case LoraMatch::free_slot: out[i] = 0.8; break;
        case LoraMatch::waiting: out[i] = 0.6; break;
        case LoraMatch::unknown:
        case LoraMatch::none: out[i] = 0.0; break;
      }
    }
  }
};

}  // namespace

std::unique_ptr<Plugin> make_lora_affinity_scorer(const PluginConfig&) {
  return std::make_unique<LoraAffinityScorer>();
}

}  // namespace infergate::plugins
