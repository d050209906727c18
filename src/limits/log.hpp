// The limits area's logger ("limits"), cloned from the default logger on first use (after main
// has configured it).
#pragma once

#include <spdlog/spdlog.h>

namespace infergate::limits::detail {

inline spdlog::logger& log() {
  static const std::shared_ptr<spdlog::logger> logger = spdlog::default_logger()->clone("limits");
  return *logger;
}

}  // namespace infergate::limits::detail
