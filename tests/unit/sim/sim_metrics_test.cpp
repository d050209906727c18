#include <doctest/doctest.h>

#include <string>

#include "sim/sim_metrics.hpp"

using namespace infergate::sim;

namespace {
bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}
}  // namespace

TEST_CASE("vLLM v1 names with values that follow the engine") {
  EngineConfig c;
  c.max_num_seqs = 2;
  c.kv_blocks = 100;
  c.block_size = 16;
  c.max_loras = 2;
  SimMetrics m(MetricsFlavor::vllm_v1, "m", true);
  Engine e(c, &m);
  RequestSpec s;
  s.prompt.assign(40, 7);
  s.output_tokens = 3;
  s.lora = "ad";
  const auto a = e.submit(s, 0);
  RequestSpec s2 = s;
  s2.lora.clear();
  e.submit(s2, 0);
  e.submit(s2, 0);  // waits: batch of 2
  const std::string text = m.render(&e, 1234.0);
  CAPTURE(text);
  CHECK(has_line(text, "vllm:num_requests_running{model_name=\"m\"} 2"));
  CHECK(has_line(text, "vllm:num_requests_waiting{model_name=\"m\"} 1"));
  CHECK(has_line(text, "vllm:kv_cache_usage_perc{model_name=\"m\"} 0.04"));
  CHECK(text.find("vllm:gpu_cache_usage_perc") == std::string::npos);
  CHECK(has_line(text, "vllm:prompt_tokens_total{model_name=\"m\"} 80"));
  CHECK(has_line(text, "vllm:prefix_cache_queries_total{model_name=\"m\"} 80"));
  CHECK(has_line(text, "vllm:prefix_cache_hits_total{model_name=\"m\"} 32"));
  CHECK(text.find("vllm:lora_requests_info{max_lora=\"2\",running_lora_adapters=\"ad\",waiting_lora_adapters=\"\"} 1234") != std::string::npos);
  CHECK(text.find("vllm:cache_config_info{block_size=\"16\",enable_prefix_caching=\"True\",num_gpu_blocks=\"100\"} 1") != std::string::npos);
  e.abort(a, 1000);
  const std::string after = m.render(&e, 1235.0);
  CHECK(has_line(after, "vllm:request_success_total{finished_reason=\"abort\",model_name=\"m\"} 1"));
  CHECK(has_line(after, "vllm:request_success_total{finished_reason=\"stop\",model_name=\"m\"} 0"));
  CHECK(after.find("running_lora_adapters=\"ad\"") == std::string::npos);  // the old series is gone
  CHECK(after.find("# TYPE vllm:time_to_first_token_seconds histogram") != std::string::npos);
  CHECK(after.find("# TYPE vllm:e2e_request_latency_seconds histogram") != std::string::npos);
}

TEST_CASE("flavors choose the names") {
  struct Row {
    MetricsFlavor flavor;
    std::vector<const char*> present;
    std::vector<const char*> absent;
  };
  const std::vector<Row> rows = {
      {MetricsFlavor::vllm_v0, {"vllm:gpu_cache_usage_perc"}, {"vllm:kv_cache_usage_perc", "sglang:"}},
      {MetricsFlavor::vllm_both, {"vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc"}, {"sglang:"}},
      {MetricsFlavor::sglang, {"sglang:num_queue_reqs", "sglang:num_running_reqs", "sglang:token_usage"}, {"vllm:"}},
  };
  for (const auto& r : rows) {
    SimMetrics m(r.flavor, "m", false);
    Engine e(EngineConfig{}, &m);
    const std::string text = m.render(&e, 0);
    for (const char* name : r.present) CHECK(text.find(name) != std::string::npos);
    for (const char* name : r.absent) CHECK(text.find(name) == std::string::npos);
  }
}

TEST_CASE("parse_flavor") {
  MetricsFlavor f;
  CHECK(parse_flavor("vllm-both", f));
  CHECK(f == MetricsFlavor::vllm_both);
  CHECK_FALSE(parse_flavor("tgi", f));
}
