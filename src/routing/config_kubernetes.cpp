// The `kubernetes:` block of the config file, with the loader's located errors:
//   kubernetes:
//     enabled: true
//     kubeconfig: /etc/infergate/kubeconfig   # omitted: $KUBECONFIG, in-cluster, ~/.kube/config
//     context: kind-infer
//     namespaces: [models, canary]            # omitted: all namespaces
//     gateway: {name: infergate, namespace: gateways}
//     probe_models: true
//     resync: 30s
//     crd_recheck: 30s
//     debounce: 30ms
//     pool_defaults: {metrics: {flavour: vllm}, saturation: {...}, scheduler: {...}}
#include "routing/config_auth.hpp"
#include "routing/config_kubernetes.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace infergate::config_detail {
namespace {

// A DNS-1123 label: what Kubernetes accepts as a namespace name.
bool namespace_name(const std::string& s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

void set_namespace(Loader& loader, const YAML::Node& node, const std::string& path, std::string& out) {
  const auto s = loader.text(node, path);
  if (!s) return;
  if (!namespace_name(*s)) {
    loader.issue(node, path, fmt::format("'{}' is not a namespace name (lower-case letters, digits and "
                                         "'-', at most 63)", *s));
    return;
  }
  out = *s;
}

void gateway(Loader& loader, const YAML::Node& node, const std::string& path, KubernetesConfig& out) {
  loader.fields(node, path,
                {{"name", true,
                  [&](const YAML::Node& n, const std::string& p) {
                    if (auto s = loader.text(n, p)) out.gateway_name = *s;
                  }},
                 {"namespace", false, [&](const YAML::Node& n, const std::string& p) {
                    set_namespace(loader, n, p, out.gateway_namespace);
                  }}});
}

void pool_defaults(Loader& loader, const YAML::Node& node, const std::string& path, PoolConfig& out) {
  loader.fields(node, path,
                {{"scheduler", false,
                  [&](const YAML::Node& n, const std::string& p) { loader.scheduler(n, p, out.scheduler.emplace()); }},
                 {"metrics", false,
                  [&](const YAML::Node& n, const std::string& p) { loader.metrics(n, p, out.metrics); }},
                 {"tls", false, [&](const YAML::Node& n, const std::string& p) { upstream_tls(loader, n, p, out.tls); }, true},
                 {"saturation", false, [&](const YAML::Node& n, const std::string& p) {
                    loader.saturation(n, p, out.saturation);
                  }}});
}

}  // namespace

void kubernetes(Loader& loader, const YAML::Node& node, const std::string& path, KubernetesConfig& out) {
  // A `kubernetes:` block turns the mode on unless it says `enabled: false`.
  out.enabled = true;
  auto duration = [&](Millis& field) {
    return [&loader, &field](const YAML::Node& n, const std::string& p) { loader.set_duration(n, p, field, false); };
  };
  loader.fields(
      node, path,
      {{"enabled", false,
        [&](const YAML::Node& n, const std::string& p) { loader.set_bool(n, p, out.enabled); }},
       {"kubeconfig", false,
        [&](const YAML::Node& n, const std::string& p) {
          if (auto s = loader.text(n, p)) out.kubeconfig = *s;
        }},
       {"context", false,
        [&](const YAML::Node& n, const std::string& p) {
          if (auto s = loader.text(n, p)) out.context = *s;
        }},
       {"namespaces", false,
        [&](const YAML::Node& n, const std::string& p) {
          if (n.IsNull()) return;
          loader.sequence(n, p, [&](const YAML::Node& e, const std::string& ep) {
            std::string ns;
            set_namespace(loader, e, ep, ns);
            if (ns.empty()) return;
            if (std::find(out.namespaces.begin(), out.namespaces.end(), ns) != out.namespaces.end()) {
              loader.issue(e, ep, fmt::format("namespace '{}' is listed twice", ns));
              return;
            }
            out.namespaces.push_back(std::move(ns));
          });
        },
        true},
       {"gateway", false, [&](const YAML::Node& n, const std::string& p) { gateway(loader, n, p, out); }},
       {"probe_models", false,
        [&](const YAML::Node& n, const std::string& p) { loader.set_bool(n, p, out.probe_models); }},
       {"resync", false, duration(out.resync)},
       {"crd_recheck", false, duration(out.crd_recheck)},
       {"debounce", false, [&](const YAML::Node& n, const std::string& p) {
          loader.set_duration(n, p, out.debounce, true);
          if (out.debounce > Millis(10'000)) loader.issue(n, p, "must be at most 10s");
        }},
       {"pool_defaults", false,
        [&](const YAML::Node& n, const std::string& p) { pool_defaults(loader, n, p, out.pool_defaults); }}});
}

}  // namespace infergate::config_detail
