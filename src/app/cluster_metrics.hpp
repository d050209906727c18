// The Kubernetes source's counters as Prometheus families for the admin listener's /metrics, so
// that a watch that keeps failing, relisting or skipping objects shows on dashboards and alerts,
// not only in the log and /debug/routes.
#pragma once

#include <vector>

#include <prometheus/metric_family.h>

#include "infergate/k8s/cluster_source.hpp"

namespace infergate::app {

std::vector<prometheus::MetricFamily> cluster_metric_families(const k8s::ClusterStats& stats);

}  // namespace infergate::app
