// One event loop per core: its own io_context, SO_REUSEPORT listener, upstream pool and RNG.
// Workers share only the routing snapshot and the endpoints' atomic counters (DESIGN.md 3).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/intrusive/list.hpp>

#include "infergate/config.hpp"

namespace boost::asio::ssl { class context; }
namespace infergate::auth { class KeyCache; }
namespace infergate::telemetry {
class AccessLog;
class SpanExporter;
}
#include "infergate/routing.hpp"
#include "proxy/metrics.hpp"
#include "proxy/read_blocks.hpp"
#include "proxy/upstream_pool.hpp"
#include "proxy/wait_queue.hpp"
#include "telemetry/trace_context.hpp"

namespace infergate::proxy {

// A client connection as the worker sees it: registered for the drain.
class FrontDoor;         // proxy/front_door.hpp
class ConnectionLimits;  // proxy/connection_limits.hpp

class SessionHook
    : public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  virtual ~SessionHook() = default;
  // Drain: close now if waiting for a request; otherwise finish the current response, then close.
  virtual void on_drain() = 0;
};

class Worker {
 public:
  Worker(unsigned index, const GatewayConfig& config, SnapshotHolder& snapshots, Metrics& metrics,
         const std::atomic<bool>& draining, WaitRoom& waits);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds this worker's listener with SO_REUSEPORT; port 0 lets the OS choose. Returns the
  // bound address (the other workers bind the same one). Throws boost::system::system_error.
  tcp::endpoint listen(const tcp::endpoint& address);
  void start();  // starts the thread: accept loop and sessions
  void drain();  // thread-safe: stop accepting, close idle connections
  void stop();   // thread-safe: stop the event loop (in-flight requests are cut)
  void join();
  int sessions() const noexcept { return live_sessions_.load(std::memory_order_acquire); }

  // For sessions, on this worker's thread only.
  net::io_context& io() noexcept { return *io_; }
  const GatewayConfig& config() const noexcept { return config_; }
  // The process's TLS context when the listener speaks HTTPS, else null. A session keeps the one
  // it started with; set_tls (this thread only) changes it for the next connections.
  const std::shared_ptr<boost::asio::ssl::context>& tls() const noexcept { return tls_; }
  void set_tls(std::shared_ptr<boost::asio::ssl::context> tls) noexcept { tls_ = std::move(tls); }
  SnapshotHolder& snapshots() noexcept { return snapshots_; }
  UpstreamPool& pool() noexcept { return *pool_; }
  ReadBlocks& read_blocks() noexcept { return read_blocks_; }  // the sessions' upstream reads
  Rng& rng() noexcept { return rng_; }
  WorkerMetrics& metrics() noexcept { return metrics_; }
  WaitRoom& waits() noexcept { return waits_; }  // shared by every worker (thread-safe)
  // API keys and limits (auth:), shared by every worker; null without `auth:`. Before start().
  FrontDoor* front_door() const noexcept { return front_door_; }
  void set_front_door(FrontDoor* door);
  // This worker's view of the keys (with a front door only).
  auth::KeyCache& key_cache() noexcept { return *key_cache_; }
  unsigned index() const noexcept { return index_; }
  // Request and trace ids (this thread only), and where finished requests' records go (the
  // access log and the span exporter, each null when off; set before start()).
  telemetry::IdSource& ids() noexcept { return ids_; }
  telemetry::AccessLog* access_log() const noexcept { return access_log_; }
  telemetry::SpanExporter* tracer() const noexcept { return tracer_; }
  // The process's connection limits (shared by every worker); null: none. Before start().
  void set_connection_limits(ConnectionLimits* limits) noexcept { connection_limits_ = limits; }
  void set_telemetry(telemetry::AccessLog* log, telemetry::SpanExporter* tracer) noexcept {
    access_log_ = log;
    tracer_ = tracer;
  }
  bool draining() const noexcept { return draining_.load(std::memory_order_relaxed); }
  void attach(SessionHook& session) noexcept;
  void detach(SessionHook& session) noexcept;

 private:
  net::awaitable<void> accept_loop();
  // Over a connection limit: a 503 written without waiting, then the socket closed.
  void refuse_connection(tcp::socket& socket, bool per_client);
  net::awaitable<void> sweep_loop();

  unsigned index_;
  const GatewayConfig& config_;
  SnapshotHolder& snapshots_;
  const std::atomic<bool>& draining_;
  WaitRoom& waits_;
  FrontDoor* front_door_ = nullptr;
  ConnectionLimits* connection_limits_ = nullptr;
  std::unique_ptr<auth::KeyCache> key_cache_;
  boost::intrusive::list<SessionHook, boost::intrusive::constant_time_size<false>> sessions_;
  std::atomic<int> live_sessions_{0};
  ReadBlocks read_blocks_;  // before io_: the sessions its destruction ends give their blocks back
  // ~Worker resets these in reverse order: sockets before their io_context, and the io_context
  // (whose destruction ends the session frames) while everything the sessions use still lives.
  std::unique_ptr<net::io_context> io_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<UpstreamPool> pool_;
  Rng rng_;
  telemetry::IdSource ids_;
  telemetry::AccessLog* access_log_ = nullptr;
  telemetry::SpanExporter* tracer_ = nullptr;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  WorkerMetrics metrics_;
  std::thread thread_;
};

}  // namespace infergate::proxy
