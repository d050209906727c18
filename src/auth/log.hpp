// The auth area's logger ("auth"), cloned from the default logger on first use (after main has
// configured it). Nothing logged here ever holds a key, in clear or hashed.
#pragma once

#include <memory>

#include <spdlog/spdlog.h>

namespace infergate::auth {

inline spdlog::logger& log() {
  static const std::shared_ptr<spdlog::logger> logger = spdlog::default_logger()->clone("auth");
  return *logger;
}

}  // namespace infergate::auth
