// The front door's blocks of the config file, with the loader's located errors:
//   auth:
//     keys:                                 # each: name, key, team, models, priority, limits,
//       - {key: "sha256:<64 hex>", team: research, models: [llama-3-8b, "qwen*"]}  # model_limits
//     keys_dir: /etc/infergate/keys         # a mounted Secret, watched every reload_interval
//     reload_interval: 500ms
//   limits: {store: local | redis://HOST:PORT[/DB], on_store_error: allow | deny,
//            redis_timeout: 200ms, default_max_tokens: 1024, stream_usage: true}
//   pools[].upstream_auth: {mode: pass | drop | replace, key_file: FILE}
//   pools[].tls: {ca_file, server_name, cert_file, key_file, verify}
// Messages about a key never quote it: it may be a secret.
#include "routing/config_auth.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "routing/api_key_text.hpp"
#include "routing/yaml_document.hpp"

namespace infergate {
namespace config_detail {
namespace {

// One entry of a key list, with where its name and key were written.
struct KeyEntry {
  ApiKeyConfig config;
  Where name_at;
  Where key_at;
  bool named = false;
};

bool readable_file(Loader& loader, const YAML::Node& node, const std::string& path, std::string& out) {
  const auto s = loader.text(node, path);
  if (!s) return false;
  std::error_code ec;
  if (std::filesystem::is_directory(*s, ec) || !std::ifstream(*s).good()) {
    loader.issue(node, path, fmt::format("cannot read '{}'", *s));
    return false;
  }
  out = *s;
  return true;
}

void rate_limit(Loader& loader, const YAML::Node& node, const std::string& path, RateLimit& out) {
  constexpr std::uint64_t most = 1'000'000'000'000;
  loader.fields(node, path,
                {{"requests_per_minute", false,
                  [&](const YAML::Node& n, const std::string& p) {
                    loader.set_integer(n, p, out.requests_per_minute, 0, most);
                  }},
                 {"tokens_per_minute", false, [&](const YAML::Node& n, const std::string& p) {
                    loader.set_integer(n, p, out.tokens_per_minute, 0, most);
                  }}});
}

// An exact model name, or "prefix*" ("*" alone: every model).
void models(Loader& loader, const YAML::Node& node, const std::string& path, std::vector<std::string>& out) {
  if (node.IsNull()) return;
  loader.sequence(node, path, [&](const YAML::Node& e, const std::string& ep) {
    const auto s = loader.text(e, ep);
    if (!s) return;
    if (s->find('*') < s->size() - 1) {
      loader.issue(e, ep, fmt::format("'{}': '*' may only end a pattern (\"qwen*\")", *s));
    } else if (std::find(out.begin(), out.end(), *s) != out.end()) {
      loader.issue(e, ep, fmt::format("'{}' is listed twice", *s));
    } else {
      out.push_back(*s);
    }
  });
}

bool allows(const std::vector<std::string>& patterns, std::string_view model) {
  if (patterns.empty()) return true;
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
    if (!p.empty() && p.back() == '*') return model.starts_with(std::string_view(p).substr(0, p.size() - 1));
    return p == model;
  });
}

// {MODEL: {requests_per_minute, tokens_per_minute}, ...}, exact names the key may use. Checked
// after the whole entry is read, so `models:` may come after `model_limits:`.
void model_limits(Loader& loader, const YAML::Node& node, const std::string& path,
                  ApiKeyConfig& out, std::vector<std::pair<std::string, Where>>& names_at) {
  if (!node.IsMap()) {
    loader.issue(node, path, "expected a map of model name to limits");
    return;
  }
  for (const auto& entry : node) {
    const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
    const std::string field = child(path, name);
    if (name.empty() || name.find('*') != std::string::npos) {
      loader.issue(entry.first, path, "model_limits takes exact, non-empty model names");
      continue;
    }
    if (out.model_limits.contains(name)) {
      loader.issue(entry.first, field, fmt::format("model '{}' is listed twice", name));
      continue;
    }
    rate_limit(loader, entry.second, field, out.model_limits[name]);
    names_at.emplace_back(name, loader.where(entry.first, field));
  }
}

void key_text(Loader& loader, const YAML::Node& node, const std::string& path, KeyEntry& out) {
  out.key_at = loader.where(node, path);
  if (!node.IsScalar()) {
    loader.issue(node, path, "expected the key (in clear or \"sha256:<hex>\") as a string");
    return;
  }
  if (const auto problem = api_key_problem(node.Scalar())) {
    loader.issue(node, path, *problem);
    return;
  }
  out.config.key = node.Scalar();
}

KeyEntry api_key(Loader& loader, const YAML::Node& node, const std::string& path) {
  KeyEntry entry;
  entry.key_at = loader.where(node, child(path, "key"));
  std::vector<std::pair<std::string, Where>> limit_names_at;
  ApiKeyConfig& key = entry.config;
  const auto name = [&](std::string& field, bool is_name) {
    return [&loader, &entry, &field, is_name](const YAML::Node& n, const std::string& p) {
      if (is_name) entry.name_at = loader.where(n, p), entry.named = true;
      if (auto s = loader.text(n, p)) field = *s;
    };
  };
  loader.fields(node, path,
                {{"name", false, name(key.name, true)},
                 {"key", true, [&](const YAML::Node& n, const std::string& p) { key_text(loader, n, p, entry); }},
                 {"team", false, name(key.team, false)},
                 {"models", false,
                  [&](const YAML::Node& n, const std::string& p) { models(loader, n, p, key.models); }, true},
                 {"priority", false,
                  [&](const YAML::Node& n, const std::string& p) {
                    const auto before = loader.issues().size();
                    int value = priority::standard;
                    loader.set_priority(n, p, value);
                    if (loader.issues().size() == before) key.priority = value;
                  }},
                 {"limits", false,
                  [&](const YAML::Node& n, const std::string& p) { rate_limit(loader, n, p, key.limits); }},
                 {"model_limits", false, [&](const YAML::Node& n, const std::string& p) {
                    model_limits(loader, n, p, key, limit_names_at);
                  }}});
  if (key.team.empty()) key.team = "default";
  for (const auto& [model, at] : limit_names_at) {
    if (!allows(key.models, model)) {
      loader.issue(at, fmt::format("model '{}' is not one of this key's models", model));
    }
  }
  return entry;
}

}  // namespace

