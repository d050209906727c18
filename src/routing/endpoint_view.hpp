// The per-decision picture of one candidate endpoint: every live counter read once, so plugins
// see one consistent set of numbers while other workers keep changing the atomics.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "infergate/routing.hpp"
#include "routing/endpoint_health.hpp"

namespace infergate {

// Where the request's adapter (served model name) stands on an endpoint (vllm:lora_requests_info).
enum class LoraMatch : std::uint8_t { unknown, running, free_slot, waiting, none };

struct Thresholds {
  double queue = 5;       // waiting requests (scraped + ours since) past which a queueing server is saturated
  double kv_cache = 0.8;  // KV-cache use past which it is saturated
  double running = 0;     // total requests (running + waiting) at which it is full; 0: off
};

struct ViewOptions {
  std::chrono::milliseconds staleness{2'000};  // scraped values older than this are ignored
  Thresholds saturation;
  HealthPolicy health;
};

// The hybrid load. A scrape is up to one interval old; this gateway's own in-flight count is live.
// The scrape's waiting + running already hold the requests that were in flight from here when it
// was taken (in_flight_at_scrape), so the change since, in_flight - in_flight_at_scrape, is what
// the scrape cannot see: requests sent since (still running) minus requests finished since.
// Counting "sent since the scrape" instead made a burst of short requests load a server until the
// next scrape although they were done.
struct EndpointView {
  const Endpoint* endpoint = nullptr;
  std::uint32_t index = 0;  // position in the pool's endpoint list
  bool fresh = false;       // scraped metrics younger than the staleness bound
  bool available = true;    // neither ejected nor unhealthy
  bool saturated = false;   // fresh and backlog or KV use past its threshold
  double waiting = 0;       // scraped; 0 when stale or unreported
  double running = 0;
  double kv_usage = 0;      // 0..1
  std::uint32_t dispatched = 0;          // sent by this gateway since the scrape (debug only)
  std::int32_t in_flight = 0;            // not yet finished, from this gateway
  std::int32_t in_flight_at_scrape = 0;  // the same when the scrape was requested
  // Requests on the server now, estimated. Fresh: scraped waiting + running of everyone else
  // (scraped minus in_flight_at_scrape, at least 0) + in_flight; without a running count, scraped
  // waiting + in_flight. Stale: in_flight.
  double queue = 0;
  // Requests waiting for a slot now, estimated. Fresh: scraped waiting + (in_flight -
  // in_flight_at_scrape), at least 0 (finished requests free slots for waiting ones). Stale: 0
  // (unknown; queue still carries the in-flight count).
  double backlog = 0;
  LoraMatch lora = LoraMatch::unknown;
  // Prompt tokens (estimated, uncached part) of this gateway's requests here that have had no
  // response body byte yet: prefill the server still has to run for us, which shares its next
  // steps with every newcomer's (Endpoint::prefill_tokens, live; not from the scrape).
  double pending_prefill = 0;
};

// The request's adapter (served model name), hashed once per decision.
struct AdapterKey {
  std::string_view name;  // empty: no LoRA lookup
  std::uint64_t hash = 0;
  static AdapterKey of(std::string_view name) { return {name, name.empty() ? 0 : adapter_hash(name)}; }
};

// Reads `endpoint` into `out`; `adapter` is looked up in the LoRA sets.
// Stale metrics fall back to the local in-flight count and never mark an endpoint saturated.
void read_view(const Endpoint& endpoint, std::uint32_t index, SteadyClock::time_point now,
               const ViewOptions& options, const AdapterKey& adapter, EndpointView& out);
inline void read_view(const Endpoint& endpoint, std::uint32_t index, SteadyClock::time_point now,
                      const ViewOptions& options, std::string_view adapter, EndpointView& out) {
  read_view(endpoint, index, now, options, AdapterKey::of(adapter), out);
}

}  // namespace infergate
