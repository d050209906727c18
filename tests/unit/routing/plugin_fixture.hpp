// Helpers for the plugin tests: a fleet of endpoints with hand-written views, plugins by type.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "routing/plugin.hpp"
#include "routing/registry.hpp"

namespace infergate::testing {

// Endpoints 127.0.0.1:1..n whose views are given (endpoint and index filled in).
struct Fleet {
  std::vector<std::unique_ptr<Endpoint>> endpoints;
  std::vector<EndpointView> views;

  explicit Fleet(std::vector<EndpointView> given) : views(std::move(given)) {
    for (std::uint32_t i = 0; i < views.size(); ++i) {
      endpoints.push_back(std::make_unique<Endpoint>(HostPort{"127.0.0.1", static_cast<std::uint16_t>(i + 1)}));
      views[i].endpoint = endpoints.back().get();
      views[i].index = i;
    }
  }
  Candidates candidates() const {
    Candidates c;
    for (const auto& v : views) c.push_back(&v);
    return c;
  }
};

inline EndpointView with_queue(double queue, std::int32_t in_flight = 0) {
  EndpointView v;
  v.queue = queue;
  v.in_flight = in_flight;
  return v;
}

template <class T>
std::unique_ptr<T> make_plugin(const std::string& type, std::map<std::string, double, std::less<>> params = {}) {
  const PluginInfo* info = find_plugin(type);
  REQUIRE(info != nullptr);
  PluginConfig config{type, 1, std::move(params)};
  auto made = info->make(config);
  REQUIRE(made->type() == type);
  return std::unique_ptr<T>(static_cast<T*>(made.release()));
}

inline std::vector<double> score(const Scorer& scorer, SchedulingRequest& request, const Fleet& fleet) {
  const Candidates c = fleet.candidates();
  std::vector<double> out(c.size(), -1.0);
  scorer.prepare(request);
  scorer.score(request, c, out);
  return out;
}

inline std::vector<std::uint32_t> pick(const Picker& picker, const SchedulingRequest& request,
                                       const Fleet& fleet, Rng& rng,
                                       std::vector<double> scores = {}, std::size_t limit = SIZE_MAX) {
  const Candidates c = fleet.candidates();
  if (scores.empty()) scores.assign(c.size(), 0.0);
  std::vector<std::uint32_t> order;
  picker.pick(request, c, scores, rng, limit, order);
  return order;
}

inline SchedulingRequest request_for(const RequestFacts& facts, std::string_view model = "m") {
  SchedulingRequest r;
  r.facts = &facts;
  r.model = model;
  return r;
}

}  // namespace infergate::testing