void api_key_list(Loader& loader, const YAML::Node& node, const std::string& path,
                  std::vector<ApiKeyConfig>& out, std::string_view default_prefix) {
  std::vector<KeyEntry> entries;
  loader.sequence(node, path, [&](const YAML::Node& e, const std::string& ep) {
    entries.push_back(api_key(loader, e, ep));
    KeyEntry& entry = entries.back();
    if (!entry.named) {
      const std::string_view prefix = default_prefix.empty() ? entry.config.team : default_prefix;
      entry.config.name = fmt::format("{}-{}", prefix, entries.size() - 1);
      entry.name_at = loader.where(e, child(ep, "name"));
    }
  });
  std::map<std::string_view, const Where*> names;
  std::map<KeyDigest, const Where*> digests;
  for (const KeyEntry& entry : entries) {
    const auto [name, fresh_name] = names.emplace(entry.config.name, &entry.name_at);
    if (!fresh_name && !entry.config.name.empty()) {
      loader.issue(entry.name_at, fmt::format("duplicate key name '{}' (first at line {})",
                                              entry.config.name, name->second->line));
    }
    const auto digest = configured_key_digest(entry.config.key);
    if (!digest) continue;  // already reported
    const auto [same, fresh_key] = digests.emplace(*digest, &entry.key_at);
    if (!fresh_key) {
      loader.issue(entry.key_at, fmt::format("the same key as the one at line {} (keys compare by "
                                             "their SHA-256)", same->second->line));
    }
  }
  for (KeyEntry& entry : entries) out.push_back(std::move(entry.config));
}

