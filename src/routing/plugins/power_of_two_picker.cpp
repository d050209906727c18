// "power-of-two-choices": two distinct candidates drawn at random, the one with the shorter
// hybrid queue first (random on a tie), the other second; the rest follow by queue.
#include "routing/plugins/plugins.hpp"

#include <algorithm>

namespace infergate::plugins {
namespace {

class PowerOfTwoPicker final : public Picker {
 public:
  std::string_view type() const noexcept override { return "power-of-two-choices"; }
  void pick(const SchedulingRequest&, std::span<const EndpointView* const> candidates,
            std::span<const double>, Rng& rng, std::size_t limit,
            std::vector<std::uint32_t>& order) const override {
    const std::size_t n = candidates.size();
    thread_local std::vector<double> key;
    key.resize(n);
    for (std::size_t i = 0; i < n; ++i) key[i] = candidates[i]->queue + 2;  // 0 and 1: the pair
    if (n >= 2) {
      const auto a = static_cast<std::size_t>(rng() % n);
      auto b = static_cast<std::size_t>(rng() % (n - 1));
      if (b >= a) ++b;
      const bool a_first = candidates[a]->queue != candidates[b]->queue
                               ? candidates[a]->queue < candidates[b]->queue
                               : (rng() & 1) != 0;
      key[a] = a_first ? 0 : 1;
      key[b] = a_first ? 1 : 0;
    }
    order_by_key(key, rng, limit, order);
  }
};

}  // namespace

std::unique_ptr<Plugin> make_power_of_two_picker(const PluginConfig&) {
  return std::make_unique<PowerOfTwoPicker>();
}

}  // namespace infergate::plugins
