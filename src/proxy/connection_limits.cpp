#include "proxy/connection_limits.hpp"

#include <cstring>

#include <prometheus/metric_family.h>

namespace infergate::proxy {

ConnectionLimits::ConnectionLimits(std::size_t max_total, std::size_t max_per_client)
    : max_total_(max_total), max_per_client_(max_per_client) {}

std::size_t ConnectionLimits::KeyHash::operator()(const Key& k) const noexcept {
  std::uint64_t a, b;
  std::memcpy(&a, k.data(), 8);
  std::memcpy(&b, k.data() + 8, 8);
  return static_cast<std::size_t>((a * 0x9E3779B97F4A7C15ull) ^ (b + 0x7F4A7C159E3779B9ull + (a << 6)));
}

ConnectionLimits::Key ConnectionLimits::key_of(const boost::asio::ip::address& a) noexcept {
  const auto v6 = a.is_v4() ? boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, a.to_v4())
                            : a.to_v6();
  return v6.to_bytes();
}

ConnectionLimits::Verdict ConnectionLimits::admit(const boost::asio::ip::address& client) {
  const std::size_t now = open_.fetch_add(1, std::memory_order_relaxed);
  if (max_total_ != 0 && now >= max_total_) {
    open_.fetch_sub(1, std::memory_order_relaxed);
    refused_total_.fetch_add(1, std::memory_order_relaxed);
    return Verdict::over_total;
  }
  if (max_per_client_ == 0) return Verdict::admitted;
  const std::lock_guard lock(mutex_);
  std::uint32_t& mine = per_client_[key_of(client)];
  if (mine >= max_per_client_) {
    open_.fetch_sub(1, std::memory_order_relaxed);
    refused_client_.fetch_add(1, std::memory_order_relaxed);
    return Verdict::over_client;
  }
  ++mine;
  return Verdict::admitted;
}

void ConnectionLimits::release(const boost::asio::ip::address& client) noexcept {
  open_.fetch_sub(1, std::memory_order_relaxed);
  if (max_per_client_ == 0) return;
  const std::lock_guard lock(mutex_);
  const auto it = per_client_.find(key_of(client));
  if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);  // the map stays small
}

std::vector<prometheus::MetricFamily> ConnectionLimits::collect() const {
  prometheus::MetricFamily open{"infergate_connections_open", "Client connections open now",
                                prometheus::MetricType::Gauge, {}};
  prometheus::ClientMetric gauge;
  gauge.gauge.value = static_cast<double>(open_.load(std::memory_order_relaxed));
  open.metric.push_back(gauge);
  prometheus::MetricFamily refused{"infergate_connections_refused_total",
                                   "Client connections answered 503 and closed at once, by the limit reached",
                                   prometheus::MetricType::Counter, {}};
  for (const auto& [reason, n] : {std::pair{"max_connections", &refused_total_},
                                  {"max_connections_per_client", &refused_client_}}) {
    prometheus::ClientMetric metric;
    metric.label.push_back({"reason", reason});
    metric.counter.value = static_cast<double>(n->load(std::memory_order_relaxed));
    refused.metric.push_back(std::move(metric));
  }
  return {std::move(open), std::move(refused)};
}

}  // namespace infergate::proxy
