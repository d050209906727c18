// Test helper: the located problems a config string has (empty when it loads).
#pragma once

#include <string>
#include <vector>

#include "infergate/config.hpp"

namespace infergate {

inline std::vector<ConfigIssue> issues_of(const std::string& yaml) {
  try {
    load_config_string(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.issues();
  }
  return {};
}

}  // namespace infergate
