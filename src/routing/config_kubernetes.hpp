// Inside the config loader: the `kubernetes:` block (config_kubernetes.cpp).
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "infergate/config.hpp"
#include "routing/config_loader.hpp"

namespace infergate::config_detail {

void kubernetes(Loader& loader, const YAML::Node& node, const std::string& path, KubernetesConfig& out);

}  // namespace infergate::config_detail
