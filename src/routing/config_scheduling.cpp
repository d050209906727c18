// The scheduling sections of the config: scheduler profiles (plugins, weights, parameters),
// metrics flavours and mappings, saturation thresholds, priorities, objectives, the wait queue.
// Same habits as config_loader.cpp: every problem collected with its location.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "routing/config_loader.hpp"
#include "routing/config_values.hpp"
#include "routing/metrics_text.hpp"
#include "routing/registry.hpp"

namespace infergate::config_detail {
namespace {

std::string_view kind_name(PluginKind kind) {
  switch (kind) {
    case PluginKind::filter: return "filter";
    case PluginKind::scorer: return "scorer";
    case PluginKind::picker: return "picker";
  }
  return "plugin";
}

std::string unknown_plugin_message(const std::string& type) {
  std::string message = fmt::format("unknown plugin type '{}'", type);
  std::string_view best;
  std::size_t best_distance = 4;
  for (const PluginInfo& info : all_plugins()) {
    const std::size_t d = edit_distance(type, info.type);
    if (d < best_distance) best_distance = d, best = info.type;
  }
  if (!best.empty()) return fmt::format("{} (did you mean '{}'?)", message, best);
  message += " (known:";
  for (const PluginInfo& info : all_plugins()) fmt::format_to(std::back_inserter(message), " {}", info.type);
  return message + ")";
}

}  // namespace

void Loader::set_number(const YAML::Node& node, const std::string& path, double& out, double min,
                        double max) {
  const auto s = text(node, path);
  if (!s) return;
  double value = 0;
  const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), value);
  if (ec != std::errc{} || end != s->data() + s->size() || !std::isfinite(value) || value < min ||
      value > max) {
    issue(node, path, fmt::format("expected a number from {} to {}, got '{}'", min, max, *s));
    return;
  }
  out = value;
}

// Critical, Standard, Sheddable (any case), or an integer; below 0 is sheddable.
void Loader::set_priority(const YAML::Node& node, const std::string& path, int& out) {
  const auto s = text(node, path);
  if (!s) return;
  std::string lower = *s;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "critical") { out = priority::critical; return; }
  if (lower == "standard") { out = priority::standard; return; }
  if (lower == "sheddable") { out = priority::sheddable; return; }
  int value = 0;
  const char* begin = s->data();
  const auto [end, ec] = std::from_chars(begin, begin + s->size(), value);
  if (ec != std::errc{} || end != begin + s->size() || value < -1000 || value > 1000) {
    issue(node, path, fmt::format("expected Critical, Standard, Sheddable or an integer from -1000 "
                                  "to 1000 (below 0 is sheddable), got '{}'", *s));
    return;
  }
  out = value;
}

void Loader::scheduler(const YAML::Node& node, const std::string& path, SchedulerConfig& out) {
  Where plugins_at = where(node, child(path, "plugins"));
  fields(node, path, {{"plugins", true, [&](const YAML::Node& n, const std::string& p) {
                         plugins_at = where(n, p);
                         sequence(n, p, [&](const YAML::Node& e, const std::string& ep) { plugin(e, ep, out); });
                       }}});
  std::size_t pickers = 0;
  for (const PluginConfig& plugin : out.plugins) {
    const PluginInfo* info = find_plugin(plugin.type);
    pickers += info && info->kind == PluginKind::picker ? 1 : 0;
  }
  if (pickers > 1) issue(plugins_at, "a profile has at most one picker (without one: max-score-picker)");
  if (node.IsMap() && node["plugins"] && node["plugins"].IsSequence() && node["plugins"].size() == 0) {
    issue(plugins_at, "a profile needs at least one plugin (leave 'scheduler' out for the default)");
  }
}

void Loader::plugin(const YAML::Node& node, const std::string& path, SchedulerConfig& out) {
  PluginConfig plugin;
  const PluginInfo* info = nullptr;
  Where weight_at;
  bool has_weight = false;
  // The type first: parameters are checked against it.
  if (node.IsMap() && node["type"] && node["type"].IsScalar()) {
    plugin.type = node["type"].Scalar();
    info = find_plugin(plugin.type);
  }
  fields(node, path,
         {{"type", true,
           [&](const YAML::Node& n, const std::string& p) {
             if (!text(n, p)) return;
             if (!info) issue(n, p, unknown_plugin_message(plugin.type));
           }},
          {"weight", false,
           [&](const YAML::Node& n, const std::string& p) {
             has_weight = true;
             weight_at = where(n, p);
             set_number(n, p, plugin.weight, 0, 1e6);
           }},
          {"parameters", false, [&](const YAML::Node& n, const std::string& p) {
             if (!info) return;
             std::vector<FieldSpec> specs;
             for (const ParamSpec& spec : info->params) {
               specs.push_back({spec.name, false, [&, spec](const YAML::Node& v, const std::string& vp) {
                 double value = spec.fallback;
                 const auto before = issues_.size();
                 if (spec.unit == ParamSpec::Unit::bytes) {
                   std::size_t bytes = 0;
                   set_size(v, vp, bytes, static_cast<std::size_t>(spec.min), static_cast<std::size_t>(spec.max));
                   value = static_cast<double>(bytes);
                 } else if (spec.unit == ParamSpec::Unit::millis) {
                   Millis ms{0};
                   set_duration(v, vp, ms, spec.min == 0);
                   value = static_cast<double>(ms.count());
                 } else {
                   set_number(v, vp, value, spec.min, spec.max);
                   if (spec.unit == ParamSpec::Unit::integer && value != std::floor(value)) {
                     issue(v, vp, "expected a whole number");
                   }
                 }
                 if (issues_.size() == before) plugin.parameters[std::string(spec.name)] = value;
               }});
             }
             if (specs.empty()) {
               issue(n, p, fmt::format("plugin '{}' takes no parameters", plugin.type));
               return;
             }
             fields(n, p, specs);
           }}});
  if (info && has_weight && info->kind != PluginKind::scorer) {
    issue(weight_at, fmt::format("'{}' is a {}: only scorers take a weight", plugin.type,
                                 kind_name(info->kind)));
  }
  out.plugins.push_back(std::move(plugin));
}

