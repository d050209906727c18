// Builds the immutable routing snapshot from a validated config (control thread only).
#include <algorithm>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "infergate/routing.hpp"
#include "routing/metrics_text.hpp"
#include "routing/profile.hpp"
#include "routing/registry.hpp"

namespace infergate {
namespace {

using EndpointIndex = std::unordered_map<std::string, EndpointPtr, StringHash, std::equal_to<>>;

// Every endpoint of `previous`, by address, so a rebuild carries their live counters over.
EndpointIndex index_endpoints(const Snapshot* previous) {
  EndpointIndex index;
  if (!previous) return index;
  for (const auto& pool : previous->pools) {
    for (const auto& endpoint : pool->endpoints) index.emplace(endpoint->name, endpoint);
  }
  return index;
}

// Profiles of `previous` by pool name: a reload that leaves a pool's scheduler config alone keeps
// its profile, and with it the prefix-cache index and round-robin's cursor.
std::unordered_map<std::string, std::shared_ptr<const SchedulerProfile>> index_profiles(
    const Snapshot* previous) {
  std::unordered_map<std::string, std::shared_ptr<const SchedulerProfile>> index;
  if (!previous) return index;
  for (const auto& pool : previous->pools) {
    if (pool->profile) index.emplace(pool->name, pool->profile);
  }
  return index;
}

// Credentials of `previous` by file: a rebuild keeps the key already read.
std::unordered_map<std::string, std::shared_ptr<UpstreamCredential>> index_credentials(
    const Snapshot* previous) {
  std::unordered_map<std::string, std::shared_ptr<UpstreamCredential>> index;
  if (!previous) return index;
  for (const auto& pool : previous->pools) {
    if (pool->credential) index.emplace(pool->credential->file, pool->credential);
  }
  return index;
}

}  // namespace

const ModelRoute* Snapshot::find_model(std::string_view name) const {
  const auto it = models.find(name);
  return it == models.end() ? nullptr : &it->second;
}

SnapshotPtr build_snapshot(const GatewayConfig& config, const Snapshot* previous,
                           const UpstreamTlsFactory& tls) {
  const EndpointIndex old_endpoints = index_endpoints(previous);
  EndpointIndex current;  // one Endpoint per address, even when two pools list it
  auto snapshot = std::make_shared<Snapshot>();
  std::unordered_map<std::string_view, const Pool*> pools_by_name;
  const auto old_profiles = index_profiles(previous);
  auto credentials = index_credentials(previous);

  for (const PoolConfig& pool_config : config.pools) {
    auto pool = std::make_unique<Pool>();
    pool->name = pool_config.name;
    for (const HostPort& address : pool_config.endpoints) {
      const std::string name = address.str();
      EndpointPtr endpoint;
      if (auto it = current.find(name); it != current.end()) {
        endpoint = it->second;
      } else if (auto old = old_endpoints.find(name); old != old_endpoints.end()) {
        endpoint = old->second;
      } else {
        endpoint = std::make_shared<Endpoint>(address);
      }
      current.emplace(name, endpoint);
      pool->endpoints.push_back(std::move(endpoint));
    }
    const SchedulerConfig& scheduler = pool_config.scheduler ? *pool_config.scheduler : config.scheduler;
    if (auto old = old_profiles.find(pool->name);
        old != old_profiles.end() && old->second->source == scheduler) {
      pool->profile = old->second;
    } else {
      pool->profile = build_profile(scheduler);
    }
    pool->metrics = pool_config.metrics;
    // The scraper speaks plain HTTP: a TLS pool is scraped only when its config asks for it.
    if (pool->metrics.flavour == "auto" && pool_config.tls.enabled) pool->metrics.flavour = "none";
    if (auto mapping = mapping_for(pool->metrics)) {
      pool->mapping = std::make_shared<const MetricsMapping>(std::move(*mapping));
    }
    pool->saturation = pool_config.saturation;
    pool->queue = config.queue;
    // With keys on, a client's key is the gateway's business, not the servers'.
    pool->upstream_auth = pool_config.upstream_auth.mode.value_or(
        config.auth.enabled ? UpstreamAuthMode::drop : UpstreamAuthMode::pass);
    if (pool->upstream_auth == UpstreamAuthMode::replace) {
      auto& credential = credentials[pool_config.upstream_auth.key_file];
      if (!credential) credential = std::make_shared<UpstreamCredential>(pool_config.upstream_auth.key_file);
      pool->credential = credential;
    }
    if (pool_config.tls.enabled) {
      if (!tls) throw std::invalid_argument("pool '" + pool->name + "': TLS to its servers needs the proxy");
      pool->tls = tls(pool_config);
      if (!pool->tls) throw std::invalid_argument("pool '" + pool->name + "': no TLS handle");
    }
    pools_by_name.emplace(pool->name, pool.get());
    snapshot->pools.push_back(std::move(pool));
  }

  for (const ModelConfig& model_config : config.models) {
    ModelRoute route;
    route.name = model_config.name;
    route.priority = model_config.priority;
    for (const TargetConfig& target_config : model_config.targets) {
      const auto pool = pools_by_name.find(target_config.pool);
      // The loader refuses unknown pools; a target without one would only ever yield 503.
      if (pool == pools_by_name.end()) continue;
      Target target;
      target.pool = pool->second;
      target.weight = target_config.weight;
      // Naming the requested model again is not a rewrite.
      if (target_config.model != model_config.name) target.served_model = target_config.model;
      route.total_weight += target.weight;
      route.targets.push_back(std::move(target));
    }
    snapshot->model_names.push_back(route.name);
    snapshot->models.emplace(route.name, std::move(route));
  }
  for (const ObjectiveConfig& objective : config.objectives) {
    snapshot->objective_priorities.emplace(objective.name, objective.priority);
  }
  std::sort(snapshot->model_names.begin(), snapshot->model_names.end());
  snapshot->model_names.erase(
      std::unique(snapshot->model_names.begin(), snapshot->model_names.end()),
      snapshot->model_names.end());
  return snapshot;
}

}  // namespace infergate
