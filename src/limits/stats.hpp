// What the limiter counts for /metrics: relaxed atomics, moved only on refusals, debts, fallbacks
// and store calls (never on a plain admission).
#pragma once

#include <atomic>
#include <cstdint>

namespace infergate::limits::detail {

struct Stats {
  std::atomic<std::uint64_t> refused_requests{0}, refused_tokens{0}, refused_unavailable{0};
  std::atomic<std::uint64_t> debt_admissions{0};      // admitted while a refill was in flight
  std::atomic<std::uint64_t> fallback_admissions{0};  // admitted on local limits, store down
  std::atomic<std::uint64_t> store_errors{0}, store_state_changes{0};
  std::atomic<std::uint64_t> store_calls{0};  // scripts run (one per counter per refill/return)
  std::atomic<std::uint64_t> leases{0}, leased_units{0}, returned_units{0};
};

inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
  c.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace infergate::limits::detail
