#include "k8s/backoff.hpp"

#include <algorithm>

namespace infergate::k8s::detail {

Backoff::Backoff(ms initial, ms max, std::uint64_t seed)
    : initial_(std::max(initial, ms(1))), max_(std::max(max, initial_)), step_(initial_),
      rng_(seed) {}

Backoff::ms Backoff::next() {
  std::uniform_int_distribution<std::int64_t> jitter(0, step_.count() - 1);
  ms wait = std::min(step_ + ms(jitter(rng_)), max_);
  step_ = std::min(step_ * 2, max_);
  return wait;
}

}  // namespace infergate::k8s::detail
