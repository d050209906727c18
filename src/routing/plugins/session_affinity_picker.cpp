// "session-affinity": requests carrying the same x-session-id go to the same endpoint, as long as
// it is not overloaded: consistent hashing with bounded loads (Mirrokni et al.), here on
// rendezvous hashing (each endpoint ranked by hash(session, endpoint name), so adding or removing
// an endpoint only moves the sessions it wins or held). An endpoint takes the session only while
// its in-flight count is below ceil(load_factor * (total + 1) / n); otherwise the next in rank
// order does. Without a session id: shortest hybrid queue first.
#include "routing/plugins/plugins.hpp"

#include <algorithm>
#include <cmath>

#include <xxhash.h>

#include "routing/registry.hpp"

namespace infergate::plugins {
namespace {

class SessionAffinityPicker final : public Picker {
 public:
  explicit SessionAffinityPicker(double load_factor) : load_factor_(load_factor) {}
  std::string_view type() const noexcept override { return "session-affinity"; }

  void pick(const SchedulingRequest& request, std::span<const EndpointView* const> candidates,
            std::span<const double>, Rng& rng, std::size_t limit,
            std::vector<std::uint32_t>& order) const override {
    const std::size_t n = candidates.size();
    thread_local std::vector<double> key;
    key.resize(n);
    if (request.session_id.empty()) {
      for (std::size_t i = 0; i < n; ++i) key[i] = candidates[i]->queue;
      order_by_key(key, rng, limit, order);
      return;
    }
    const std::uint64_t session = XXH3_64bits(request.session_id.data(), request.session_id.size());
    double total = 0;
    for (const EndpointView* v : candidates) total += v->in_flight;
    const double capacity = std::ceil(load_factor_ * (total + 1) / static_cast<double>(n));
    thread_local std::vector<std::uint32_t> rank;
    rank.clear();
    for (std::size_t i = 0; i < n; ++i) {
      const std::string& name = candidates[i]->endpoint->name;
      // Rank by hash, mapped into [1, 2) so that 0 can mark the chosen endpoint.
      const std::uint64_t h = XXH3_64bits_withSeed(name.data(), name.size(), session);
      key[i] = 2.0 - static_cast<double>(h >> 11) / 9007199254740992.0;
      rank.push_back(static_cast<std::uint32_t>(i));
    }
    std::sort(rank.begin(), rank.end(), [&](std::uint32_t a, std::uint32_t b) { return key[a] < key[b]; });
    for (const std::uint32_t i : rank) {
      if (candidates[i]->in_flight < capacity) {
        key[i] = 0;
        break;
      }
    }
    // All over capacity: the first in rank order stays first.
    order_by_key(key, rng, limit, order);
  }

 private:
  double load_factor_;
};

}  // namespace

std::unique_ptr<Plugin> make_session_affinity_picker(const PluginConfig& config) {
  return std::make_unique<SessionAffinityPicker>(plugin_param(config, "load_factor"));
}

}  // namespace infergate::plugins
