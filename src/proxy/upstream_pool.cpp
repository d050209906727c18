// Per-worker upstream keep-alive pool: LIFO reuse, bounded idle count, idle expiry.
#include "proxy/upstream_pool.hpp"

#include <algorithm>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/write.hpp>

#include "proxy/upstream_tls.hpp"

namespace infergate::proxy {

using boost::system::error_code;

namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

void close(UpstreamTlsStream& s) noexcept {
  // No close_notify: the connection is dropped (expired, or the response was cut), and a
  // synchronous TLS shutdown could block on a server that does not read.
  error_code ignored;
  s.stream.next_layer().close(ignored);
}

}  // namespace

void UpstreamTlsStreamDelete::operator()(UpstreamTlsStream* s) const noexcept { delete s; }

UpstreamLease& UpstreamLease::operator=(UpstreamLease&& other) noexcept {
  if (this != &other) {
    discard();
    pool_ = other.pool_;
    endpoint_ = std::move(other.endpoint_);
    socket_ = std::move(other.socket_);
    other.socket_.reset();
    tls_stream_ = std::move(other.tls_stream_);
    tls_ = other.tls_;
    reused_ = other.reused_;
  }
  return *this;
}

tcp::socket& UpstreamLease::tls_socket() noexcept { return tls_stream_->stream.next_layer(); }

net::awaitable<ReadResult> UpstreamLease::tls_read_some(net::mutable_buffer buffer) {
  auto read = tls_stream_->stream.async_read_some(buffer, kTuple);
  ReadResult result = co_await std::move(read);
  // A TLS alert, not an end of stream: under TLS 1.3 a server that refuses the client
  // certificate says so only after the client's handshake is done, at the first read.
  if (const auto& ec = std::get<0>(result); ec && ec.category() == net::error::get_ssl_category()) {
    tls_->fail(UpstreamTlsFailure::handshake, endpoint_->name, ec.message());
  }
  co_return result;
}

net::awaitable<error_code> UpstreamLease::write_tls(std::span<const net::const_buffer> buffers) {
  // One record for the head and the body: the engine would make one per buffer.
  UpstreamTlsStream& s = *tls_stream_;
  s.out.clear();
  for (const auto& b : buffers) s.out.append(static_cast<const char*>(b.data()), b.size());
  auto write = net::async_write(s.stream, net::buffer(s.out), kTuple);
  auto [ec, n] = co_await std::move(write);
  co_return ec;
}

void UpstreamLease::give_back() {
  if (tls_stream_) {
    if (!pool_ || !tls_stream_->stream.next_layer().is_open()) {
      discard();
      return;
    }
    pool_->put(endpoint_, tls_, std::move(tls_stream_));
    return;
  }
  if (!socket_ || !pool_ || !socket_->is_open()) {
    discard();
    return;
  }
  pool_->put(endpoint_, std::move(*socket_));
  socket_.reset();
}

void UpstreamLease::discard() noexcept {
  if (socket_) {
    error_code ignored;
    socket_->close(ignored);
    socket_.reset();
  }
  if (tls_stream_) {
    close(*tls_stream_);
    tls_stream_.reset();
  }
}

UpstreamPool::UpstreamPool(net::any_io_executor executor, PoolLimits limits)
    : executor_(std::move(executor)), limits_(limits) {}

UpstreamPool::Slot& UpstreamPool::slot(const EndpointPtr& endpoint) {
  auto [it, inserted] = slots_.try_emplace(endpoint.get());
  if (inserted) it->second.endpoint = endpoint;
  return it->second;
}

UpstreamPool::TlsIdle& UpstreamPool::tls_idle(Slot& slot, const UpstreamTlsPtr& tls) {
  for (TlsIdle& t : slot.tls) {
    if (t.tls == tls) return t;
  }
  // A handle no snapshot holds any more, with nothing idle: its place is free.
  for (TlsIdle& t : slot.tls) {
    if (t.idle.empty() && t.tls.use_count() == 1) {
      t.tls = tls;
      return t;
    }
  }
  return slot.tls.emplace_back(TlsIdle{tls, {}});
}

namespace {

// Closes and drops the idle entries (oldest first) older than the idle timeout.
template <typename Entries, typename Close>
void expire_entries(Entries& idle, Clock::time_point now, std::chrono::milliseconds timeout,
                    Close&& close_one) {
  std::size_t stale = 0;
  while (stale < idle.size() && now - idle[stale].since > timeout) ++stale;
  if (stale == 0) return;
  for (std::size_t i = 0; i < stale; ++i) close_one(idle[i]);
  idle.erase(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(stale));
}

}  // namespace

void UpstreamPool::expire_plain(Slot& slot, Clock::time_point now) {
  expire_entries(slot.idle, now, limits_.idle_timeout, [](Idle& idle) {
    error_code ignored;
    idle.socket.close(ignored);
  });
}

void UpstreamPool::expire(Slot& slot, Clock::time_point now) {
  expire_plain(slot, now);
  for (TlsIdle& t : slot.tls) {
    expire_entries(t.idle, now, limits_.idle_timeout, [](IdleTls& idle) { close(*idle.stream); });
  }
}

