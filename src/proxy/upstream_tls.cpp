// Upstream TLS: the pools' client contexts, their cache and counters, and the handshake.
#include "proxy/upstream_tls.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <prometheus/metric_family.h>
#include <spdlog/spdlog.h>

namespace infergate {

namespace {

constexpr std::array<const char*, kUpstreamTlsFailures> kFailureNames{"context", "handshake",
                                                                      "verify"};

}  // namespace

void UpstreamTls::fail(UpstreamTlsFailure why, const std::string& endpoint,
                       const std::string& detail) const {
  const auto i = static_cast<std::size_t>(why);
  counters->failures[i].fetch_add(1, std::memory_order_relaxed);
  if (!counters->warned[i].exchange(true, std::memory_order_relaxed)) {
    spdlog::warn("upstream tls: pool={} endpoint={} reason={} error={} (first of its kind; "
                 "counted in infergate_upstream_tls_errors_total)",
                 pool, endpoint, kFailureNames[i], detail);
  } else {
    SPDLOG_DEBUG("upstream tls: pool={} endpoint={} reason={} error={}", pool, endpoint,
                 kFailureNames[i], detail);
  }
}

}  // namespace infergate

namespace infergate::proxy {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

class UnavailableCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "infergate.upstream_tls"; }
  std::string message(int) const override {
    return "the pool's TLS context could not be built (see the error logged when it was)";
  }
};

// A readable file, or an error that names the field and says why (OpenSSL's own messages for a
// missing file are vague: "system lib").
void check_readable(const char* field, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    throw std::runtime_error(std::string(field) + " " + path + ": " + std::strerror(errno));
  }
}

std::runtime_error load_error(const char* field, const std::string& path,
                              const boost::system::error_code& ec) {
  return std::runtime_error(std::string(field) + " " + path + ": " + ec.message());
}

// Modification times (ns, -1: missing) of the files a context reads: a change means rebuild.
std::vector<std::int64_t> file_stamps(const UpstreamTlsConfig& config) {
  std::vector<std::int64_t> stamps;
  for (const std::string* path : {&config.ca_file, &config.cert_file, &config.key_file}) {
    struct stat st {};
    if (path->empty()) {
      stamps.push_back(0);
    } else if (::stat(path->c_str(), &st) != 0) {
      stamps.push_back(-1);
    } else {
      stamps.push_back(static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                       st.st_mtim.tv_nsec);
    }
  }
  return stamps;
}

}  // namespace

boost::system::error_code upstream_tls_unavailable() {
  static const UnavailableCategory category;
  return {1, category};
}

std::shared_ptr<ssl::context> make_upstream_tls_context(const UpstreamTlsConfig& config) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  boost::system::error_code ec;
  if (config.verify) {
    context->set_verify_mode(ssl::verify_peer);
    if (!config.ca_file.empty()) {
      check_readable("tls.ca_file", config.ca_file);
      context->load_verify_file(config.ca_file, ec);
      if (ec) throw load_error("tls.ca_file", config.ca_file, ec);
    } else {
      context->set_default_verify_paths(ec);
      if (ec) throw std::runtime_error("the system's default trust store: " + ec.message());
    }
  } else {
    context->set_verify_mode(ssl::verify_none);
  }
  if (config.cert_file.empty() != config.key_file.empty()) {
    throw std::runtime_error("tls.cert_file and tls.key_file go together");
  }
  if (!config.cert_file.empty()) {
    check_readable("tls.cert_file", config.cert_file);
    check_readable("tls.key_file", config.key_file);
    context->use_certificate_chain_file(config.cert_file, ec);
    if (ec) throw load_error("tls.cert_file", config.cert_file, ec);
    context->use_private_key_file(config.key_file, ssl::context::pem, ec);
    if (ec) throw load_error("tls.key_file", config.key_file, ec);
    if (SSL_CTX_check_private_key(native) != 1) {
      throw std::runtime_error("tls.key_file " + config.key_file + " does not match tls.cert_file");
    }
  }
  // Only HTTP/1.1 is spoken upstream; a server that selects another protocol fails the handshake.
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (SSL_CTX_set_alpn_protos(native, kHttp11, sizeof kHttp11) != 0) {
    throw std::runtime_error("cannot set ALPN http/1.1");
  }
  return context;
}

