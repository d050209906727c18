// The front door: who is calling (API keys), what the key may use, and its limits. One per
// process, shared by every worker (thread-safe); the Gateway creates it only when `auth:` is set.
// Beast-free: the session hands it header values and gets decisions back.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/key_cache.hpp"
#include "auth/key_table.hpp"
#include "infergate/config.hpp"
#include "infergate/routing.hpp"
#include "limits/limiter.hpp"

namespace prometheus {
struct MetricFamily;
}

namespace infergate::proxy {

// What admission decided for one request, and the headers every response to it carries.
struct Admitted {
  std::optional<ErrorKind> refusal;         // requests_limited, tokens_limited, limits_unavailable
  std::chrono::milliseconds retry_after{0};  // with a refusal
  limits::Charge charge;                     // settle() with the real usage when known
};

class FrontDoor {
 public:
  explicit FrontDoor(const GatewayConfig& config);
  ~FrontDoor();
  FrontDoor(const FrontDoor&) = delete;
  FrontDoor& operator=(const FrontDoor&) = delete;

  void start();  // the limit store's thread (Redis), if any
  void stop();

  // The current keys: one atomic load. Keep the pointer while using a key of it.
  std::shared_ptr<const auth::KeyTable> keys() const;
  // A worker's own view of the keys (auth/key_cache.hpp), for that worker's thread only.
  std::unique_ptr<auth::KeyCache> make_key_cache(std::uint64_t seed) const;

  // The key a request presents (values of Authorization and x-api-key, either may be empty) in
  // `keys`' current table, or null: no key, a malformed one, or an unknown one.
  const auth::ApiKey* authenticate(auth::KeyCache& keys, std::string_view authorization,
                                   std::string_view api_key) const;

  // Charges one request and `estimated_tokens` against the key's limits for `model`. `headers`
  // gets the "x-ratelimit-...: ...\r\n" lines every response to it carries (none: no limits);
  // the caller's buffer, so its capacity is reused from request to request.
  Admitted admit(const auth::ApiKey& key, std::string_view model, std::uint64_t estimated_tokens,
                 std::chrono::steady_clock::time_point now, std::string& headers);

  // Whether streamed requests of `key` get stream_options.include_usage added (limits.stream_usage).
  bool wants_stream_usage() const noexcept { return stream_usage_; }
  std::uint64_t default_max_tokens() const noexcept { return default_max_tokens_; }

  // Control thread, every auth.reload_interval: key files and the pools' credential files.
  void poll(const Snapshot& snapshot);
  std::chrono::milliseconds reload_interval() const noexcept { return reload_interval_; }

  std::vector<prometheus::MetricFamily> collect() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool stream_usage_ = true;
  std::uint64_t default_max_tokens_ = 1024;
  std::chrono::milliseconds reload_interval_{500};
};

}  // namespace infergate::proxy
