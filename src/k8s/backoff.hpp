// Exponential backoff with jitter (client-go's shape: each wait is the current step plus up to one
// more step at random, the step doubling up to a cap), for retries after errors.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace infergate::k8s::detail {

class Backoff {
 public:
  using ms = std::chrono::milliseconds;
  Backoff(ms initial, ms max, std::uint64_t seed);

  // The next wait: in [step, 2*step) capped at max, then the step doubles (up to max).
  ms next();
  // After a success: the next wait starts from `initial` again.
  void reset() { step_ = initial_; }
  ms step() const { return step_; }

 private:
  ms initial_, max_, step_;
  std::mt19937_64 rng_;
};

}  // namespace infergate::k8s::detail
