// The routing contract between src/proxy and src/routing: an immutable snapshot of models and
// pools, live per-endpoint counters, and the scheduler that turns request facts into endpoints.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

#include "infergate/config.hpp"
#include "infergate/endpoint_load.hpp"
#include "infergate/errors.hpp"
#include "infergate/request_facts.hpp"

namespace infergate {

// One model-server endpoint. Outlives snapshots: the control thread carries the same object
// into every new snapshot while the address stays, so its counters are never reset by a reload.
struct Endpoint {
  explicit Endpoint(HostPort a)
      : address(std::move(a)), name(address.str()), id(next_id_.fetch_add(1) + 1) {}
  const HostPort address;
  const std::string name;               // "ip:port", as sent in x-gateway-destination-endpoint-served
  const std::uint32_t id;               // unique for the process's life (never reused): index keys
  std::atomic<std::int32_t> in_flight{0};  // requests from this gateway not yet finished (all workers)
  // Prefill this gateway still waits for here: requests sent that have had no response body byte
  // yet, and their uncached prompt tokens, estimated (PendingPrefill below; all workers).
  std::atomic<std::int32_t> prefill_requests{0};
  std::atomic<std::int64_t> prefill_tokens{0};
  EndpointLoad load;                    // scraped load, dispatch count, health (endpoint_health.hpp)

 private:
  static inline std::atomic<std::uint32_t> next_id_{0};
};
using EndpointPtr = std::shared_ptr<Endpoint>;

// A pool's own key toward its servers (upstream_auth: replace): the whole Authorization value,
// replaced by the control thread when its file changes, read by workers with one atomic load.
// Rebuilt snapshots carry the same object over while the file stays.
struct UpstreamCredential {
  explicit UpstreamCredential(std::string f) : file(std::move(f)) {}
  const std::string file;
  std::atomic<std::shared_ptr<const std::string>> authorization;  // "Bearer <key>"; null: unread
};

class SchedulerProfile;  // src/routing/profile.hpp
struct MetricsMapping;   // src/routing/metrics_text.hpp
// What the proxy needs to speak TLS to a pool's servers (its OpenSSL context, counters): opaque
// here, defined and built by src/proxy (proxy/upstream_tls.hpp), so routing needs no TLS headers.
struct UpstreamTls;
using UpstreamTlsPtr = std::shared_ptr<const UpstreamTls>;

struct Pool {
  std::string name;
  std::vector<EndpointPtr> endpoints;
  std::shared_ptr<const SchedulerProfile> profile;  // never null in a built snapshot
  MetricsConfig metrics;                             // scraper settings ("none": not scraped)
  std::shared_ptr<const MetricsMapping> mapping;    // null: not scraped
  SaturationConfig saturation;
  QueueConfig queue;
  UpstreamAuthMode upstream_auth = UpstreamAuthMode::pass;  // resolved: never unset here
  std::shared_ptr<UpstreamCredential> credential;           // set when upstream_auth is replace
  UpstreamTlsPtr tls;  // null: plain TCP to the servers; never null when the config enables TLS
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
  int priority = priority::standard;
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
  std::unordered_map<std::string, int, StringHash, std::equal_to<>> objective_priorities;

  const ModelRoute* find_model(std::string_view name) const;
};
using SnapshotPtr = std::shared_ptr<const Snapshot>;

// Makes a pool's TLS handle from its config (PoolConfig::tls.enabled) at snapshot build, on the
// building thread. Must not return null: a context that cannot be built is a handle that says
// why (its connects then fail). src/proxy provides it (UpstreamTlsCache::factory()).
using UpstreamTlsFactory = std::function<UpstreamTlsPtr(const PoolConfig&)>;

// Builds a snapshot from config, reusing Endpoint objects from `previous` where addresses match.
// A pool with TLS enabled gets its handle from `tls`; without a factory such a config throws
// std::invalid_argument (never a silent fall back to plain TCP).
SnapshotPtr build_snapshot(const GatewayConfig& config, const Snapshot* previous = nullptr,
                           const UpstreamTlsFactory& tls = {});

// Where one request goes: the target chosen by weight, and endpoints in order of preference
// (first choice, then fallbacks the proxy walks on connect failure).
// What the scheduler concluded. `dispatch`: send to endpoints[0], then the fallbacks.
// `queue`: the pool is saturated (or has no endpoint) and the request is not sheddable: hold it
// in the pool's wait queue (routing/priority_queue.hpp) and schedule it again when capacity frees;
// `endpoints` may then be empty.
enum class Verdict : std::uint8_t { dispatch, queue };

struct Decision {
  const ModelRoute* model = nullptr;
  const Target* target = nullptr;
  std::vector<EndpointPtr> endpoints;
  bool rewrite() const { return target && !target->served_model.empty(); }

