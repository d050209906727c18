// Per-key requests-per-minute and tokens-per-minute limits (sliding minute), local to this replica
// or shared by every replica through Redis.
//
// Contract for the proxy:
// - admit() once per request, on the worker thread, before routing. It never does I/O and never
//   waits on Redis: a short critical section per counter, no allocation once the key was seen.
// - Admitted: keep the Charge for the request's life; settle() it with the real usage (prompt +
//   completion tokens) once known. Destroyed unsettled, the estimate stays charged.
// - Refused: `refusal` is requests_limited or tokens_limited (429, Retry-After from retry_after)
//   or limits_unavailable (503: Redis unusable and fail_open is false).
// - `requests` / `tokens` are the tightest applicable limit of each kind, for OpenAI's
//   x-ratelimit-{limit,remaining,reset}-{requests,tokens} headers (absent: no such limit).
// - Limits are passed per call, so a reload of the keys applies at once; counters are kept by key
//   name (+ model) and swept after two idle minutes.
//
// Stores:
// - "local" (the default): each replica counts alone; N replicas admit up to N times a limit.
// - "redis://HOST:PORT[/DB]": slices of each limit are leased from Redis in the background
//   (limits/lease.hpp has the rules). Redis down, slow or answering garbage: fail_open=true counts
//   the full limit on this replica alone (so N replicas admit up to N times it until Redis is
//   back); fail_open=false refuses with limits_unavailable. Sharing resumes on its own.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "infergate/config.hpp"
#include "infergate/errors.hpp"

namespace prometheus {
struct MetricFamily;
}

namespace infergate::limits {

using Clock = std::chrono::steady_clock;

namespace detail {
struct Entry;
struct Stats;
class Table;
class RedisStore;
}  // namespace detail

// Who is charged, for one request.
struct Subject {
  std::string_view key;          // the API key's name (stable id), e.g. "alice-laptop"
  std::string_view model;        // the requested model name
  const RateLimit& key_limit;    // the key's own limits (0 = none)
  const RateLimit* model_limit;  // the key's limits for this model, or null
};

struct Quota {
  std::uint64_t limit = 0, remaining = 0;
  // Time until the window frees enough for one more request (or this request's estimate, for
  // tokens); while that is already possible, the time until `remaining` next grows (0: nothing
  // counted).
  std::chrono::milliseconds reset{0};
};

class Limiter;

// What one admitted request reserved. Move-only; empty when refused or when no limit applied.
class Charge {
 public:
  Charge() = default;
  Charge(Charge&& other) noexcept;
  Charge& operator=(Charge&& other) noexcept;
  Charge(const Charge&) = delete;
  Charge& operator=(const Charge&) = delete;
  ~Charge();

  explicit operator bool() const noexcept { return limiter_ != nullptr; }
  std::uint64_t estimated_tokens() const noexcept { return estimate_; }

  // The real usage is known: refunds the estimate's excess (into the minute it was charged in)
  // or charges what went beyond it (now). Once; later calls do nothing.
  void settle(std::uint64_t actual_tokens, Clock::time_point now = Clock::now()) noexcept;

 private:
  friend class Limiter;
  void release() noexcept;

  Limiter* limiter_ = nullptr;
  std::array<detail::Entry*, 2> entries_{};
  std::array<bool, 2> tokens_{};  // the entry's token counter was charged
  std::uint64_t estimate_ = 0;
  std::int64_t sec_ = 0;         // the second it was charged in
  std::uint32_t epoch_ = 0;      // the store epoch of a shared charge
  bool shared_ = false;          // charged to leases too
};

struct Admission {
  std::optional<ErrorKind> refusal;          // requests_limited, tokens_limited, limits_unavailable
  std::chrono::milliseconds retry_after{0};  // when refused
  std::optional<Quota> requests, tokens;     // the tightest applicable limit of each kind
  Charge charge;                             // empty when refused
};

// Retry-After's value: whole seconds, rounded up, at least 1.
std::uint64_t retry_after_seconds(std::chrono::milliseconds wait) noexcept;

// OpenAI's x-ratelimit-reset-* style: "1s", "250ms", "6m0s", "1m30s", "0s".
std::string format_reset(std::chrono::milliseconds wait);
// The same into `out` (no allocation); returns the length. Up to 2^63 ms fits.
inline constexpr std::size_t kResetChars = 40;
std::size_t format_reset(std::chrono::milliseconds wait, std::span<char, kResetChars> out) noexcept;

class Limiter {
 public:
  // `config.store` is "local" or a redis:// URL (already parsed into config.redis / redis_db).
  explicit Limiter(const LimitsConfig& config);
  ~Limiter();
  Limiter(const Limiter&) = delete;
  Limiter& operator=(const Limiter&) = delete;

  // The Redis thread, if any. start() returns after the first connection attempt (bounded by
  // redis_timeout), so the first requests see a known store state. stop() is idempotent.
  void start();
  void stop();

  // Thread-safe; see the contract above. `estimated_tokens`: prompt estimate + max_tokens.
  Admission admit(const Subject& who, std::uint64_t estimated_tokens, Clock::time_point now);

  // Drops counters idle for two minutes (admit() also does it, shard by shard, every 30 s).
  std::size_t sweep(Clock::time_point now);
  std::size_t counters() const;  // entries alive (key, or key + model)

  bool shared() const noexcept { return store_ != nullptr; }
  bool store_up() const noexcept;  // true for the local store

  // infergate_limits_*: refusals by kind, store state, errors, leases.
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  friend class Charge;
  enum class Mode : std::uint8_t { local, shared, open, closed };
  struct Plan;

  Mode mode() const noexcept;
  void decide(Plan& plan, Mode mode, Clock::time_point now) const;
  void charge(Plan& plan, Mode mode, Admission& out);
  void refill(Plan& plan, Clock::time_point now);
  void quotas(const Plan& plan, Mode mode, Clock::time_point now, Admission& out) const;
  Admission refuse(ErrorKind kind, std::chrono::milliseconds retry);
  void settle(Charge& charge, std::uint64_t actual, Clock::time_point now) noexcept;
  void release(Charge& charge) noexcept;

  LimitsConfig config_;
  std::unique_ptr<detail::Stats> stats_;
  std::unique_ptr<detail::Table> table_;
  std::unique_ptr<detail::RedisStore> store_;  // null: the local store
};

}  // namespace infergate::limits
