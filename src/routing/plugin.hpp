// The scheduler's plugin interfaces, in the shape of the Inference Extension's Endpoint Picker:
// filters narrow the candidates, scorers rate each in [0,1] (the profile applies weights), a
// picker orders them. Contract for every plugin: pure and synchronous (no I/O, no locks, no
// allocation that outlives the call), reads only the EndpointViews and the request it is handed,
// randomness only from the injected Rng. The one exception is dispatch state (the prefix-cache
// index, round-robin's cursor): updated through thread-safe members and documented there.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "infergate/routing.hpp"
#include "routing/endpoint_view.hpp"

namespace infergate {

// One decision's request, as plugins see it.
struct SchedulingRequest {
  const RequestFacts* facts = nullptr;  // never null
  std::string_view model;               // the served model name (LoRA adapter, hash seed)
  std::string_view session_id;          // empty: none
  int priority = priority::standard;
  // Chained block hashes of the prompt, filled by Scorer::prepare of the prefix-cache scorer.
  std::vector<std::uint64_t> prefix_hashes;
  // The request's latency objectives in ms (x-slo-ttft-ms / x-slo-tpot-ms); 0: none given.
  double slo_ttft_ms = 0;
  double slo_tpot_ms = 0;
};

// What a dispatch hook learns: the request was sent to `endpoint`.
struct DispatchedRequest {
  std::span<const std::uint64_t> prefix_hashes;
  std::string_view model;
};

using Candidates = std::vector<const EndpointView*>;

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual std::string_view type() const noexcept = 0;  // kebab-case, as in YAML
};

// Removes candidates. May leave the list empty (the profile then refuses) or keep it whole.
class Filter : public Plugin {
 public:
  virtual void filter(const SchedulingRequest& request, Candidates& candidates) const = 0;
};

// Writes one score in [0,1] per candidate into `out` (same order, same size; 1 is best).
class Scorer : public Plugin {
 public:
  virtual void prepare(SchedulingRequest&) const {}  // once per decision, before score()
  virtual void score(const SchedulingRequest& request, std::span<const EndpointView* const> candidates,
                     std::span<double> out) const = 0;
  // The request was sent to `endpoint`. Any worker thread, concurrently: must be thread-safe.
  // Returns how many leading bytes of the canonical prompt (prefix_hash.hpp) the endpoint
  // probably holds in its KV cache already, as known before this dispatch; 0: none or unknown.
  virtual std::size_t on_dispatched(const Endpoint&, const DispatchedRequest&) const { return 0; }
  // Entries this scorer holds for `endpoint` (debug output); 0 when it keeps no state.
  virtual std::size_t state_entries(const Endpoint&) const { return 0; }
  // The same for every endpoint at once, added to `counts` by endpoint id.
  virtual void count_state_entries(std::unordered_map<std::uint32_t, std::size_t>&) const {}
};

// Orders candidates: `order` receives min(limit, size) distinct indices into `candidates`,
// first choice first. `scores` holds the weighted sum of the scorers (zeros without scorers).
class Picker : public Plugin {
 public:
  virtual void pick(const SchedulingRequest& request, std::span<const EndpointView* const> candidates,
                    std::span<const double> scores, Rng& rng, std::size_t limit,
                    std::vector<std::uint32_t>& order) const = 0;
};

}  // namespace infergate
