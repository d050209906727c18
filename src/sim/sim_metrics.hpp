// The simulator's /metrics: vLLM's metric names (v1, v0 or both) or SGLang's, fed by the engine's
// observer hooks and by gauges read from the engine at scrape time. prometheus-cpp renders them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sim/engine.hpp"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace infergate::sim {

enum class MetricsFlavor : std::uint8_t { vllm_v1, vllm_v0, vllm_both, sglang };

// Parses "vllm-v1" | "vllm-v0" | "vllm-both" | "sglang"; false when unknown.
bool parse_flavor(std::string_view s, MetricsFlavor& out);

class SimMetrics : public EngineObserver {
 public:
  SimMetrics(MetricsFlavor flavor, const std::string& model_name, bool lora_enabled);
  ~SimMetrics() override;

  void on_admitted(const RequestState& st) override;
  void on_first_token(const RequestState& st) override;
  void on_finished(const RequestState& st) override;

  // Fast mode (no engine): one request that completed at once.
  void count_fast(std::uint32_t prompt_tokens, std::uint32_t completion_tokens);

  // The exposition text. Gauges come from `engine` (nullptr in fast mode: all zero);
  // `wall_seconds` is the value of vllm:lora_requests_info (vLLM stamps it with the time).
  std::string render(const Engine* engine, double wall_seconds);

 private:
  struct Families;
  void set_gauges(const Engine* engine, double wall_seconds);

  MetricsFlavor flavor_;
  std::string model_;
  bool lora_enabled_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> f_;
};

}  // namespace infergate::sim
