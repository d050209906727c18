// Inside src/routing: the pieces of schedule() that tests and the benchmark reach directly.
// The proxy calls schedule() and record_dispatch() from infergate/routing.hpp.
#pragma once

#include <span>

#include "infergate/routing.hpp"
#include "routing/endpoint_view.hpp"

namespace infergate {

// One target of `model` drawn with probability weight / total_weight; never a weight-0 target.
// nullptr when the model has no target with a positive weight.
const Target* pick_target(const ModelRoute& model, Rng& rng);

// The priority of a request: its objective's when the snapshot knows it, else its model's.
int request_priority(const Snapshot& snapshot, const ModelRoute& model, std::string_view objective);

// What read_view needs from a pool's settings.
ViewOptions view_options(const Pool& pool);

// True when every available candidate (all of them, when none is available) is saturated.
bool pool_saturated(std::span<const EndpointView> views);

}  // namespace infergate
