// Inside the translator: each cluster object's JSON decoded (simdjson DOM) into the few fields
// the routing table needs, as owned values. A malformed object yields a reason instead.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace infergate::k8s::decode {

inline constexpr std::string_view kGatewayGroup = "gateway.networking.k8s.io";
inline constexpr std::string_view kInferenceGroup = "inference.networking.k8s.io";
inline constexpr std::string_view kLegacyInferenceGroup = "inference.networking.x-k8s.io";

struct Meta {
  std::string ns;
  std::string name;
  std::string created;  // RFC 3339 creationTimestamp: sorts in time order as text
  std::string key() const { return ns + "/" + name; }
};

// The infergate.io/upstream-tls* annotations of an InferencePool (docs/kubernetes.md), as
// written: each one set overrides that field of the pool defaults' `tls` (translate.cpp).
inline constexpr std::string_view kUpstreamTlsAnnotation = "infergate.io/upstream-tls";
struct PoolTls {
  std::optional<bool> enabled;  // infergate.io/upstream-tls: "true" | "false"
  std::optional<bool> verify;   // ...-verify
  std::optional<std::string> server_name, ca_file, cert_file, key_file;  // ...-server-name etc.
  // Why the annotations cannot be applied (a bad value, an unknown name). The pool still decodes,
  // so it shadows a legacy pool of the same name, and the translator refuses it.
  std::string problem;
};

struct Pool {
  Meta meta;
  std::map<std::string, std::string> selector;
  std::vector<std::uint16_t> ports;  // distinct, in spec order
  PoolTls tls;
};

struct Pod {
  Meta meta;
  std::map<std::string, std::string> labels;
  std::string ip;
  bool ready = false;
};

struct BackendRef {
  std::string group;
  std::string kind;
  std::string ns;  // the route's namespace when not given
  std::string name;
  std::int64_t weight = 1;
};

// What one HTTPRoute match selects in infergate's terms.
struct ModelMatch {
  std::string model;  // X-Gateway-Model-Name: the requested model
};
struct BaseModelMatch {
  std::string base;   // X-Gateway-Base-Model-Name: the base model and its adapters
};
struct AnyModel {};   // no model header: every model the backends know
struct Unsupported {
  std::string reason;
};
using Match = std::variant<ModelMatch, BaseModelMatch, AnyModel, Unsupported>;

struct Rule {
  std::vector<Match> matches;
  std::vector<BackendRef> backends;
};

struct Route {
  Meta meta;
  bool ours = false;  // a parentRef names the configured Gateway
  std::vector<Rule> rules;
};

struct GrantFrom {
  std::string group, kind, ns;
};
struct GrantTo {
  std::string group, kind, name;  // empty name: every object of the kind
};
struct Grant {
  Meta meta;
  std::vector<GrantFrom> from;
  std::vector<GrantTo> to;
};

struct TargetModel {
  std::string name;
  std::int64_t weight = 1;
};

struct InferenceModel {
  Meta meta;
  std::string model_name;
  int priority = 0;
  std::vector<TargetModel> targets;  // weights > 0 only; empty: the model name itself
  std::string pool;                  // poolRef.name, same namespace
};

struct Objective {
  Meta meta;
  int priority = 0;
  std::string pool;
};

template <typename T>
struct Decoded {
  std::optional<T> value;
  std::string problem;  // why value is empty
};

Decoded<Pool> pool(std::string_view json, bool legacy);
Decoded<Pod> pod(std::string_view json);
// Every field pod() reads: the Pod reflector keeps only these (WatchScope::keep_fields).
extern const std::vector<std::string> kPodFieldsRead;
Decoded<Route> http_route(std::string_view json, std::string_view gateway_name,
                          std::string_view gateway_namespace);
Decoded<Grant> reference_grant(std::string_view json);
Decoded<InferenceModel> inference_model(std::string_view json);
Decoded<Objective> inference_objective(std::string_view json);

}  // namespace infergate::k8s::decode
