// The sort shared by pickers: ascending key, random among equal keys, the first `limit` kept.
#include "routing/plugins/plugins.hpp"

#include <algorithm>

namespace infergate::plugins {

void order_by_key(std::span<const double> key, Rng& rng, std::size_t limit,
                  std::vector<std::uint32_t>& order) {
  struct Slot {
    double key;
    std::uint32_t tie;
    std::uint32_t index;
  };
  thread_local std::vector<Slot> slots;
  const std::size_t n = key.size();
  slots.resize(n);
  std::uint64_t bits = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (i % 2 == 0) bits = rng();  // two 32-bit tie-breakers per draw
    slots[i] = {key[i], static_cast<std::uint32_t>(bits >> (32 * (i % 2))), i};
  }
  const auto less = [](const Slot& a, const Slot& b) {
    return a.key != b.key ? a.key < b.key : a.tie < b.tie;
  };
  const std::size_t k = std::min(limit, n);
  if (k == n) {
    std::sort(slots.begin(), slots.end(), less);
  } else {
    std::partial_sort(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(k), slots.end(), less);
  }
  order.clear();
  for (std::size_t i = 0; i < k; ++i) order.push_back(slots[i].index);
}

}  // namespace infergate::plugins
