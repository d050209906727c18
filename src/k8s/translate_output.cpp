// What the translator's result becomes: merged with the config file's table, rendered for
// /debug/routes; and the /v1/models answers that feed it back.
#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <simdjson.h>

#include "infergate/errors.hpp"
#include "infergate/k8s/translate.hpp"

namespace infergate::k8s {
namespace {

template <typename T>
std::set<std::string, std::less<>> names_of(const std::vector<T>& items) {
  std::set<std::string, std::less<>> names;
  for (const auto& item : items) names.insert(item.name);
  return names;
}

void quoted(std::string& out, std::string_view s) {
  out += '"';
  append_json_escaped(out, s);
  out += '"';
}

template <typename T>
std::vector<const T*> sorted_by_name(const std::vector<T>& items) {
  std::vector<const T*> order;
  for (const auto& item : items) order.push_back(&item);
  std::stable_sort(order.begin(), order.end(), [](const T* a, const T* b) { return a->name < b->name; });
  return order;
}

}  // namespace

GatewayConfig merge_routes(const GatewayConfig& file, const ClusterRoutes& cluster,
                           std::vector<Problem>& problems) {
  GatewayConfig table = file;
  const auto file_pools = names_of(file.pools);
  const auto file_models = names_of(file.models);
  const auto file_objectives = names_of(file.objectives);
  std::set<std::string, std::less<>> refused_pools;
  for (const PoolConfig& pool : cluster.pools) {
    if (file_pools.contains(pool.name)) {
      problems.push_back({"InferencePool " + pool.name, "the config file defines a pool of this name; the file wins", {}});
      refused_pools.insert(pool.name);
      continue;
    }
    table.pools.push_back(pool);
  }
  for (const ModelConfig& model : cluster.models) {
    if (file_models.contains(model.name)) {
      problems.push_back({"model " + model.name, "the config file routes this model; the file wins", {}});
      continue;
    }
    ModelConfig kept = model;
    std::erase_if(kept.targets, [&](const TargetConfig& t) { return refused_pools.contains(t.pool); });
    if (!kept.targets.empty()) table.models.push_back(std::move(kept));
  }
  for (const ObjectiveConfig& objective : cluster.objectives) {
    if (file_objectives.contains(objective.name)) {
      problems.push_back({"InferenceObjective " + objective.name,
                          "the config file defines an objective of this name; the file wins", {}});
      continue;
    }
    table.objectives.push_back(objective);
  }
  return table;
}

std::string routes_debug_json(const GatewayConfig& table, const GatewayConfig& file,
                              const std::vector<Problem>& problems) {
  const auto file_pools = names_of(file.pools);
  const auto file_models = names_of(file.models);
  const auto file_objectives = names_of(file.objectives);
  const auto source = [](bool from_file) { return from_file ? "file" : "cluster"; };
  std::string out = R"({"models":[)";
  bool first = true;
  for (const ModelConfig* model : sorted_by_name(table.models)) {
    if (!first) out += ',';
    first = false;
    out += R"({"name":)";
    quoted(out, model->name);
    fmt::format_to(std::back_inserter(out), R"(,"priority":{},"source":"{}","targets":[)", model->priority,
                   source(file_models.contains(model->name)));
    std::vector<const TargetConfig*> targets;
    for (const auto& t : model->targets) targets.push_back(&t);
    std::stable_sort(targets.begin(), targets.end(), [](auto* a, auto* b) {
      return std::tie(a->pool, a->model, a->weight) < std::tie(b->pool, b->model, b->weight);
    });
    for (std::size_t i = 0; i < targets.size(); ++i) {
      out += i ? R"(,{"pool":)" : R"({"pool":)";
      quoted(out, targets[i]->pool);
      out += R"(,"model":)";
      quoted(out, targets[i]->model.empty() ? model->name : targets[i]->model);
      fmt::format_to(std::back_inserter(out), R"(,"weight":{}}})", targets[i]->weight);
    }
    out += "]}";
  }
  out += R"(],"pools":[)";
  first = true;
  for (const PoolConfig* pool : sorted_by_name(table.pools)) {
    if (!first) out += ',';
    first = false;
    out += R"({"name":)";
    quoted(out, pool->name);
    fmt::format_to(std::back_inserter(out), R"(,"source":"{}","endpoints":[)",
                   source(file_pools.contains(pool->name)));
    std::vector<std::string> endpoints;
    for (const auto& e : pool->endpoints) endpoints.push_back(e.str());
    std::sort(endpoints.begin(), endpoints.end());
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
      if (i) out += ',';
      quoted(out, endpoints[i]);
    }
    out += "]}";
  }
  out += R"(],"objectives":[)";
  first = true;
  for (const ObjectiveConfig* objective : sorted_by_name(table.objectives)) {
    if (!first) out += ',';
    first = false;
    out += R"({"name":)";
    quoted(out, objective->name);
    fmt::format_to(std::back_inserter(out), R"(,"priority":{},"source":"{}"}})", objective->priority,
                   source(file_objectives.contains(objective->name)));
  }
  out += R"(],"problems":[)";
  for (std::size_t i = 0; i < problems.size(); ++i) {
    out += i ? R"(,{"object":)" : R"({"object":)";
    quoted(out, problems[i].object);
    out += R"(,"reason":)";
    quoted(out, problems[i].reason);
    out += '}';
  }
  out += "]}";
  return out;
}

std::vector<ReportedModel> parse_models_list(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array data;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc["data"].get_array().get(data) != simdjson::SUCCESS) {
    return {};
  }
  std::vector<ReportedModel> models;
  for (simdjson::dom::element entry : data) {
    std::string_view id, parent;
    if (entry["id"].get_string().get(id) != simdjson::SUCCESS || id.empty()) continue;
    if (entry["parent"].get_string().get(parent) != simdjson::SUCCESS) parent = {};
    models.push_back({std::string(id), std::string(parent)});
  }
  std::sort(models.begin(), models.end(), [](const ReportedModel& a, const ReportedModel& b) {
    return a.id < b.id;
  });
  return models;
}

}  // namespace infergate::k8s
