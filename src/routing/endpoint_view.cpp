// One read of an endpoint's live counters into a plain struct.
#include "routing/endpoint_view.hpp"

#include <algorithm>
#include <cmath>

namespace infergate {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

double finite_or_zero(double v) { return std::isfinite(v) ? std::max(0.0, v) : 0.0; }

LoraMatch match_lora(const EndpointLoad& load, const AdapterKey& adapter) {
  if (adapter.name.empty()) return LoraMatch::unknown;
  LoraState::View sets;
  if (!load.loras.read(sets)) return LoraMatch::unknown;
  if (sets.is_running(adapter.hash)) return LoraMatch::running;
  const std::uint64_t loaded = std::uint64_t{sets.running_count} + sets.waiting_count;
  if (sets.max_loras > 0 && loaded < static_cast<std::uint64_t>(sets.max_loras)) {
    return LoraMatch::free_slot;
  }
  if (sets.is_waiting(adapter.hash)) return LoraMatch::waiting;
  return LoraMatch::none;
}

}  // namespace

void read_view(const Endpoint& endpoint, std::uint32_t index, SteadyClock::time_point now,
               const ViewOptions& options, const AdapterKey& adapter, EndpointView& out) {
  const EndpointLoad& load = endpoint.load;
  out.endpoint = &endpoint;
  out.index = index;
  const std::int64_t scraped_at = load.scraped_at_ns.load(std::memory_order_acquire);
  const std::int64_t now_ns = to_ns(now);
  const auto staleness =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options.staleness).count();
  out.fresh = scraped_at != 0 && now_ns - scraped_at <= staleness;
  out.in_flight = std::max(0, endpoint.in_flight.load(kRelaxed));
  out.in_flight_at_scrape = std::max(0, load.in_flight_at_scrape.load(kRelaxed));
  out.dispatched = load.dispatched_since_scrape.load(kRelaxed);
  if (out.fresh) {
    out.waiting = finite_or_zero(load.waiting.load(kRelaxed));
    const double running = load.running.load(kRelaxed);
    out.running = finite_or_zero(running);
    out.kv_usage = std::min(1.0, finite_or_zero(load.kv_usage.load(kRelaxed)));
    const double since_scrape = static_cast<double>(out.in_flight) - out.in_flight_at_scrape;
    out.backlog = std::max(0.0, out.waiting + since_scrape);
    out.queue = std::isnan(running)
                    ? out.waiting + out.in_flight
                    : std::max(0.0, out.waiting + out.running - out.in_flight_at_scrape) + out.in_flight;
    // A burst onto a server whose queue was empty at the scrape is not saturation: how many of
    // it start at once is the server's batch size, unknown here (saturation.running says it).
    // Counting it made every pool with more than 5 requests sent in one scrape interval queue
    // them for up to an interval (0.8x the req/s at 64 connections). Only a server that reports
    // a queue (as the Endpoint Picker's detector reads it) has its backlog grow with ours.
    out.saturated = (out.waiting > 0 && out.backlog > options.saturation.queue) ||
                    out.kv_usage > options.saturation.kv_cache ||
                    (options.saturation.running > 0 && out.queue >= options.saturation.running);
  } else {
    out.waiting = out.running = out.kv_usage = 0;
    out.queue = out.in_flight;
    out.backlog = 0;  // unknown: how many of ours run is not known without a scrape
    out.saturated = false;
  }
  out.available = load.ejected_until_ns.load(kRelaxed) <= now_ns &&
                  load.scrape_failures.load(kRelaxed) < options.health.scrape_failures_unhealthy;
  out.lora = match_lora(load, adapter);
  out.pending_prefill = static_cast<double>(std::max<std::int64_t>(0, endpoint.prefill_tokens.load(kRelaxed)));
}

}  // namespace infergate
