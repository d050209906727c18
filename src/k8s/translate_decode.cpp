// Cluster objects' JSON -> the fields the routing table needs (simdjson DOM: objects are small,
// and each is read once per rebuild). Field names and defaults follow the API types of the
// Gateway API (v1) and the Inference Extension (v1, v1alpha2, v1alpha1); docs/kubernetes.md.
#include "k8s/translate_decode.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <simdjson.h>

namespace infergate::k8s::decode {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::string_view kModelHeader = "x-gateway-model-name";
constexpr std::string_view kBaseModelHeader = "x-gateway-base-model-name";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

std::optional<element> field(element e, std::string_view key) {
  element out;
  if (e[key].get(out) != simdjson::SUCCESS || out.is_null()) return std::nullopt;
  return out;
}

std::optional<element> path(element e, std::string_view pointer) {
  element out;
  if (e.at_pointer(pointer).get(out) != simdjson::SUCCESS || out.is_null()) return std::nullopt;
  return out;
}

std::string text(element e, std::string_view key) {
  std::string_view s;
  if (e[key].get_string().get(s) != simdjson::SUCCESS) return {};
  return std::string(s);
}

std::optional<std::int64_t> integer(element e, std::string_view key) {
  std::int64_t v = 0;
  if (e[key].get_int64().get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

// The elements of the array at `key`; none when absent or not an array (a default-constructed
// dom::array must not be used: it has no tape).
std::vector<element> items(element e, std::string_view key) {
  array a;
  if (e[key].get_array().get(a) != simdjson::SUCCESS) return {};
  return {a.begin(), a.end()};
}

// One parser per thread, reused: a fresh parser allocates its buffers for every object (a rebuild
// decodes every object of the cluster). Each decode copies what it needs before the next parse.
simdjson::dom::parser& reused_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Parses `json` and reads metadata; false (and `problem`) when either fails.
bool open(simdjson::dom::parser& parser, std::string_view json, element& doc, Meta& meta,
          std::string& problem) {
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    problem = "not a JSON object";
    return false;
  }
  const auto metadata = field(doc, "metadata");
  if (metadata) {
    meta.ns = text(*metadata, "namespace");
    meta.name = text(*metadata, "name");
    meta.created = text(*metadata, "creationTimestamp");
  }
  if (meta.name.empty() || meta.ns.empty()) {
    problem = "no metadata.name or metadata.namespace";
    return false;
  }
  return true;
}

// A string -> string map (label selector); false when a value is not a string.
bool string_map(element e, std::map<std::string, std::string>& out, std::string& problem) {
  object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) {
    problem = "selector is not a map of labels";
    return false;
  }
  for (auto [key, value] : o) {
    std::string_view v;
    if (value.get_string().get(v) != simdjson::SUCCESS) {
      problem = fmt::format("selector label '{}' is not a string", key);
      return false;
    }
    out.emplace(std::string(key), std::string(v));
  }
  return true;
}

std::string port_problem(element e) {
  return fmt::format("bad target port {} (must be a number from 1 to 65535)", simdjson::minify(e));
}

bool add_port(element e, Pool& out, std::string& problem) {
  std::int64_t n = 0;
  if (e.get_int64().get(n) != simdjson::SUCCESS || n < 1 || n > 65535) {
    problem = port_problem(e);
    return false;
  }
  const auto port = static_cast<std::uint16_t>(n);
  if (std::find(out.ports.begin(), out.ports.end(), port) == out.ports.end()) out.ports.push_back(port);
  return true;
}

// RFC 3339 condition: {type: Ready, status: "True"}.
bool condition_true(element status, std::string_view type) {
  for (element c : items(status, "conditions")) {
    if (text(c, "type") == type) return text(c, "status") == "True";
  }
  return false;
}

// A path match covers infergate's routed paths when it can match some path under /v1/
// (infergate routes every /v1/ POST by its body's model; it does not route by path).
std::optional<std::string> path_problem(element match) {
  const auto p = field(match, "path");
  if (!p) return std::nullopt;
  std::string type = text(*p, "type");
  std::string value = text(*p, "value");
  if (type.empty()) type = "PathPrefix";
  if (value.empty()) value = "/";
  if (type == "PathPrefix") {
    const bool covers = value == "/" || value == "/v1" || value == "/v1/" || value.starts_with("/v1/");
    if (covers) return std::nullopt;
  } else if (type == "Exact") {
    if (value.starts_with("/v1/")) return std::nullopt;
  } else {
    return fmt::format("path match type {} is not supported", type);
  }
  return fmt::format("path {} '{}' matches no /v1/ API path", type, value);
}

Match decode_match(element m) {
  if (auto problem = path_problem(m)) return Unsupported{*problem};
  if (!items(m, "queryParams").empty()) {
    return Unsupported{"query parameter matches cannot be evaluated (infergate routes by model)"};
  }
  std::optional<std::string> model, base;
  for (element h : items(m, "headers")) {
    const std::string name = text(h, "name");
    std::string type = text(h, "type");
    if (type.empty()) type = "Exact";
    const bool is_model = iequals(name, kModelHeader);
    const bool is_base = iequals(name, kBaseModelHeader);
    if (!is_model && !is_base) {
      return Unsupported{fmt::format("header match on '{}' cannot be evaluated (infergate routes "
                                     "by model)", name)};
    }
    if (type != "Exact") return Unsupported{fmt::format("{} match on {} is not supported", type, name)};
    std::optional<std::string>& slot = is_model ? model : base;
    const std::string value = text(h, "value");
    if (slot && *slot != value) return Unsupported{fmt::format("two different values for {}", name)};
    slot = value;
  }
  // Both headers: the requested name is the model header's (the base one is implied by it).
  if (model) return ModelMatch{*model};
  if (base) return BaseModelMatch{*base};
  return AnyModel{};
}

bool names_gateway(element parent, const Meta& route, std::string_view name, std::string_view ns) {
  const std::string group = text(parent, "group");
  const std::string kind = text(parent, "kind");
  std::string parent_ns = text(parent, "namespace");
  if (parent_ns.empty()) parent_ns = route.ns;
  return (group.empty() || group == kGatewayGroup) && (kind.empty() || kind == "Gateway") &&
         text(parent, "name") == name && parent_ns == ns;
}

int criticality_priority(std::string_view c, bool& known) {
  known = true;
  if (c.empty() || c == "Standard" || c == "Default") return 0;
  if (c == "Critical") return 1;
  if (c == "Sheddable") return -1;
  known = false;
  return 0;
}

// poolRef {group?, kind?, name}: an InferencePool in the referrer's namespace.
std::string pool_ref(element spec, std::string& problem) {
  const auto ref = field(spec, "poolRef");
  if (!ref || text(*ref, "name").empty()) {
    problem = "no spec.poolRef.name";
    return {};
  }
  const std::string group = text(*ref, "group");
  const std::string kind = text(*ref, "kind");
  if (!(group.empty() || group == kInferenceGroup || group == kLegacyInferenceGroup) ||
      !(kind.empty() || kind == "InferencePool")) {
    problem = fmt::format("poolRef to {} {} is not an InferencePool", group, kind);
    return {};
  }
  return text(*ref, "name");
}

std::optional<bool> boolean(std::string_view value) {
  if (value == "true") return true;
  if (value == "false") return false;
  return std::nullopt;
}

// metadata.annotations infergate.io/upstream-tls*; false (and `problem`) on a value that is not
// "true"/"false" where one is expected, or an annotation of the family infergate does not know
// (a typo must not leave a pool in clear text).
bool upstream_tls(element doc, PoolTls& out, std::string& problem) {
  const auto annotations = path(doc, "/metadata/annotations");
  object o;
  if (!annotations || annotations->get_object().get(o) != simdjson::SUCCESS) return true;
  for (auto [key, value] : o) {
    if (!key.starts_with(kUpstreamTlsAnnotation)) continue;
    std::string_view v;
    if (value.get_string().get(v) != simdjson::SUCCESS) {
      problem = fmt::format("annotation {} is not a string", key);
      return false;
    }
    const std::string_view suffix = key.substr(kUpstreamTlsAnnotation.size());
    std::optional<bool>* flag = suffix.empty() ? &out.enabled : suffix == "-verify" ? &out.verify : nullptr;
    std::optional<std::string>* text_field = suffix == "-server-name" ? &out.server_name
                                             : suffix == "-ca-file"   ? &out.ca_file
                                             : suffix == "-cert-file" ? &out.cert_file
                                             : suffix == "-key-file"  ? &out.key_file
                                                                      : nullptr;
    if (flag) {
      *flag = boolean(v);
      if (!*flag) {
        problem = fmt::format("annotation {}: expected \"true\" or \"false\", got '{}'", key, v);
        return false;
      }
    } else if (text_field) {
      *text_field = std::string(v);
    } else {
      problem = fmt::format("unknown annotation {} (known: {}, {}-server-name, {}-ca-file, "
                            "{}-cert-file, {}-key-file, {}-verify)", key, kUpstreamTlsAnnotation,
                            kUpstreamTlsAnnotation, kUpstreamTlsAnnotation, kUpstreamTlsAnnotation,
                            kUpstreamTlsAnnotation, kUpstreamTlsAnnotation);
      return false;
    }
  }
  return true;
}

}  // namespace

