// The k8s area's logger ("k8s"), cloned from the default logger on first use (after main has
// configured it).
#pragma once

#include <spdlog/spdlog.h>

namespace infergate::k8s::detail {

inline spdlog::logger& log() {
  static const std::shared_ptr<spdlog::logger> logger = spdlog::default_logger()->clone("k8s");
  return *logger;
}

}  // namespace infergate::k8s::detail
