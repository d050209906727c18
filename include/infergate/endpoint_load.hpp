// Live load and health of one model-server endpoint, shared by every worker and the control
// thread without locks: scalars are atomics, the LoRA sets are an immutable object swapped through
// an atomic shared_ptr. Writers: the metrics scraper (control thread) and the proxy's passive
// health hooks (any worker), through the functions of src/routing/endpoint_health.hpp.
// Readers: the scheduler, which copies what it needs into an EndpointView once per decision.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace infergate {

// Adapters a vLLM server reports in vllm:lora_requests_info (sorted, for binary search).
struct LoraSets {
  int max_loras = 0;
  std::vector<std::string> running;
  std::vector<std::string> waiting;
};

struct EndpointLoad {
  // What the last successful scrape published; meaningful when scraped_at_ns != 0.
  // NaN where the server did not report the signal.
  std::atomic<double> waiting{0};
  std::atomic<double> running{0};
  std::atomic<double> kv_usage{0};
  std::atomic<std::int64_t> scraped_at_ns{0};  // steady_clock, nanoseconds since epoch; 0: never
  std::atomic<std::shared_ptr<const LoraSets>> loras;  // null: no LoRA info
  std::atomic<bool> has_loras{false};  // lets readers skip the shared_ptr load

  // Requests this gateway sent since that scrape (the scrape cannot see them yet).
  std::atomic<std::uint32_t> dispatched_since_scrape{0};

  // Health.
  std::atomic<std::uint32_t> scrape_failures{0};      // consecutive
  std::atomic<std::uint32_t> connect_failures{0};     // consecutive
  std::atomic<std::uint32_t> consecutive_5xx{0};
  std::atomic<std::uint32_t> ejections{0};            // consecutive ejections (backoff exponent)
  std::atomic<std::int64_t> ejected_until_ns{0};      // steady_clock; 0: not ejected
};

}  // namespace infergate
