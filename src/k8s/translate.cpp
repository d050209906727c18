// ClusterState -> ClusterRoutes. Decoding is in translate_decode.cpp; this file resolves the
// references and applies the precedence of docs/kubernetes.md, highest first:
//   1. HTTPRoute matches on X-Gateway-Model-Name (oldest route first, then rule order);
//   2. HTTPRoute matches on X-Gateway-Base-Model-Name (the base model, then its adapters);
//   3. InferenceModels no route names (the pools that declare the model, equal shares);
//   4. HTTPRoute rules without a model header (every model their pools know);
//   5. pools that no route or InferenceModel names (the models their servers report).
// A route's weight to a pool is split further by that pool's InferenceModel targetModels.
#include "infergate/k8s/translate.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "k8s/translate_decode.hpp"

namespace infergate::k8s {
namespace {

namespace d = decode;

struct PoolEntry {
  d::Pool spec;
  UpstreamTlsConfig tls;  // the pool defaults' with the pool's annotations applied
  std::vector<HostPort> endpoints;
  std::map<std::string, const d::InferenceModel*, std::less<>> models;  // modelName -> object
};

struct Backend {
  const PoolEntry* pool;
  std::string name;  // table pool name
  std::int64_t weight;
};

struct RuleView {
  const d::Route* route;
  const std::vector<d::Match>* matches;
  std::vector<Backend> backends;  // resolved, weight > 0
};

bool valid_ip(const std::string& ip) {
  unsigned char buf[16];
  return inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

bool selects(const std::map<std::string, std::string>& selector,
             const std::map<std::string, std::string>& labels) {
  return std::all_of(selector.begin(), selector.end(), [&](const auto& kv) {
    const auto it = labels.find(kv.first);
    return it != labels.end() && it->second == kv.second;
  });
}

class Translator {
 public:
  Translator(const ClusterState& state, const TranslateOptions& options)
      : state_(state), options_(options) {}

  ClusterRoutes run() {
    read_pools();
    read_pods();
    read_grants();
    read_models();
    read_objectives();
    read_routes();
    route_model_headers();
    route_base_models();
    route_inference_models();
    route_catch_alls();
    route_unnamed_pools();
    return finish();
  }

 private:
  void problem(std::string kind, const std::string& key, std::string reason, std::string ref_reason = {}) {
    out_.problems.push_back({kind + " " + key, std::move(reason), std::move(ref_reason)});
  }

  template <typename T>
  std::vector<T> decode_all(const ObjectSet& set, std::string_view kind, auto&& decoder) {
    std::vector<T> result;
    for (const auto& [key, json] : set) {
      auto decoded = decoder(json);
      if (decoded.value) {
        result.push_back(std::move(*decoded.value));
      } else {
        problem(std::string(kind), key, std::move(decoded.problem));
      }
    }
    return result;
  }

  void read_pools() {
    for (const bool legacy : {false, true}) {
      auto specs = decode_all<d::Pool>(legacy ? state_.legacy_pools : state_.pools, "InferencePool",
                                       [&](const std::string& j) { return d::pool(j, legacy); });
      for (auto& spec : specs) {
        const std::string key = spec.meta.key();
        if (pools_.contains(key) || tls_refused_.contains(key)) {
          problem("InferencePool", key, fmt::format("{} pool shadowed by the {} pool of the same name",
                                                    d::kLegacyInferenceGroup, d::kInferenceGroup));
          continue;
        }
        std::string tls_problem;
        UpstreamTlsConfig tls = upstream_tls(spec.tls, tls_problem);
        if (!tls_problem.empty()) {
          problem("InferencePool", key, std::move(tls_problem));
          tls_refused_.insert(key);  // nor does a legacy pool of the same name stand in, in clear
          continue;
        }
        pools_.emplace(key, PoolEntry{std::move(spec), std::move(tls), {}, {}});
      }
    }
  }

  // The pool defaults' tls with the annotations set on the pool; `problem` when the result
  // is not one to run: TLS settings on a pool that does not turn TLS on, a certificate without
  // its key.
  UpstreamTlsConfig upstream_tls(const d::PoolTls& a, std::string& problem) const {
    UpstreamTlsConfig tls = options_.pool_defaults.tls;
    if (!a.problem.empty()) {
      problem = a.problem;
      return tls;
    }
    if (a.enabled) tls.enabled = *a.enabled;
    if (a.verify) tls.verify = *a.verify;
    if (a.server_name) tls.server_name = *a.server_name;
    if (a.ca_file) tls.ca_file = *a.ca_file;
    if (a.cert_file) tls.cert_file = *a.cert_file;
    if (a.key_file) tls.key_file = *a.key_file;
    const bool settings = a.verify || a.server_name || a.ca_file || a.cert_file || a.key_file;
    if (!tls.enabled && settings) {
      problem = fmt::format("{}-* annotations set but TLS is off (add {}: \"true\")",
                            d::kUpstreamTlsAnnotation, d::kUpstreamTlsAnnotation);
    } else if (tls.enabled && tls.cert_file.empty() != tls.key_file.empty()) {
      problem = fmt::format("{}-cert-file and {}-key-file go together", d::kUpstreamTlsAnnotation,
                            d::kUpstreamTlsAnnotation);
    }
    return tls;
  }

  void read_pods() {
    auto pods = decode_all<d::Pod>(state_.pods, "Pod", [](const std::string& j) { return d::pod(j); });
    std::map<std::string, std::vector<const d::Pod*>> by_namespace;
    for (const d::Pod& pod : pods) {
      if (!pod.ready || pod.ip.empty()) continue;
      if (!valid_ip(pod.ip)) {
        problem("Pod", pod.meta.key(), fmt::format("podIP '{}' is not an IP address", pod.ip));
        continue;
      }
      by_namespace[pod.meta.ns].push_back(&pod);
    }
    for (auto& [key, entry] : pools_) {
      std::set<std::string> seen;
      for (const d::Pod* pod : by_namespace[entry.spec.meta.ns]) {
        if (!selects(entry.spec.selector, pod->labels)) continue;
        for (const std::uint16_t port : entry.spec.ports) {
          HostPort hp{pod->ip, port};
          if (seen.insert(hp.str()).second) entry.endpoints.push_back(std::move(hp));
        }
      }
      std::sort(entry.endpoints.begin(), entry.endpoints.end(),
                [](const HostPort& a, const HostPort& b) { return a.str() < b.str(); });
    }
  }

  void read_grants() {
    grants_ = decode_all<d::Grant>(state_.reference_grants, "ReferenceGrant",
                                   [](const std::string& j) { return d::reference_grant(j); });
  }

  // The oldest InferenceModel keeps a modelName within a pool (the API's rule); the others are refused.
  void read_models() {
    inference_models_ = decode_all<d::InferenceModel>(
        state_.inference_models, "InferenceModel", [](const std::string& j) { return d::inference_model(j); });
    std::vector<const d::InferenceModel*> order;
    for (const auto& m : inference_models_) order.push_back(&m);
    std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
      return std::tie(a->meta.created, a->meta.ns, a->meta.name) <
             std::tie(b->meta.created, b->meta.ns, b->meta.name);
    });
    for (const d::InferenceModel* m : order) {
      const std::string pool_key = m->meta.ns + "/" + m->pool;
      const auto pool = pools_.find(pool_key);
      if (pool == pools_.end()) {
        problem("InferenceModel", m->meta.key(), fmt::format("unknown pool '{}'", pool_key));
        continue;
      }
      const auto [it, inserted] = pool->second.models.emplace(m->model_name, m);
      if (!inserted) {
        problem("InferenceModel", m->meta.key(),
                fmt::format("modelName '{}' is already used in pool {} by InferenceModel {} (older)",
                            m->model_name, pool_key, it->second->meta.key()));
      }
    }
  }

