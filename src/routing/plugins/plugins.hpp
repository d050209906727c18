// Factories of the built-in plugins, one file each (registered in registry.cpp).
#pragma once

#include <memory>

#include "infergate/config.hpp"
#include "routing/plugin.hpp"

namespace infergate::plugins {

std::unique_ptr<Plugin> make_available_filter(const PluginConfig&);
std::unique_ptr<Plugin> make_queue_scorer(const PluginConfig&);
std::unique_ptr<Plugin> make_kv_cache_scorer(const PluginConfig&);
std::unique_ptr<Plugin> make_lora_affinity_scorer(const PluginConfig&);
std::unique_ptr<Plugin> make_prefix_cache_scorer(const PluginConfig&);
std::unique_ptr<Plugin> make_prefill_load_scorer(const PluginConfig&);
std::unique_ptr<Plugin> make_slo_headroom_scorer(const PluginConfig&);
std::unique_ptr<Plugin> make_max_score_picker(const PluginConfig&);
std::unique_ptr<Plugin> make_round_robin_picker(const PluginConfig&);
std::unique_ptr<Plugin> make_random_picker(const PluginConfig&);
std::unique_ptr<Plugin> make_least_request_picker(const PluginConfig&);
std::unique_ptr<Plugin> make_power_of_two_picker(const PluginConfig&);
std::unique_ptr<Plugin> make_session_affinity_picker(const PluginConfig&);

// Scores each candidate 1 - (load - min) / max(max - min, scale) (lower load is better): a spread
// below `scale` costs in proportion to it, a wider one is normalised by the spread. All equal: 1.
// Shared by the load scorers.
void score_lower_load(std::span<const EndpointView* const> candidates, double EndpointView::*load,
                      double scale, std::span<double> out);

// Orders `n` candidates by `key` ascending (lower is better), random among equal keys, keeping
// `limit`. Shared by the pickers that sort.
void order_by_key(std::span<const double> key, Rng& rng, std::size_t limit,
                  std::vector<std::uint32_t>& order);

}  // namespace infergate::plugins
