// Inside the config loader: the `access_log:` block (config_access_log.cpp).
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "infergate/config.hpp"
#include "routing/config_loader.hpp"

namespace infergate::config_detail {

void access_log(Loader& loader, const YAML::Node& node, const std::string& path, AccessLogConfig& out);

}  // namespace infergate::config_detail
