// "round-robin": each decision starts one further along the candidate list; fallbacks follow in
// list order. The cursor is the only state: one relaxed atomic shared by every worker (the
// rotation across workers is then approximately, not exactly, fair).
#include "routing/plugins/plugins.hpp"

#include <algorithm>
#include <atomic>

namespace infergate::plugins {
namespace {

class RoundRobinPicker final : public Picker {
 public:
  std::string_view type() const noexcept override { return "round-robin"; }
  void pick(const SchedulingRequest&, std::span<const EndpointView* const> candidates,
            std::span<const double>, Rng&, std::size_t limit,
            std::vector<std::uint32_t>& order) const override {
    const std::size_t n = candidates.size();
    order.clear();
    if (n == 0) return;
    const std::size_t start = cursor_.fetch_add(1, std::memory_order_relaxed) % n;
    for (std::size_t i = 0; i < std::min(limit, n); ++i) {
      order.push_back(static_cast<std::uint32_t>((start + i) % n));
    }
  }

 private:
  mutable std::atomic<std::uint64_t> cursor_{0};
};

}  // namespace

std::unique_ptr<Plugin> make_round_robin_picker(const PluginConfig&) {
  return std::make_unique<RoundRobinPicker>();
}

}  // namespace infergate::plugins
