// Writing an endpoint's live load and health (EndpointLoad), and reading it back as one hybrid
// load signal. No I/O: the scraper (src/proxy, control thread) fetches /metrics and hands the
// parsed ScrapedLoad here; the proxy's workers report connect failures and response statuses.
//
// Thread rules: record_scrape / record_scrape_failure from the control thread only (one writer
// per endpoint); the passive-health hooks and note_dispatch from any worker; readers anywhere.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "infergate/routing.hpp"
#include "routing/metrics_text.hpp"

namespace infergate {

using SteadyClock = std::chrono::steady_clock;

struct HealthPolicy {
  std::uint32_t scrape_failures_unhealthy = 3;  // consecutive failed scrapes -> unhealthy
  std::uint32_t consecutive_5xx = 5;            // 5xx in a row -> ejected
  std::chrono::milliseconds base_ejection{1'000};   // first ejection; doubles per ejection in a row
  std::chrono::milliseconds max_ejection{30'000};
};

// Publishes one successful scrape: the signals, their time, the LoRA sets; resets
// dispatched_since_scrape and the scrape-failure and scrape-miss counts. Signals missing from
// the scrape are NaN.
void record_scrape(Endpoint& endpoint, const ScrapedLoad& load, SteadyClock::time_point now);

// One failed scrape (connect error, timeout, bad status, unparsable body). After
// policy.scrape_failures_unhealthy in a row the endpoint is unhealthy until a scrape succeeds.
// The scraped values are left as they were: they age and become stale on their own.
void record_scrape_failure(Endpoint& endpoint, SteadyClock::time_point now,
                           const HealthPolicy& policy = {});

// One failed scrape of an advisory target (ScrapeTarget::advisory): counted in scrape_misses,
// not a health signal. A successful scrape resets it. A miss ends a streak of failures and a
// failure one of misses (a reload may change the pool's flavour).
void record_scrape_miss(Endpoint& endpoint);

// Passive health, from the proxy. A connect failure ejects at once (backoff doubles while they
// repeat); policy.consecutive_5xx 5xx statuses in a row eject; any status below 500 (or a
// successful connect) ends the streak and the backoff.
void record_connect_failure(Endpoint& endpoint, SteadyClock::time_point now,
                            const HealthPolicy& policy = {});
void record_connect_success(Endpoint& endpoint);
void record_upstream_status(Endpoint& endpoint, unsigned status, SteadyClock::time_point now,
                            const HealthPolicy& policy = {});

// The key of an adapter name in LoraState (XXH3-64).
std::uint64_t adapter_hash(std::string_view name);

// A request was sent to `endpoint` (counts in the hybrid signal until the next scrape).
inline void note_dispatch(Endpoint& endpoint) {
  endpoint.load.dispatched_since_scrape.fetch_add(1, std::memory_order_relaxed);
  endpoint.load.dispatched_total.fetch_add(1, std::memory_order_relaxed);
}

bool is_unhealthy(const Endpoint& endpoint, const HealthPolicy& policy = {});
bool is_ejected(const Endpoint& endpoint, SteadyClock::time_point now);
// Neither ejected nor unhealthy.
bool is_available(const Endpoint& endpoint, SteadyClock::time_point now,
                  const HealthPolicy& policy = {});

inline std::int64_t to_ns(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace infergate
