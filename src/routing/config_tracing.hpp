// Inside the config loader: the `tracing:` block (config_tracing.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "infergate/config.hpp"
#include "routing/config_loader.hpp"

namespace infergate {

// "http://HOST[:PORT][/PATH]" (PORT 4318 and PATH /v1/traces when left out). Plain HTTP only:
// a collector is reached on the node or through a sidecar.
struct OtlpUrl {
  HostPort address;
  std::string path;
};
std::optional<OtlpUrl> parse_otlp_url(std::string_view url);

namespace config_detail {
void tracing(Loader& loader, const YAML::Node& node, const std::string& path, TracingConfig& out);
}  // namespace config_detail

}  // namespace infergate
