// How many client connections the process holds, in all and per client address. A connection
// over a limit is answered 503 at once and closed: memory stays bounded however many sockets a
// storm opens (each session costs its buffers, ~16 KiB idle). Shared by every worker.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace prometheus {
struct MetricFamily;
}

namespace infergate::proxy {

class ConnectionLimits {
 public:
  // 0: no limit of that kind.
  ConnectionLimits(std::size_t max_total, std::size_t max_per_client);

  enum class Verdict : std::uint8_t { admitted, over_total, over_client };
  // Counts the connection in when a limit allows it (call release() when it ends).
  Verdict admit(const boost::asio::ip::address& client);
  void release(const boost::asio::ip::address& client) noexcept;

  // infergate_connections_open, infergate_connections_refused_total{reason}.
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  using Key = std::array<unsigned char, 16>;  // IPv4 as v4-mapped IPv6
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };
  static Key key_of(const boost::asio::ip::address& a) noexcept;

  const std::size_t max_total_, max_per_client_;
  std::atomic<std::size_t> open_{0};
  std::atomic<std::uint64_t> refused_total_{0}, refused_client_{0};
  std::mutex mutex_;  // per-client counts only: taken once per connection, not per request
  std::unordered_map<Key, std::uint32_t, KeyHash> per_client_;
};

// One admitted connection's place; gives it back when the session ends.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(ConnectionLimits* limits, boost::asio::ip::address client)
      : limits_(limits), client_(client) {}
  ConnectionSlot(ConnectionSlot&& other) noexcept
      : limits_(std::exchange(other.limits_, nullptr)), client_(other.client_) {}
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept {
    if (this != &other) {
      give_back();
      limits_ = std::exchange(other.limits_, nullptr);
      client_ = other.client_;
    }
    return *this;
  }
  ~ConnectionSlot() { give_back(); }

 private:
  void give_back() noexcept {
    if (limits_) limits_->release(client_);
    limits_ = nullptr;
  }

  ConnectionLimits* limits_ = nullptr;
  boost::asio::ip::address client_;
};

}  // namespace infergate::proxy
