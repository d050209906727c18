// "kv-cache-scorer": 1 - KV-cache use (fresh scrapes; stale or unknown reads as empty, 1).
#include "routing/plugins/plugins.hpp"

namespace infergate::plugins {
namespace {

class KvCacheScorer final : public Scorer {
 public:
  std::string_view type() const noexcept override { return "kv-cache-scorer"; }
  void score(const SchedulingRequest&, std::span<const EndpointView* const> candidates,
             std::span<double> out) const override {
    for (std::size_t i = 0; i < candidates.size(); ++i) out[i] = 1.0 - candidates[i]->kv_usage;
  }
};

}  // namespace

std::unique_ptr<Plugin> make_kv_cache_scorer(const PluginConfig&) {
  return std::make_unique<KvCacheScorer>();
}

}  // namespace infergate::plugins
