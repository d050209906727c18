// The cluster as a source of routes: watches InferencePools (v1 and the older groups), Pods,
// HTTPRoutes, ReferenceGrants, InferenceModels and InferenceObjectives; on every change (debounced)
// rebuilds the cluster's table (translate.hpp), merges it with the file's and hands the result to
// `apply` (the gateway's replace_routes). Pools that no route or InferenceModel names are probed
// with GET /v1/models and serve what their servers report.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "infergate/config.hpp"
#include "infergate/k8s/client.hpp"

namespace infergate::k8s {

// What /metrics reports about the cluster source.
struct ClusterStats {
  WatchCounters watch;               // over every reflector
  std::uint64_t rebuilds = 0;        // tables built from the objects (debounced changes)
  double rebuild_seconds = 0;        // time those builds took, summed
  std::uint64_t applies = 0;         // of those, tables that differed and were applied
  std::uint64_t skipped_objects = 0; // objects skipped as malformed in the last build
  bool synced = false;               // every resource listed once
  bool applied = false;              // the first table from the cluster is in use (stays true)
};

class ClusterSource {
 public:
  // Puts `table` in use (the proxy's next snapshot) and then calls `in_use`, from any thread:
  // /debug/routes and stats().applied change only then.
  using Apply = std::function<void(GatewayConfig table, std::function<void()> in_use)>;

  // `file` is the config file's table (its `kubernetes` block configures the source). Throws
  // AccessError when `access` cannot be used.
  ClusterSource(ClusterAccess access, GatewayConfig file, Apply apply, WatchTuning tuning = {});
  ~ClusterSource();  // stop()s
  ClusterSource(const ClusterSource&) = delete;
  ClusterSource& operator=(const ClusterSource&) = delete;

  // Starts the watchers and the source's thread. Nothing is applied before every resource has
  // been listed once (an absent CRD counts as listed). Idempotent.
  void start();
  // Stops watching and joins the threads. Idempotent; not from inside `apply`.
  void stop();

  // A new file table (e.g. after SIGHUP): merged with the cluster's at once. Any thread.
  void set_file(GatewayConfig file);

  // /debug/routes: the table last applied (translate.hpp's routes_debug_json) plus
  // "kubernetes":{"synced", "applied", "rebuilds", "problems", "sources":{resource: state}}.
  // Any thread.
  std::string debug_json() const;
  ClusterStats stats() const;  // any thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Builds the access the `kubernetes` block asks for: its kubeconfig (and context), else
// client-go's default order. Throws AccessError.
ClusterAccess access_for(const KubernetesConfig& config);

}  // namespace infergate::k8s