void auth(Loader& loader, const YAML::Node& node, const std::string& path, AuthConfig& out) {
  out.enabled = true;  // the block's presence turns keys on
  bool some_keys = false;  // a non-empty `keys:` or any `keys_dir:` (even one already reported)
  const bool is_map = loader.fields(
      node, path,
      {{"keys", false,
        [&](const YAML::Node& n, const std::string& p) {
          if (n.IsNull()) return;
          some_keys = some_keys || !n.IsSequence() || n.size() != 0;
          api_key_list(loader, n, p, out.keys, {});
        },
        true},
       {"keys_dir", false,
        [&](const YAML::Node& n, const std::string& p) {
          some_keys = true;
          const auto s = loader.text(n, p);
          if (!s) return;
          std::error_code ec;
          if (!std::filesystem::is_directory(*s, ec)) {
            loader.issue(n, p, fmt::format("'{}' is not a readable directory", *s));
          }
          out.keys_dir = *s;
        }},
       {"reload_interval", false, [&](const YAML::Node& n, const std::string& p) {
          loader.set_duration(n, p, out.reload_interval, false);
        }}});
  if (is_map && !some_keys) {
    loader.issue(node, path, "auth needs keys or keys_dir");
  }
}

void limits(Loader& loader, const YAML::Node& node, const std::string& path, LimitsConfig& out) {
  loader.fields(
      node, path,
      {{"store", false,
        [&](const YAML::Node& n, const std::string& p) {
          const auto s = loader.text(n, p);
          if (!s) return;
          if (*s == "local") {
            out.store = *s;
          } else if (const auto redis = parse_redis_url(*s)) {
            out.store = *s, out.redis = redis->address, out.redis_db = redis->db;
          } else {
            loader.issue(n, p, fmt::format("expected local or redis://HOST:PORT[/DB], got '{}'", *s));
          }
        }},
       {"on_store_error", false,
        [&](const YAML::Node& n, const std::string& p) {
          const auto s = loader.text(n, p);
          if (s && (*s == "allow" || *s == "deny")) {
            out.fail_open = *s == "allow";
          } else if (s) {
            loader.issue(n, p, fmt::format("expected allow (fail open) or deny (fail closed), got '{}'", *s));
          }
        }},
       {"redis_timeout", false,
        [&](const YAML::Node& n, const std::string& p) { loader.set_duration(n, p, out.redis_timeout, false); }},
       {"default_max_tokens", false,
        [&](const YAML::Node& n, const std::string& p) {
          loader.set_integer(n, p, out.default_max_tokens, 0, 100'000'000);
        }},
       {"stream_usage", false,
        [&](const YAML::Node& n, const std::string& p) { loader.set_bool(n, p, out.stream_usage); }},
       {"window", false, [&](const YAML::Node& n, const std::string& p) {
          // Tests and demos only: a window of under a second would have no bucket to count in.
          loader.set_duration(n, p, out.window, false);
          if (out.window < Millis{1000} || out.window > Millis{3'600'000}) {
            loader.issue(n, p, "must be from 1s to 1h");
            out.window = Millis{60'000};
          }
        }}});
}

void upstream_auth(Loader& loader, const YAML::Node& node, const std::string& path,
                   UpstreamAuthConfig& out) {
  Where key_file_at;
  const bool is_map = loader.fields(
      node, path,
      {{"mode", true,
        [&](const YAML::Node& n, const std::string& p) {
          const auto s = loader.text(n, p);
          if (!s) return;
          if (*s == "pass") out.mode = UpstreamAuthMode::pass;
          else if (*s == "drop") out.mode = UpstreamAuthMode::drop;
          else if (*s == "replace") out.mode = UpstreamAuthMode::replace;
          else loader.issue(n, p, fmt::format("expected pass, drop or replace, got '{}'", *s));
        }},
       {"key_file", false, [&](const YAML::Node& n, const std::string& p) {
          key_file_at = loader.where(n, p);
          readable_file(loader, n, p, out.key_file);
        }}});
  if (!is_map || !out.mode) return;
  if (*out.mode == UpstreamAuthMode::replace && key_file_at.field.empty()) {
    loader.issue(node, path, "mode replace needs key_file (the file holding the pool's key)");
  } else if (*out.mode != UpstreamAuthMode::replace && !key_file_at.field.empty()) {
    loader.issue(key_file_at, "key_file is only used with mode: replace");
  }
}

void upstream_tls(Loader& loader, const YAML::Node& node, const std::string& path,
                  UpstreamTlsConfig& out) {
  out.enabled = true;  // `tls: {}` (or `tls:` alone): TLS with the system's trust store, unless enabled: false
  if (node.IsNull()) return;
  const auto file = [&](std::string& field) {
    return [&loader, &field](const YAML::Node& n, const std::string& p) { readable_file(loader, n, p, field); };
  };
  Where cert_at, key_at;
  const auto located = [&](Where& at, std::string& field) {
    return [&loader, &at, &field](const YAML::Node& n, const std::string& p) {
      at = loader.where(n, p);
      readable_file(loader, n, p, field);
    };
  };
  const bool is_map = loader.fields(
      node, path,
      {{"enabled", false, [&](const YAML::Node& n, const std::string& p) { loader.set_bool(n, p, out.enabled); }},
       {"ca_file", false, file(out.ca_file)},
       {"server_name", false,
        [&](const YAML::Node& n, const std::string& p) {
          if (auto s = loader.text(n, p)) out.server_name = *s;
        }},
       {"cert_file", false, located(cert_at, out.cert_file)},
       {"key_file", false, located(key_at, out.key_file)},
       {"verify", false, [&](const YAML::Node& n, const std::string& p) { loader.set_bool(n, p, out.verify); }}});
  if (is_map && cert_at.field.empty() != key_at.field.empty()) {
    loader.issue(node, path, "cert_file and key_file go together (a client certificate and its key)");
  }
}

void check_auth(Loader& loader, const YAML::Node& root, const GatewayConfig& config) {
  if (!config.auth.enabled || !root.IsMap() || !root["pools"] || !root["pools"].IsSequence()) return;
  const YAML::Node pools = root["pools"];
  for (std::size_t i = 0; i < pools.size() && i < config.pools.size(); ++i) {
    if (config.pools[i].upstream_auth.mode != UpstreamAuthMode::pass) continue;
    const YAML::Node mode = pools[i]["upstream_auth"]["mode"];
    loader.issue(mode, element("pools", i) + ".upstream_auth.mode",
                 "with auth: on, pass would send the clients' keys to the servers; use drop or replace");
  }
}

}  // namespace config_detail