Decoded<Pool> pool(std::string_view json, bool legacy) {
  simdjson::dom::parser& parser = reused_parser();
  element doc;
  Decoded<Pool> out;
  Pool p;
  if (!open(parser, json, doc, p.meta, out.problem)) return out;
  upstream_tls(doc, p.tls, p.tls.problem);
  const auto spec = field(doc, "spec");
  const auto selector = spec ? path(*spec, legacy ? "/selector" : "/selector/matchLabels") : std::nullopt;
  if (!selector) {
    out.problem = "no selector";
    return out;
  }
  if (!string_map(*selector, p.selector, out.problem)) return out;
  if (p.selector.empty()) {
    out.problem = "no selector";
    return out;
  }
  if (legacy) {
    const auto port = field(*spec, "targetPortNumber");
    if (!port) {
      out.problem = "no targetPortNumber";
      return out;
    }
    if (!add_port(*port, p, out.problem)) return out;
  } else {
    for (element port : items(*spec, "targetPorts")) {
      const auto number = field(port, "number");
      if (!number) {
        out.problem = "a target port has no number";
        return out;
      }
      if (!add_port(*number, p, out.problem)) return out;
      const std::string protocol = text(port, "appProtocol");
      if (!protocol.empty() && protocol != "http") {
        out.problem = fmt::format("appProtocol '{}' is not supported (infergate speaks HTTP/1.1 to "
                                  "model servers)", protocol);
        return out;
      }
    }
    if (p.ports.empty()) {
      out.problem = "no targetPorts";
      return out;
    }
    const std::string protocol = text(*spec, "appProtocol");
    if (!protocol.empty() && protocol != "http") {
      out.problem = fmt::format("appProtocol '{}' is not supported (infergate speaks HTTP/1.1 to "
                                "model servers)", protocol);
      return out;
    }
  }
  out.value = std::move(p);
  return out;
}

