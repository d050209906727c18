// The gateway process as main() sees it: workers, admin listener, signals and the drain.
#pragma once

#include <memory>

#include "infergate/config.hpp"

namespace infergate::proxy {

class Gateway {
 public:
  explicit Gateway(GatewayConfig config);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds every worker's listener (SO_REUSEPORT, one shared port; port 0 lets the OS choose)
  // and the admin listener, then prints "listening HOST:PORT" and "admin HOST:PORT" to stdout,
  // flushed. Throws std::exception with a message on failure.
  void start();

  // Serves until SIGTERM or SIGINT, then drains: stop accepting, close idle connections, let
  // in-flight requests finish for up to timeouts.drain. Returns the process exit code.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace infergate::proxy
