// Static-config scheduling: model -> weighted target -> pool -> endpoints by least in flight.
#include "routing/scheduler.hpp"

#include <algorithm>
#include <cstdint>

#include <boost/container/small_vector.hpp>

namespace infergate {

void LeastRequestPicker::order(std::span<const EndpointPtr> candidates, Rng& rng,
                               std::vector<EndpointPtr>& out) const {
  // Sort a copy of the counters, read once each: sorting on live atomics that other workers
  // change would break the comparator's ordering. A random key per endpoint breaks ties.
  struct Slot {
    std::int32_t load;
    std::uint64_t tie;
    std::uint32_t index;
  };
  boost::container::small_vector<Slot, 32> slots;
  slots.reserve(candidates.size());
  for (std::uint32_t i = 0; i < candidates.size(); ++i) {
    slots.push_back({candidates[i]->in_flight.load(std::memory_order_relaxed), rng(), i});
  }
  std::sort(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) {
    return a.load != b.load ? a.load < b.load : a.tie < b.tie;
  });
  out.clear();
  out.reserve(slots.size());
  for (const Slot& slot : slots) out.push_back(candidates[slot.index]);
}

const EndpointPicker& default_picker() noexcept {
  static const LeastRequestPicker picker;
  return picker;
}

const Target* pick_target(const ModelRoute& model, Rng& rng) {
  if (model.total_weight == 0) return nullptr;
  if (model.targets.size() == 1) return &model.targets.front();
  std::uniform_int_distribution<std::uint64_t> draw(0, model.total_weight - 1);
  std::uint64_t ticket = draw(rng);
  for (const Target& target : model.targets) {
    if (ticket < target.weight) return &target;
    ticket -= target.weight;
  }
  return nullptr;  // unreachable while total_weight is the sum of the weights
}

boost::system::result<Decision, ErrorKind> schedule(const Snapshot& snapshot,
                                                    const RequestFacts& facts, Rng& rng,
                                                    const EndpointPicker& picker) {
  Decision decision;
  decision.model = snapshot.find_model(facts.model);
  if (!decision.model) return ErrorKind::model_not_found;
  decision.target = pick_target(*decision.model, rng);
  if (!decision.target || !decision.target->pool || decision.target->pool->endpoints.empty()) {
    return ErrorKind::no_ready_endpoint;
  }
  picker.order(decision.target->pool->endpoints, rng, decision.endpoints);
  return decision;
}

boost::system::result<Decision, ErrorKind> schedule(const Snapshot& snapshot,
                                                    const RequestFacts& facts, Rng& rng) {
  return schedule(snapshot, facts, rng, default_picker());
}

}  // namespace infergate