  void read_objectives() {
    auto objectives = decode_all<d::Objective>(state_.inference_objectives, "InferenceObjective",
                                               [](const std::string& j) { return d::inference_objective(j); });
    std::map<std::string, std::pair<int, std::string>> by_name;  // name -> priority, key
    for (const d::Objective& o : objectives) {
      const std::string pool_key = o.meta.ns + "/" + o.pool;
      if (!pools_.contains(pool_key)) {
        problem("InferenceObjective", o.meta.key(), fmt::format("unknown pool '{}'", pool_key));
        continue;
      }
      const auto [it, inserted] = by_name.emplace(o.meta.name, std::pair{o.priority, o.meta.key()});
      if (!inserted && it->second.first != o.priority) {
        problem("InferenceObjective", o.meta.key(),
                fmt::format("name '{}' is already defined with priority {} by {}", o.meta.name,
                            it->second.first, it->second.second));
      }
    }
    for (const auto& [name, value] : by_name) out_.objectives.push_back({name, value.first});
  }

  bool granted(const d::Route& route, const d::BackendRef& ref) const {
    return std::any_of(grants_.begin(), grants_.end(), [&](const d::Grant& g) {
      if (g.meta.ns != ref.ns) return false;
      const bool from = std::any_of(g.from.begin(), g.from.end(), [&](const d::GrantFrom& f) {
        return f.group == d::kGatewayGroup && f.kind == "HTTPRoute" && f.ns == route.meta.ns;
      });
      const bool to = std::any_of(g.to.begin(), g.to.end(), [&](const d::GrantTo& t) {
        return t.group == ref.group && t.kind == "InferencePool" && (t.name.empty() || t.name == ref.name);
      });
      return from && to;
    });
  }

