// YAML config -> GatewayConfig, validated. Every problem is collected with its file, line,
// column and field path before anything throws, so one `--check-config` run shows them all.
// Exceptions are fine here (start-up and reload only); they stop at this boundary as ConfigError.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "infergate/config.hpp"
#include "routing/config_access_log.hpp"
#include "routing/config_auth.hpp"
#include "routing/config_tracing.hpp"
#include "routing/config_kubernetes.hpp"
#include "routing/config_loader.hpp"
#include "routing/config_values.hpp"
#include "routing/yaml_document.hpp"

namespace infergate {
namespace config_detail {

std::string unknown_key_message(std::string_view key, const std::vector<FieldSpec>& specs) {
  std::string message = fmt::format("unknown key '{}'", key);
  std::string_view best;
  std::size_t best_distance = 3;  // suggest only close matches
  for (const auto& spec : specs) {
    const std::size_t d = edit_distance(key, spec.key);
    if (d < best_distance) best_distance = d, best = spec.key;
  }
  if (!best.empty()) return fmt::format("{} (did you mean '{}'?)", message, best);
  message += " (known keys:";
  for (const auto& spec : specs) fmt::format_to(std::back_inserter(message), " {}", spec.key);
  return message + ")";
}

std::string unknown_pool_message(const std::string& name,
                                 const std::map<std::string_view, std::size_t>& pools) {
  std::string message = fmt::format("unknown pool '{}'", name);
  if (pools.empty()) return message + " (no pools are defined)";
  message += " (pools:";
  for (const auto& [pool, index] : pools) fmt::format_to(std::back_inserter(message), " {}", pool);
  return message + ")";
}

Where Loader::where(const YAML::Node& node, const std::string& path) const {
  const YAML::Mark mark = node.Mark();
  return {mark.line >= 0 ? mark.line + 1 : 0, mark.column >= 0 ? mark.column + 1 : 0, path};
}

void Loader::issue(const Where& at, std::string message) {
  issues_.push_back({file_, at.line, at.column, at.field, std::move(message)});
}

// Dispatches each key of `map` to its spec; false (and one issue) when `map` is not a map.
bool Loader::fields(const YAML::Node& map, const std::string& path,
                    const std::vector<FieldSpec>& specs) {
  if (!map.IsMap()) {
    issue(map, path, "expected a map of settings");
    return false;
  }
  std::map<std::string, int, std::less<>> seen_line;
  for (const auto& entry : map) {
    const YAML::Node& key_node = entry.first;
    if (!key_node.IsScalar()) {
      issue(key_node, path, "keys must be plain names");
      continue;
    }
    const std::string key = key_node.Scalar();
    const std::string field = child(path, key);
    const auto [seen, inserted] = seen_line.emplace(key, where(key_node, field).line);
    if (!inserted) {
      issue(key_node, field, fmt::format("duplicate key (first at line {})", seen->second));
      continue;
    }
    const auto spec = std::find_if(specs.begin(), specs.end(),
                                   [&](const FieldSpec& s) { return s.key == key; });
    if (spec == specs.end()) {
      issue(key_node, field, unknown_key_message(key, specs));
      continue;
    }
    if (entry.second.IsNull() && !spec->allow_null) {
      // Reported at the key: yaml-cpp places an empty value where the next token starts.
      issue(key_node, field, "no value given");
      continue;
    }
    spec->parse(entry.second, field);
  }
  for (const auto& spec : specs) {
    if (spec.required && !seen_line.contains(spec.key)) {
      issue(map, path, fmt::format("missing required key '{}'", spec.key));
    }
  }
  return true;
}


std::optional<std::string> Loader::text(const YAML::Node& node, const std::string& path,
                                        bool allow_empty) {
  if (!node.IsScalar()) {
    issue(node, path, node.IsNull() ? "expected a string, got nothing" : "expected a string");
    return std::nullopt;
  }
  if (!allow_empty && node.Scalar().empty()) {
    issue(node, path, "must not be empty");
    return std::nullopt;
  }
  return node.Scalar();
}


void Loader::set_bool(const YAML::Node& node, const std::string& path, bool& out) {
  const auto s = text(node, path);
  if (!s) return;
  if (*s == "true" || *s == "True" || *s == "TRUE") {
    out = true;
  } else if (*s == "false" || *s == "False" || *s == "FALSE") {
    out = false;
  } else {
    issue(node, path, "expected true or false, got '" + *s + "'");
  }
}

void Loader::set_size(const YAML::Node& node, const std::string& path, std::size_t& out,
                      std::size_t min, std::size_t max) {
  const auto s = text(node, path);
  if (!s) return;
  const auto bytes = parse_size(*s);
  if (!bytes) {
    issue(node, path, "expected a size such as 32MiB, 64KiB, 1000000 (bytes), got '" + *s + "'");
  } else if (*bytes < min || *bytes > max) {
    issue(node, path, fmt::format("must be from {} to {} bytes, got {}", min, max, *bytes));
  } else {
    out = *bytes;
  }
}

void Loader::set_duration(const YAML::Node& node, const std::string& path, Millis& out,
                          bool allow_zero) {
  const auto s = text(node, path);
  if (!s) return;
  const auto value = parse_duration(*s);
  if (!value) {
    issue(node, path, fmt::format("expected a duration such as 500ms, 2s, 10m, 1h30m or "
                                  "milliseconds, got '{}'", *s));
  } else if (!allow_zero && value->count() == 0) {
    issue(node, path, "must be longer than 0");
  } else {
    out = *value;
  }
}

void Loader::set_host_port(const YAML::Node& node, const std::string& path, HostPort& out) {
  if (node.IsSequence() || node.IsMap()) {
    // [::1]:8000 unquoted is a YAML list (or a map in a flow list); say so, rather than
    // "expected a string".
    issue(node, path, "expected host:port; quote IPv6 addresses in YAML: \"[::1]:8000\"");
    return;
  }
  const auto s = text(node, path);
  if (!s) return;
  try {
    out = parse_host_port(*s);
  } catch (const std::invalid_argument& e) {
    issue(node, path, e.what());
  }
}

void Loader::set_workers(const YAML::Node& node, const std::string& path, unsigned& out) {
  if (node.IsScalar() && node.Scalar() == "auto") {
    out = 0;
    return;
  }
  const auto s = node.IsScalar() ? node.Scalar() : std::string();
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size() || value < 1 || value > 1024) {
    issue(node, path, fmt::format("expected 'auto' or a number of threads from 1 to 1024, got '{}'", s));
    return;
  }
  out = value;
}

void Loader::timeouts(const YAML::Node& node, const std::string& path, Timeouts& out) {
  auto duration = [this](Millis& field, bool allow_zero = false) {
    return [this, &field, allow_zero](const YAML::Node& n, const std::string& p) {
      set_duration(n, p, field, allow_zero);
    };
  };
  fields(node, path,
         {{"connect", false, duration(out.connect)},
          {"first_byte", false, duration(out.first_byte)},
          {"stream_idle", false, duration(out.stream_idle)},
          {"client_header", false, duration(out.client_header)},
          {"client_body", false, duration(out.client_body)},
          {"keepalive_idle", false, duration(out.keepalive_idle)},
          {"drain", false, duration(out.drain, true)}});
}

void Loader::pool(const YAML::Node& node, const std::string& path, GatewayConfig& config) {
  PoolConfig pool;
  Where name_at{0, 0, child(path, "name")};
  fields(node, path,
         {{"name", true,
           [&](const YAML::Node& n, const std::string& p) {
             name_at = where(n, p);
             if (auto s = text(n, p)) pool.name = *s;
           }},
          {"scheduler", false,
           [&](const YAML::Node& n, const std::string& p) { scheduler(n, p, pool.scheduler.emplace()); }},
          {"metrics", false,
           [&](const YAML::Node& n, const std::string& p) { metrics(n, p, pool.metrics); }},
          {"saturation", false,
           [&](const YAML::Node& n, const std::string& p) { saturation(n, p, pool.saturation); }},
          {"upstream_auth", false,
           [&](const YAML::Node& n, const std::string& p) {
             config_detail::upstream_auth(*this, n, p, pool.upstream_auth);
           }},
          {"tls", false,
           [&](const YAML::Node& n, const std::string& p) {
             config_detail::upstream_tls(*this, n, p, pool.tls);
           }, true},
          {"endpoints", true, [&](const YAML::Node& n, const std::string& p) {
             // An empty list is allowed: a pool scaled to zero answers 503 until it has endpoints.
             if (n.IsNull()) return;
             sequence(n, p, [&](const YAML::Node& e, const std::string& ep) {
               HostPort address;
               const auto before = issues_.size();
               set_host_port(e, ep, address);
               if (issues_.size() != before) return;
               if (address.port == 0) {
                 issue(e, ep, "an endpoint needs a port from 1 to 65535");
               } else if (std::find(pool.endpoints.begin(), pool.endpoints.end(), address) !=
                          pool.endpoints.end()) {
                 issue(e, ep, "endpoint " + address.str() + " is listed twice in this pool");
               } else {
                 pool.endpoints.push_back(std::move(address));
               }
             });
           }, true}});
  pool_names_.push_back(name_at);
  config.pools.push_back(std::move(pool));
}

void Loader::target(const YAML::Node& node, const std::string& path, ModelConfig& model) {
  TargetConfig target;
  Where pool_at = where(node, child(path, "pool"));
  fields(node, path,
         {{"pool", true,
           [&](const YAML::Node& n, const std::string& p) {
             pool_at = where(n, p);
             if (auto s = text(n, p)) target.pool = *s;
           }},
          {"model", false,
           [&](const YAML::Node& n, const std::string& p) {
             if (auto s = text(n, p)) target.model = *s;
           }},
          {"weight", false, [&](const YAML::Node& n, const std::string& p) {
             set_integer(n, p, target.weight, 0, 1'000'000);
           }}});
  target_pools_.back().push_back(pool_at);
  model.targets.push_back(std::move(target));
}

// A model is either {name, targets: [...]} or the shorthand {name, pool, model?} for one target.
void Loader::model(const YAML::Node& node, const std::string& path, GatewayConfig& config) {
  ModelConfig model;
  Where name_at{0, 0, child(path, "name")};
  Where targets_at = where(node, child(path, "targets"));
  std::optional<TargetConfig> shorthand;
  bool has_targets = false, has_model = false;
  target_pools_.emplace_back();
  auto short_target = [&]() -> TargetConfig& { return shorthand ? *shorthand : shorthand.emplace(); };
  const bool is_map = fields(node, path,
         {{"name", true,
           [&](const YAML::Node& n, const std::string& p) {
             name_at = where(n, p);
             if (auto s = text(n, p)) model.name = *s;
           }},
          {"targets", false,
           [&](const YAML::Node& n, const std::string& p) {
             has_targets = true;
             targets_at = where(n, p);
             sequence(n, p, [&](const YAML::Node& t, const std::string& tp) { target(t, tp, model); });
             if (n.IsSequence() && n.size() == 0) issue(n, p, "a model needs at least one target");
           }},
          {"pool", false,
           [&](const YAML::Node& n, const std::string& p) {
             target_pools_.back().push_back(where(n, p));
             if (auto s = text(n, p)) short_target().pool = *s;
           }},
          {"priority", false,
           [&](const YAML::Node& n, const std::string& p) { set_priority(n, p, model.priority); }},
          {"model", false, [&](const YAML::Node& n, const std::string& p) {
             has_model = true;
             if (auto s = text(n, p)) short_target().model = *s;
           }}});
  if (!is_map) {
    // already reported
  } else if (has_targets && (shorthand || has_model)) {
    issue(node, path, "use either 'targets' or the shorthand 'pool' (with 'model'), not both");
  } else if (!has_targets && !shorthand) {
    issue(node, path, "missing required key 'targets' (or the shorthand 'pool')");
  } else if (shorthand && shorthand->pool.empty() && has_model) {
    issue(node, path, "missing required key 'pool' next to 'model'");
  } else if (shorthand) {
    model.targets.push_back(std::move(*shorthand));
  }
  if (model.targets.size() != target_pools_.back().size()) target_pools_.back().clear();
  model_names_.push_back(name_at);
  model_targets_.push_back(targets_at);
  config.models.push_back(std::move(model));
}

// Checks across entries: names unique, references resolve, weights usable.
void Loader::cross_check(const GatewayConfig& config) {
  std::map<std::string_view, std::size_t> pools;
  for (std::size_t i = 0; i < config.pools.size(); ++i) {
    const auto& name = config.pools[i].name;
    if (name.empty()) continue;
    const auto [it, inserted] = pools.emplace(name, i);
    if (!inserted) {
      issue(pool_names_[i], fmt::format("duplicate pool name '{}' (first at line {})", name,
                                        pool_names_[it->second].line));
    }
  }
  std::map<std::string_view, std::size_t> models;
  for (std::size_t m = 0; m < config.models.size(); ++m) {
    const ModelConfig& model = config.models[m];
    if (!model.name.empty()) {
      const auto [it, inserted] = models.emplace(model.name, m);
      if (!inserted) {
        issue(model_names_[m], fmt::format("duplicate model name '{}' (first at line {})",
                                           model.name, model_names_[it->second].line));
      }
    }
    std::uint64_t total = 0;
    for (std::size_t t = 0; t < model.targets.size(); ++t) {
      const TargetConfig& target = model.targets[t];
      total += target.weight;
      if (!target.pool.empty() && !pools.contains(target.pool) && t < target_pools_[m].size()) {
        issue(target_pools_[m][t], unknown_pool_message(target.pool, pools));
      }
    }
    if (!model.targets.empty() && total == 0) {
      issue(model_targets_[m], "the weights of the targets add up to 0: no request could be routed");
    }
  }
  if (config.listen == config.admin && config.listen.port != 0) {
    issue(admin_at_, fmt::format("admin must not use the same address as listen ({})",
                                 config.admin.str()));
  }
}

void Loader::tls(const YAML::Node& node, const std::string& path, TlsConfig& out) {
  // Checked here so a bad path is a located config error, not a start-up failure.
  const auto readable_file = [&](const YAML::Node& n, const std::string& p, std::string& file) {
    const auto s = text(n, p);
    if (!s) return;
    if (!std::ifstream(*s).good()) {
      issue(n, p, fmt::format("cannot read '{}'", *s));
      return;
    }
    file = *s;
  };
  TlsConfig tls;
  fields(node, path,
         {{"cert", true,
           [&](const YAML::Node& n, const std::string& p) { readable_file(n, p, tls.cert); }},
          {"key", true,
           [&](const YAML::Node& n, const std::string& p) { readable_file(n, p, tls.key); }}});
  if (!tls.cert.empty() && !tls.key.empty()) out = std::move(tls);
}

GatewayConfig Loader::load(const YAML::Node& root) {
  GatewayConfig config;
  if (root.IsNull()) return config;  // an empty file: every default, nothing routed
  fields(root, "",
         {{"listen", false,
           [&](const YAML::Node& n, const std::string& p) { set_host_port(n, p, config.listen); }},
          {"admin", false,
           [&](const YAML::Node& n, const std::string& p) {
             admin_at_ = where(n, p);
             set_host_port(n, p, config.admin);
           }},
          {"tls", false,
           [&](const YAML::Node& n, const std::string& p) { tls(n, p, config.tls); }},
          {"workers", false,
           [&](const YAML::Node& n, const std::string& p) { set_workers(n, p, config.workers); }},
          {"max_body_bytes", false,
           [&](const YAML::Node& n, const std::string& p) {
             set_size(n, p, config.max_body_bytes, 1, std::size_t{1} << 30);
           }},
          {"max_header_bytes", false,
           [&](const YAML::Node& n, const std::string& p) {
             set_size(n, p, config.max_header_bytes, 1024, std::size_t{1} << 20);
           }},
          {"max_attempts", false,
           [&](const YAML::Node& n, const std::string& p) {
             set_integer(n, p, config.max_attempts, 1, 16);
           }},
          {"max_connections", false,
           [&](const YAML::Node& n, const std::string& p) {
             set_integer(n, p, config.max_connections, 0, 10'000'000);
           }},
          {"max_connections_per_client", false,
           [&](const YAML::Node& n, const std::string& p) {
             set_integer(n, p, config.max_connections_per_client, 0, 10'000'000);
           }},
          {"debug_headers", false,
           [&](const YAML::Node& n, const std::string& p) { set_bool(n, p, config.debug_headers); }},
          {"timeouts", false,
           [&](const YAML::Node& n, const std::string& p) { timeouts(n, p, config.timeouts); }},
          {"scheduler", false,
           [&](const YAML::Node& n, const std::string& p) { scheduler(n, p, config.scheduler); }},
          {"queue", false,
           [&](const YAML::Node& n, const std::string& p) { queue(n, p, config.queue); }},
          {"objectives", false,
           [&](const YAML::Node& n, const std::string& p) {
             if (n.IsNull()) return;
             sequence(n, p, [&](const YAML::Node& e, const std::string& ep) { objective(e, ep, config); });
           }, true},
          {"pools", false,
           [&](const YAML::Node& n, const std::string& p) {
             if (n.IsNull()) return;
             sequence(n, p, [&](const YAML::Node& e, const std::string& ep) { pool(e, ep, config); });
           }, true},
          {"models", false, [&](const YAML::Node& n, const std::string& p) {
             if (n.IsNull()) return;
             sequence(n, p, [&](const YAML::Node& e, const std::string& ep) { model(e, ep, config); });
           }, true},
          {"kubernetes", false, [&](const YAML::Node& n, const std::string& p) {
             config_detail::kubernetes(*this, n, p, config.kubernetes);
           }},
          {"auth", false,
           [&](const YAML::Node& n, const std::string& p) { config_detail::auth(*this, n, p, config.auth); }},
          {"limits", false, [&](const YAML::Node& n, const std::string& p) {
             config_detail::limits(*this, n, p, config.limits);
           }},
          {"tracing", false, [&](const YAML::Node& n, const std::string& p) {
             config_detail::tracing(*this, n, p, config.tracing);
           }},
          {"access_log", false, [&](const YAML::Node& n, const std::string& p) {
             config_detail::access_log(*this, n, p, config.access_log);
           }, true}});
  cross_check(config);
  config_detail::check_auth(*this, root, config);
  // Read like a compiler's output: in file order.
  std::stable_sort(issues_.begin(), issues_.end(), [](const ConfigIssue& a, const ConfigIssue& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return config;
}

}  // namespace config_detail

using config_detail::Loader;

GatewayConfig load_config_string(const std::string& yaml, const std::string& name) {
  Loader loader(name);
  GatewayConfig config = loader.load(parse_yaml_document(yaml, name));
  if (!loader.issues().empty()) throw ConfigError(std::move(loader.issues()));
  return config;
}

GatewayConfig load_config_file(const std::string& path) {
  // A directory opens and reads as an empty file, which would mean "all defaults".
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError({{path, 0, 0, "", "is a directory, not a config file"}});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError({{path, 0, 0, "", "cannot open the file"}});
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError({{path, 0, 0, "", "cannot read the file"}});
  return load_config_string(text.str(), path);
}

}  // namespace infergate
