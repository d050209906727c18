// "random": a uniformly random order (fallbacks random too).
#include "routing/plugins/plugins.hpp"

namespace infergate::plugins {
namespace {

class RandomPicker final : public Picker {
 public:
  std::string_view type() const noexcept override { return "random"; }
  void pick(const SchedulingRequest&, std::span<const EndpointView* const> candidates,
            std::span<const double>, Rng& rng, std::size_t limit,
            std::vector<std::uint32_t>& order) const override {
    thread_local std::vector<double> key;
    key.assign(candidates.size(), 0.0);  // all tied: the tie-breaker is the order
    order_by_key(key, rng, limit, order);
  }
};

}  // namespace

std::unique_ptr<Plugin> make_random_picker(const PluginConfig&) {
  return std::make_unique<RandomPicker>();
}

}  // namespace infergate::plugins
