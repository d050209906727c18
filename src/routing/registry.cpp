// Every built-in plugin, by type name, with its parameters; profiles from config.
#include "routing/registry.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "routing/plugins/plugins.hpp"

namespace infergate {
namespace {

using Unit = ParamSpec::Unit;
using Kind = PluginKind;

const std::vector<PluginInfo>& registry() {
  static const std::vector<PluginInfo> plugins = {
      {"available-filter", Kind::filter, {}, plugins::make_available_filter},
      {"queue-scorer", Kind::scorer, {{"scale", Unit::number, 0, 1e6, 4}}, plugins::make_queue_scorer},
      {"kv-cache-scorer", Kind::scorer, {}, plugins::make_kv_cache_scorer},
      {"lora-affinity-scorer", Kind::scorer, {}, plugins::make_lora_affinity_scorer},
      {"prefix-cache-scorer", Kind::scorer,
       {{"block_size", Unit::integer, 1, 1 << 20, 64},
        {"max_blocks", Unit::integer, 1, 1 << 16, 256},
        {"index_bytes", Unit::bytes, 4096, 64.0 * (1 << 30), 16 << 20},
        {"hot_spot_queue", Unit::number, 0, 1e9, 0}},
       plugins::make_prefix_cache_scorer},
      {"prefill-load-scorer", Kind::scorer, {{"scale", Unit::number, 0, 1e9, 1024}},
       plugins::make_prefill_load_scorer},
      {"slo-headroom-scorer", Kind::scorer,
       {{"ttft_ms", Unit::number, 0, 1e7, 0},
        {"tpot_ms", Unit::number, 0, 1e7, 0},
        {"min_samples", Unit::integer, 1, 1e6, 20}},
       plugins::make_slo_headroom_scorer},
      {"max-score-picker", Kind::picker, {}, plugins::make_max_score_picker},
      {"round-robin", Kind::picker, {}, plugins::make_round_robin_picker},
      {"random", Kind::picker, {}, plugins::make_random_picker},
      {"least-request", Kind::picker, {}, plugins::make_least_request_picker},
      {"power-of-two-choices", Kind::picker, {}, plugins::make_power_of_two_picker},
      {"session-affinity", Kind::picker, {{"load_factor", Unit::number, 1, 100, 1.25}},
       plugins::make_session_affinity_picker},
  };
  return plugins;
}

}  // namespace

std::span<const PluginInfo> all_plugins() { return registry(); }

const PluginInfo* find_plugin(std::string_view type) {
  for (const PluginInfo& info : registry()) {
    if (info.type == type) return &info;
  }
  return nullptr;
}

double plugin_param(const PluginConfig& config, std::string_view name) {
  if (auto it = config.parameters.find(name); it != config.parameters.end()) return it->second;
  if (const PluginInfo* info = find_plugin(config.type)) {
    for (const ParamSpec& spec : info->params) {
      if (spec.name == name) return spec.fallback;
    }
  }
  return 0;
}

SchedulerConfig default_scheduler_config() {
  SchedulerConfig config;
  // prefill-load 1: measured in bench/routing/prefill-load.md (2 and more lost to the queue
  // scorer's free batch slot; 0.5 helped less).
  config.plugins = {{"available-filter", 1, {}},     {"queue-scorer", 2, {}},
                    {"kv-cache-scorer", 2, {}},      {"prefix-cache-scorer", 3, {}},
                    {"lora-affinity-scorer", 1, {}}, {"prefill-load-scorer", 1, {}},
                    {"max-score-picker", 1, {}}};
  return config;
}

std::shared_ptr<const SchedulerProfile> build_profile(const SchedulerConfig& config) {
  const SchedulerConfig& used = config.plugins.empty() ? default_scheduler_config() : config;
  auto profile = std::make_shared<SchedulerProfile>();
  profile->source = config;
  for (const PluginConfig& plugin : used.plugins) {
    const PluginInfo* info = find_plugin(plugin.type);
    if (!info) throw std::invalid_argument(fmt::format("unknown plugin type '{}'", plugin.type));
    std::unique_ptr<Plugin> made = info->make(plugin);
    switch (info->kind) {
      case Kind::filter:
        profile->filters.emplace_back(static_cast<Filter*>(made.release()));
        break;
      case Kind::scorer:
        profile->scorers.push_back({std::unique_ptr<Scorer>(static_cast<Scorer*>(made.release())),
                                    plugin.weight});
        break;
      case Kind::picker:
        if (profile->picker) throw std::invalid_argument("a profile has one picker");
        profile->picker.reset(static_cast<Picker*>(made.release()));
        break;
    }
  }
  if (!profile->picker) {
    profile->picker.reset(static_cast<Picker*>(plugins::make_max_score_picker({}).release()));
  }
  return profile;
}

}  // namespace infergate
