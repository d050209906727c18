// route_statuses() and pool_statuses(): Accepted / ResolvedRefs on the HTTPRoutes that name this
// gateway and on the InferencePools they route to, written beside other parents' entries (a merge
// patch replaces the whole parents list, so theirs are copied in unchanged).
#include <algorithm>

#include <fmt/format.h>
#include <simdjson.h>

#include "infergate/errors.hpp"
#include "infergate/k8s/translate.hpp"
#include "k8s/translate_decode.hpp"

namespace infergate::k8s {
namespace {

std::string json_text(std::string_view s) {
  std::string out = "\"";
  append_json_escaped(out, s);
  return out + '"';
}

std::string condition(std::string_view type, bool ok, std::string_view reason, std::string_view message,
                      std::int64_t generation, std::string_view now) {
  return fmt::format(R"({{"type":"{}","status":"{}","reason":{},"message":{},"observedGeneration":{},)"
                     R"("lastTransitionTime":{}}})",
                     type, ok ? "True" : "False", json_text(reason), json_text(message), generation, json_text(now));
}

std::int64_t generation_of(simdjson::dom::element doc) {
  std::int64_t generation = 0;
  if (doc.at_pointer("/metadata/generation").get_int64().get(generation) != simdjson::SUCCESS) return 0;
  return generation;
}

}  // namespace

std::vector<StatusWrite> route_statuses(const ClusterState& state, const std::vector<Problem>& problems,
                                        const TranslateOptions& options, std::string_view controller,
                                        std::string_view now) {
  std::vector<StatusWrite> writes;
  simdjson::dom::parser parser;
  for (const auto& [key, json] : state.http_routes) {
    const auto route = decode::http_route(json, options.gateway_name, options.gateway_namespace);
    if (!route.value || !route.value->ours) continue;
    simdjson::dom::element doc;
    if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) continue;
    const std::int64_t generation = generation_of(doc);
    std::string others;
    simdjson::dom::array parents;
    if (doc.at_pointer("/status/parents").get_array().get(parents) == simdjson::SUCCESS) {
      for (simdjson::dom::element parent : parents) {
        std::string_view name;
        if (parent["controllerName"].get_string().get(name) == simdjson::SUCCESS && name == controller) continue;
        others += simdjson::minify(parent) + ",";
      }
    }
    const std::string object = "HTTPRoute " + route.value->meta.key();
    const Problem* ref_problem = nullptr;
    for (const Problem& p : problems) {
      if (p.object == object && !p.ref_reason.empty()) {
        ref_problem = &p;
        break;
      }
    }
    const auto render = [&](std::string_view time) {
      const std::string accepted = condition("Accepted", true, "Accepted", "", generation, time);
      const std::string resolved =
          ref_problem ? condition("ResolvedRefs", false, ref_problem->ref_reason, ref_problem->reason, generation, time)
                      : condition("ResolvedRefs", true, "ResolvedRefs", "", generation, time);
      return fmt::format(R"({{"status":{{"parents":[{}{{"parentRef":{{"group":"gateway.networking.k8s.io",)"
                         R"("kind":"Gateway","namespace":{},"name":{}}},"controllerName":{},"conditions":[{},{}]}}]}}}})",
                         others, json_text(options.gateway_namespace), json_text(options.gateway_name),
                         json_text(controller), accepted, resolved);
    };
    writes.push_back({route.value->meta.ns, route.value->meta.name, render(now), render("")});
  }
  return writes;
}

std::vector<StatusWrite> pool_statuses(const ClusterState& state, const std::vector<std::string>& routed_pools,
                                       const std::vector<Problem>& problems, const TranslateOptions& options,
                                       std::string_view now) {
  std::vector<StatusWrite> writes;
  simdjson::dom::parser parser;
  const auto is_us = [&](simdjson::dom::element ref) {
    std::string_view group, kind, name, ns;
    return ref["group"].get_string().get(group) == simdjson::SUCCESS && group == "gateway.networking.k8s.io" &&
           ref["kind"].get_string().get(kind) == simdjson::SUCCESS && kind == "Gateway" &&
           ref["name"].get_string().get(name) == simdjson::SUCCESS && name == options.gateway_name &&
           ref["namespace"].get_string().get(ns) == simdjson::SUCCESS && ns == options.gateway_namespace;
  };
  for (const auto& [key, json] : state.pools) {
    simdjson::dom::element doc;
    if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) continue;
    std::string_view ns, name;
    if (doc.at_pointer("/metadata/namespace").get_string().get(ns) != simdjson::SUCCESS ||
        doc.at_pointer("/metadata/name").get_string().get(name) != simdjson::SUCCESS) {
      continue;
    }
    const std::string pool_key = std::string(ns) + "/" + std::string(name);
    const bool routed = std::binary_search(routed_pools.begin(), routed_pools.end(), pool_key);
    std::string others;
    bool listed = false;  // our entry is there now
    simdjson::dom::array parents;
    if (doc.at_pointer("/status/parents").get_array().get(parents) == simdjson::SUCCESS) {
      for (simdjson::dom::element parent : parents) {
        simdjson::dom::element ref;
        if (parent["parentRef"].get(ref) == simdjson::SUCCESS && is_us(ref)) {
          listed = true;
          continue;
        }
        others += simdjson::minify(parent) + ",";
      }
    }
    if (!routed && !listed) continue;
    if (!others.empty()) others.pop_back();
    const std::string object = "InferencePool " + pool_key;
    std::string message;
    for (const Problem& p : problems) {
      if (p.object == object) message = p.reason;
    }
    const std::int64_t generation = generation_of(doc);
    const auto render = [&](std::string_view time) {
      if (!routed) return fmt::format(R"({{"status":{{"parents":[{}]}}}})", others);
      return fmt::format(R"({{"status":{{"parents":[{}{}{{"parentRef":{{"group":"gateway.networking.k8s.io",)"
                         R"("kind":"Gateway","namespace":{},"name":{}}},"conditions":[{},{}]}}]}}}})",
                         others, others.empty() ? "" : ",", json_text(options.gateway_namespace),
                         json_text(options.gateway_name),
                         condition("Accepted", true, "Accepted", message, generation, time),
                         condition("ResolvedRefs", true, "ResolvedRefs", "", generation, time));
    };
    writes.push_back({std::string(ns), std::string(name), render(now), render("")});
  }
  return writes;
}

}  // namespace infergate::k8s
