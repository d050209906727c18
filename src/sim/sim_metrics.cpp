// prometheus-cpp 1.0 does not append "_total" to counters, so counter names carry it (the
// samples then read exactly as vLLM's do).
#include "sim/sim_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace infergate::sim {

namespace pm = prometheus;

bool parse_flavor(std::string_view s, MetricsFlavor& out) {
  if (s == "vllm-v1" || s == "vllm") {
    out = MetricsFlavor::vllm_v1;
  } else if (s == "vllm-v0") {
    out = MetricsFlavor::vllm_v0;
  } else if (s == "vllm-both") {
    out = MetricsFlavor::vllm_both;
  } else if (s == "sglang") {
    out = MetricsFlavor::sglang;
  } else {
    return false;
  }
  return true;
}

namespace {

// vLLM's bucket boundaries (vllm/v1/metrics/loggers.py).
const pm::Histogram::BucketBoundaries kTtftBuckets = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const pm::Histogram::BucketBoundaries kE2eBuckets = {
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
    60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

}  // namespace

struct SimMetrics::Families {
  pm::Gauge* running = nullptr;
  pm::Gauge* waiting = nullptr;
  pm::Gauge* kv_v1 = nullptr;
  pm::Gauge* kv_v0 = nullptr;
  pm::Counter* prefix_queries = nullptr;
  pm::Counter* prefix_hits = nullptr;
  pm::Family<pm::Gauge>* lora_family = nullptr;
  pm::Gauge* lora_info = nullptr;
  pm::Counter* success_stop = nullptr;
  pm::Counter* success_length = nullptr;
  pm::Counter* success_abort = nullptr;
  pm::Counter* prompt_tokens = nullptr;
  pm::Counter* generation_tokens = nullptr;
  pm::Histogram* ttft = nullptr;
  pm::Histogram* e2e = nullptr;
  pm::Family<pm::Gauge>* cache_info = nullptr;
  bool cache_info_set = false;
};

SimMetrics::SimMetrics(MetricsFlavor flavor, const std::string& model_name, bool lora_enabled)
    : flavor_(flavor),
      model_(model_name),
      lora_enabled_(lora_enabled),
      registry_(std::make_shared<pm::Registry>()),
      f_(std::make_unique<Families>()) {
  pm::Registry& reg = *registry_;
  const pm::Labels model{{"model_name", model_}};
  auto gauge = [&](const char* name, const char* help) {
    return &pm::BuildGauge().Name(name).Help(help).Register(reg).Add(model);
  };
  auto counter = [&](const char* name, const char* help) {
    return &pm::BuildCounter().Name(name).Help(help).Register(reg).Add(model);
  };
  auto histogram = [&](const char* name, const char* help, const pm::Histogram::BucketBoundaries& b) {
    return &pm::BuildHistogram().Name(name).Help(help).Register(reg).Add(model, b);
  };

  if (flavor_ == MetricsFlavor::sglang) {
    f_->running = gauge("sglang:num_running_reqs", "The number of running requests.");
    f_->waiting = gauge("sglang:num_queue_reqs", "The number of requests in the waiting queue.");
    f_->kv_v1 = gauge("sglang:token_usage", "The token usage (fraction of KV cache in use).");
    f_->prompt_tokens = counter("sglang:prompt_tokens_total", "Number of prefill tokens processed.");
    f_->generation_tokens = counter("sglang:generation_tokens_total", "Number of generation tokens processed.");
    f_->ttft = histogram("sglang:time_to_first_token_seconds", "Histogram of time to first token in seconds.", kTtftBuckets);
    f_->e2e = histogram("sglang:e2e_request_latency_seconds", "Histogram of End-to-end request latency in seconds", kE2eBuckets);
    return;
  }
  f_->running = gauge("vllm:num_requests_running", "Number of requests in model execution batches.");
  f_->waiting = gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.");
  if (flavor_ != MetricsFlavor::vllm_v0) {
    f_->kv_v1 = gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.");
  }
  if (flavor_ != MetricsFlavor::vllm_v1) {
    f_->kv_v0 = gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.");
  }
  f_->prefix_queries = counter("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.");
  f_->prefix_hits = counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.");
  auto& success = pm::BuildCounter()
                      .Name("vllm:request_success_total")
                      .Help("Count of successfully processed requests.")
                      .Register(reg);
  f_->success_stop = &success.Add({{"model_name", model_}, {"finished_reason", "stop"}});
  f_->success_length = &success.Add({{"model_name", model_}, {"finished_reason", "length"}});
  f_->success_abort = &success.Add({{"model_name", model_}, {"finished_reason", "abort"}});
  f_->prompt_tokens = counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.");
  f_->generation_tokens = counter("vllm:generation_tokens_total", "Number of generation tokens processed.");
  f_->ttft = histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", kTtftBuckets);
  f_->e2e = histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", kE2eBuckets);
  if (lora_enabled_) {
    f_->lora_family = &pm::BuildGauge()
                           .Name("vllm:lora_requests_info")
                           .Help("Running stats on lora requests.")
                           .Register(reg);
  }
  // Filled by set_gauges, which knows the engine's configuration.
  f_->cache_info = &pm::BuildGauge()
                        .Name("vllm:cache_config_info")
                        .Help("Information of the LLMEngine CacheConfig")
                        .Register(reg);
}

SimMetrics::~SimMetrics() = default;

void SimMetrics::on_admitted(const RequestState& st) {
  f_->prompt_tokens->Increment(st.prompt_tokens);
  if (f_->prefix_queries) {
    f_->prefix_queries->Increment(st.prompt_tokens);
    f_->prefix_hits->Increment(st.cached_tokens);
  }
}

void SimMetrics::on_first_token(const RequestState& st) {
  f_->ttft->Observe(to_seconds(st.first_token_at - st.submitted_at));
}

void SimMetrics::on_finished(const RequestState& st) {
  f_->generation_tokens->Increment(st.tokens_emitted);
  if (st.finish_reason != FinishReason::abort) {
    f_->e2e->Observe(to_seconds(st.finished_at - st.submitted_at));
  }
  if (!f_->success_stop) return;
  switch (st.finish_reason) {
    case FinishReason::stop: f_->success_stop->Increment(); break;
    case FinishReason::length: f_->success_length->Increment(); break;
    case FinishReason::abort: f_->success_abort->Increment(); break;
    case FinishReason::none: break;
  }
}

void SimMetrics::count_fast(std::uint32_t prompt_tokens, std::uint32_t completion_tokens) {
  f_->prompt_tokens->Increment(prompt_tokens);
  f_->generation_tokens->Increment(completion_tokens);
  if (f_->success_stop) f_->success_stop->Increment();
}

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

}  // namespace

