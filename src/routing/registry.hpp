// Plugins by kebab-case type name, their parameters, and profiles built from SchedulerConfig.
#pragma once

#include <memory>
#include <span>
#include <stdexcept>
#include <string_view>

#include "infergate/config.hpp"
#include "routing/profile.hpp"

namespace infergate {

enum class PluginKind { filter, scorer, picker };

// A numeric parameter of a plugin, as written in YAML.
struct ParamSpec {
  enum class Unit { number, integer, bytes, millis };
  std::string_view name;
  Unit unit = Unit::number;
  double min = 0;
  double max = 1e18;
  double fallback = 0;  // when not given
};

struct PluginInfo {
  std::string_view type;
  PluginKind kind;
  std::vector<ParamSpec> params;
  std::unique_ptr<Plugin> (*make)(const PluginConfig&);
};

std::span<const PluginInfo> all_plugins();
const PluginInfo* find_plugin(std::string_view type);

// The value of parameter `name` in `config`, or the spec's fallback.
double plugin_param(const PluginConfig& config, std::string_view name);

// queue-scorer 2, kv-cache-scorer 2, prefix-cache-scorer 3, lora-affinity-scorer 1,
// max-score-picker, after available-filter.
SchedulerConfig default_scheduler_config();

// Builds a profile. Throws std::invalid_argument on what the config loader refuses anyway
// (unknown type, two pickers); no picker given: max-score-picker.
std::shared_ptr<const SchedulerProfile> build_profile(const SchedulerConfig& config);

}  // namespace infergate
