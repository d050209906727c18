// The `kubernetes:` block of the config file: values, defaults, and located mistakes.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "infergate/config.hpp"

using namespace infergate;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> issues_of(const std::string& yaml) {
  try {
    load_config_string(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    std::vector<std::string> out;
    for (const auto& issue : e.issues()) out.push_back(issue.str());
    return out;
  }
  return {};
}

}  // namespace

TEST_CASE("no kubernetes block: the mode is off") {
  const GatewayConfig config = load_config_string("listen: 127.0.0.1:8080\n");
  CHECK_FALSE(config.kubernetes.enabled);
}

TEST_CASE("a kubernetes block is read with its defaults") {
  const GatewayConfig config = load_config_string(R"(kubernetes:
  kubeconfig: /etc/kube/config
  context: kind-infer
  namespaces: [models, canary-2]
  gateway: {name: edge, namespace: gateways}
  probe_models: false
  resync: 10s
  crd_recheck: 500ms
  debounce: 0
  pool_defaults:
    metrics: {flavour: vllm, interval: 100ms}
    saturation: {queue: 8}
)");
  const KubernetesConfig& k = config.kubernetes;
  CHECK(k.enabled);
  CHECK(k.kubeconfig == "/etc/kube/config");
  CHECK(k.context == "kind-infer");
  CHECK(k.namespaces == std::vector<std::string>{"models", "canary-2"});
  CHECK(k.gateway_name == "edge");
  CHECK(k.gateway_namespace == "gateways");
  CHECK_FALSE(k.probe_models);
  CHECK(k.resync == 10s);
  CHECK(k.crd_recheck == 500ms);
  CHECK(k.debounce == 0ms);
  CHECK(k.pool_defaults.metrics.flavour == "vllm");
  CHECK(k.pool_defaults.metrics.interval == 100ms);
  CHECK(k.pool_defaults.saturation.queue == 8);

  const GatewayConfig minimal = load_config_string("kubernetes: {}\n");
  CHECK(minimal.kubernetes.enabled);
  CHECK(minimal.kubernetes.gateway_name == "infergate");
  CHECK(minimal.kubernetes.gateway_namespace.empty());
  CHECK(minimal.kubernetes.namespaces.empty());
  CHECK(minimal.kubernetes.probe_models);
  CHECK(minimal.kubernetes.debounce == 30ms);
  CHECK_FALSE(load_config_string("kubernetes: {enabled: false}\n").kubernetes.enabled);
}

TEST_CASE("mistakes in the kubernetes block are located") {
  struct Case {
    const char* yaml;
    const char* issue;
  };
  const std::vector<Case> cases = {
      {"kubernetes:\n  namespace: [a]\n", "test.yaml:2:3: kubernetes.namespace: unknown key 'namespace' (did you mean 'namespaces'?)"},
      {"kubernetes:\n  namespaces: [Models]\n", "test.yaml:2:16: kubernetes.namespaces[0]: 'Models' is not a namespace name (lower-case letters, digits and '-', at most 63)"},
      {"kubernetes:\n  namespaces: [a, a]\n", "test.yaml:2:19: kubernetes.namespaces[1]: namespace 'a' is listed twice"},
      {"kubernetes:\n  gateway: {namespace: x}\n", "test.yaml:2:12: kubernetes.gateway: missing required key 'name'"},
      {"kubernetes:\n  resync: soon\n", "test.yaml:2:11: kubernetes.resync: expected a duration such as 500ms, 2s, 10m, 1h30m or milliseconds, got 'soon'"},
      {"kubernetes:\n  crd_recheck: 0\n", "test.yaml:2:16: kubernetes.crd_recheck: must be longer than 0"},
      {"kubernetes:\n  debounce: 1m\n", "test.yaml:2:13: kubernetes.debounce: must be at most 10s"},
      {"kubernetes:\n  enabled: yes\n", "test.yaml:2:12: kubernetes.enabled: expected true or false, got 'yes'"},
      {"kubernetes:\n  pool_defaults: {metric: {}}\n", "kubernetes.pool_defaults.metric: unknown key 'metric' (did you mean 'metrics'?)"},
      {"kubernetes: [a]\n", "test.yaml:1:13: kubernetes: expected a map of settings"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.yaml);
    const auto issues = issues_of(c.yaml);
    REQUIRE(issues.size() == 1);
    CHECK(issues[0].find(c.issue) != std::string::npos);
  }
}
