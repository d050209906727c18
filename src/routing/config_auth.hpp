// Inside the config loader: the front door's blocks (config_auth.cpp), with located errors:
// `auth:` (API keys), `limits:` (where the per-key counters live) and, per pool,
// `upstream_auth:` and `tls:`. The key-list parser is also what src/auth uses for the YAML/JSON
// files of `auth.keys_dir`, so a bad file is reported with file:line:column and field too.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "infergate/config.hpp"
#include "routing/config_loader.hpp"

namespace infergate {

// "redis://HOST:PORT" or "redis://HOST:PORT/DB" (HOST a name, IPv4 or [IPv6]; DB 0..65535).
struct RedisAddress {
  HostPort address;
  unsigned db = 0;
};
std::optional<RedisAddress> parse_redis_url(std::string_view url);

// A key file of `auth.keys_dir` that holds a list: YAML or JSON, either a list of key entries or
// a map `keys: [...]`, each entry with the schema of `auth.keys[]`. Entries without a name are
// called "<default_prefix>-<index>". Throws ConfigError (file `file`, located) on any problem.
std::vector<ApiKeyConfig> load_api_keys_string(const std::string& text, const std::string& file,
                                               const std::string& default_prefix);

namespace config_detail {

void auth(Loader& loader, const YAML::Node& node, const std::string& path, AuthConfig& out);
void limits(Loader& loader, const YAML::Node& node, const std::string& path, LimitsConfig& out);
void upstream_auth(Loader& loader, const YAML::Node& node, const std::string& path,
                   UpstreamAuthConfig& out);
void upstream_tls(Loader& loader, const YAML::Node& node, const std::string& path,
                  UpstreamTlsConfig& out);

// A list of key entries: names (given or "<prefix>-<index>"; empty prefix: "<team>-<index>")
// and keys (by digest) unique within the list.
void api_key_list(Loader& loader, const YAML::Node& node, const std::string& path,
                  std::vector<ApiKeyConfig>& out, std::string_view default_prefix);

// Checks across blocks, given the document for locations: with `auth:` on, no pool may pass
// the clients' keys on to its servers.
void check_auth(Loader& loader, const YAML::Node& root, const GatewayConfig& config);

}  // namespace config_detail
}  // namespace infergate