  Verdict verdict = Verdict::dispatch;
  int priority = priority::standard;
  const SchedulerProfile* profile = nullptr;  // of target->pool; valid while the snapshot is
  std::vector<std::uint64_t> prefix_hashes;   // the prompt's chained block hashes (may be empty)
  std::size_t prompt_bytes = 0;               // the prompt's canonical size (prefix_hash.hpp)
  std::vector<double> scores;  // weighted score of each of `endpoints` (RequestContext::want_scores)
  std::string_view served_model() const;      // the name the pool's servers see
};

// What the proxy knows of a request beyond its body.
struct RequestContext {
  const RequestFacts* facts = nullptr;  // required
  std::string_view session_id;          // header x-session-id (session-affinity)
  std::string_view objective;           // header x-gateway-inference-objective
  std::optional<int> key_priority;      // the API key's default priority (auth.keys[].priority)
  bool want_scores = false;             // fill Decision::scores (debug headers)
};

using Rng = std::mt19937_64;

// Compatibility for a proxy without a wait queue: the inference-aware schedule() below, with
// Verdict::queue turned into dispatching anyway (no_ready_endpoint when the pool is empty), and
// record_dispatch() done at once for the first choice.
// Refusals: model_not_found, no_ready_endpoint, saturated (sheddable models only).
boost::system::result<Decision, ErrorKind> schedule(const Snapshot& snapshot,
                                                    const RequestFacts& facts, Rng& rng);

// The same, keeping only the `max_endpoints` first choices (pass GatewayConfig::max_attempts):
// fewer shared_ptr copies on the hot path than ordering the whole pool.
boost::system::result<Decision, ErrorKind> schedule(const Snapshot& snapshot,
                                                    const RequestFacts& facts, Rng& rng,
                                                    std::size_t max_endpoints);

// Inference-aware: model -> objective/priority -> weighted target -> pool -> the pool's profile
// (filters, weighted scorers, picker) -> ordered endpoints. Refusals: model_not_found,
// no_ready_endpoint (sheddable request and no endpoint), saturated (sheddable request, every
// candidate past the pool's thresholds). Non-sheddable requests to a saturated or empty pool get
// Verdict::queue. Does not count a dispatch: call record_dispatch() when the request is sent.
boost::system::result<Decision, ErrorKind> schedule(const Snapshot& snapshot,
                                                    const RequestContext& request, Rng& rng,
                                                    std::size_t max_endpoints,
                                                    std::chrono::steady_clock::time_point now);

class PendingPrefill;

// The request of `decision` was sent to `endpoint` (first choice or a fallback): counts it in the
// endpoint's hybrid load until the next scrape, feeds the profile's dispatch hooks (the
// prefix-cache index) and counts its prompt as pending prefill there: prompt bytes / 4 tokens,
// less what the prefix-cache scorer's index says the endpoint already holds. The returned guard
// keeps that count until the response's first body byte (or any earlier end). Any worker thread.
PendingPrefill record_dispatch(const Decision& decision, const EndpointPtr& endpoint);

// "ip:port=0.812,ip:port=0.400" for x-gateway-destination-endpoint-scores.
std::string scores_header(const Decision& decision);

// /debug/endpoints: per pool and endpoint, the scraped values and their age, local in-flight,
// pending prefill (requests, tokens), dispatched since the scrape, health, prefix-index entries.
// JSON.
std::string render_endpoints_json(const Snapshot& snapshot,
                                  std::chrono::steady_clock::time_point now);

// /debug/models: the table's models and their weighted targets (pool, served model, weight),
// sorted by name, for the status page's models -> targets -> pools view. JSON.
std::string render_models_json(const Snapshot& snapshot);

// RAII: counts one request in flight on an endpoint until released (the proxy does it once the
// upstream response is whole, before its last bytes go to the client) or destroyed.
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

// RAII: counts one request's prompt (tokens, estimated) as prefill pending on an endpoint, from
// dispatch until release(): the proxy calls it at the first response body byte (a streamed
// response's first SSE bytes come with the first token, so the prefill is done), and the
// destructor covers every earlier end (error, timeout, client abort, retry elsewhere). Counts
// once, uncounts at most once.
class PendingPrefill {
 public:
  PendingPrefill() = default;
  PendingPrefill(EndpointPtr e, std::int64_t tokens) : endpoint_(std::move(e)), tokens_(tokens) {
    endpoint_->prefill_requests.fetch_add(1, std::memory_order_relaxed);
    endpoint_->prefill_tokens.fetch_add(tokens_, std::memory_order_relaxed);
  }
  PendingPrefill(PendingPrefill&& o) noexcept
      : endpoint_(std::move(o.endpoint_)), tokens_(std::exchange(o.tokens_, 0)) {}
  PendingPrefill& operator=(PendingPrefill&& o) noexcept {
    if (this != &o) {
      release();
      endpoint_ = std::move(o.endpoint_);
      tokens_ = std::exchange(o.tokens_, 0);
    }
    return *this;
  }
  PendingPrefill(const PendingPrefill&) = delete;
  PendingPrefill& operator=(const PendingPrefill&) = delete;
  ~PendingPrefill() { release(); }
  void release() {
    if (!endpoint_) return;
    endpoint_->prefill_requests.fetch_sub(1, std::memory_order_relaxed);
    endpoint_->prefill_tokens.fetch_sub(tokens_, std::memory_order_relaxed);
    endpoint_.reset();
    tokens_ = 0;
  }
  bool counting() const { return endpoint_ != nullptr; }
  std::int64_t tokens() const { return tokens_; }

 private:
  EndpointPtr endpoint_;
  std::int64_t tokens_ = 0;
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
