// A scheduler profile: filters -> weighted scorers -> picker, built from YAML by registry.cpp.
// Immutable once built and shared by every worker (through the snapshot's Pool).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "routing/plugin.hpp"

namespace infergate {

class SchedulerProfile {
 public:
  struct WeightedScorer {
    std::unique_ptr<Scorer> scorer;
    double weight = 1;
  };

  std::vector<std::unique_ptr<Filter>> filters;
  std::vector<WeightedScorer> scorers;
  std::unique_ptr<Picker> picker;  // never null
  SchedulerConfig source;          // what it was built from (a reload keeps an equal profile)

  // Runs the pipeline over `views`. `order` receives indices into `views`, best first (empty
  // when the filters left nothing); `scores`, when given, the weighted score of each of them.
  void run(SchedulingRequest& request, std::span<const EndpointView> views, Rng& rng,
           std::size_t limit, std::vector<std::uint32_t>& order,
           std::vector<double>* scores = nullptr) const;

  // Dispatch hooks of every scorer (thread-safe). Returns the largest cached prefix (bytes of the
  // canonical prompt) any of them predicts for `endpoint`.
  std::size_t on_dispatched(const Endpoint& endpoint, const DispatchedRequest& request) const;

  // Sum of the scorers' state entries for `endpoint` (debug output).
  std::size_t state_entries(const Endpoint& endpoint) const;
  // By endpoint id, for every endpoint at once (one scan of each scorer's state).
  std::unordered_map<std::uint32_t, std::size_t> state_entries_by_endpoint() const;
};

}  // namespace infergate
