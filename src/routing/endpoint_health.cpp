// Endpoint load and health: lock-free writes of what the scraper and the proxy observe.
#include "routing/endpoint_health.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <xxhash.h>

namespace infergate {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

void eject(EndpointLoad& load, SteadyClock::time_point now, const HealthPolicy& policy) {
  const std::uint32_t n = std::min<std::uint32_t>(load.ejections.fetch_add(1, kRelaxed), 16);
  const auto base = std::chrono::duration_cast<std::chrono::nanoseconds>(policy.base_ejection);
  const auto cap = std::chrono::duration_cast<std::chrono::nanoseconds>(policy.max_ejection);
  const auto wait = std::min(cap, base * (std::int64_t{1} << n));
  load.ejected_until_ns.store(to_ns(now) + wait.count(), kRelaxed);
}

double or_nan(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? *v : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

std::uint64_t adapter_hash(std::string_view name) { return XXH3_64bits(name.data(), name.size()); }

void LoraState::publish(std::shared_ptr<const LoraSets> sets) {
  // Seqlock write: odd while writing; every field an atomic, so a racing reader sees old or new
  // values (never a torn word) and its sequence check throws the mix away.
  const std::uint32_t seq = seq_.load(kRelaxed);
  seq_.store(seq + 1, kRelaxed);
  std::atomic_thread_fence(std::memory_order_release);
  present_.store(sets != nullptr, kRelaxed);
  if (sets) {
    max_loras_.store(sets->max_loras, kRelaxed);
    running_count_.store(static_cast<std::uint32_t>(sets->running.size()), kRelaxed);
    waiting_count_.store(static_cast<std::uint32_t>(sets->waiting.size()), kRelaxed);
    for (std::size_t i = 0; i < kMaxTracked; ++i) {
      running_[i].store(i < sets->running.size() ? adapter_hash(sets->running[i]) : 0, kRelaxed);
      waiting_[i].store(i < sets->waiting.size() ? adapter_hash(sets->waiting[i]) : 0, kRelaxed);
    }
  }
  seq_.store(seq + 2, std::memory_order_release);
  std::lock_guard lock(names_mutex_);
  names_ = std::move(sets);
}

bool LoraState::read(View& out) const {
  if (!present_.load(kRelaxed)) return false;  // the common case without LoRA: one load
  for (;;) {
    const std::uint32_t before = seq_.load(std::memory_order_acquire);
    if (before & 1) continue;  // a write in progress (microseconds, on the control thread)
    out.present = present_.load(kRelaxed);
    out.max_loras = max_loras_.load(kRelaxed);
    out.running_count = running_count_.load(kRelaxed);
    out.waiting_count = waiting_count_.load(kRelaxed);
    const std::uint32_t n = std::min<std::uint32_t>(kMaxTracked, std::max(out.running_count, out.waiting_count));
    for (std::uint32_t i = 0; i < n; ++i) {
      out.running[i] = running_[i].load(kRelaxed);
      out.waiting[i] = waiting_[i].load(kRelaxed);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq_.load(kRelaxed) == before) return out.present;
  }
}

std::shared_ptr<const LoraSets> LoraState::names() const {
  std::lock_guard lock(names_mutex_);
  return names_;
}

void record_scrape(Endpoint& endpoint, const ScrapedLoad& scraped, SteadyClock::time_point now) {
  EndpointLoad& load = endpoint.load;
  load.waiting.store(or_nan(scraped.waiting), kRelaxed);
  load.running.store(or_nan(scraped.running), kRelaxed);
  load.kv_usage.store(or_nan(scraped.kv_usage), kRelaxed);
  if (scraped.has_lora_info) {
    auto sets = std::make_shared<LoraSets>();
    sets->max_loras = scraped.max_loras;
    sets->running = scraped.running_loras;
    sets->waiting = scraped.waiting_loras;
    load.loras.publish(std::move(sets));
  } else {
    load.loras.publish(nullptr);
  }
  load.dispatched_since_scrape.store(0, kRelaxed);
  load.scrape_failures.store(0, kRelaxed);
  load.scrape_misses.store(0, kRelaxed);
  // Last: a reader that sees the new time sees values at least this new.
  load.scraped_at_ns.store(to_ns(now), std::memory_order_release);
}

// A failure and a miss end each other's streak: after a reload that changes the pool's flavour
// (vllm -> auto), failures counted before must not keep the endpoint unhealthy.
void record_scrape_failure(Endpoint& endpoint, SteadyClock::time_point, const HealthPolicy&) {
  EndpointLoad& load = endpoint.load;
  if (load.scrape_misses.load(kRelaxed) != 0) load.scrape_misses.store(0, kRelaxed);
  load.scrape_failures.fetch_add(1, kRelaxed);
}

void record_scrape_miss(Endpoint& endpoint) {
  EndpointLoad& load = endpoint.load;
  if (load.scrape_failures.load(kRelaxed) != 0) load.scrape_failures.store(0, kRelaxed);
  load.scrape_misses.fetch_add(1, kRelaxed);
}

void record_connect_failure(Endpoint& endpoint, SteadyClock::time_point now,
                            const HealthPolicy& policy) {
  endpoint.load.connect_failures.fetch_add(1, kRelaxed);
  eject(endpoint.load, now, policy);
}

void record_connect_success(Endpoint& endpoint) {
  EndpointLoad& load = endpoint.load;
  if (load.connect_failures.load(kRelaxed) != 0) load.connect_failures.store(0, kRelaxed);
}

void record_upstream_status(Endpoint& endpoint, unsigned status, SteadyClock::time_point now,
                            const HealthPolicy& policy) {
  EndpointLoad& load = endpoint.load;
  if (status < 500) {
    // Stores only when something changes: these lines are shared by every worker.
    if (load.consecutive_5xx.load(kRelaxed) != 0) load.consecutive_5xx.store(0, kRelaxed);
    if (load.ejections.load(kRelaxed) != 0 && !is_ejected(endpoint, now)) {
      load.ejections.store(0, kRelaxed);
    }
    return;
  }
  const std::uint32_t streak = load.consecutive_5xx.fetch_add(1, kRelaxed) + 1;
  if (streak >= policy.consecutive_5xx) {
    load.consecutive_5xx.store(0, kRelaxed);
    eject(load, now, policy);
  }
}

bool is_unhealthy(const Endpoint& endpoint, const HealthPolicy& policy) {
  return endpoint.load.scrape_failures.load(kRelaxed) >= policy.scrape_failures_unhealthy;
}

bool is_ejected(const Endpoint& endpoint, SteadyClock::time_point now) {
  return endpoint.load.ejected_until_ns.load(kRelaxed) > to_ns(now);
}

bool is_available(const Endpoint& endpoint, SteadyClock::time_point now,
                  const HealthPolicy& policy) {
  return !is_ejected(endpoint, now) && !is_unhealthy(endpoint, policy);
}

}  // namespace infergate