void UpstreamPool::take_tls(UpstreamLease& lease, Slot& s, const EndpointPtr& endpoint,
                            const UpstreamTlsPtr& tls) {
  TlsIdle& t = tls_idle(s, tls);
  if (t.idle.empty()) return;
  expire(s, Clock::now());
  if (t.idle.empty()) return;
  lease.pool_ = this;
  lease.endpoint_ = endpoint;
  lease.tls_ = tls.get();
  lease.tls_stream_ = std::move(t.idle.back().stream);
  lease.reused_ = true;
  t.idle.pop_back();
}

UpstreamLease UpstreamPool::take(const EndpointPtr& endpoint, const UpstreamTlsPtr& tls) {
  // One named lease for every return: the plain path keeps its copy elision.
  UpstreamLease lease;
  Slot& s = slot(endpoint);
  if (tls) {
    take_tls(lease, s, endpoint, tls);
    return lease;
  }
  if (s.idle.empty()) return lease;
  expire_plain(s, Clock::now());
  if (s.idle.empty()) return lease;
  lease.pool_ = this;
  lease.endpoint_ = endpoint;
  lease.socket_.emplace(std::move(s.idle.back().socket));
  lease.reused_ = true;
  s.idle.pop_back();
  return lease;
}

UpstreamLease UpstreamPool::open(const EndpointPtr& endpoint, const UpstreamTlsPtr& tls) {
  UpstreamLease lease;
  lease.pool_ = this;
  lease.endpoint_ = endpoint;
  if (!tls) {
    lease.socket_.emplace(executor_);
    return lease;
  }
  // The slot keeps the handle alive as long as the lease can come back to it.
  lease.tls_ = tls_idle(slot(endpoint), tls).tls.get();
  // Without a context the lease stays without a socket: connect() fails it.
  if (tls->context) lease.tls_stream_.reset(new UpstreamTlsStream(executor_, *tls));
  return lease;
}

net::awaitable<error_code> UpstreamPool::connect(UpstreamLease& lease) {
  if (lease.tls_ && !lease.tls_stream_) {
    lease.tls_->fail(UpstreamTlsFailure::context, lease.endpoint()->name, lease.tls_->error);
    co_return upstream_tls_unavailable();
  }
  Slot& s = slot(lease.endpoint());
  if (!s.address) {
    const HostPort& hp = lease.endpoint()->address;
    error_code ec;
    const auto ip = net::ip::make_address(hp.host, ec);
    if (!ec) {
      s.address.emplace(ip, hp.port);
    } else {
      // A name: resolved once per worker; config names are expected to be stable.
      tcp::resolver resolver(executor_);
      auto resolve = resolver.async_resolve(hp.host, std::to_string(hp.port),
                                            net::as_tuple(net::use_awaitable));
      auto [rec, results] = co_await std::move(resolve);
      if (rec || results.empty()) co_return rec ? rec : net::error::host_not_found;
      s.address.emplace(results.begin()->endpoint());
    }
  }
  tcp::socket& socket = lease.socket();
  error_code ec;
  socket.open(s.address->protocol(), ec);
  if (ec) co_return ec;
  auto op = socket.async_connect(*s.address, net::as_tuple(net::use_awaitable));
  auto [cec] = co_await std::move(op);
  if (cec) co_return cec;
  socket.set_option(tcp::no_delay(true), ec);
  if (!lease.tls_stream_) {
    socket.non_blocking(true, ec);  // writes try once synchronously (Session::write_fully)
    co_return error_code{};
  }
  auto handshake = upstream_tls_handshake(*lease.tls_stream_, *lease.endpoint());
  co_return co_await std::move(handshake);
}

void UpstreamPool::put(const EndpointPtr& endpoint, tcp::socket socket) {
  Slot& s = slot(endpoint);
  const auto now = Clock::now();
  expire_plain(s, now);
  if (s.idle.size() >= limits_.max_idle_per_endpoint) {
    error_code ignored;
    socket.close(ignored);
    return;
  }
  s.idle.push_back(Idle{std::move(socket), now});
}

void UpstreamPool::put(const EndpointPtr& endpoint, const UpstreamTls* tls,
                       UpstreamTlsStreamPtr stream) {
  Slot& s = slot(endpoint);
  const auto now = Clock::now();
  expire(s, now);
  for (TlsIdle& t : s.tls) {
    if (t.tls.get() != tls) continue;
    if (t.idle.size() < limits_.max_idle_per_endpoint) {
      t.idle.push_back(IdleTls{std::move(stream), now});
      return;
    }
    break;
  }
  close(*stream);  // over the bound, or a handle the slot no longer holds (not expected)
}

void UpstreamPool::expire_idle() {
  const auto now = Clock::now();
  for (auto& [key, s] : slots_) expire(s, now);
}

void UpstreamPool::close_idle() {
  for (auto& [key, s] : slots_) {
    for (auto& idle : s.idle) {
      error_code ignored;
      idle.socket.close(ignored);
    }
    s.idle.clear();
    for (TlsIdle& t : s.tls) {
      for (IdleTls& idle : t.idle) close(*idle.stream);
      t.idle.clear();
    }
  }
}

std::size_t UpstreamPool::idle_count() const noexcept {
  std::size_t n = 0;
  for (const auto& [key, s] : slots_) {
    n += s.idle.size();
    for (const TlsIdle& t : s.tls) n += t.idle.size();
  }
  return n;
}

}  // namespace infergate::proxy
