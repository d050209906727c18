// Per-worker upstream keep-alive pool: LIFO reuse, bounded idle count, idle expiry.
#include "proxy/upstream_pool.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace infergate::proxy {

using boost::system::error_code;

UpstreamLease& UpstreamLease::operator=(UpstreamLease&& other) noexcept {
  if (this != &other) {
    discard();
    pool_ = other.pool_;
    endpoint_ = std::move(other.endpoint_);
    socket_ = std::move(other.socket_);
    other.socket_.reset();
    reused_ = other.reused_;
  }
  return *this;
}

void UpstreamLease::give_back() {
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
}

UpstreamPool::UpstreamPool(net::any_io_executor executor, PoolLimits limits)
    : executor_(std::move(executor)), limits_(limits) {}

UpstreamPool::Slot& UpstreamPool::slot(const EndpointPtr& endpoint) {
  auto [it, inserted] = slots_.try_emplace(endpoint.get());
  if (inserted) it->second.endpoint = endpoint;
  return it->second;
}

void UpstreamPool::expire(Slot& slot, Clock::time_point now) {
  std::size_t stale = 0;
  while (stale < slot.idle.size() && now - slot.idle[stale].since > limits_.idle_timeout) ++stale;
  if (stale == 0) return;
  for (std::size_t i = 0; i < stale; ++i) {
    error_code ignored;
    slot.idle[i].socket.close(ignored);
  }
  slot.idle.erase(slot.idle.begin(), slot.idle.begin() + static_cast<std::ptrdiff_t>(stale));
}

UpstreamLease UpstreamPool::take(const EndpointPtr& endpoint) {
  UpstreamLease lease;
  Slot& s = slot(endpoint);
  if (s.idle.empty()) return lease;
  expire(s, Clock::now());
  if (s.idle.empty()) return lease;
  lease.pool_ = this;
  lease.endpoint_ = endpoint;
  lease.socket_.emplace(std::move(s.idle.back().socket));
  lease.reused_ = true;
  s.idle.pop_back();
  return lease;
}

UpstreamLease UpstreamPool::open(const EndpointPtr& endpoint) {
  UpstreamLease lease;
  lease.pool_ = this;
  lease.endpoint_ = endpoint;
  lease.socket_.emplace(executor_);
  return lease;
}

net::awaitable<error_code> UpstreamPool::connect(UpstreamLease& lease) {
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
  socket.non_blocking(true, ec);  // writes try once synchronously (Session::write_fully)
  co_return error_code{};
}

void UpstreamPool::put(const EndpointPtr& endpoint, tcp::socket socket) {
  Slot& s = slot(endpoint);
  const auto now = Clock::now();
  expire(s, now);
  if (s.idle.size() >= limits_.max_idle_per_endpoint) {
    error_code ignored;
    socket.close(ignored);
    return;
  }
  s.idle.push_back(Idle{std::move(socket), now});
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
  }
}

std::size_t UpstreamPool::idle_count() const noexcept {
  std::size_t n = 0;
  for (const auto& [key, s] : slots_) n += s.idle.size();
  return n;
}

}  // namespace infergate::proxy