void Loader::metrics(const YAML::Node& node, const std::string& path, MetricsConfig& out) {
  Where flavour_at = where(node, child(path, "flavour"));
  const auto selectors = [&](std::vector<std::string>& list) {
    return [&](const YAML::Node& n, const std::string& p) {
      const auto one = [&](const YAML::Node& e, const std::string& ep) {
        const auto s = text(e, ep);
        if (!s) return;
        if (!parse_selector(*s)) {
          issue(e, ep, fmt::format("expected a metric name, optionally with one label: "
                                   "name or name{{label=\"value\"}}, got '{}'", *s));
          return;
        }
        list.push_back(*s);
      };
      if (n.IsScalar()) one(n, p);
      else sequence(n, p, one);
    };
  };
  const auto duration = [&](Millis& field) {
    return [&](const YAML::Node& n, const std::string& p) { set_duration(n, p, field, false); };
  };
  if (!fields(node, path,
              {{"flavour", false,
                [&](const YAML::Node& n, const std::string& p) {
                  flavour_at = where(n, p);
                  const auto s = text(n, p);
                  if (!s) return;
                  if (*s != "custom" && *s != "none" && !MetricsMapping::named(*s)) {
                    issue(n, p, fmt::format("unknown metrics flavour '{}' (auto, vllm, sglang, trtllm, "
                                            "custom, none)", *s));
                    return;
                  }
                  out.flavour = *s;
                }},
               {"path", false,
                [&](const YAML::Node& n, const std::string& p) {
                  const auto s = text(n, p);
                  if (s && s->front() != '/') issue(n, p, "a path starts with '/'");
                  else if (s) out.path = *s;
                }},
               {"waiting", false, selectors(out.waiting)},
               {"running", false, selectors(out.running)},
               {"kv_usage", false, selectors(out.kv_usage)},
               {"lora_info", false,
                [&](const YAML::Node& n, const std::string& p) {
                  if (auto s = text(n, p)) out.lora_info = *s;
                }},
               {"interval", false, duration(out.interval)},
               {"timeout", false, duration(out.timeout)},
               {"staleness", false, duration(out.staleness)}})) {
    return;
  }
  if (out.flavour == "custom" && (out.waiting.empty() || out.kv_usage.empty())) {
    issue(flavour_at, "flavour 'custom' needs 'waiting' and 'kv_usage' selectors");
  }
}

void Loader::saturation(const YAML::Node& node, const std::string& path, SaturationConfig& out) {
  fields(node, path,
         {{"queue", false,
           [&](const YAML::Node& n, const std::string& p) { set_number(n, p, out.queue, 0, 1e6); }},
          {"kv_cache", false,
           [&](const YAML::Node& n, const std::string& p) { set_number(n, p, out.kv_cache, 0, 1); }},
          {"running", false,
           [&](const YAML::Node& n, const std::string& p) { set_number(n, p, out.running, 0, 1e6); }},
          {"reserve", false,
           [&](const YAML::Node& n, const std::string& p) { set_number(n, p, out.reserve, 0, 1e6); }}});
}

void Loader::queue(const YAML::Node& node, const std::string& path, QueueConfig& out) {
  fields(node, path,
         {{"max_size", false,
           [&](const YAML::Node& n, const std::string& p) { set_integer(n, p, out.max_size, 0, 1'000'000); }},
          {"max_wait", false,
           [&](const YAML::Node& n, const std::string& p) { set_duration(n, p, out.max_wait, true); }}});
}

void Loader::objective(const YAML::Node& node, const std::string& path, GatewayConfig& config) {
  ObjectiveConfig objective;
  Where name_at = where(node, child(path, "name"));
  fields(node, path,
         {{"name", true,
           [&](const YAML::Node& n, const std::string& p) {
             name_at = where(n, p);
             if (auto s = text(n, p)) objective.name = *s;
           }},
          {"priority", true,
           [&](const YAML::Node& n, const std::string& p) { set_priority(n, p, objective.priority); }}});
  if (objective.name.empty()) return;
  const auto same = [&](const ObjectiveConfig& o) { return o.name == objective.name; };
  if (std::any_of(config.objectives.begin(), config.objectives.end(), same)) {
    issue(name_at, fmt::format("duplicate objective name '{}'", objective.name));
    return;
  }
  config.objectives.push_back(std::move(objective));
}

}  // namespace infergate::config_detail
