#include "app/cluster_metrics.hpp"

#include <string>

namespace infergate::app {

namespace {

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{std::move(name), std::move(help), type, {metric}};
}

}  // namespace

std::vector<prometheus::MetricFamily> cluster_metric_families(const k8s::ClusterStats& s) {
  using prometheus::MetricType;
  const auto counter = [](std::string name, std::string help, std::uint64_t v) {
    return family(std::move(name), std::move(help), MetricType::Counter, static_cast<double>(v));
  };
  const auto gauge = [](std::string name, std::string help, double v) {
    return family(std::move(name), std::move(help), MetricType::Gauge, v);
  };
  return {
      gauge("infergate_k8s_synced", "1 once every watched resource has been listed", s.synced ? 1 : 0),
      counter("infergate_k8s_list_requests_total", "List requests (pages) that succeeded", s.watch.lists),
      counter("infergate_k8s_relists_total", "Full relists after the first (410 Gone, errors)", s.watch.relists),
      counter("infergate_k8s_watch_requests_total", "Watch requests started", s.watch.watches),
      counter("infergate_k8s_watch_events_total", "ADDED, MODIFIED and DELETED events applied", s.watch.events),
      counter("infergate_k8s_watch_bookmarks_total", "BOOKMARK events received", s.watch.bookmarks),
      counter("infergate_k8s_watch_gone_total", "410 Gone seen (as a status or an ERROR event)", s.watch.gone),
      counter("infergate_k8s_errors_total", "Failed API requests and broken watch streams", s.watch.errors),
      counter("infergate_k8s_token_reloads_total", "Bearer token re-read (rotated, or after a 401)",
              s.watch.token_reloads),
      counter("infergate_k8s_table_builds_total", "Routing tables built from the cluster's objects", s.rebuilds),
      family("infergate_k8s_table_build_seconds_total",
             "Time spent building those tables (every watched object decoded each time)",
             MetricType::Counter, s.rebuild_seconds),
      counter("infergate_k8s_table_applies_total", "Built tables that differed from the last and were applied",
              s.applies),
      gauge("infergate_k8s_skipped_objects", "Objects skipped as malformed in the last table built",
            static_cast<double>(s.skipped_objects)),
  };
}

}  // namespace infergate::app
