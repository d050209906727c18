// Cluster objects -> routing table: the Gateway API Inference Extension's resources (InferencePool,
// InferenceModel, InferenceObjective), Gateway API HTTPRoutes and ReferenceGrants, and Pods, as
// the watchers hold them, turned into the pools, models and objectives of a GatewayConfig.
// Pure: no I/O, no clock, no globals; the same state always gives the same table, in the same order.
// docs/kubernetes.md states the mapping and the precedence rules.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "infergate/config.hpp"

namespace infergate::k8s {

// Objects of one resource, "namespace/name" -> the object as JSON (what a watcher hands over).
using ObjectSet = std::map<std::string, std::string>;

// A model a server lists at GET /v1/models; `parent` is the base model of a LoRA adapter (vLLM).
struct ReportedModel {
  std::string id;
  std::string parent;
  bool operator==(const ReportedModel&) const = default;
};

struct ClusterState {
  ObjectSet pools;           // InferencePool, inference.networking.k8s.io/v1
  ObjectSet legacy_pools;    // InferencePool, inference.networking.x-k8s.io/v1alpha2 or v1alpha1
  ObjectSet pods;
  ObjectSet http_routes;     // gateway.networking.k8s.io/v1
  ObjectSet reference_grants;  // gateway.networking.k8s.io/v1beta1 (or v1)
  ObjectSet inference_models;  // inference.networking.x-k8s.io/v1alpha2 or v1alpha1
  ObjectSet inference_objectives;  // inference.networking.x-k8s.io/v1alpha2
  // What the servers of a pool report, by table pool name ("ns/name"): the cluster source probes
  // the pools listed in ClusterRoutes::probe_pools and feeds the answers back here.
  std::map<std::string, std::vector<ReportedModel>> reported;
};

struct TranslateOptions {
  std::string gateway_name = "infergate";     // HTTPRoutes count when a parentRef names this Gateway
  std::string gateway_namespace = "default";
  PoolConfig pool_defaults;                   // scheduler, metrics, saturation of every cluster pool
};

// An object (or part of one) that was left out, and why. `object` is "Kind namespace/name".
struct Problem {
  std::string object;
  std::string reason;
  std::string ref_reason;  // for an HTTPRoute backendRef: the Gateway API ResolvedRefs reason
                           // (InvalidKind, RefNotPermitted, BackendNotFound); else empty
  bool operator==(const Problem&) const = default;
};

struct ClusterRoutes {
  std::vector<PoolConfig> pools;        // named "namespace/name", sorted by name
  std::vector<ModelConfig> models;      // sorted by name; targets sorted by pool, then served model
  std::vector<ObjectiveConfig> objectives;  // sorted by name
  std::vector<Problem> problems;        // in object order
  std::vector<std::string> probe_pools; // pools whose /v1/models answer decides (part of) their models
  std::vector<std::string> routed_pools;  // pools ("ns/name") one of our HTTPRoutes resolves to, sorted
};

ClusterRoutes translate(const ClusterState& state, const TranslateOptions& options);

// "The last good state stays": an object whose new version is malformed is replaced in `now` by
// its last well-formed version from `last_good` (reported as a problem saying so); well-formed
// objects become the new `last_good`, and deleted ones leave it. A malformed object never seen
// well-formed stays in `now` (translate() then reports and skips it). Pods and the probed models
// are taken as they are. Returns the problems of the replaced objects.
std::vector<Problem> keep_last_good(ClusterState& now, ClusterState& last_good,
                                    const TranslateOptions& options);

// The table handed to the gateway: the file's pools, models and objectives first and unchanged;
// cluster entries are added unless their name is taken by the file (then refused, as a problem).
// Everything else (listen, scheduler, queue, ...) comes from `file`.
GatewayConfig merge_routes(const GatewayConfig& file, const ClusterRoutes& cluster,
                           std::vector<Problem>& problems);

// /debug/routes: {"models":[{name, priority, source, targets:[{pool, model, weight}]}],
// "pools":[{name, source, endpoints:[...]}], "objectives":[{name, priority, source}],
// "problems":[{object, reason}]}, every list sorted by name; `source` is "file" or "cluster".
// No whitespace, so tests can compare the exact text.
std::string routes_debug_json(const GatewayConfig& table, const GatewayConfig& file,
                              const std::vector<Problem>& problems);

// The status this gateway writes to an HTTPRoute that names it: a JSON merge patch of
// status.parents keeping other controllers' entries and replacing this controller's, with the
// conditions Accepted (True) and ResolvedRefs (False with the first backendRef problem's reason).
struct StatusWrite {
  std::string ns, name;
  std::string patch;    // with lastTransitionTime = `now`
  std::string content;  // the same without times: write only when this changed
};
std::vector<StatusWrite> route_statuses(const ClusterState& state, const std::vector<Problem>& problems,
                                        const TranslateOptions& options, std::string_view controller,
                                        std::string_view now);

// The same for the v1 InferencePools: this Gateway in `status.parents` of every pool in
// `routed_pools` (Accepted and ResolvedRefs True; a problem of the pool, such as its last good
// version staying in use, as Accepted's message), and removed from the pools no route of ours
// resolves to any more. Other parents' entries are kept. (v1alpha2 pools have another status shape
// and get none.)
std::vector<StatusWrite> pool_statuses(const ClusterState& state, const std::vector<std::string>& routed_pools,
                                       const std::vector<Problem>& problems, const TranslateOptions& options,
                                       std::string_view now);

// Parses a GET /v1/models answer ({"data":[{"id", "parent"?}]}); empty on malformed input.
std::vector<ReportedModel> parse_models_list(std::string_view body);

}  // namespace infergate::k8s
