// The front door (front_door.hpp): keys, limits and the pools' own credentials.
#include "proxy/front_door.hpp"

#include <charconv>
#include <map>

#include <prometheus/metric_family.h>

#include "auth/key_source.hpp"
#include "auth/presented_key.hpp"
#include "auth/secret_file.hpp"

namespace infergate::proxy {
namespace {

void append_header(std::string& out, std::string_view name, std::uint64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out += name;
  out += ": ";
  out.append(digits, end);
  out += "\r\n";
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

// OpenAI's six x-ratelimit-* headers, for the kinds of limit the key has.
void rate_headers(const limits::Admission& admission, std::string& out) {
  if (admission.requests) {
    append_header(out, "x-ratelimit-limit-requests", admission.requests->limit);
    append_header(out, "x-ratelimit-remaining-requests", admission.requests->remaining);
    append_header(out, "x-ratelimit-reset-requests", limits::format_reset(admission.requests->reset));
  }
  if (admission.tokens) {
    append_header(out, "x-ratelimit-limit-tokens", admission.tokens->limit);
    append_header(out, "x-ratelimit-remaining-tokens", admission.tokens->remaining);
    append_header(out, "x-ratelimit-reset-tokens", limits::format_reset(admission.tokens->reset));
  }
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

const auth::ApiKey* FrontDoor::authenticate(const auth::KeyTable& keys, std::string_view authorization,
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
