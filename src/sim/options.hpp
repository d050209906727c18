// Command-line options of infergate-sim. Beast-free so that parsing is unit-tested.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/engine.hpp"
#include "sim/sim_metrics.hpp"

namespace infergate::sim {

// Fault injection: each rate is the probability, per model request, of that fault.
struct Faults {
  double fail_500 = 0;         // answer 500 before doing any work
  double fail_429 = 0;         // answer 429 (Retry-After) before doing any work
  double reset_before = 0;     // reset the connection before any response byte
  double reset_midstream = 0;  // reset the connection halfway through a streamed response
  double hang = 0;             // never send a byte (until the client gives up)
  Micros startup_delay = 0;    // /health answers 503 and model calls 503 for this long
};

struct SimOptions {
  std::string host = "127.0.0.1";
  std::vector<std::uint16_t> ports;  // one per instance; 0 = OS-chosen
  std::string model = "Qwen/Qwen3-0.6B";
  std::vector<std::string> served_names;  // names the base model answers to (default: model)
  std::vector<std::string> lora_modules;
  std::vector<std::string> pod_names;     // one per instance
  EngineConfig engine;
  std::uint32_t output_len = 16;      // tokens generated when the request sets no max_tokens
  std::uint32_t max_model_len = 32768;
  std::uint32_t embedding_dim = 16;
  MetricsFlavor flavor = MetricsFlavor::vllm_v1;
  Faults faults;
  bool fast = false;
  std::string log_level = "info";
};

enum class ParseStatus : std::uint8_t { ok, help, error };

// Parses argv (argv[0] skipped). `--flag value` and `--flag=value` both work. `env_pod_name` is
// the POD_NAME environment value (nullptr if unset). On error `error` names the flag.
ParseStatus parse_options(int argc, const char* const* argv, const char* env_pod_name,
                          SimOptions& out, std::string& error);

std::string usage_text();

}  // namespace infergate::sim
