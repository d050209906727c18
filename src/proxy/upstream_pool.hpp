// Per-worker keep-alive connections to model-server endpoints (no locks: one worker, one pool).
// Passive health (connect failures, 5xx bursts) lives in the endpoints themselves
// (routing/endpoint_health.hpp), shared by every worker and read by the scheduler.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "infergate/routing.hpp"

namespace infergate::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

class UpstreamPool;

// One connection to one endpoint, owned by one request. Destroying a lease closes the
// connection; give_back() returns a healthy idle keep-alive connection to the pool instead;
// discard() closes it at once (the client left, or the response was not cleanly finished).
class UpstreamLease {
 public:
  UpstreamLease() = default;
  UpstreamLease(UpstreamLease&&) noexcept = default;
  UpstreamLease& operator=(UpstreamLease&& other) noexcept;
  UpstreamLease(const UpstreamLease&) = delete;
  UpstreamLease& operator=(const UpstreamLease&) = delete;
  ~UpstreamLease() { discard(); }

  explicit operator bool() const noexcept { return socket_.has_value(); }
  tcp::socket& socket() noexcept { return *socket_; }
  const EndpointPtr& endpoint() const noexcept { return endpoint_; }
  bool reused() const noexcept { return reused_; }

  void give_back();
  void discard() noexcept;

 private:
  friend class UpstreamPool;
  UpstreamPool* pool_ = nullptr;
  EndpointPtr endpoint_;
  std::optional<tcp::socket> socket_;
  bool reused_ = false;
};

struct PoolLimits {
  std::size_t max_idle_per_endpoint = 256;
  // Below common servers' keep-alive timeouts (uvicorn, vLLM's server, closes after 5 s), so a
  // pooled connection is rarely one the server is closing.
  std::chrono::milliseconds idle_timeout{4'000};
};

class UpstreamPool {
 public:
  UpstreamPool(net::any_io_executor executor, PoolLimits limits = {});

  // The most recently used idle connection to `endpoint`, or an empty lease.
  UpstreamLease take(const EndpointPtr& endpoint);

  // A new, not yet connected socket for `endpoint`; connect() it. Closing the lease's socket
  // cancels the connect.
  UpstreamLease open(const EndpointPtr& endpoint);

  // Connects a lease from open(): address resolved once per endpoint, TCP_NODELAY set.
  net::awaitable<boost::system::error_code> connect(UpstreamLease& lease);

  // Closes idle connections older than the idle timeout (the worker calls it periodically, so a
  // connection the server closed is not held half-closed until the next request).
  void expire_idle();
  // Closes every idle connection (drain).
  void close_idle();
  std::size_t idle_count() const noexcept;

 private:
  friend class UpstreamLease;
  struct Idle {
    tcp::socket socket;
    Clock::time_point since;
  };
  struct Slot {
    EndpointPtr endpoint;  // keeps the key's address from being reused by another endpoint
    std::optional<tcp::endpoint> address;
    std::vector<Idle> idle;  // oldest first
  };
  Slot& slot(const EndpointPtr& endpoint);
  void put(const EndpointPtr& endpoint, tcp::socket socket);
  void expire(Slot& slot, Clock::time_point now);

  net::any_io_executor executor_;
  PoolLimits limits_;
  std::unordered_map<const Endpoint*, Slot> slots_;
};

}  // namespace infergate::proxy
