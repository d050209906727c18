// The front door (front_door.hpp): keys, limits and the pools' own credentials.
#include "proxy/front_door.hpp"

#include <charconv>
#include <cstring>
#include <map>

#include <prometheus/metric_family.h>

#include "auth/key_source.hpp"
#include "auth/presented_key.hpp"
#include "auth/secret_file.hpp"

namespace infergate::proxy {
namespace {

// Header lines written into a stack buffer and appended at once: six lines per request, so no
// per-piece capacity checks on the caller's string.
class HeaderLines {
 public:
  void add(std::string_view name, std::uint64_t value) {
    put(name);
    p_ = std::to_chars(p_, end_, value).ptr;
    put("\r\n");
  }
  void add_reset(std::string_view name, std::chrono::milliseconds wait) {
    put(name);
    p_ += limits::format_reset(wait, std::span<char, limits::kResetChars>(p_, limits::kResetChars));
    put("\r\n");
  }
  std::string_view text() const noexcept { return {buf_, static_cast<std::size_t>(p_ - buf_)}; }

 private:
  void put(std::string_view s) noexcept {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  // Six names of at most 32 bytes with ": " and CRLF, three numbers of 20 digits, three resets.
  char buf_[6 * 36 + 3 * 20 + 3 * limits::kResetChars];
  char* p_ = buf_;
  char* const end_ = buf_ + sizeof buf_;
};

// OpenAI's six x-ratelimit-* headers, for the kinds of limit the key has.
void rate_headers(const limits::Admission& admission, std::string& out) {
  HeaderLines lines;
  if (admission.requests) {
    lines.add("x-ratelimit-limit-requests: ", admission.requests->limit);
    lines.add("x-ratelimit-remaining-requests: ", admission.requests->remaining);
    lines.add_reset("x-ratelimit-reset-requests: ", admission.requests->reset);
  }
  if (admission.tokens) {
    lines.add("x-ratelimit-limit-tokens: ", admission.tokens->limit);
    lines.add("x-ratelimit-remaining-tokens: ", admission.tokens->remaining);
    lines.add_reset("x-ratelimit-reset-tokens: ", admission.tokens->reset);
  }
  out.assign(lines.text());
}

prometheus::MetricFamily counter_family(std::string name, std::string help, double value) {
  prometheus::MetricFamily family{std::move(name), std::move(help), prometheus::MetricType::Counter, {}};
  prometheus::ClientMetric metric;
  metric.counter.value = value;
  family.metric.push_back(std::move(metric));
  return family;
}

prometheus::MetricFamily gauge_family(std::string name, std::string help, double value) {
  prometheus::MetricFamily family{std::move(name), std::move(help), prometheus::MetricType::Gauge, {}};
  prometheus::ClientMetric metric;
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
  return family;
}

}  // namespace

struct FrontDoor::Impl {
  explicit Impl(const GatewayConfig& config) : keys(config.auth), limiter(config.limits) {}

  auth::KeySource keys;
  limits::Limiter limiter;
  // The pools' key files, by path (control thread only).
  std::map<std::string, std::unique_ptr<auth::SecretFile>, std::less<>> secrets;
  std::atomic<std::uint64_t> secret_errors{0};
};

FrontDoor::FrontDoor(const GatewayConfig& config)
    : impl_(std::make_unique<Impl>(config)),
      stream_usage_(config.limits.stream_usage),
      default_max_tokens_(config.limits.default_max_tokens),
      reload_interval_(config.auth.reload_interval) {}

FrontDoor::~FrontDoor() = default;

void FrontDoor::start() { impl_->limiter.start(); }
void FrontDoor::stop() { impl_->limiter.stop(); }

std::shared_ptr<const auth::KeyTable> FrontDoor::keys() const { return impl_->keys.current(); }

std::unique_ptr<auth::KeyCache> FrontDoor::make_key_cache(std::uint64_t seed) const {
  return std::make_unique<auth::KeyCache>(impl_->keys, seed);
}

const auth::ApiKey* FrontDoor::authenticate(auth::KeyCache& keys, std::string_view authorization,
                                            std::string_view api_key) const {
  const auto presented = auth::presented_key(authorization, api_key);
  if (!presented) return nullptr;
  return keys.find(*presented);
}

Admitted FrontDoor::admit(const auth::ApiKey& key, std::string_view model,
                          std::uint64_t estimated_tokens, std::chrono::steady_clock::time_point now,
                          std::string& headers) {
  headers.clear();
  const limits::Subject who{key.name, model, key.limits, key.model_limit(model)};
  if (!key.limits.any() && !(who.model_limit && who.model_limit->any())) return {};
  limits::Admission admission = impl_->limiter.admit(who, estimated_tokens, now);
  Admitted out;
  rate_headers(admission, headers);
  out.refusal = admission.refusal;
  out.retry_after = admission.retry_after;
  out.charge = std::move(admission.charge);
  return out;
}

void FrontDoor::poll(const Snapshot& snapshot) {
  impl_->keys.poll();
  for (const auto& pool : snapshot.pools) {
    if (!pool->credential) continue;
    auto& secret = impl_->secrets[pool->credential->file];
    if (!secret) secret = std::make_unique<auth::SecretFile>(pool->credential->file);
    secret->poll();
    // A snapshot's credential object may be new (a reload): give it the value every time.
    auto value = secret->current();
    if (value != pool->credential->authorization.load(std::memory_order_relaxed)) {
      pool->credential->authorization.store(std::move(value), std::memory_order_release);
    }
  }
}

std::vector<prometheus::MetricFamily> FrontDoor::collect() const {
  std::vector<prometheus::MetricFamily> families = impl_->limiter.collect();
  const auth::KeySource& keys = impl_->keys;
  families.push_back(counter_family("infergate_auth_reloads_total",
                                    "Key tables published after a change of auth.keys_dir",
                                    static_cast<double>(keys.reloads())));
  families.push_back(counter_family(
      "infergate_auth_reload_errors_total",
      "Key files that could not be read or parsed (their last good keys stay)",
      static_cast<double>(keys.reload_errors())));
  families.push_back(gauge_family("infergate_auth_keys", "API keys in the current table",
                                  static_cast<double>(keys.keys_loaded())));
  double secret_errors = 0;
  for (const auto& [path, secret] : impl_->secrets) secret_errors += static_cast<double>(secret->reload_errors());
  families.push_back(counter_family(
      "infergate_upstream_key_reload_errors_total",
      "Pool key files (upstream_auth: replace) that could not be read (the last good key stays)",
      secret_errors));
  return families;
}

}  // namespace infergate::proxy