std::optional<RedisAddress> parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) return std::nullopt;
  url.remove_prefix(scheme.size());
  RedisAddress out;
  const std::size_t slash = url.find('/', url.starts_with('[') ? url.find(']') : 0);
  if (slash != std::string_view::npos) {
    const std::string_view db = url.substr(slash + 1);
    const auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), out.db);
    if (db.empty() || ec != std::errc{} || end != db.data() + db.size() || out.db > 65535) return std::nullopt;
    url = url.substr(0, slash);
  }
  if (url.find('@') != std::string_view::npos) return std::nullopt;  // credentials: not supported
  try {
    out.address = parse_host_port(std::string(url));
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
  if (out.address.port == 0) return std::nullopt;
  return out;
}

std::vector<ApiKeyConfig> load_api_keys_string(const std::string& text, const std::string& file,
                                               const std::string& default_prefix) {
  config_detail::Loader loader(file);
  const YAML::Node root = parse_yaml_document(text, file);
  std::vector<ApiKeyConfig> keys;
  const auto list = [&](const YAML::Node& n, const std::string& p) {
    config_detail::api_key_list(loader, n, p, keys, default_prefix);
  };
  if (root.IsSequence()) {
    list(root, "keys");
  } else if (root.IsMap()) {
    loader.fields(root, "", {{"keys", true, list}});
  } else {
    loader.issue(root, "", "expected a list of keys, or a map with 'keys:'");
  }
  if (!loader.issues().empty()) throw ConfigError(std::move(loader.issues()));
  return keys;
}

}  // namespace infergate