void SimMetrics::set_gauges(const Engine* engine, double wall_seconds) {
  const double running = engine ? engine->running() : 0;
  const double waiting = engine ? engine->waiting() : 0;
  const double usage = engine && engine->kv().num_blocks()
                           ? static_cast<double>(engine->kv().used_blocks()) / engine->kv().num_blocks()
                           : 0.0;
  f_->running->Set(running);
  f_->waiting->Set(waiting);
  if (f_->kv_v1) f_->kv_v1->Set(usage);
  if (f_->kv_v0) f_->kv_v0->Set(usage);
  if (flavor_ == MetricsFlavor::sglang || !engine) return;

  if (!f_->cache_info_set) {
    f_->cache_info
        ->Add({{"block_size", std::to_string(engine->kv().block_size())},
               {"num_gpu_blocks", std::to_string(engine->kv().num_blocks())},
               {"enable_prefix_caching", "True"}})
        .Set(1);
    f_->cache_info_set = true;
  }

  if (f_->lora_family) {
    // The label values change with the load, so the single series is replaced at each scrape.
    if (f_->lora_info) f_->lora_family->Remove(f_->lora_info);
    f_->lora_info = &f_->lora_family->Add(
        {{"max_lora", std::to_string(engine->lora().max_loras())},
         {"running_lora_adapters", join(engine->lora().running())},
         {"waiting_lora_adapters", join(engine->waiting_loras())}});
    f_->lora_info->Set(wall_seconds);
  }
}

std::string SimMetrics::render(const Engine* engine, double wall_seconds) {
  set_gauges(engine, wall_seconds);
  return pm::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace infergate::sim
