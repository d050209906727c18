// Limiter::collect(): the infergate_limits_* families, read from the relaxed counters.
#include <prometheus/metric_family.h>

#include "limits/limiter.hpp"
#include "limits/stats.hpp"
#include "limits/table.hpp"

namespace infergate::limits {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

double load(const std::atomic<std::uint64_t>& c) {
  return static_cast<double>(c.load(std::memory_order_relaxed));
}

MetricFamily one(std::string name, std::string help, MetricType type, double value) {
  ClientMetric m;
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return MetricFamily{std::move(name), std::move(help), type, {m}};
}

ClientMetric labelled(std::string name, std::string value, double v) {
  ClientMetric m;
  m.label.push_back({std::move(name), std::move(value)});
  m.counter.value = v;
  return m;
}

}  // namespace

std::vector<MetricFamily> Limiter::collect() const {
  const detail::Stats& s = *stats_;
  std::vector<MetricFamily> out;
  out.push_back(MetricFamily{"infergate_limits_refusals_total",
                             "Requests refused by a per-key limit, by kind", MetricType::Counter,
                             {labelled("kind", "requests", load(s.refused_requests)),
                              labelled("kind", "tokens", load(s.refused_tokens)),
                              labelled("kind", "unavailable", load(s.refused_unavailable))}});
  const auto counter = [&out](std::string name, std::string help, const std::atomic<std::uint64_t>& v) {
    out.push_back(one(std::move(name), std::move(help), MetricType::Counter, load(v)));
  };
  const auto gauge = [&out](std::string name, std::string help, double v) {
    out.push_back(one(std::move(name), std::move(help), MetricType::Gauge, v));
  };
  gauge("infergate_limits_counters", "Keys (and keys + models) with live limit counters",
        static_cast<double>(table_->size()));
  gauge("infergate_limits_store_shared", "1 when limits are shared through Redis, 0 when local",
        store_ ? 1 : 0);
  gauge("infergate_limits_store_up", "1 when the limit store is usable (always 1 for local)",
        store_up() ? 1 : 0);
  counter("infergate_limits_store_errors_total",
          "Failed Redis connects and calls (timeouts, I/O errors, unexpected replies)", s.store_errors);
  counter("infergate_limits_store_state_changes_total", "Redis store went up or down",
          s.store_state_changes);
  counter("infergate_limits_store_calls_total", "Lease script calls answered by Redis", s.store_calls);
  counter("infergate_limits_leases_total", "Slices granted by Redis", s.leases);
  counter("infergate_limits_leased_units_total", "Requests and tokens granted by Redis in slices",
          s.leased_units);
  counter("infergate_limits_returned_units_total", "Unused leased units given back to Redis",
          s.returned_units);
  counter("infergate_limits_debt_admissions_total",
          "Requests admitted on a bounded debt while a refill was in flight", s.debt_admissions);
  counter("infergate_limits_fallback_admissions_total",
          "Requests admitted on this replica's local limits while Redis was unusable (fail open)",
          s.fallback_admissions);
  return out;
}

}  // namespace infergate::limits
