// The gateway's configuration as the user writes it (YAML), after validation.
#pragma once

#include <chrono>
#include <cstdint>
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

struct PoolConfig {
  std::string name;
  std::vector<HostPort> endpoints;
};

struct TargetConfig {
  std::string pool;
  std::string model;          // served model name at the pool; empty: the requested name
  std::uint32_t weight = 1;   // relative weight within the model's targets
};

struct ModelConfig {
  std::string name;
  std::vector<TargetConfig> targets;
};

struct GatewayConfig {
  HostPort listen{"0.0.0.0", 8080};
  HostPort admin{"127.0.0.1", 9090};
  unsigned workers = 0;                       // 0: one per core ("auto")
  std::size_t max_body_bytes = 32u << 20;     // 32 MiB: images travel as base64
  std::size_t max_header_bytes = 64u << 10;
  unsigned max_attempts = 3;                  // endpoints tried before a response byte was sent
  bool debug_headers = false;                 // add scoring headers to responses
  Timeouts timeouts;
  std::vector<PoolConfig> pools;
  std::vector<ModelConfig> models;
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
