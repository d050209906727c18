// The admin listener: the status page at /, /healthz, /readyz, /metrics and JSON debug pages,
// on the control thread's event loop.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "infergate/routing.hpp"
#include "proxy/metrics.hpp"

namespace infergate::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class AdminServer {
 public:
  // `ready` is read on every /readyz: true while the listeners serve and no drain started.
  AdminServer(net::io_context& io, Metrics& metrics, SnapshotHolder& snapshots,
              const std::atomic<bool>& ready);

  tcp::endpoint listen(const tcp::endpoint& address);  // throws boost::system::system_error
  void start();
  void stop();
  // An extra GET page answered with application/json (before start()).
  void add_page(std::string path, std::function<std::string()> render);
  // /readyz also answers 503 ("waiting: WHAT") while `ok` returns false (before start()).
  void add_readiness_gate(std::string what, std::function<bool()> ok);

 private:
  net::awaitable<void> accept_loop();
  net::awaitable<void> serve(tcp::socket socket);
  // The answer to one request: status and body; content type is text unless JSON is asked.
  void answer(std::string_view path, bool get, unsigned& status, std::string& body,
              std::string_view& content_type);

  net::io_context& io_;
  Metrics& metrics_;
  SnapshotHolder& snapshots_;
  const std::atomic<bool>& ready_;
  std::optional<tcp::acceptor> acceptor_;
  std::map<std::string, std::function<std::string()>, std::less<>> pages_;
  std::vector<std::pair<std::string, std::function<bool()>>> gates_;
};

}  // namespace infergate::proxy
