// Reading model-server load out of the Prometheus text exposition format, in one pass, without
// allocating for the samples it does not want. Used by the metrics scraper on the control thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "infergate/config.hpp"

namespace infergate {

struct PromSample {
  std::string_view name;
  std::string_view labels;  // raw text between the braces, escapes not decoded; empty if none
  double value = 0;
};

// Calls `visit(sample)` for every well-formed sample line; comments, blank lines and malformed
// lines are skipped. Returns the number of malformed lines.
template <class Visit>
std::size_t for_each_sample(std::string_view text, Visit&& visit);

// Parses one sample line (no trailing newline). False for comments, blanks and malformed lines.
bool parse_sample_line(std::string_view line, PromSample& out);

// The decoded value of label `key` in raw label text, or nullopt.
std::optional<std::string> find_label(std::string_view labels, std::string_view key);

// A series selector: a metric name, optionally restricted to one label value
// (`nv_trt_llm_request_metrics{request_type="waiting"}`).
struct MetricSelector {
  std::string name;
  std::string label;
  std::string label_value;
  bool matches(const PromSample& s) const;
};

// Where a model server reports its load. Each signal lists selectors in order of preference:
// the first one present in a scrape wins (vLLM v1 names before the older v0 names).
struct MetricsMapping {
  std::vector<MetricSelector> waiting;
  std::vector<MetricSelector> running;
  std::vector<MetricSelector> kv_usage;  // fraction 0..1
  std::string lora_info;                 // vLLM-style lora_requests_info; empty: none

  static MetricsMapping vllm();
  static MetricsMapping sglang();
  static MetricsMapping trtllm();
  // "auto", a pool's default: vLLM's names, then SGLang's, whichever the page has. Not TRT-LLM's:
  // Triton serves them on its own metrics port (8002), not on the inference port scraped here.
  static MetricsMapping detect();
  // By flavour name: "auto", "vllm", "sglang", "trtllm" (also "triton"); nullopt when unknown.
  static std::optional<MetricsMapping> named(std::string_view flavour);
};

// `name` or `name{label="value"}` (one label); nullopt when malformed.
std::optional<MetricSelector> parse_selector(std::string_view text);

// A pool's mapping: its flavour's ("custom": none), each list given in `config` replacing the
// flavour's. nullopt when the pool is not scraped (flavour "none" or "") or the config is invalid.
std::optional<MetricsMapping> mapping_for(const MetricsConfig& config);

struct ScrapedLoad {
  std::optional<double> waiting;
  std::optional<double> running;
  std::optional<double> kv_usage;
  bool has_lora_info = false;
  int max_loras = 0;
  std::vector<std::string> running_loras;
  std::vector<std::string> waiting_loras;
};

// Extracts the signals of `mapping` from one scrape. For lora_requests_info, whose value is a
// timestamp, the newest series wins.
ScrapedLoad parse_load(std::string_view text, const MetricsMapping& mapping);

// --- implementation of the template ---
template <class Visit>
std::size_t for_each_sample(std::string_view text, Visit&& visit) {
  std::size_t malformed = 0;
  PromSample sample;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    if (parse_sample_line(line.substr(first), sample)) {
      visit(static_cast<const PromSample&>(sample));
    } else {
      ++malformed;
    }
  }
  return malformed;
}

}  // namespace infergate
