// The routing contract between src/proxy and src/routing: an immutable snapshot of models and
// pools, live per-endpoint counters, and the scheduler that turns request facts into endpoints.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/system/result.hpp>

#include "infergate/config.hpp"
#include "infergate/errors.hpp"
#include "infergate/request_facts.hpp"

namespace infergate {

// One model-server endpoint. Outlives snapshots: the control thread carries the same object
// into every new snapshot while the address stays, so its counters are never reset by a reload.
struct Endpoint {
  explicit Endpoint(HostPort a) : address(std::move(a)), name(address.str()) {}
  const HostPort address;
  const std::string name;               // "ip:port", as sent in x-gateway-destination-endpoint-served
  std::atomic<std::int32_t> in_flight{0};  // requests from this gateway not yet finished (all workers)
};
using EndpointPtr = std::shared_ptr<Endpoint>;

struct Pool {
  std::string name;
  std::vector<EndpointPtr> endpoints;
};

struct Target {
  const Pool* pool = nullptr;
  std::string served_model;  // empty: forward the requested name unchanged
  std::uint32_t weight = 1;
};

struct ModelRoute {
  std::string name;
  std::vector<Target> targets;
  std::uint64_t total_weight = 0;
};

// Hash for string-keyed maps that find by std::string_view without building a std::string.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// Immutable once published. Built by the control thread, read by workers through one atomic load.
struct Snapshot {
  std::vector<std::unique_ptr<Pool>> pools;
  std::unordered_map<std::string, ModelRoute, StringHash, std::equal_to<>> models;
  std::vector<std::string> model_names;  // sorted, for GET /v1/models

  const ModelRoute* find_model(std::string_view name) const;
};
using SnapshotPtr = std::shared_ptr<const Snapshot>;

// Builds a snapshot from config, reusing Endpoint objects from `previous` where addresses match.
SnapshotPtr build_snapshot(const GatewayConfig& config, const Snapshot* previous = nullptr);

// Where one request goes: the target chosen by weight, and endpoints in order of preference
// (first choice, then fallbacks the proxy walks on connect failure).
struct Decision {
  const ModelRoute* model = nullptr;
  const Target* target = nullptr;
  std::vector<EndpointPtr> endpoints;
  bool rewrite() const { return target && !target->served_model.empty(); }
};

using Rng = std::mt19937_64;

// Resolves model -> weighted target -> pool -> ordered endpoints.
// Refusals: model_not_found, no_ready_endpoint.
boost::system::result<Decision, ErrorKind> schedule(const Snapshot& snapshot,
                                                    const RequestFacts& facts, Rng& rng);

// The same, keeping only the `max_endpoints` first choices (pass GatewayConfig::max_attempts):
// fewer shared_ptr copies on the hot path than ordering the whole pool.
boost::system::result<Decision, ErrorKind> schedule(const Snapshot& snapshot,
                                                    const RequestFacts& facts, Rng& rng,
                                                    std::size_t max_endpoints);

// RAII: counts one request in flight on an endpoint until destroyed (at the response's last byte).
class InFlight {
 public:
  InFlight() = default;
  explicit InFlight(EndpointPtr e) : endpoint_(std::move(e)) {
    endpoint_->in_flight.fetch_add(1, std::memory_order_relaxed);
  }
  InFlight(InFlight&& o) noexcept = default;
  InFlight& operator=(InFlight&& o) noexcept {
    if (this != &o) { release(); endpoint_ = std::move(o.endpoint_); }
    return *this;
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  ~InFlight() { release(); }
  void release() {
    if (endpoint_) endpoint_->in_flight.fetch_sub(1, std::memory_order_relaxed);
    endpoint_.reset();
  }

 private:
  EndpointPtr endpoint_;
};

// The live snapshot: one writer (control thread), many readers (workers), no locks.
class SnapshotHolder {
 public:
  explicit SnapshotHolder(SnapshotPtr initial) : current_(std::move(initial)) {}
  SnapshotPtr load() const { return current_.load(std::memory_order_acquire); }
  void publish(SnapshotPtr next) { current_.store(std::move(next), std::memory_order_release); }

 private:
  std::atomic<SnapshotPtr> current_;
};

}  // namespace infergate