UpstreamTlsFactory UpstreamTlsCache::factory() {
  return [this](const PoolConfig& pool) { return get(pool); };
}

UpstreamTlsPtr UpstreamTlsCache::get(const PoolConfig& pool) {
  const std::vector<std::int64_t> stamps = file_stamps(pool.tls);
  std::lock_guard lock(mutex_);
  std::vector<Entry>& entries = entries_[pool.name];
  std::erase_if(entries, [](const Entry& e) { return e.handle.expired(); });
  for (const Entry& entry : entries) {
    if (!(entry.config == pool.tls)) continue;
    if (auto handle = entry.handle.lock(); handle && handle->file_stamps == stamps) return handle;
  }
  auto& counters = counters_[pool.name];
  if (!counters) counters = std::make_shared<UpstreamTlsCounters>();
  auto handle = std::make_shared<UpstreamTls>();
  handle->pool = pool.name;
  handle->config = pool.tls;
  handle->counters = counters;
  handle->file_stamps = stamps;
  try {
    handle->context = make_upstream_tls_context(pool.tls);
    spdlog::info("upstream tls: pool={} ca={} server_name={} client_cert={} verify={}", pool.name,
                 pool.tls.ca_file.empty() ? "(system)" : pool.tls.ca_file,
                 pool.tls.server_name.empty() ? "(endpoint host)" : pool.tls.server_name,
                 pool.tls.cert_file.empty() ? "none" : pool.tls.cert_file, pool.tls.verify);
  } catch (const std::exception& e) {
    handle->error = e.what();
    spdlog::error("upstream tls: pool={} cannot build its TLS context, its endpoints will fail "
                  "to connect: {}", pool.name, handle->error);
  }
  entries.push_back({pool.tls, handle});
  return handle;
}

std::vector<prometheus::MetricFamily> UpstreamTlsCache::collect() const {
  prometheus::MetricFamily family{"infergate_upstream_tls_errors_total",
                                  "TLS connects to a pool's servers that failed, by pool and "
                                  "reason (context, handshake, verify)",
                                  prometheus::MetricType::Counter, {}};
  std::lock_guard lock(mutex_);
  for (const auto& [pool, counters] : counters_) {
    for (std::size_t i = 0; i < kUpstreamTlsFailures; ++i) {
      prometheus::ClientMetric metric;
      metric.label = {{"pool", pool}, {"reason", kFailureNames[i]}};
      metric.counter.value =
          static_cast<double>(counters->failures[i].load(std::memory_order_relaxed));
      family.metric.push_back(std::move(metric));
    }
  }
  if (family.metric.empty()) return {};
  return {std::move(family)};
}

net::awaitable<boost::system::error_code> upstream_tls_handshake(UpstreamTlsStream& s,
                                                                 const Endpoint& endpoint) {
  const UpstreamTls& tls = *s.tls;
  const std::string& name = tls.config.server_name.empty() ? endpoint.address.host
                                                           : tls.config.server_name;
  SSL* ssl = s.stream.native_handle();
  boost::system::error_code not_ip;
  net::ip::make_address(name, not_ip);
  if (not_ip) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (tls.config.verify) {
    if (!not_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, name.c_str());
    }
  }
  auto handshake = s.stream.async_handshake(ssl::stream_base::client, kTuple);
  auto [ec] = co_await std::move(handshake);
  // Aborted: the connect timeout or the client leaving closed the socket; not the server's TLS.
  if (!ec || ec == net::error::operation_aborted) co_return ec;
  const long verified = SSL_get_verify_result(ssl);
  if (tls.config.verify && verified != X509_V_OK) {
    tls.fail(UpstreamTlsFailure::verify, endpoint.name,
             ec.message() + ": " + X509_verify_cert_error_string(verified) + " (expected name " +
                 name + ")");
  } else {
    tls.fail(UpstreamTlsFailure::handshake, endpoint.name, ec.message());
  }
  co_return ec;
}

}  // namespace infergate::proxy