const std::vector<std::string> kPodFieldsRead = {
    "/metadata/namespace", "/metadata/name",   "/metadata/creationTimestamp", "/metadata/labels",
    "/metadata/deletionTimestamp", "/status/podIP", "/status/conditions"};

Decoded<Pod> pod(std::string_view json) {
  simdjson::dom::parser& parser = reused_parser();
  element doc;
  Decoded<Pod> out;
  Pod p;
  if (!open(parser, json, doc, p.meta, out.problem)) return out;
  if (const auto labels = path(doc, "/metadata/labels")) {
    std::string ignored;
    if (!string_map(*labels, p.labels, ignored)) p.labels.clear();
  }
  const bool deleting = path(doc, "/metadata/deletionTimestamp").has_value();
  if (const auto status = field(doc, "status")) {
    p.ip = text(*status, "podIP");
    p.ready = !deleting && condition_true(*status, "Ready");
  }
  out.value = std::move(p);
  return out;
}

Decoded<Route> http_route(std::string_view json, std::string_view gateway_name,
                          std::string_view gateway_namespace) {
  simdjson::dom::parser& parser = reused_parser();
  element doc;
  Decoded<Route> out;
  Route r;
  if (!open(parser, json, doc, r.meta, out.problem)) return out;
  const auto spec = field(doc, "spec");
  if (!spec) {
    out.problem = "no spec";
    return out;
  }
  for (element parent : items(*spec, "parentRefs")) {
    if (names_gateway(parent, r.meta, gateway_name, gateway_namespace)) r.ours = true;
  }
  for (element rule_json : items(*spec, "rules")) {
    Rule rule;
    for (element m : items(rule_json, "matches")) rule.matches.push_back(decode_match(m));
    if (rule.matches.empty()) rule.matches.push_back(AnyModel{});  // the API's default: PathPrefix /
    for (element b : items(rule_json, "backendRefs")) {
      BackendRef ref;
      ref.group = text(b, "group");
      ref.kind = text(b, "kind");
      if (ref.kind.empty()) ref.kind = "Service";
      ref.ns = text(b, "namespace");
      if (ref.ns.empty()) ref.ns = r.meta.ns;
      ref.name = text(b, "name");
      ref.weight = integer(b, "weight").value_or(1);
      rule.backends.push_back(std::move(ref));
    }
    r.rules.push_back(std::move(rule));
  }
  out.value = std::move(r);
  return out;
}

