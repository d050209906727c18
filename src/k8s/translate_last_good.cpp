// keep_last_good(): a malformed edit of an object keeps the object's previous version in use.
#include <fmt/format.h>

#include "infergate/k8s/translate.hpp"
#include "k8s/translate_decode.hpp"

namespace infergate::k8s {
namespace {

// Replaces each malformed object of `now` that has a well-formed version in `last_good`;
// `last_good` becomes the well-formed objects of `now` (including the versions kept).
template <typename Decode>
void keep(std::string_view kind, ObjectSet& now, ObjectSet& last_good, std::vector<Problem>& problems,
          Decode&& decode) {
  ObjectSet good;
  for (auto& [key, json] : now) {
    auto decoded = decode(json);
    if (decoded.value) {
      good.emplace(key, json);
      continue;
    }
    const auto previous = last_good.find(key);
    if (previous == last_good.end()) continue;
    problems.push_back({fmt::format("{} {}", kind, key),
                        fmt::format("{}; its last good version stays in use", decoded.problem), {}});
    json = previous->second;
    good.emplace(key, json);
  }
  last_good = std::move(good);
}

}  // namespace

std::vector<Problem> keep_last_good(ClusterState& now, ClusterState& last_good,
                                    const TranslateOptions& options) {
  std::vector<Problem> problems;
  keep("InferencePool", now.pools, last_good.pools, problems,
       [](const std::string& j) { return decode::pool(j, false); });
  keep("InferencePool", now.legacy_pools, last_good.legacy_pools, problems,
       [](const std::string& j) { return decode::pool(j, true); });
  keep("HTTPRoute", now.http_routes, last_good.http_routes, problems, [&](const std::string& j) {
    return decode::http_route(j, options.gateway_name, options.gateway_namespace);
  });
  keep("ReferenceGrant", now.reference_grants, last_good.reference_grants, problems,
       [](const std::string& j) { return decode::reference_grant(j); });
  keep("InferenceModel", now.inference_models, last_good.inference_models, problems,
       [](const std::string& j) { return decode::inference_model(j); });
  keep("InferenceObjective", now.inference_objectives, last_good.inference_objectives, problems,
       [](const std::string& j) { return decode::inference_objective(j); });
  return problems;
}

}  // namespace infergate::k8s
