// Static-config scheduling: model -> weighted target -> pool -> endpoints by least in flight.
#include "routing/scheduler.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace infergate {
namespace {

// splitmix64's finalizer: distinct inputs give independent-looking outputs.
std::uint64_t mix(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

void LeastRequestPicker::order(std::span<const EndpointPtr> candidates, Rng& rng,
                               std::size_t limit, std::vector<EndpointPtr>& out) const {
  // Sort a copy of the counters, read once each: sorting on live atomics that other workers
  // change would break the comparator's ordering. One key per endpoint: the load in the high
  // half, a random tie-breaker in the low half (one draw from rng, spread by a mixer).
  struct Slot {
    std::uint64_t key;
    std::uint32_t index;
  };
  constexpr std::size_t kOnStack = 64;
  Slot on_stack[kOnStack];
  std::unique_ptr<Slot[]> on_heap;
  const std::size_t size = candidates.size();
  Slot* slots = on_stack;
  if (size > kOnStack) slots = (on_heap = std::make_unique_for_overwrite<Slot[]>(size)).get();

  const std::uint64_t seed = rng();
  for (std::uint32_t i = 0; i < size; ++i) {
    const auto load = static_cast<std::uint32_t>(
        std::max(0, candidates[i]->in_flight.load(std::memory_order_relaxed)));
    slots[i].key = (std::uint64_t{load} << 32) | (mix(seed + i) >> 32);
    slots[i].index = i;
  }
  const auto by_key = [](const Slot& a, const Slot& b) { return a.key < b.key; };
  const std::size_t n = std::min(limit, size);
  if (n == size) {
    std::sort(slots, slots + size, by_key);  // insertion sort at usual pool sizes
  } else {
    std::partial_sort(slots, slots + n, slots + size, by_key);
  }
  out.clear();
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(candidates[slots[i].index]);
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
                                                    const EndpointPicker& picker,
                                                    std::size_t max_endpoints) {
  Decision decision;
  decision.model = snapshot.find_model(facts.model);
  if (!decision.model) return ErrorKind::model_not_found;
  decision.target = pick_target(*decision.model, rng);
  if (!decision.target || !decision.target->pool || decision.target->pool->endpoints.empty()) {
    return ErrorKind::no_ready_endpoint;
  }
  picker.order(decision.target->pool->endpoints, rng, max_endpoints, decision.endpoints);
  return decision;
}

boost::system::result<Decision, ErrorKind> schedule(const Snapshot& snapshot,
                                                    const RequestFacts& facts, Rng& rng) {
  return schedule(snapshot, facts, rng, default_picker(), SIZE_MAX);
}

boost::system::result<Decision, ErrorKind> schedule(const Snapshot& snapshot,
                                                    const RequestFacts& facts, Rng& rng,
                                                    std::size_t max_endpoints) {
  return schedule(snapshot, facts, rng, default_picker(), max_endpoints);
}

}  // namespace infergate