Decoded<Grant> reference_grant(std::string_view json) {
  simdjson::dom::parser& parser = reused_parser();
  element doc;
  Decoded<Grant> out;
  Grant g;
  if (!open(parser, json, doc, g.meta, out.problem)) return out;
  if (const auto spec = field(doc, "spec")) {
    for (element f : items(*spec, "from")) {
      g.from.push_back({text(f, "group"), text(f, "kind"), text(f, "namespace")});
    }
    for (element t : items(*spec, "to")) g.to.push_back({text(t, "group"), text(t, "kind"), text(t, "name")});
  }
  out.value = std::move(g);
  return out;
}

Decoded<InferenceModel> inference_model(std::string_view json) {
  simdjson::dom::parser& parser = reused_parser();
  element doc;
  Decoded<InferenceModel> out;
  InferenceModel m;
  if (!open(parser, json, doc, m.meta, out.problem)) return out;
  const auto spec = field(doc, "spec");
  if (!spec || text(*spec, "modelName").empty()) {
    out.problem = "no spec.modelName";
    return out;
  }
  m.model_name = text(*spec, "modelName");
  bool known = true;
  const std::string criticality = text(*spec, "criticality");
  m.priority = criticality_priority(criticality, known);
  if (!known) {
    out.problem = fmt::format("unknown criticality '{}'", criticality);
    return out;
  }
  m.pool = pool_ref(*spec, out.problem);
  if (m.pool.empty()) return out;
  std::size_t listed = 0, weighted = 0;
  for (element t : items(*spec, "targetModels")) {
    ++listed;
    TargetModel target{text(t, "name"), 1};
    if (target.name.empty()) {
      out.problem = "a targetModel has no name";
      return out;
    }
    if (const auto w = field(t, "weight")) {
      ++weighted;
      if (w->get_int64().get(target.weight) != simdjson::SUCCESS || target.weight < 0 ||
          target.weight > 1'000'000) {
        out.problem = fmt::format("targetModel '{}': weight must be from 0 to 1000000", target.name);
        return out;
      }
    }
    if (target.weight > 0) m.targets.push_back(std::move(target));
  }
  if (weighted != 0 && weighted != listed) {
    out.problem = "weights must be set for all targetModels or for none";
    return out;
  }
  if (listed > 0 && m.targets.empty()) {
    out.problem = "all targetModels weights are 0";
    return out;
  }
  out.value = std::move(m);
  return out;
}

Decoded<Objective> inference_objective(std::string_view json) {
  simdjson::dom::parser& parser = reused_parser();
  element doc;
  Decoded<Objective> out;
  Objective o;
  if (!open(parser, json, doc, o.meta, out.problem)) return out;
  const auto spec = field(doc, "spec");
  if (!spec) {
    out.problem = "no spec";
    return out;
  }
  if (const auto priority = field(*spec, "priority")) {
    std::int64_t v = 0;
    if (priority->get_int64().get(v) != simdjson::SUCCESS || v < -1000 || v > 1000) {
      out.problem = fmt::format("priority {} is not an integer from -1000 to 1000",
                                simdjson::minify(*priority));
      return out;
    }
    o.priority = static_cast<int>(v);
  } else {  // the earliest InferenceObjective form carried a criticality instead
    bool known = true;
    const std::string criticality = text(*spec, "criticality");
    o.priority = criticality_priority(criticality, known);
    if (!known) {
      out.problem = fmt::format("unknown criticality '{}'", criticality);
      return out;
    }
  }
  o.pool = pool_ref(*spec, out.problem);
  if (o.pool.empty()) return out;
  out.value = std::move(o);
  return out;
}

}  // namespace infergate::k8s::decode
