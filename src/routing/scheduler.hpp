// Inside src/routing: the pieces of schedule() that the inference-aware scheduler (issue 4)
// replaces or wraps. The proxy only calls schedule() from infergate/routing.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "infergate/routing.hpp"

namespace infergate {

// Orders the endpoints of the chosen pool by preference.
// Contract: pure and synchronous (no I/O, no locks); `out` is cleared and receives the
// min(limit, size) most preferred of `candidates`, first choice first, each at most once;
// reads each endpoint's counters once, since other workers change them while it runs;
// randomness only from `rng`.
class EndpointPicker {
 public:
  virtual ~EndpointPicker() = default;
  virtual std::string_view type() const noexcept = 0;  // kebab-case plugin name
  virtual void order(std::span<const EndpointPtr> candidates, Rng& rng, std::size_t limit,
                     std::vector<EndpointPtr>& out) const = 0;
};

// "least-request": fewest requests in flight from this gateway first, random among ties.
class LeastRequestPicker final : public EndpointPicker {
 public:
  std::string_view type() const noexcept override { return "least-request"; }
  void order(std::span<const EndpointPtr> candidates, Rng& rng, std::size_t limit,
             std::vector<EndpointPtr>& out) const override;
};

// The picker schedule() uses when none is given.
const EndpointPicker& default_picker() noexcept;

// One target of `model` drawn with probability weight / total_weight; never a weight-0 target.
// nullptr when the model has no target with a positive weight.
const Target* pick_target(const ModelRoute& model, Rng& rng);

// schedule() with an explicit picker, keeping at most `max_endpoints` endpoints.
boost::system::result<Decision, ErrorKind> schedule(const Snapshot& snapshot,
                                                    const RequestFacts& facts, Rng& rng,
                                                    const EndpointPicker& picker,
                                                    std::size_t max_endpoints = SIZE_MAX);

}  // namespace infergate