  // Resolves a rule's backendRefs; a reference that cannot be followed is left out, with a problem.
  std::vector<Backend> resolve(const d::Route& route, const d::Rule& rule, std::size_t index) {
    std::vector<Backend> backends;
    const std::string key = route.meta.key();
    for (const d::BackendRef& ref : rule.backends) {
      const std::string pool_key = ref.ns + "/" + ref.name;
      const bool inference = ref.group == d::kInferenceGroup || ref.group == d::kLegacyInferenceGroup;
      if (!inference || ref.kind != "InferencePool") {
        problem("HTTPRoute", key, fmt::format("rules[{}]: backendRef {} {} is not an InferencePool",
                                              index, ref.kind, pool_key), "InvalidKind");
      } else if (ref.weight < 0 || ref.weight > 1'000'000) {
        problem("HTTPRoute", key, fmt::format("rules[{}]: backendRef {}: weight must be from 0 to 1000000",
                                              index, pool_key));
      } else if (ref.ns != route.meta.ns && !granted(route, ref)) {
        problem("HTTPRoute", key, fmt::format("rules[{}]: backendRef {} is in another namespace and no "
                                              "ReferenceGrant allows it", index, pool_key), "RefNotPermitted");
      } else if (const auto pool = pools_.find(pool_key); pool == pools_.end()) {
        problem("HTTPRoute", key, fmt::format("rules[{}]: unknown pool '{}'", index, pool_key), "BackendNotFound");
      } else if (ref.weight > 0) {
        backends.push_back({&pool->second, pool_key, ref.weight});
        named_pools_.insert(pool_key);
        routed_pools_.insert(pool_key);
      }
    }
    return backends;
  }

