// Live load and health of one model-server endpoint, shared by every worker and the control
// thread without locks: scalars are atomics, the LoRA adapter sets a seqlock of atomic name
// hashes (their names, for /debug/endpoints only, behind a mutex the data path never takes). Writers: the metrics scraper (control thread) and the proxy's passive
// health hooks (any worker), through the functions of src/routing/endpoint_health.hpp.
// Readers: the scheduler, which copies what it needs into an EndpointView once per decision.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace infergate {

// Adapters a vLLM server reports in vllm:lora_requests_info (sorted, for binary search).
struct LoraSets {
  int max_loras = 0;
  std::vector<std::string> running;
  std::vector<std::string> waiting;
};

// The adapter sets as the scheduler reads them: XXH3-64 hashes of the names. Written by one
// thread (the scraper), read by any: a seqlock whose fields are all atomics, so readers never
// block the writer or each other and never see a torn set.
class LoraState {
 public:
  static constexpr std::size_t kMaxTracked = 32;  // adapters per set whose membership is known

  struct View {
    bool present = false;        // the last scrape had LoRA info
    int max_loras = 0;
    std::uint32_t running_count = 0;  // true sizes, even beyond kMaxTracked
    std::uint32_t waiting_count = 0;
    std::array<std::uint64_t, kMaxTracked> running{};
    std::array<std::uint64_t, kMaxTracked> waiting{};
    bool is_running(std::uint64_t hash) const { return contains(running, running_count, hash); }
    bool is_waiting(std::uint64_t hash) const { return contains(waiting, waiting_count, hash); }

   private:
    static bool contains(const std::array<std::uint64_t, kMaxTracked>& a, std::uint32_t n,
                         std::uint64_t hash) {
      for (std::uint32_t i = 0; i < n && i < kMaxTracked; ++i) {
        if (a[i] == hash) return true;
      }
      return false;
    }
  };

  // Writer side (one thread). `sets` null: no LoRA info.
  void publish(std::shared_ptr<const LoraSets> sets);
  // Reader side: false when no LoRA info was published (then `out` is untouched).
  bool read(View& out) const;
  // The names, for debug output (takes a mutex: never on the data path). Null: none.
  std::shared_ptr<const LoraSets> names() const;

 private:
  std::atomic<std::uint32_t> seq_{0};
  std::atomic<bool> present_{false};
  std::atomic<int> max_loras_{0};
  std::atomic<std::uint32_t> running_count_{0};
  std::atomic<std::uint32_t> waiting_count_{0};
  std::array<std::atomic<std::uint64_t>, kMaxTracked> running_{};
  std::array<std::atomic<std::uint64_t>, kMaxTracked> waiting_{};
  mutable std::mutex names_mutex_;
  std::shared_ptr<const LoraSets> names_;
};

struct EndpointLoad {
  // What the last successful scrape published; meaningful when scraped_at_ns != 0.
  // NaN where the server did not report the signal.
  std::atomic<double> waiting{0};
  std::atomic<double> running{0};
  std::atomic<double> kv_usage{0};
  std::atomic<std::int64_t> scraped_at_ns{0};  // steady_clock, nanoseconds since epoch; 0: never
  LoraState loras;

  // Requests this gateway sent since that scrape (debug output; the load uses in-flight counts:
  // a sent request that has finished since no longer loads the server).
  std::atomic<std::uint32_t> dispatched_since_scrape{0};
  // Requests this gateway sent here since the endpoint appeared (never reset): per-endpoint
  // request rates for the status page. Beside the counter above, on the same cache line.
  std::atomic<std::uint64_t> dispatched_total{0};
  // This gateway's in-flight count on the endpoint when that scrape was requested: the scraped
  // waiting + running already include those requests, so the load now is the scraped counts plus
  // (in_flight - in_flight_at_scrape). Written by the scraper just before record_scrape.
  std::atomic<std::int32_t> in_flight_at_scrape{0};

  // Health.
  std::atomic<std::uint32_t> scrape_failures{0};      // consecutive
  // Consecutive failed scrapes of a pool that did not ask for metrics (flavour "auto"): they
  // back the scrapes off as failures do but never make the endpoint unhealthy.
  std::atomic<std::uint32_t> scrape_misses{0};
  std::atomic<std::uint32_t> connect_failures{0};     // consecutive
  std::atomic<std::uint32_t> consecutive_5xx{0};
  std::atomic<std::uint32_t> ejections{0};            // consecutive ejections (backoff exponent)
  std::atomic<std::int64_t> ejected_until_ns{0};      // steady_clock; 0: not ejected
};

}  // namespace infergate
