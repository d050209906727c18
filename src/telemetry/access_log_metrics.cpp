// AccessLog::collect(): the infergate_access_log_* families, read from relaxed counters.
#include <prometheus/client_metric.h>

#include "telemetry/access_log.hpp"

namespace infergate::telemetry {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric counter(double value, std::string label = {}, std::string label_value = {}) {
  ClientMetric m;
  if (!label.empty()) m.label.push_back({std::move(label), std::move(label_value)});
  m.counter.value = value;
  return m;
}

double load(const std::atomic<std::uint64_t>& c) {
  return static_cast<double>(c.load(std::memory_order_relaxed));
}

}  // namespace

std::vector<MetricFamily> AccessLog::collect() const {
  const auto full = static_cast<double>(dropped_buffer_full());
  std::vector<MetricFamily> out;
  out.push_back({"infergate_access_log_records_total", "Access log lines written",
                 MetricType::Counter, {counter(load(records_))}});
  out.push_back({"infergate_access_log_dropped_total",
                 "Access log records lost: the worker's buffer was full, or their write failed",
                 MetricType::Counter,
                 {counter(full, "reason", "buffer_full"), counter(load(lost_), "reason", "write_error")}});
  out.push_back({"infergate_access_log_write_errors_total",
                 "Failed writes and reopens of the access log file", MetricType::Counter,
                 {counter(load(write_errors_))}});
  out.push_back({"infergate_access_log_reopens_total",
                 "Access log file reopened (SIGUSR1, or the file was moved away)",
                 MetricType::Counter, {counter(load(reopens_))}});
  return out;
}

}  // namespace infergate::telemetry
