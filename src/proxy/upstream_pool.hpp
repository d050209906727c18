// Per-worker keep-alive connections to model-server endpoints (no locks: one worker, one pool).
// Passive health (connect failures, 5xx bursts) lives in the endpoints themselves
// (routing/endpoint_health.hpp), shared by every worker and read by the scheduler.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "infergate/routing.hpp"

namespace infergate::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

class UpstreamPool;
struct UpstreamTlsStream;  // proxy/upstream_tls.hpp: only TLS code pays for asio's ssl headers
struct UpstreamTlsStreamDelete {
  void operator()(UpstreamTlsStream* s) const noexcept;
};
// A TLS connection on the heap: a lease moves the pointer, never the stream.
using UpstreamTlsStreamPtr = std::unique_ptr<UpstreamTlsStream, UpstreamTlsStreamDelete>;

using ReadResult = std::tuple<boost::system::error_code, std::size_t>;

// One connection to one endpoint, owned by one request: a plain TCP socket, or a TLS stream
// over one when the pool's servers speak TLS (Pool::tls). Destroying a lease closes the
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

  explicit operator bool() const noexcept { return socket_.has_value() || tls_stream_; }
  // The TCP connection, plain or under TLS: closing it cancels every operation on the lease.
  tcp::socket& socket() noexcept { return tls_stream_ ? tls_socket() : *socket_; }
  const EndpointPtr& endpoint() const noexcept { return endpoint_; }
  bool reused() const noexcept { return reused_; }
  bool tls() const noexcept { return tls_stream_ != nullptr; }

  // One read of what the server sent: the socket's own operation on a plain connection (no
  // extra coroutine frame), decrypted from the TLS stream otherwise.
  net::awaitable<ReadResult> read_some(net::mutable_buffer buffer) {
    if (!tls_stream_) return socket_->async_read_some(buffer, net::as_tuple(net::use_awaitable));
    return tls_read_some(buffer);
  }
  // TLS leases only (plain ones use Session::write_fully, which tries a synchronous write
  // first): the buffers gathered into one record, written asynchronously.
  net::awaitable<boost::system::error_code> write_tls(std::span<const net::const_buffer> buffers);

  void give_back();
  void discard() noexcept;

 private:
  friend class UpstreamPool;
  tcp::socket& tls_socket() noexcept;
  net::awaitable<ReadResult> tls_read_some(net::mutable_buffer buffer);

  UpstreamPool* pool_ = nullptr;
  EndpointPtr endpoint_;
  std::optional<tcp::socket> socket_;  // plain
  UpstreamTlsStreamPtr tls_stream_;    // TLS (owns its socket)
  const UpstreamTls* tls_ = nullptr;   // the pool's TLS handle (kept alive by the pool's slot)
  bool reused_ = false;
};

struct PoolLimits {
  std::size_t max_idle_per_endpoint = 256;  // plain and per TLS config
  // Below common servers' keep-alive timeouts (uvicorn, vLLM's server, closes after 5 s), so a
  // pooled connection is rarely one the server is closing.
  std::chrono::milliseconds idle_timeout{4'000};
};

class UpstreamPool {
 public:
  UpstreamPool(net::any_io_executor executor, PoolLimits limits = {});

  // The most recently used idle connection to `endpoint` made with `tls` (the pool's handle;
  // null: plain TCP), or an empty lease. Connections of one TLS config never serve another.
  UpstreamLease take(const EndpointPtr& endpoint, const UpstreamTlsPtr& tls = nullptr);

  // A new, not yet connected socket for `endpoint` (TLS with `tls`); connect() it. Closing the
  // lease's socket cancels the connect.
  UpstreamLease open(const EndpointPtr& endpoint, const UpstreamTlsPtr& tls = nullptr);

  // Connects a lease from open(): address resolved once per endpoint, TCP_NODELAY set, then the
  // TLS handshake on a TLS lease (a failed handshake or certificate check fails the connect, as
  // does a pool whose TLS context could not be built: upstream_tls_unavailable()).
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
  struct IdleTls {
    UpstreamTlsStreamPtr stream;
    Clock::time_point since;
  };
  // An endpoint's idle TLS connections of one pool TLS handle.
  struct TlsIdle {
    UpstreamTlsPtr tls;  // keeps the handle (and its context) alive for the leases
    std::vector<IdleTls> idle;  // oldest first
  };
  struct Slot {
    EndpointPtr endpoint;  // keeps the key's address from being reused by another endpoint
    std::optional<tcp::endpoint> address;
    std::vector<Idle> idle;  // plain, oldest first
    std::vector<TlsIdle> tls;  // few: one per TLS config among the pools listing the endpoint
  };
  Slot& slot(const EndpointPtr& endpoint);
  TlsIdle& tls_idle(Slot& slot, const UpstreamTlsPtr& tls);
  void put(const EndpointPtr& endpoint, tcp::socket socket);
  void put(const EndpointPtr& endpoint, const UpstreamTls* tls, UpstreamTlsStreamPtr stream);
  void expire(Slot& slot, Clock::time_point now);        // plain and TLS
  void expire_plain(Slot& slot, Clock::time_point now);  // the plain path's: TLS lists untouched
  void take_tls(UpstreamLease& lease, Slot& slot, const EndpointPtr& endpoint,
                const UpstreamTlsPtr& tls);

  net::any_io_executor executor_;
  PoolLimits limits_;
  std::unordered_map<const Endpoint*, Slot> slots_;
};

}  // namespace infergate::proxy
