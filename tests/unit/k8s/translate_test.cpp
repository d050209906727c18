// The translator: cluster objects (as the API server serves them) -> pools, models, objectives
// and problems. Table-driven where the cases share a shape.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "infergate/k8s/translate.hpp"

using namespace infergate;
using namespace infergate::k8s;

namespace {

std::string meta(std::string_view ns, std::string_view name, std::string_view created = "2026-01-01T00:00:00Z") {
  return fmt::format(R"("metadata":{{"namespace":"{}","name":"{}","creationTimestamp":"{}"}})", ns, name,
                     created);
}

std::string pool_v1(std::string_view ns, std::string_view name, std::string_view app,
                    std::string_view ports = R"([{"number":8000}])") {
  return fmt::format(R"({{"apiVersion":"inference.networking.k8s.io/v1","kind":"InferencePool",{},)"
                     R"("spec":{{"selector":{{"matchLabels":{{"app":"{}"}}}},"targetPorts":{},)"
                     R"("endpointPickerRef":{{"name":"epp"}}}}}})",
                     meta(ns, name), app, ports);
}

std::string pool_alpha(std::string_view ns, std::string_view name, std::string_view app, int port) {
  return fmt::format(R"({{"apiVersion":"inference.networking.x-k8s.io/v1alpha2","kind":"InferencePool",{},)"
                     R"("spec":{{"selector":{{"app":"{}"}},"targetPortNumber":{},"extensionRef":{{"name":"epp"}}}}}})",
                     meta(ns, name), app, port);
}

std::string pod(std::string_view ns, std::string_view name, std::string_view app, std::string_view ip,
                bool ready = true, bool deleting = false) {
  return fmt::format(R"({{"apiVersion":"v1","kind":"Pod","metadata":{{"namespace":"{}","name":"{}",)"
                     R"("labels":{{"app":"{}"}}{}}},"status":{{"phase":"Running","podIP":"{}",)"
                     R"("conditions":[{{"type":"Initialized","status":"True"}},{{"type":"Ready","status":"{}"}}]}}}})",
                     ns, name, app, deleting ? R"(,"deletionTimestamp":"2026-01-01T00:00:00Z")" : "", ip,
                     ready ? "True" : "False");
}

std::string backend(std::string_view name, int weight, std::string_view ns = "") {
  return fmt::format(R"({{"group":"inference.networking.k8s.io","kind":"InferencePool","name":"{}"{}{}}})", name,
                     ns.empty() ? "" : fmt::format(R"(,"namespace":"{}")", ns),
                     weight < 0 ? "" : fmt::format(R"(,"weight":{})", weight));
}

std::string model_match(std::string_view model, std::string_view header = "X-Gateway-Model-Name") {
  return fmt::format(R"({{"path":{{"type":"PathPrefix","value":"/"}},"headers":[{{"type":"Exact","name":"{}","value":"{}"}}]}})",
                     header, model);
}

std::string route(std::string_view ns, std::string_view name, std::string_view rules,
                  std::string_view created = "2026-01-01T00:00:00Z",
                  std::string_view parent = R"({"name":"infergate","namespace":"default"})") {
  return fmt::format(R"({{"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute",{},)"
                     R"("spec":{{"parentRefs":[{}],"rules":{}}}}})",
                     meta(ns, name, created), parent, rules);
}

std::string rule(std::string_view matches, std::string_view backends) {
  return fmt::format(R"({{"matches":[{}],"backendRefs":[{}]}})", matches, backends);
}

std::string inference_model(std::string_view ns, std::string_view name, std::string_view model,
                            std::string_view pool, std::string_view targets = "",
                            std::string_view criticality = "", std::string_view created = "2026-01-01T00:00:00Z") {
  return fmt::format(R"({{"apiVersion":"inference.networking.x-k8s.io/v1alpha2","kind":"InferenceModel",{},)"
                     R"("spec":{{"modelName":"{}","poolRef":{{"name":"{}"}}{}{}}}}})",
                     meta(ns, name, created), model, pool,
                     targets.empty() ? "" : fmt::format(R"(,"targetModels":{})", targets),
                     criticality.empty() ? "" : fmt::format(R"(,"criticality":"{}")", criticality));
}

std::string objective(std::string_view ns, std::string_view name, std::string_view spec) {
  return fmt::format(R"({{"apiVersion":"inference.networking.x-k8s.io/v1alpha2","kind":"InferenceObjective",{},"spec":{}}})",
                     meta(ns, name), spec);
}

// Two pools in "default": a (pods 10.0.0.1, 10.0.0.2) and b (pod 10.0.1.1), both on port 8000.
ClusterState two_pools() {
  ClusterState s;
  s.pools["default/a"] = pool_v1("default", "a", "a");
  s.pools["default/b"] = pool_v1("default", "b", "b");
  s.pods["default/a-1"] = pod("default", "a-1", "a", "10.0.0.1");
  s.pods["default/a-2"] = pod("default", "a-2", "a", "10.0.0.2");
  s.pods["default/b-1"] = pod("default", "b-1", "b", "10.0.1.1");
  return s;
}

const ModelConfig* find_model(const ClusterRoutes& r, std::string_view name) {
  for (const auto& m : r.models) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

const PoolConfig* find_pool(const ClusterRoutes& r, std::string_view name) {
  for (const auto& p : r.pools) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

// "pool:served:weight" for each target, in order.
std::vector<std::string> targets(const ModelConfig* m) {
  std::vector<std::string> out;
  if (!m) return out;
  for (const auto& t : m->targets) out.push_back(fmt::format("{}:{}:{}", t.pool, t.model, t.weight));
  return out;
}

std::vector<std::string> endpoints(const PoolConfig* p) {
  std::vector<std::string> out;
  if (!p) return out;
  for (const auto& e : p->endpoints) out.push_back(e.str());
  return out;
}

bool has_problem(const ClusterRoutes& r, std::string_view object, std::string_view reason_part) {
  return std::any_of(r.problems.begin(), r.problems.end(), [&](const Problem& p) {
    return p.object == object && p.reason.find(reason_part) != std::string::npos;
  });
}

std::vector<std::string> v(std::initializer_list<const char*> items) { return {items.begin(), items.end()}; }

}  // namespace

TEST_CASE("pool endpoints: ready pods matching the selector in the pool's namespace, one per port") {
  ClusterState s;
  s.pools["ml/p"] = pool_v1("ml", "p", "llm", R"([{"number":8000},{"number":8001}])");
  s.pods["ml/ready"] = pod("ml", "ready", "llm", "10.1.0.2");
  s.pods["ml/ready-2"] = pod("ml", "ready-2", "llm", "10.1.0.10");
  s.pods["ml/not-ready"] = pod("ml", "not-ready", "llm", "10.1.0.3", false);
  s.pods["ml/deleting"] = pod("ml", "deleting", "llm", "10.1.0.4", true, true);
  s.pods["ml/other-app"] = pod("ml", "other-app", "web", "10.1.0.5");
  s.pods["other/same-label"] = pod("other", "same-label", "llm", "10.1.0.6");
  s.pods["ml/no-ip"] = pod("ml", "no-ip", "llm", "");
  s.pods["ml/v6"] = pod("ml", "v6", "llm", "fd00::7");
  const ClusterRoutes r = translate(s, {});
  CHECK(endpoints(find_pool(r, "ml/p")) ==
        v({"10.1.0.10:8000", "10.1.0.10:8001", "10.1.0.2:8000", "10.1.0.2:8001", "[fd00::7]:8000",
           "[fd00::7]:8001"}));
  CHECK(r.problems.empty());
}

TEST_CASE("legacy pools (v1alpha2 / v1alpha1 shape): selector map and targetPortNumber") {
  ClusterState s;
  s.legacy_pools["ml/old"] = pool_alpha("ml", "old", "llm", 9000);
  s.pods["ml/x"] = pod("ml", "x", "llm", "10.2.0.1");
  const ClusterRoutes r = translate(s, {});
  CHECK(endpoints(find_pool(r, "ml/old")) == v({"10.2.0.1:9000"}));
}

TEST_CASE("a v1 pool shadows the legacy pool of the same namespace/name") {
  ClusterState s;
  s.pools["ml/p"] = pool_v1("ml", "p", "new");
  s.legacy_pools["ml/p"] = pool_alpha("ml", "p", "old", 9000);
  const ClusterRoutes r = translate(s, {});
  REQUIRE(r.pools.size() == 1);
  CHECK(has_problem(r, "InferencePool ml/p", "shadowed"));
}

TEST_CASE("malformed pools are skipped with a reason") {
  struct Case {
    const char* json;
    bool legacy;
    const char* reason;
  };
  const std::string m = meta("ml", "bad");
  const std::vector<Case> cases = {
      {"not json", false, "not a JSON object"},
      {R"({"spec":{}})", false, "no metadata.name"},
      {R"({)" "\"metadata\":{\"namespace\":\"ml\",\"name\":\"bad\"}" R"(,"spec":{"targetPorts":[{"number":8000}]}})", false, "no selector"},
      {R"({"metadata":{"namespace":"ml","name":"bad"},"spec":{"selector":{"matchLabels":{}},"targetPorts":[{"number":8000}]}})", false, "no selector"},
      {R"({"metadata":{"namespace":"ml","name":"bad"},"spec":{"selector":{"matchLabels":{"a":1}},"targetPorts":[{"number":8000}]}})", false, "not a string"},
      {R"({"metadata":{"namespace":"ml","name":"bad"},"spec":{"selector":{"matchLabels":{"a":"b"}},"targetPorts":[{"number":0}]}})", false, "bad target port 0"},
      {R"({"metadata":{"namespace":"ml","name":"bad"},"spec":{"selector":{"matchLabels":{"a":"b"}},"targetPorts":[{"number":70000}]}})", false, "bad target port 70000"},
      {R"({"metadata":{"namespace":"ml","name":"bad"},"spec":{"selector":{"matchLabels":{"a":"b"}},"targetPorts":[{"number":"8000"}]}})", false, "bad target port \"8000\""},
      {R"({"metadata":{"namespace":"ml","name":"bad"},"spec":{"selector":{"matchLabels":{"a":"b"}},"targetPorts":[]}})", false, "no targetPorts"},
      {R"({"metadata":{"namespace":"ml","name":"bad"},"spec":{"selector":{"matchLabels":{"a":"b"}},"targetPorts":[{"number":8000}],"appProtocol":"kubernetes.io/h2c"}})", false, "appProtocol 'kubernetes.io/h2c' is not supported"},
      {R"({"metadata":{"namespace":"ml","name":"bad"},"spec":{"selector":{"a":"b"}}})", true, "no targetPortNumber"},
      {R"({"metadata":{"namespace":"ml","name":"bad"},"spec":{"selector":{"a":"b"},"targetPortNumber":-1}})", true, "bad target port -1"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.json);
    ClusterState s;
    (c.legacy ? s.legacy_pools : s.pools)["ml/bad"] = c.json;
    const ClusterRoutes r = translate(s, {});
    CHECK(r.pools.empty());
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].object == "InferencePool ml/bad");
    CHECK(r.problems[0].reason.find(c.reason) != std::string::npos);
  }
}

