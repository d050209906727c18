// "least-request": fewest requests in flight from this gateway first, random among ties
// (the usual proxy baseline: it sees only its own connections, no server metrics).
#include "routing/plugins/plugins.hpp"

namespace infergate::plugins {
namespace {

class LeastRequestPicker final : public Picker {
 public:
  std::string_view type() const noexcept override { return "least-request"; }
  void pick(const SchedulingRequest&, std::span<const EndpointView* const> candidates,
            std::span<const double>, Rng& rng, std::size_t limit,
            std::vector<std::uint32_t>& order) const override {
    thread_local std::vector<double> key;
    key.resize(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); ++i) key[i] = candidates[i]->in_flight;
    order_by_key(key, rng, limit, order);
  }
};

}  // namespace

std::unique_ptr<Plugin> make_least_request_picker(const PluginConfig&) {
  return std::make_unique<LeastRequestPicker>();
}

}  // namespace infergate::plugins