  void read_routes() {
    routes_ = decode_all<d::Route>(state_.http_routes, "HTTPRoute", [&](const std::string& j) {
      return d::http_route(j, options_.gateway_name, options_.gateway_namespace);
    });
    std::vector<const d::Route*> order;
    for (const auto& r : routes_) {
      if (r.ours) order.push_back(&r);
    }
    std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
      return std::tie(a->meta.created, a->meta.ns, a->meta.name) <
             std::tie(b->meta.created, b->meta.ns, b->meta.name);
    });
    for (const d::Route* route : order) {
      for (std::size_t i = 0; i < route->rules.size(); ++i) {
        const d::Rule& rule = route->rules[i];
        RuleView view{route, &rule.matches, resolve(*route, rule, i)};
        if (view.backends.empty()) {
          problem("HTTPRoute", route->meta.key(),
                  fmt::format("rules[{}]: no backend with a weight above 0", i));
          continue;
        }
        for (std::size_t m = 0; m < rule.matches.size(); ++m) {
          if (const auto* bad = std::get_if<d::Unsupported>(&rule.matches[m])) {
            problem("HTTPRoute", route->meta.key(), fmt::format("rules[{}].matches[{}]: {}", i, m, bad->reason));
          }
        }
        rules_.push_back(std::move(view));
      }
    }
  }

  // Does `pool` serve `model`: its servers report it, or an InferenceModel declares it there.
  bool knows(const Backend& b, const std::string& model) const {
    if (b.pool->models.contains(model)) return true;
    const auto reported = state_.reported.find(b.name);
    if (reported == state_.reported.end()) return false;
    return std::any_of(reported->second.begin(), reported->second.end(),
                       [&](const ReportedModel& r) { return r.id == model; });
  }

  // Routes `model` to `backends` (only those that know it when `known_only`); a pool's
  // InferenceModel for the model splits that pool's share among its targetModels.
  bool add_model(const std::string& model, const std::vector<Backend>& backends, bool known_only) {
    if (routed_.contains(model)) return false;
    std::vector<Share> shares;
    std::optional<int> best;  // the highest criticality among the InferenceModels used
    const auto raise = [&](int p) { best = std::max(best.value_or(p), p); };
    for (const Backend& b : backends) {
      if (known_only && !knows(b, model)) continue;
      const auto im = b.pool->models.find(model);
      if (im == b.pool->models.end()) {
        shares.push_back({b.name, "", b.weight, 1, 1});
        continue;
      }
      raise(im->second->priority);
      if (im->second->targets.empty()) {
        shares.push_back({b.name, "", b.weight, 1, 1});
        continue;
      }
      std::int64_t sum = 0;
      for (const auto& t : im->second->targets) sum += t.weight;
      for (const auto& t : im->second->targets) {
        shares.push_back({b.name, t.name == model ? "" : t.name, b.weight, t.weight, sum});
      }
    }
    if (shares.empty()) return false;
    ModelConfig config;
    config.name = model;
    config.priority = best.value_or(priority::standard);
    config.targets = integer_weights(shares);
    routed_.emplace(model, std::move(config));
    return true;
  }

  // A target's share of a model: route weight x part / whole of the pool's targetModels.
  struct Share {
    std::string pool, served;
    std::int64_t route_weight, part, whole;
  };

  // Integer weights in exact proportion: each share scaled by the least common multiple of the
  // wholes (a 90/10 route stays 90 and 10; targetModels 75/25 stay 75 and 25). Past 1,000,000
  // (rare: many pools with unrelated splits) they are rounded to that scale instead.
  static std::vector<TargetConfig> integer_weights(const std::vector<Share>& shares) {
    std::int64_t lcm = 1;
    bool exact = true;
    for (const Share& s : shares) {
      lcm = std::lcm(lcm, s.whole);
      if (lcm > 1'000'000) exact = false;
      if (!exact) break;
    }
    std::vector<long double> values;
    for (const Share& s : shares) {
      const long double v = exact ? static_cast<long double>(s.route_weight * s.part * (lcm / s.whole))
                                  : static_cast<long double>(s.route_weight) * s.part / s.whole;
      values.push_back(v);
    }
    const long double largest = *std::max_element(values.begin(), values.end());
    const long double scale = (!exact || largest > 1'000'000.0L) ? 1'000'000.0L / largest : 1.0L;
    std::vector<TargetConfig> targets;
    for (std::size_t i = 0; i < shares.size(); ++i) {
      const long long v = std::max<long long>(1, std::llround(values[i] * scale));
      targets.push_back({shares[i].pool, shares[i].served, static_cast<std::uint32_t>(v)});
    }
    std::sort(targets.begin(), targets.end(), [](const TargetConfig& a, const TargetConfig& b) {
      return std::tie(a.pool, a.model, a.weight) < std::tie(b.pool, b.model, b.weight);
    });
    return targets;
  }

  void already_routed(const RuleView& rule, const std::string& model) {
    problem("HTTPRoute", rule.route->meta.key(),
            fmt::format("model '{}' is already routed by an older route or an earlier rule", model));
  }

  void route_model_headers() {
    for (const RuleView& rule : rules_) {
      for (const d::Match& m : rule_matches(rule)) {
        if (const auto* match = std::get_if<d::ModelMatch>(&m)) {
          if (!add_model(match->model, rule.backends, false)) already_routed(rule, match->model);
        }
      }
    }
  }

  void route_base_models() {
    for (const RuleView& rule : rules_) {
      for (const d::Match& m : rule_matches(rule)) {
        const auto* match = std::get_if<d::BaseModelMatch>(&m);
        if (!match) continue;
        probe(rule.backends);
        if (!add_model(match->base, rule.backends, false)) already_routed(rule, match->base);
        for (const std::string& adapter : reported_names(rule.backends, &match->base)) {
          add_model(adapter, rule.backends, true);
        }
      }
    }
  }

  void route_inference_models() {
    std::map<std::string, std::vector<Backend>> declared;  // modelName -> pools declaring it
    for (const auto& [key, entry] : pools_) {
      for (const auto& [model, object] : entry.models) declared[model].push_back({&entry, key, 1});
      if (!entry.models.empty()) named_pools_.insert(key);
    }
    for (const auto& [model, backends] : declared) add_model(model, backends, false);
  }

  void route_catch_alls() {
    for (const RuleView& rule : rules_) {
      for (const d::Match& m : rule_matches(rule)) {
        if (!std::holds_alternative<d::AnyModel>(m)) continue;
        probe(rule.backends);
        std::set<std::string> names = reported_names(rule.backends, nullptr);
        for (const Backend& b : rule.backends) {
          for (const auto& [model, object] : b.pool->models) names.insert(model);
        }
        for (const std::string& model : names) add_model(model, rule.backends, true);
      }
    }
  }

  void route_unnamed_pools() {
    std::vector<Backend> unnamed;
    for (const auto& [key, entry] : pools_) {
      if (!named_pools_.contains(key)) unnamed.push_back({&entry, key, 1});
    }
    probe(unnamed);
    for (const std::string& model : reported_names(unnamed, nullptr)) add_model(model, unnamed, true);
  }

  static const std::vector<d::Match>& rule_matches(const RuleView& rule) { return *rule.matches; }

  // Model ids the backends' servers report (adapters of `parent` only, when given).
  std::set<std::string> reported_names(const std::vector<Backend>& backends, const std::string* parent) const {
    std::set<std::string> names;
    for (const Backend& b : backends) {
      const auto reported = state_.reported.find(b.name);
      if (reported == state_.reported.end()) continue;
      for (const ReportedModel& r : reported->second) {
        if (!parent || r.parent == *parent) names.insert(r.id);
      }
    }
    return names;
  }

  void probe(const std::vector<Backend>& backends) {
    for (const Backend& b : backends) probe_.insert(b.name);
  }

  ClusterRoutes finish() {
    for (const auto& [key, entry] : pools_) {
      PoolConfig pool = options_.pool_defaults;
      pool.name = key;
      pool.endpoints = entry.endpoints;
      pool.tls = entry.tls;
      out_.pools.push_back(std::move(pool));
    }
    for (auto& [name, model] : routed_) out_.models.push_back(std::move(model));
    out_.probe_pools.assign(probe_.begin(), probe_.end());
    out_.routed_pools.assign(routed_pools_.begin(), routed_pools_.end());
    return std::move(out_);
  }

  const ClusterState& state_;
  const TranslateOptions& options_;
  ClusterRoutes out_;
  std::map<std::string, PoolEntry> pools_;
  std::set<std::string> tls_refused_;  // pools skipped for their upstream TLS annotations
  std::vector<d::Grant> grants_;
  std::vector<d::InferenceModel> inference_models_;
  std::vector<d::Route> routes_;
  std::vector<RuleView> rules_;  // accepted rules of our routes, in precedence order
  std::set<std::string> named_pools_;
  std::set<std::string> routed_pools_;  // by our HTTPRoutes (their status names this Gateway)
  std::set<std::string> probe_;
  std::map<std::string, ModelConfig> routed_;
};

}  // namespace

ClusterRoutes translate(const ClusterState& state, const TranslateOptions& options) {
  return Translator(state, options).run();
}

}  // namespace infergate::k8s
