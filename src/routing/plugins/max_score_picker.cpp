// "max-score-picker": highest weighted score first, random among equal scores; the rest follow
// by score as fallbacks.
#include "routing/plugins/plugins.hpp"

namespace infergate::plugins {
namespace {

class MaxScorePicker final : public Picker {
 public:
  std::string_view type() const noexcept override { return "max-score-picker"; }
  void pick(const SchedulingRequest&, std::span<const EndpointView* const> candidates,
            std::span<const double> scores, Rng& rng, std::size_t limit,
            std::vector<std::uint32_t>& order) const override {
    thread_local std::vector<double> key;
    key.resize(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); ++i) key[i] = -scores[i];
    order_by_key(key, rng, limit, order);
  }
};

}  // namespace

std::unique_ptr<Plugin> make_max_score_picker(const PluginConfig&) {
  return std::make_unique<MaxScorePicker>();
}

}  // namespace infergate::plugins
