// Inside the config loader: the Loader class shared by config_loader.cpp (server, pools, models)
// and config_scheduling.cpp (scheduler profiles, metrics, saturation, priorities, queue).
#pragma once

#include <charconv>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "infergate/config.hpp"

namespace infergate::config_detail {


// Where a value sits in the file, kept for the checks that span several entries.
struct Where {
  int line = 0;
  int column = 0;
  std::string field;
};

// One handler per known key of a YAML map.
struct FieldSpec {
  std::string_view key;
  bool required;
  std::function<void(const YAML::Node& value, const std::string& path)> parse;
  bool allow_null = false;  // `key:` with nothing after it is fine (an empty list)
};

class Loader {
 public:
  explicit Loader(std::string file) : file_(std::move(file)) {}

  GatewayConfig load(const YAML::Node& root);
  std::vector<ConfigIssue>& issues() { return issues_; }

 // Used by both files of the loader.
  Where where(const YAML::Node& node, const std::string& path) const;
  void issue(const Where& at, std::string message);
  void issue(const YAML::Node& node, const std::string& path, std::string message) {
    issue(where(node, path), std::move(message));
  }

  bool fields(const YAML::Node& map, const std::string& path, const std::vector<FieldSpec>& specs);
  template <typename Item>
  void sequence(const YAML::Node& node, const std::string& path, Item&& item);

  std::optional<std::string> text(const YAML::Node& node, const std::string& path,
                                  bool allow_empty = false);
  template <typename T>
  void set_integer(const YAML::Node& node, const std::string& path, T& out, std::uint64_t min,
                   std::uint64_t max);
  void set_bool(const YAML::Node& node, const std::string& path, bool& out);
  void set_size(const YAML::Node& node, const std::string& path, std::size_t& out,
                std::size_t min, std::size_t max);
  void set_duration(const YAML::Node& node, const std::string& path, Millis& out, bool allow_zero);
  void set_host_port(const YAML::Node& node, const std::string& path, HostPort& out);
  void set_workers(const YAML::Node& node, const std::string& path, unsigned& out);

  void timeouts(const YAML::Node& node, const std::string& path, Timeouts& out);
  void tls(const YAML::Node& node, const std::string& path, TlsConfig& out);
  void pool(const YAML::Node& node, const std::string& path, GatewayConfig& config);
  void model(const YAML::Node& node, const std::string& path, GatewayConfig& config);
  void target(const YAML::Node& node, const std::string& path, ModelConfig& model);
  void cross_check(const GatewayConfig& config);

  // Scheduling sections (config_scheduling.cpp).
  void set_number(const YAML::Node& node, const std::string& path, double& out, double min, double max);
  void set_priority(const YAML::Node& node, const std::string& path, int& out);
  void scheduler(const YAML::Node& node, const std::string& path, SchedulerConfig& out);
  void plugin(const YAML::Node& node, const std::string& path, SchedulerConfig& out);
  void metrics(const YAML::Node& node, const std::string& path, MetricsConfig& out);
  void saturation(const YAML::Node& node, const std::string& path, SaturationConfig& out);
  void queue(const YAML::Node& node, const std::string& path, QueueConfig& out);
  void objective(const YAML::Node& node, const std::string& path, GatewayConfig& config);

  std::string file_;
  std::vector<ConfigIssue> issues_;
  // Locations of parsed entries, in config order, for the cross-entry checks.
  std::vector<Where> pool_names_;
  std::vector<Where> model_names_;
  std::vector<Where> model_targets_;
  std::vector<std::vector<Where>> target_pools_;  // [model][target]
  Where admin_at_;
};

inline std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

inline std::string element(const std::string& path, std::size_t i) {
  return fmt::format("{}[{}]", path, i);
}

template <typename Item>
void Loader::sequence(const YAML::Node& node, const std::string& path, Item&& item) {
  if (!node.IsSequence()) {
    issue(node, path, "expected a list");
    return;
  }
  for (std::size_t i = 0; i < node.size(); ++i) item(node[i], element(path, i));
}

template <typename T>
void Loader::set_integer(const YAML::Node& node, const std::string& path, T& out,
                         std::uint64_t min, std::uint64_t max) {
  const auto s = text(node, path);
  if (!s) return;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), value);
  if (ec != std::errc{} || end != s->data() + s->size() || value < min || value > max) {
    issue(node, path, fmt::format("expected an integer from {} to {}, got '{}'", min, max, *s));
    return;
  }
  out = static_cast<T>(value);
}

}  // namespace infergate::config_detail
