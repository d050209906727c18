// "available-filter": drops endpoints that are ejected (connect failures, 5xx bursts) or
// unhealthy (scrapes failing). When that would leave none, keeps them all: our judgement of
// health is indirect, and the proxy still walks fallbacks on connect failure.
#include "routing/plugins/plugins.hpp"

#include <algorithm>

namespace infergate::plugins {
namespace {

class AvailableFilter final : public Filter {
 public:
  std::string_view type() const noexcept override { return "available-filter"; }
  void filter(const SchedulingRequest&, Candidates& candidates) const override {
    const auto unavailable = [](const EndpointView* v) { return !v->available; };
    if (std::all_of(candidates.begin(), candidates.end(), unavailable)) return;
    std::erase_if(candidates, unavailable);
  }
};

}  // namespace

std::unique_ptr<Plugin> make_available_filter(const PluginConfig&) {
  return std::make_unique<AvailableFilter>();
}

}  // namespace infergate::plugins
