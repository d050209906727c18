// TLS from the gateway to a pool's model servers (PoolConfig::tls): one client context per pool
// TLS config, shared by every worker (an OpenSSL context is thread-safe once configured), the
// process-wide cache that hands them to snapshot builds, and the stream of one TLS connection.
// Only the .cpp files that touch upstream TLS include this (asio's ssl headers are heavy).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "infergate/config.hpp"
#include "infergate/routing.hpp"

namespace prometheus {
struct MetricFamily;
}

namespace infergate {

// Why a TLS connect to a pool's server failed: label `reason` of
// infergate_upstream_tls_errors_total{pool, reason}.
enum class UpstreamTlsFailure : std::uint8_t {
  context,    // the pool's context could not be built (unreadable CA, key not matching, ...)
  handshake,  // the TLS handshake failed (not TLS, no common protocol, client cert refused, ...)
  verify,     // the server's certificate did not verify (unknown CA, wrong name, expired, ...)
};
inline constexpr std::size_t kUpstreamTlsFailures = 3;

// One pool's failure counters: they outlive the handles (a rebuilt context counts on).
struct UpstreamTlsCounters {
  std::array<std::atomic<std::uint64_t>, kUpstreamTlsFailures> failures{};
  std::array<std::atomic<bool>, kUpstreamTlsFailures> warned{};  // the first of each is a warning
};

// The handle a snapshot's Pool holds (routing.hpp declares it opaque). Immutable once built.
struct UpstreamTls {
  std::string pool;
  UpstreamTlsConfig config;
  std::shared_ptr<boost::asio::ssl::context> context;  // null: not built, `error` says why
  std::string error;
  std::shared_ptr<UpstreamTlsCounters> counters;  // never null
  std::vector<std::int64_t> file_stamps;          // of ca, cert, key when built: see the cache

  // Counts a failure; the first of each reason per pool is logged as a warning (debug builds
  // log every one), so an operator sees a wrong CA or name without debug logging.
  void fail(UpstreamTlsFailure why, const std::string& endpoint, const std::string& detail) const;
};

}  // namespace infergate

namespace infergate::proxy {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;

// Client mode, TLS 1.2 or later, ALPN http/1.1; with `verify` the peer must present a chain to
// `ca_file` (or the system's default trust store); optional client certificate and key. Throws
// std::runtime_error naming the field and the file when something does not load.
std::shared_ptr<ssl::context> make_upstream_tls_context(const UpstreamTlsConfig& config);

// The process's handles, one per (pool name, TLS config), reused by every snapshot build while
// some snapshot (or pooled connection) still holds it and its files are unchanged: a rebuild
// (each Kubernetes change) neither re-reads the files nor orphans the pooled connections, and a
// rotated CA or client certificate is picked up by the next build (SIGHUP, cluster change).
// A context that cannot be built is logged as an error once per build of its handle; the
// handle then fails every connect (counted as reason="context"). Thread-safe.
class UpstreamTlsCache {
 public:
  UpstreamTlsCache() = default;
  UpstreamTlsCache(const UpstreamTlsCache&) = delete;
  UpstreamTlsCache& operator=(const UpstreamTlsCache&) = delete;

  // For build_snapshot; refers to this cache, which must outlive the snapshots it builds.
  UpstreamTlsFactory factory();
  UpstreamTlsPtr get(const PoolConfig& pool);
  // infergate_upstream_tls_errors_total{pool, reason} (for Metrics::add_collector).
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  struct Entry {
    UpstreamTlsConfig config;
    std::weak_ptr<const UpstreamTls> handle;
  };
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<Entry>> entries_;  // by pool name
  std::map<std::string, std::shared_ptr<UpstreamTlsCounters>> counters_;  // by pool name
};

// One TLS connection to a server: owns its TCP socket (a lease moves the pointer, never the
// stream, so nothing refers to a moved socket).
struct UpstreamTlsStream {
  UpstreamTlsStream(const net::any_io_executor& executor, const UpstreamTls& handle)
      : stream(executor, *handle.context), tls(&handle) {}
  ssl::stream<net::ip::tcp::socket> stream;
  const UpstreamTls* tls;  // kept alive by the upstream pool's slot
  std::string out;         // a write's buffers gathered into one record
};

// After the TCP connect: SNI (names only, RFC 6066), name or IP verification against
// `server_name` or else the endpoint's host, then the client handshake. A failure is counted
// and logged with the reason; the caller treats it as a connect failure.
net::awaitable<boost::system::error_code> upstream_tls_handshake(UpstreamTlsStream& s,
                                                                 const Endpoint& endpoint);

// The error a connect to a pool whose context could not be built fails with.
boost::system::error_code upstream_tls_unavailable();

}  // namespace infergate::proxy
