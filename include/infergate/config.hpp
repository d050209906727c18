// The gateway's configuration as the user writes it (YAML), after validation.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace infergate {

using Millis = std::chrono::milliseconds;

// host:port; host is an IPv4/IPv6 literal or a name resolved at start-up.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
  std::string str() const;  // "host:port", IPv6 in brackets
  bool operator==(const HostPort&) const = default;
};

struct Timeouts {
  Millis connect{2'000};         // TCP connect to an endpoint
  Millis first_byte{600'000};    // request sent -> first response byte (prefill can take minutes)
  Millis stream_idle{300'000};   // gap between two response chunks
  Millis client_header{30'000};  // client sending its request head
  Millis client_body{60'000};    // client sending its request body
  Millis keepalive_idle{75'000}; // idle client connection between requests
  Millis drain{30'000};          // SIGTERM: how long in-flight requests may finish
};

// Request priorities: higher is served first; below 0 is sheddable (429 under saturation).
namespace priority {
inline constexpr int critical = 1;
inline constexpr int standard = 0;
inline constexpr int sheddable = -1;
}  // namespace priority

// One plugin of a scheduler profile (docs/config-scheduling.md lists the types).
struct PluginConfig {
  std::string type;    // kebab-case: "queue-scorer", "max-score-picker", ...
  double weight = 1;   // scorers only
  std::map<std::string, double, std::less<>> parameters;  // sizes in bytes, durations in ms
  bool operator==(const PluginConfig&) const = default;
};

// Filters, weighted scorers and one picker. No plugins: the default profile.
struct SchedulerConfig {
  std::vector<PluginConfig> plugins;
  bool operator==(const SchedulerConfig&) const = default;
};

// Where and how the control thread scrapes each endpoint of a pool.
struct MetricsConfig {
  // "auto" (the default: vLLM or SGLang names, whichever the page has; a server without them is
  // not unhealthy for it, see ScrapeTarget::advisory), "vllm", "sglang", "trtllm", "custom",
  // "none" (or ""): not scraped, load from this gateway's own counts only.
  std::string flavour = "auto";
  std::string path = "/metrics";
  // "custom" (or overriding a flavour): selectors `name` or `name{label="value"}`, first present wins.
  std::vector<std::string> waiting;
  std::vector<std::string> running;
  std::vector<std::string> kv_usage;
  std::string lora_info;  // a vllm:lora_requests_info-style family; empty: none
  Millis interval{50};
  Millis timeout{1'000};
  Millis staleness{2'000};  // older scraped values are ignored (local counts only)
  bool operator==(const MetricsConfig&) const = default;
};

// A pool is saturated when every candidate is past one of these.
struct SaturationConfig {
  double queue = 5;       // waiting requests (scraped + sent since the scrape)
  double kv_cache = 0.8;  // KV-cache use, 0..1
  // Requests on the endpoint (scraped running + waiting + this gateway's change since) at which it
  // counts as full; 0: off. Set to the server's batch size (vLLM --max-num-seqs) to keep the
  // servers' own queues empty, so that waiting happens in the gateway, where priorities apply.
  double running = 0;
  // Of those, slots that only Critical requests (priority above standard) may take: Standard and
  // Sheddable see the endpoint as full `reserve` requests earlier. Needs `running`.
  double reserve = 0;
  bool operator==(const SaturationConfig&) const = default;
};

// The gateway's wait queue of each pool (non-sheddable requests while saturated or empty).
struct QueueConfig {
  std::size_t max_size = 1024;
  Millis max_wait{30'000};
  bool operator==(const QueueConfig&) const = default;
};

// What a pool's servers receive as credentials (`upstream_auth:`).
enum class UpstreamAuthMode : std::uint8_t {
  pass,     // the client's Authorization goes on as it came (the default without `auth:`)
  drop,     // no Authorization reaches the servers (the default with `auth:`)
  replace,  // Authorization: Bearer <the pool's own key, read from key_file>
};

struct UpstreamAuthConfig {
  std::optional<UpstreamAuthMode> mode;  // unset: pass without `auth:`, drop with it
  std::string key_file;                  // replace: a file holding the key (watched)
  bool operator==(const UpstreamAuthConfig&) const = default;
};

// TLS toward a pool's servers (`tls:` of a pool).
struct UpstreamTlsConfig {
  bool enabled = false;
  std::string ca_file;      // PEM bundle; empty: the system's default trust store
  std::string server_name;  // SNI and the name verified; empty: the endpoint's host
  std::string cert_file;    // optional client certificate (PEM) ...
  std::string key_file;     // ... and its key
  bool verify = true;       // false only for tests: no certificate check at all
  bool operator==(const UpstreamTlsConfig&) const = default;
};

struct PoolConfig {
  std::string name;
  std::vector<HostPort> endpoints;
  std::optional<SchedulerConfig> scheduler;  // unset: GatewayConfig::scheduler
  MetricsConfig metrics;
  SaturationConfig saturation;
  UpstreamAuthConfig upstream_auth;
  UpstreamTlsConfig tls;
};

// Selected by the header x-gateway-inference-objective; its priority overrides the model's.
struct ObjectiveConfig {
  std::string name;
  int priority = priority::standard;
};

struct TargetConfig {
  std::string pool;
  std::string model;          // served model name at the pool; empty: the requested name
  std::uint32_t weight = 1;   // relative weight within the model's targets
};

struct ModelConfig {
  std::string name;
  std::vector<TargetConfig> targets;
  int priority = priority::standard;
};

// Kubernetes mode (docs/kubernetes.md): watch the Inference Extension's resources and Pods and
// keep the cluster's part of the routing table live; the file's pools and models stay and win.
struct KubernetesConfig {
  bool enabled = false;
  std::string kubeconfig;               // empty: $KUBECONFIG, in-cluster, then ~/.kube/config
  std::string context;                  // kubeconfig context; empty: current-context
  std::vector<std::string> namespaces;  // watched namespaces; empty: all
  std::string gateway_name = "infergate";  // HTTPRoutes whose parentRefs name this Gateway count
  std::string gateway_namespace;        // empty: the service account's / context's namespace
  bool probe_models = true;             // GET /v1/models of pools no route or InferenceModel names
  Millis resync{30'000};                // full rebuild and re-probe even without a change
  Millis crd_recheck{30'000};           // how often an absent CRD is looked for again
  Millis debounce{30};                  // changes closer than this are applied together
  PoolConfig pool_defaults;             // scheduler, metrics, saturation of every cluster pool
};

// TLS on the client listener; empty cert: plain HTTP.
struct TlsConfig {
  std::string cert;  // PEM chain
  std::string key;   // PEM private key
  bool enabled() const noexcept { return !cert.empty(); }
};

// Requests and tokens per minute (a sliding minute); 0: no limit of that kind.
struct RateLimit {
  std::uint64_t requests_per_minute = 0;
  std::uint64_t tokens_per_minute = 0;
  bool any() const noexcept { return requests_per_minute != 0 || tokens_per_minute != 0; }
  bool operator==(const RateLimit&) const = default;
};

// One API key (`auth.keys[]`, or a file of `auth.keys_dir`).
struct ApiKeyConfig {
  std::string name;   // its id in logs and metrics; default: "<team>-<n>" (or the file name)
  std::string key;    // the key in clear, or "sha256:<64 hex digits>" of it
  std::string team;   // metrics and logs label; default: "default"
  std::vector<std::string> models;  // exact names or "prefix*" patterns; empty: every model
  std::optional<int> priority;      // its requests' priority unless an objective header says
  RateLimit limits;                 // for the key as a whole
  std::map<std::string, RateLimit, std::less<>> model_limits;  // for the key and one model
  bool operator==(const ApiKeyConfig&) const = default;
};

// `auth:`: absent, every request is served as without it.
struct AuthConfig {
  bool enabled = false;
  std::vector<ApiKeyConfig> keys;
  std::string keys_dir;     // a mounted Secret: every regular file is one key or a list of keys
  Millis reload_interval{500};  // how often keys_dir (and pools' key files) are looked at
  bool operator==(const AuthConfig&) const = default;
};

// `limits:`: where the per-key counters live and how admission charges tokens.
struct LimitsConfig {
  std::string store = "local";  // "local" (per replica) or "redis://HOST:PORT[/DB]"
  HostPort redis;               // parsed from store when it is a redis:// URL
  unsigned redis_db = 0;
  bool fail_open = true;        // Redis unusable: local limits (true) or 503 (false)
  Millis redis_timeout{200};    // one Redis command, connect included
  std::uint64_t default_max_tokens = 1024;  // charged when a request names no max_tokens
  bool stream_usage = true;     // add stream_options.include_usage when limits count tokens
  // The sliding window the "per minute" limits count over. Only tests and demos shorten it: the
  // limits then apply per this window (and the reset headers count in it).
  Millis window{60'000};
  bool operator==(const LimitsConfig&) const = default;
};

// `access_log:`: one line per request, written by its own thread from per-worker rings.
struct AccessLogConfig {
  bool enabled = false;
  std::string path = "-";  // "-": stdout; else a file, reopened on SIGUSR1 or when moved away
  enum class Format : std::uint8_t { json, text } format = Format::json;
  std::vector<std::string> fields;  // the fields to write, in order; empty: every field
  double sample_ratio = 1.0;        // of successful requests; failed ones are always written
  std::size_t buffer = 8192;        // records each worker may hold before the writer drains them
  bool operator==(const AccessLogConfig&) const = default;
};

// `tracing:`: W3C trace context is always continued; spans are exported when `endpoint` is set.
struct TracingConfig {
  std::string endpoint;      // OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces
  double sample_ratio = 1.0;  // of new traces; a caller's sampled flag is followed as sent
  std::string service_name = "infergate";
  std::size_t buffer = 4096;      // spans' records each worker may hold before the exporter drains
  std::size_t batch = 512;        // records per export request at most
  Millis flush_interval{1000};    // a partial batch waits at most this long
  Millis timeout{2000};           // one export request, connect included
  bool operator==(const TracingConfig&) const = default;
};

struct GatewayConfig {
  HostPort listen{"0.0.0.0", 8080};
  TlsConfig tls;  // set: the client listener speaks HTTPS only
  HostPort admin{"127.0.0.1", 9090};
  unsigned workers = 0;                       // 0: one per core ("auto")
  std::size_t max_body_bytes = 32u << 20;     // 32 MiB: images travel as base64
  std::size_t max_header_bytes = 64u << 10;
  unsigned max_attempts = 3;                  // endpoints tried before a response byte was sent
  // Client connections held at once (0: no limit); more are answered 503 and closed at once.
  std::size_t max_connections = 65536;
  std::size_t max_connections_per_client = 0;  // per client IP address; 0: no limit (NAT, LBs)
  bool debug_headers = false;                 // add scoring headers to responses
  Timeouts timeouts;
  std::vector<PoolConfig> pools;
  std::vector<ModelConfig> models;
  SchedulerConfig scheduler;  // the default profile of pools without one; empty: built-in default
  std::vector<ObjectiveConfig> objectives;
  QueueConfig queue;
  KubernetesConfig kubernetes;
  AuthConfig auth;
  LimitsConfig limits;
  AccessLogConfig access_log;
  TracingConfig tracing;
};

// A config problem, located: "gateway.yaml:12:5: models[1].targets[0].pool: unknown pool 'x'".
struct ConfigIssue {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string field;
  std::string message;
  std::string str() const;
};

class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<ConfigIssue> issues);
  const std::vector<ConfigIssue>& issues() const noexcept { return issues_; }

 private:
  std::vector<ConfigIssue> issues_;
};

// Parses and validates; throws ConfigError listing every problem found (not only the first).
GatewayConfig load_config_file(const std::string& path);
GatewayConfig load_config_string(const std::string& yaml, const std::string& name = "<string>");

// Parses "host:port" / "[v6]:port"; throws std::invalid_argument.
HostPort parse_host_port(const std::string& s);

}  // namespace infergate