TEST_CASE("HTTPRoute header matches route a model to pools; parentRefs must name this gateway") {
  struct Case {
    const char* name;
    std::string parent;
    std::string header;
    bool routed;
  };
  const std::vector<Case> cases = {
      {"ours, namespace given", R"({"name":"infergate","namespace":"default"})", "X-Gateway-Model-Name", true},
      {"ours, namespace from the route", R"({"name":"infergate"})", "x-gateway-model-name", true},
      {"ours, explicit group and kind", R"({"group":"gateway.networking.k8s.io","kind":"Gateway","name":"infergate"})", "X-GATEWAY-MODEL-NAME", true},
      {"another gateway", R"({"name":"envoy","namespace":"default"})", "X-Gateway-Model-Name", false},
      {"our name in another namespace", R"({"name":"infergate","namespace":"prod"})", "X-Gateway-Model-Name", false},
      {"not a Gateway", R"({"kind":"Service","name":"infergate"})", "X-Gateway-Model-Name", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    ClusterState s = two_pools();
    s.http_routes["default/r"] = route("default", "r", "[" + rule(model_match("llama", c.header), backend("a", -1)) + "]",
                                       "2026-01-01T00:00:00Z", c.parent);
    const ClusterRoutes r = translate(s, {});
    if (c.routed) {
      CHECK(targets(find_model(r, "llama")) == v({"default/a::1"}));
    } else {
      CHECK(find_model(r, "llama") == nullptr);
    }
    CHECK(r.problems.empty());
  }
}

TEST_CASE("a 90/10 canary across two pools keeps its weights") {
  ClusterState s = two_pools();
  s.http_routes["default/canary"] =
      route("default", "canary", "[" + rule(model_match("llama"), backend("a", 90) + "," + backend("b", 10)) + "]");
  const ClusterRoutes r = translate(s, {});
  CHECK(targets(find_model(r, "llama")) == v({"default/a::90", "default/b::10"}));
  CHECK(r.probe_pools.empty());
}

TEST_CASE("InferenceModel: served-model rewrite, weights and criticality") {
  ClusterState s = two_pools();
  s.inference_models["default/bot"] = inference_model("default", "bot", "support-bot", "a",
                                                      R"([{"name":"support-lora"}])", "Critical");
  s.inference_models["default/split"] = inference_model(
      "default", "split", "chat", "a", R"([{"name":"chat-v1","weight":75},{"name":"chat-v2","weight":25}])", "Sheddable");
  s.inference_models["default/same"] = inference_model("default", "same", "base", "b", "", "Default");
  const ClusterRoutes r = translate(s, {});
  CHECK(targets(find_model(r, "support-bot")) == v({"default/a:support-lora:1"}));
  CHECK(find_model(r, "support-bot")->priority == priority::critical);
  CHECK(targets(find_model(r, "chat")) == v({"default/a:chat-v1:75", "default/a:chat-v2:25"}));
  CHECK(find_model(r, "chat")->priority == priority::sheddable);
  CHECK(targets(find_model(r, "base")) == v({"default/b::1"}));
  CHECK(find_model(r, "base")->priority == priority::standard);
  CHECK(r.problems.empty());
}

TEST_CASE("a route's share of a pool is split by the pool's InferenceModel") {
  ClusterState s = two_pools();
  s.http_routes["default/r"] =
      route("default", "r", "[" + rule(model_match("chat"), backend("a", 90) + "," + backend("b", 10)) + "]");
  s.inference_models["default/chat"] = inference_model(
      "default", "chat", "chat", "a", R"([{"name":"chat-v1","weight":1},{"name":"chat-v2","weight":1}])");
  const ClusterRoutes r = translate(s, {});
  // Weights are relative: pool a keeps 180/200 = 90%, split evenly between its two targets.
  CHECK(targets(find_model(r, "chat")) == v({"default/a:chat-v1:90", "default/a:chat-v2:90", "default/b::20"}));
}

TEST_CASE("malformed InferenceModels and objectives are skipped with a reason") {
  struct Case {
    std::string json;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {inference_model("default", "x", "m", "a", R"([{"name":"v1","weight":0},{"name":"v2","weight":0}])"), "all targetModels weights are 0"},
      {inference_model("default", "x", "m", "a", R"([{"name":"v1","weight":5},{"name":"v2"}])"), "for all targetModels or for none"},
      {inference_model("default", "x", "m", "nope"), "unknown pool 'default/nope'"},
      {inference_model("default", "x", "m", "a", "", "Urgent"), "unknown criticality 'Urgent'"},
      {R"({"metadata":{"namespace":"default","name":"x"},"spec":{"poolRef":{"name":"a"}}})", "no spec.modelName"},
      {R"({"metadata":{"namespace":"default","name":"x"},"spec":{"modelName":"m"}})", "no spec.poolRef.name"},
      {R"({"metadata":{"namespace":"default","name":"x"},"spec":{"modelName":"m","poolRef":{"kind":"Service","name":"a"}}})", "is not an InferencePool"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.json);
    ClusterState s = two_pools();
    s.inference_models["default/x"] = c.json;
    const ClusterRoutes r = translate(s, {});
    CHECK(find_model(r, "m") == nullptr);
    CHECK(has_problem(r, "InferenceModel default/x", c.reason));
  }
}

TEST_CASE("the oldest InferenceModel keeps a modelName within a pool") {
  ClusterState s = two_pools();
  s.inference_models["default/new"] =
      inference_model("default", "new", "m", "a", R"([{"name":"new"}])", "", "2026-02-01T00:00:00Z");
  s.inference_models["default/old"] =
      inference_model("default", "old", "m", "a", R"([{"name":"old"}])", "", "2026-01-01T00:00:00Z");
  const ClusterRoutes r = translate(s, {});
  CHECK(targets(find_model(r, "m")) == v({"default/a:old:1"}));
  CHECK(has_problem(r, "InferenceModel default/new", "already used in pool default/a by InferenceModel default/old"));
}

TEST_CASE("backendRefs: cross-namespace only with a ReferenceGrant; unknown, zero-weight and Service refs") {
  const std::string grant_all = R"({"apiVersion":"gateway.networking.k8s.io/v1beta1","kind":"ReferenceGrant",)"
                                R"("metadata":{"namespace":"ml","name":"g"},"spec":{"from":[{"group":"gateway.networking.k8s.io",)"
                                R"("kind":"HTTPRoute","namespace":"apps"}],"to":[{"group":"inference.networking.k8s.io","kind":"InferencePool"}]}})";
  const std::string grant_other_pool = R"({"metadata":{"namespace":"ml","name":"g"},"spec":{"from":[{"group":"gateway.networking.k8s.io",)"
                                       R"("kind":"HTTPRoute","namespace":"apps"}],"to":[{"group":"inference.networking.k8s.io","kind":"InferencePool","name":"q"}]}})";
  const std::string grant_other_ns = R"({"metadata":{"namespace":"ml","name":"g"},"spec":{"from":[{"group":"gateway.networking.k8s.io",)"
                                     R"("kind":"HTTPRoute","namespace":"web"}],"to":[{"group":"inference.networking.k8s.io","kind":"InferencePool"}]}})";
  struct Case {
    const char* name;
    std::string grant;
    bool routed;
  };
  for (const Case& c : std::vector<Case>{{"no grant", "", false},
                                         {"grant for every pool", grant_all, true},
                                         {"grant for another pool", grant_other_pool, false},
                                         {"grant from another namespace", grant_other_ns, false}}) {
    CAPTURE(c.name);
    ClusterState s;
    s.pools["ml/p"] = pool_v1("ml", "p", "llm");
    if (!c.grant.empty()) s.reference_grants["ml/g"] = c.grant;
    s.http_routes["apps/r"] = route("apps", "r", "[" + rule(model_match("m"), backend("p", 1, "ml")) + "]", "2026-01-01T00:00:00Z",
                                    R"({"name":"infergate","namespace":"default"})");
    const ClusterRoutes r = translate(s, {});
    if (c.routed) {
      CHECK(targets(find_model(r, "m")) == v({"ml/p::1"}));
    } else {
      CHECK(find_model(r, "m") == nullptr);
      CHECK(has_problem(r, "HTTPRoute apps/r", "no ReferenceGrant allows it"));
    }
  }

  ClusterState s = two_pools();
  s.http_routes["default/zero"] = route("default", "zero", "[" + rule(model_match("z"), backend("a", 0) + "," + backend("b", 0)) + "]");
  s.http_routes["default/unknown"] = route("default", "unknown", "[" + rule(model_match("u"), backend("nope", 1) + "," + backend("b", 1)) + "]");
  s.http_routes["default/svc"] = route("default", "svc", "[" + rule(model_match("s"), R"({"name":"vllm","port":8000})") + "]");
  const ClusterRoutes r = translate(s, {});
  CHECK(find_model(r, "z") == nullptr);
  CHECK(has_problem(r, "HTTPRoute default/zero", "rules[0]: no backend with a weight above 0"));
  CHECK(targets(find_model(r, "u")) == v({"default/b::1"}));  // the other backend keeps serving
  CHECK(has_problem(r, "HTTPRoute default/unknown", "unknown pool 'default/nope'"));
  CHECK(find_model(r, "s") == nullptr);
  CHECK(has_problem(r, "HTTPRoute default/svc", "backendRef Service default/vllm is not an InferencePool"));
}

TEST_CASE("matches infergate cannot evaluate are left out; the rule's other matches apply") {
  struct Case {
    std::string match;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {R"({"headers":[{"name":"x-tenant","value":"a"}]})", "header match on 'x-tenant'"},
      {R"({"headers":[{"type":"RegularExpression","name":"X-Gateway-Model-Name","value":"l.*"}]})", "RegularExpression match"},
      {R"({"path":{"type":"PathPrefix","value":"/api"}})", "matches no /v1/ API path"},
      {R"({"path":{"type":"RegularExpression","value":"/v1/.*"}})", "not supported"},
      {R"({"queryParams":[{"name":"a","value":"b"}]})", "query parameter"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.match);
    ClusterState s = two_pools();
    s.http_routes["default/r"] = route("default", "r", "[" + rule(c.match + "," + model_match("ok"), backend("a", 1)) + "]");
    const ClusterRoutes r = translate(s, {});
    CHECK(has_problem(r, "HTTPRoute default/r", c.reason));
    CHECK(targets(find_model(r, "ok")) == v({"default/a::1"}));
    CHECK(r.models.size() == 1);
  }
}

TEST_CASE("paths that cover /v1/ are accepted") {
  for (const char* path : {R"({"type":"PathPrefix","value":"/"})", R"({"type":"PathPrefix","value":"/v1"})",
                           R"({"type":"Exact","value":"/v1/chat/completions"})", R"({"value":"/v1/"})"}) {
    CAPTURE(path);
    ClusterState s = two_pools();
    s.http_routes["default/r"] = route(
        "default", "r",
        "[" + rule(fmt::format(R"({{"path":{},"headers":[{{"name":"X-Gateway-Model-Name","value":"m"}}]}})", path),
                   backend("a", 1)) + "]");
    const ClusterRoutes r = translate(s, {});
    CHECK(r.problems.empty());
    CHECK(find_model(r, "m") != nullptr);
  }
}

TEST_CASE("the oldest route keeps a model; later ones are reported") {
  ClusterState s = two_pools();
  s.http_routes["default/new"] = route("default", "new", "[" + rule(model_match("m"), backend("b", 1)) + "]", "2026-03-01T00:00:00Z");
  s.http_routes["default/old"] = route("default", "old", "[" + rule(model_match("m"), backend("a", 1)) + "]", "2026-01-01T00:00:00Z");
  const ClusterRoutes r = translate(s, {});
  CHECK(targets(find_model(r, "m")) == v({"default/a::1"}));
  CHECK(has_problem(r, "HTTPRoute default/new", "model 'm' is already routed"));
}

TEST_CASE("pools no route or InferenceModel names serve the models their servers report") {
  ClusterState s = two_pools();
  s.pools["default/c"] = pool_v1("default", "c", "c");
  s.http_routes["default/r"] = route("default", "r", "[" + rule(model_match("routed"), backend("a", 1)) + "]");
  s.reported["default/a"] = {{"a-only", ""}};  // a is named by a route: its reports don't add models
  s.reported["default/b"] = {{"shared", ""}, {"b-only", ""}, {"routed", ""}};
  s.reported["default/c"] = {{"shared", ""}};
  const ClusterRoutes r = translate(s, {});
  CHECK(r.probe_pools == v({"default/b", "default/c"}));
  CHECK(find_model(r, "a-only") == nullptr);
  CHECK(targets(find_model(r, "b-only")) == v({"default/b::1"}));
  CHECK(targets(find_model(r, "shared")) == v({"default/b::1", "default/c::1"}));
  CHECK(targets(find_model(r, "routed")) == v({"default/a::1"}));  // the route wins
}

TEST_CASE("a rule without a model header routes every model its pools know, to the pools that know it") {
  ClusterState s = two_pools();
  s.http_routes["default/all"] = route("default", "all", R"([{"backendRefs":[)" + backend("a", 90) + "," + backend("b", 10) + "]}]");
  s.reported["default/a"] = {{"m1", ""}, {"m2", ""}};
  s.reported["default/b"] = {{"m1", ""}};
  s.inference_models["default/alias"] = inference_model("default", "alias", "alias", "b", R"([{"name":"m1"}])");
  const ClusterRoutes r = translate(s, {});
  CHECK(r.probe_pools == v({"default/a", "default/b"}));
  CHECK(targets(find_model(r, "m1")) == v({"default/a::90", "default/b::10"}));
  CHECK(targets(find_model(r, "m2")) == v({"default/a::90"}));
  // An InferenceModel no route names goes to its own pool before catch-all rules apply.
  CHECK(targets(find_model(r, "alias")) == v({"default/b:m1:1"}));
}

TEST_CASE("X-Gateway-Base-Model-Name routes the base model and the adapters its servers report") {
  ClusterState s = two_pools();
  s.http_routes["default/base"] = route("default", "base", "[" + rule(model_match("llama", "X-Gateway-Base-Model-Name"), backend("a", 1)) + "]");
  s.reported["default/a"] = {{"llama", ""}, {"sql-lora", "llama"}, {"other-lora", "mistral"}};
  const ClusterRoutes r = translate(s, {});
  CHECK(targets(find_model(r, "llama")) == v({"default/a::1"}));
  CHECK(targets(find_model(r, "sql-lora")) == v({"default/a::1"}));
  CHECK(find_model(r, "other-lora") == nullptr);
  CHECK(r.probe_pools == v({"default/a", "default/b"}));  // b: named by nothing
}

TEST_CASE("InferenceObjectives: priority by name; unknown pool and conflicts reported") {
  ClusterState s = two_pools();
  s.pools["ml/p"] = pool_v1("ml", "p", "llm");
  s.inference_objectives["default/batch"] = objective("default", "batch", R"({"priority":-5,"poolRef":{"name":"a"}})");
  s.inference_objectives["default/chat"] = objective("default", "chat", R"({"priority":10,"poolRef":{"name":"a"}})");
  s.inference_objectives["default/old-form"] = objective("default", "old-form", R"({"criticality":"Critical","poolRef":{"name":"b"}})");
  s.inference_objectives["default/none"] = objective("default", "none", R"({"poolRef":{"name":"b"}})");
  s.inference_objectives["ml/chat"] = objective("ml", "chat", R"({"priority":3,"poolRef":{"name":"p"}})");
  s.inference_objectives["default/lost"] = objective("default", "lost", R"({"priority":1,"poolRef":{"name":"nope"}})");
  s.inference_objectives["default/huge"] = objective("default", "huge", R"({"priority":5000,"poolRef":{"name":"a"}})");
  const ClusterRoutes r = translate(s, {});
  std::vector<std::string> got;
  for (const auto& o : r.objectives) got.push_back(fmt::format("{}={}", o.name, o.priority));
  CHECK(got == v({"batch=-5", "chat=10", "none=0", "old-form=1"}));
  CHECK(has_problem(r, "InferenceObjective ml/chat", "already defined with priority 10 by default/chat"));
  CHECK(has_problem(r, "InferenceObjective default/lost", "unknown pool 'default/nope'"));
  CHECK(has_problem(r, "InferenceObjective default/huge", "priority 5000 is not an integer"));
}

TEST_CASE("pool defaults apply to every cluster pool; the output is deterministic") {
  ClusterState s = two_pools();
  s.http_routes["default/r"] = route("default", "r", "[" + rule(model_match("m"), backend("a", 3) + "," + backend("b", 1)) + "]");
  TranslateOptions options;
  options.pool_defaults.metrics.flavour = "vllm";
  const ClusterRoutes r1 = translate(s, options);
  const ClusterRoutes r2 = translate(s, options);
  REQUIRE(r1.pools.size() == 2);
  CHECK(r1.pools[0].metrics.flavour == "vllm");
  const GatewayConfig empty;
  std::vector<Problem> p1, p2;
  CHECK(routes_debug_json(merge_routes(empty, r1, p1), empty, p1) ==
        routes_debug_json(merge_routes(empty, r2, p2), empty, p2));
}

TEST_CASE("merge: the config file's entries win over cluster entries of the same name") {
  GatewayConfig file;
  file.pools.push_back({"static", {{"127.0.0.1", 8001}}, {}, {}, {}});
  file.models.push_back({"m", {{"static", "", 1}}, 0});
  file.objectives.push_back({"chat", 1});
  ClusterState s = two_pools();
  s.http_routes["default/r"] = route("default", "r", "[" + rule(model_match("m") + "," + model_match("n"), backend("a", 1)) + "]");
  s.inference_objectives["default/chat"] = objective("default", "chat", R"({"priority":-1,"poolRef":{"name":"a"}})");
  std::vector<Problem> problems;
  const GatewayConfig table = merge_routes(file, translate(s, {}), problems);
  CHECK(problems == std::vector<Problem>{{"model m", "the config file routes this model; the file wins"},
                                         {"InferenceObjective chat", "the config file defines an objective of this name; the file wins"}});
  CHECK(routes_debug_json(table, file, problems) ==
        R"({"models":[{"name":"m","priority":0,"source":"file","targets":[{"pool":"static","model":"m","weight":1}]},)"
        R"({"name":"n","priority":0,"source":"cluster","targets":[{"pool":"default/a","model":"n","weight":1}]}],)"
        R"("pools":[{"name":"default/a","source":"cluster","endpoints":["10.0.0.1:8000","10.0.0.2:8000"]},)"
        R"({"name":"default/b","source":"cluster","endpoints":["10.0.1.1:8000"]},)"
        R"({"name":"static","source":"file","endpoints":["127.0.0.1:8001"]}],)"
        R"("objectives":[{"name":"chat","priority":1,"source":"file"}],)"
        R"("problems":[{"object":"model m","reason":"the config file routes this model; the file wins"},)"
        R"({"object":"InferenceObjective chat","reason":"the config file defines an objective of this name; the file wins"}]})");
}

TEST_CASE("parse_models_list reads ids and adapter parents; malformed answers give nothing") {
  const auto models = parse_models_list(
      R"({"object":"list","data":[{"id":"sql-lora","parent":"llama","root":"/adapters/sql-lora"},{"id":"llama","parent":null},{"object":"model"}]})");
  CHECK(models == std::vector<ReportedModel>{{"llama", ""}, {"sql-lora", "llama"}});
  CHECK(parse_models_list("<html>").empty());
  CHECK(parse_models_list(R"({"data":{}})").empty());
}

TEST_CASE("a malformed edit keeps the object's last good version; a malformed new object is skipped") {
  ClusterState last_good;
  const TranslateOptions options;
  ClusterState s = two_pools();
  s.http_routes["default/r"] = route("default", "r", "[" + rule(model_match("m"), backend("a", 1)) + "]");
  CHECK(keep_last_good(s, last_good, options).empty());
  CHECK(last_good.pools.size() == 2);

  // Pool a loses its selector, a new pool c is malformed from the start.
  ClusterState next = two_pools();
  next.pools["default/a"] = R"({"metadata":{"namespace":"default","name":"a"},"spec":{"targetPorts":[{"number":8000}]}})";
  next.pools["default/c"] = R"({"metadata":{"namespace":"default","name":"c"},"spec":{}})";
  next.http_routes = s.http_routes;
  const auto problems = keep_last_good(next, last_good, options);
  CHECK(problems == std::vector<Problem>{{"InferencePool default/a", "no selector; its last good version stays in use"}});
  const ClusterRoutes r = translate(next, options);
  CHECK(endpoints(find_pool(r, "default/a")) == v({"10.0.0.1:8000", "10.0.0.2:8000"}));
  CHECK(targets(find_model(r, "m")) == v({"default/a::1"}));
  CHECK(find_pool(r, "default/c") == nullptr);
  CHECK(has_problem(r, "InferencePool default/c", "no selector"));

  // Deleted, then malformed again: nothing to fall back to.
  ClusterState gone;
  keep_last_good(gone, last_good, options);
  CHECK(last_good.pools.empty());
  CHECK(keep_last_good(next, last_good, options).empty());
}

TEST_CASE("weights stay exact through targetModels splits, and are rounded only past 1,000,000") {
  ClusterState s = two_pools();
  s.http_routes["default/r"] = route("default", "r", "[" + rule(model_match("m"), backend("a", 1) + "," + backend("b", 1)) + "]");
  s.inference_models["default/ma"] = inference_model("default", "ma", "m", "a", R"([{"name":"x"},{"name":"y"},{"name":"z"}])");
  s.inference_models["default/mb"] = inference_model("default", "mb", "m", "b", R"([{"name":"u"},{"name":"w"}])");
  ClusterRoutes r = translate(s, {});
  // lcm(3, 2) = 6: each pool keeps 6 of 12.
  CHECK(targets(find_model(r, "m")) == v({"default/a:x:2", "default/a:y:2", "default/a:z:2", "default/b:u:3", "default/b:w:3"}));

  s.inference_models["default/ma"] = inference_model("default", "ma", "m", "a", R"([{"name":"x","weight":999983},{"name":"y","weight":1}])");
  s.inference_models["default/mb"] = inference_model("default", "mb", "m", "b", R"([{"name":"u","weight":999979},{"name":"w","weight":1}])");
  r = translate(s, {});
  const ModelConfig* m = find_model(r, "m");
  REQUIRE(m != nullptr);
  REQUIRE(m->targets.size() == 4);
  std::uint64_t a = 0, b = 0;
  for (const auto& t : m->targets) {
    CHECK(t.weight >= 1);
    CHECK(t.weight <= 1'000'000);
    (t.pool == "default/a" ? a : b) += t.weight;
  }
  CHECK(a == doctest::Approx(static_cast<double>(b)).epsilon(1e-5));  // still an even split of the route
}

TEST_CASE("HTTPRoute status: Accepted and ResolvedRefs for routes naming this gateway; other controllers kept") {
  ClusterState s = two_pools();
  s.http_routes["default/good"] = route("default", "good", "[" + rule(model_match("m"), backend("a", 1)) + "]");
  s.http_routes["default/bad"] = route("default", "bad", "[" + rule(model_match("n"), backend("nope", 1)) + "]");
  s.http_routes["default/other"] = route("default", "other", "[" + rule(model_match("o"), backend("a", 1)) + "]",
                                         "2026-01-01T00:00:00Z", R"({"name":"envoy"})");
  // Another controller's entry on the good route survives our write.
  s.http_routes["default/good"].insert(s.http_routes["default/good"].size() - 1,
                                       R"(,"status":{"parents":[{"controllerName":"example.com/envoy","parentRef":{"name":"envoy"}}]})");
  const ClusterRoutes r = translate(s, {});
  const auto writes = route_statuses(s, r.problems, {}, "infergate.dev/gateway", "2026-12-01T00:00:00Z");
  REQUIRE(writes.size() == 2);
  CHECK(writes[0].name == "bad");
  CHECK(writes[0].patch.find(R"({"type":"ResolvedRefs","status":"False","reason":"BackendNotFound","message":"rules[0]: unknown pool 'default/nope'")") != std::string::npos);
  CHECK(writes[1].name == "good");
  CHECK(writes[1].patch ==
        R"({"status":{"parents":[{"controllerName":"example.com/envoy","parentRef":{"name":"envoy"}},)"
        R"({"parentRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","namespace":"default","name":"infergate"},)"
        R"("controllerName":"infergate.dev/gateway","conditions":[)"
        R"({"type":"Accepted","status":"True","reason":"Accepted","message":"","observedGeneration":0,"lastTransitionTime":"2026-12-01T00:00:00Z"},)"
        R"({"type":"ResolvedRefs","status":"True","reason":"ResolvedRefs","message":"","observedGeneration":0,"lastTransitionTime":"2026-12-01T00:00:00Z"}]}]}})");
  CHECK(writes[1].content.find("2026-12-01") == std::string::npos);
}

TEST_CASE("InferencePool status: this Gateway on the pools our routes resolve to, removed when none does") {
  ClusterState s = two_pools();
  s.pools["default/c"] = pool_v1("default", "c", "c");
  s.http_routes["default/r"] = route("default", "r", "[" + rule(model_match("m"), backend("a", 1)) + "]");
  // b: another Gateway's entry, and ours from an earlier route that is gone.
  const std::string theirs = R"({"parentRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","namespace":"x","name":"envoy"},"conditions":[]})";
  const std::string ours = R"({"parentRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","namespace":"default","name":"infergate"},"conditions":[]})";
  s.pools["default/b"].insert(s.pools["default/b"].size() - 1, R"(,"status":{"parents":[)" + theirs + "," + ours + "]}");
  const ClusterRoutes r = translate(s, {});
  CHECK(r.routed_pools == std::vector<std::string>{"default/a"});
  const auto writes = pool_statuses(s, r.routed_pools, r.problems, {}, "2026-12-01T00:00:00Z");
  REQUIRE(writes.size() == 2);  // c: neither routed nor listed, nothing to write
  CHECK(writes[0].name == "a");
  CHECK(writes[0].patch ==
        R"({"status":{"parents":[{"parentRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","namespace":"default","name":"infergate"},)"
        R"("conditions":[)"
        R"({"type":"Accepted","status":"True","reason":"Accepted","message":"","observedGeneration":0,"lastTransitionTime":"2026-12-01T00:00:00Z"},)"
        R"({"type":"ResolvedRefs","status":"True","reason":"ResolvedRefs","message":"","observedGeneration":0,"lastTransitionTime":"2026-12-01T00:00:00Z"}]}]}})");
  CHECK(writes[0].content.find("2026-12-01") == std::string::npos);
  CHECK(writes[1].name == "b");
  CHECK(writes[1].patch == R"({"status":{"parents":[)" + theirs + "]}}");
}

namespace {

// A v1 pool "ml/p" (app llm, port 8443) with these metadata.annotations (a JSON object's body).
std::string annotated_pool(std::string_view annotations) {
  return fmt::format(R"({{"apiVersion":"inference.networking.k8s.io/v1","kind":"InferencePool",)"
                     R"("metadata":{{"namespace":"ml","name":"p","annotations":{{{}}}}},)"
                     R"("spec":{{"selector":{{"matchLabels":{{"app":"llm"}}}},"targetPorts":[{{"number":8443}}],)"
                     R"("endpointPickerRef":{{"name":"epp"}}}}}})",
                     annotations);
}

}  // namespace

TEST_CASE("infergate.io/upstream-tls annotations set the pool's upstream TLS over the defaults") {
  struct Case {
    const char* annotations;
    UpstreamTlsConfig defaults;
    UpstreamTlsConfig want;
  };
  const UpstreamTlsConfig off{};
  const UpstreamTlsConfig on_by_default{true, "/etc/ca/ca.crt", "", "", "", true};
  const std::vector<Case> cases = {
      {"", off, off},
      {R"("other.io/x":"1")", off, off},
      {R"("infergate.io/upstream-tls":"true")", off, {true, "", "", "", "", true}},
      {R"("infergate.io/upstream-tls":"true","infergate.io/upstream-tls-server-name":"vllm.ml.svc",)"
       R"("infergate.io/upstream-tls-ca-file":"/etc/ca/ml.crt")",
       off, {true, "/etc/ca/ml.crt", "vllm.ml.svc", "", "", true}},
      {R"("infergate.io/upstream-tls":"true","infergate.io/upstream-tls-cert-file":"/etc/c/tls.crt",)"
       R"("infergate.io/upstream-tls-key-file":"/etc/c/tls.key","infergate.io/upstream-tls-verify":"false")",
       off, {true, "", "", "/etc/c/tls.crt", "/etc/c/tls.key", false}},
      // The defaults turn TLS on for every cluster pool; one pool may override a field, or opt out.
      {"", on_by_default, on_by_default},
      {R"("infergate.io/upstream-tls-server-name":"p.ml")", on_by_default,
       {true, "/etc/ca/ca.crt", "p.ml", "", "", true}},
      {R"("infergate.io/upstream-tls":"false")", on_by_default, {false, "/etc/ca/ca.crt", "", "", "", true}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.annotations);
    ClusterState s;
    s.pools["ml/p"] = annotated_pool(c.annotations);
    s.pods["ml/x"] = pod("ml", "x", "llm", "10.3.0.1");
    TranslateOptions options;
    options.pool_defaults.tls = c.defaults;
    const ClusterRoutes r = translate(s, options);
    CHECK(r.problems.empty());
    const PoolConfig* p = find_pool(r, "ml/p");
    REQUIRE(p != nullptr);
    CHECK(p->tls == c.want);
    CHECK(endpoints(p) == v({"10.3.0.1:8443"}));
  }
}

TEST_CASE("a pool whose upstream TLS annotations do not make sense is skipped, never run in clear") {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"("infergate.io/upstream-tls":"yes")", R"(expected "true" or "false", got 'yes')"},
      {R"("infergate.io/upstream-tls":true)", "is not a string"},
      {R"("infergate.io/upstream-tls":"true","infergate.io/upstream-tls-verify":"0")", "got '0'"},
      {R"("infergate.io/upstream-tls":"true","infergate.io/upstream-tls-ca":"/ca.crt")",
       "unknown annotation infergate.io/upstream-tls-ca"},
      {R"("infergate.io/upstream-tls-ca-file":"/ca.crt")", "set but TLS is off"},
      {R"("infergate.io/upstream-tls":"true","infergate.io/upstream-tls-cert-file":"/c.crt")",
       "go together"},
  };
  for (const auto& [annotations, reason] : cases) {
    CAPTURE(annotations);
    ClusterState s;
    s.pools["ml/p"] = annotated_pool(annotations);
    // A legacy pool of the same name does not stand in for it (it would speak plain HTTP).
    s.legacy_pools["ml/p"] = pool_alpha("ml", "p", "llm", 8443);
    const ClusterRoutes r = translate(s, {});
    CHECK(r.pools.empty());
    CHECK(has_problem(r, "InferencePool ml/p", reason));
    CHECK(has_problem(r, "InferencePool ml/p", "shadowed"));
    CHECK(r.problems.size() == 2);
  }
}
