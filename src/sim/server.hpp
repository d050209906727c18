// The HTTP side of infergate-sim (Boost.Beast lives only in server.cpp).
#pragma once

#include "sim/options.hpp"

namespace infergate::sim {

// Binds one listener per configured port (printing `listening HOST:PORT` for each, flushed),
// then serves on one thread until SIGINT/SIGTERM. Returns the process exit code.
int run_server(const SimOptions& opts);

}  // namespace infergate::sim
