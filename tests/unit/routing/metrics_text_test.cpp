#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "routing/metrics_text.hpp"

using namespace infergate;

namespace {

constexpr std::string_view kVllmV1 = R"(# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-0.6B"} 3.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen3-0.6B"} 7.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen3-0.6B"} 0.42
# TYPE vllm:lora_requests_info gauge
vllm:lora_requests_info{max_lora="4",running_lora_adapters="sql,chat",waiting_lora_adapters=""} 1.7e+09
vllm:lora_requests_info{max_lora="4",running_lora_adapters="old",waiting_lora_adapters="x"} 1.6e+09
vllm:lora_requests_info{max_lora="4",running_lora_adapters="",waiting_lora_adapters="late"} 1.75e+09
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="m"} 12
)";

constexpr std::string_view kVllmV0 = "vllm:num_requests_running{model_name=\"m\"} 1\n"
                                     "vllm:num_requests_waiting{model_name=\"m\"} 0\n"
                                     "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.9\n";

constexpr std::string_view kBoth = "vllm:gpu_cache_usage_perc 0.9\nvllm:kv_cache_usage_perc 0.3\n";

constexpr std::string_view kSglang = "# TYPE sglang:num_queue_reqs gauge\n"
                                     "sglang:num_queue_reqs{model_name=\"m\"} 11\r\n"
                                     "sglang:num_running_reqs{model_name=\"m\"} 4\r\n"
                                     "sglang:token_usage{model_name=\"m\"} 0.25\r\n";

constexpr std::string_view kTrt =
    "nv_trt_llm_request_metrics{model=\"ensemble\",request_type=\"scheduled\",version=\"1\"} 6\n"
    "nv_trt_llm_request_metrics{model=\"ensemble\",request_type=\"waiting\",version=\"1\"} 2\n"
    "nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=\"max\",model=\"e\"} 100\n"
    "nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=\"fraction\",model=\"e\"} 0.5\n";

}  // namespace

TEST_CASE("parse_load reads each flavour") {
  struct Case {
    const char* what;
    std::string_view text;
    MetricsMapping mapping;
    double waiting, running, kv;
  };
  const Case cases[] = {
      {"vllm v1", kVllmV1, MetricsMapping::vllm(), 7, 3, 0.42},
      {"vllm v0 falls back to gpu_cache_usage_perc", kVllmV0, MetricsMapping::vllm(), 0, 1, 0.9},
      {"sglang with CRLF", kSglang, MetricsMapping::sglang(), 11, 4, 0.25},
      {"trt-llm by label", kTrt, MetricsMapping::trtllm(), 2, 6, 0.5},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const auto load = parse_load(c.text, c.mapping);
    REQUIRE(load.waiting);
    REQUIRE(load.running);
    REQUIRE(load.kv_usage);
    CHECK(*load.waiting == c.waiting);
    CHECK(*load.running == c.running);
    CHECK(*load.kv_usage == doctest::Approx(c.kv));
  }
}

TEST_CASE("v1 KV name is preferred over v0 whatever the order") {
  CHECK(*parse_load(kBoth, MetricsMapping::vllm()).kv_usage == doctest::Approx(0.3));
}

TEST_CASE("lora_requests_info: the newest series wins") {
  const auto load = parse_load(kVllmV1, MetricsMapping::vllm());
  CHECK(load.has_lora_info);
  CHECK(load.max_loras == 4);
  CHECK(load.running_loras.empty());
  REQUIRE(load.waiting_loras.size() == 1);
  CHECK(load.waiting_loras[0] == "late");
}

TEST_CASE("missing families stay unknown, and garbage is skipped, counted") {
  const std::string_view garbage = "not a metric line\n{broken} 1\nvllm:x{a=\"unterminated} 3\n"
                                   "vllm:num_requests_waiting abc\nvllm:num_requests_running 2\n";
  std::size_t seen = 0;
  CHECK(for_each_sample(garbage, [&](const PromSample&) { ++seen; }) == 4);
  CHECK(seen == 1);
  const auto load = parse_load(garbage, MetricsMapping::vllm());
  CHECK_FALSE(load.waiting);
  CHECK(load.running == 2.0);
  CHECK_FALSE(load.kv_usage);
  CHECK_FALSE(load.has_lora_info);
  CHECK_FALSE(parse_load("", MetricsMapping::sglang()).running);
}

TEST_CASE("sample lines: values, timestamps, escapes") {
  struct Case {
    std::string_view line;
    bool ok;
    std::string_view name;
    double value;
  };
  const Case cases[] = {
      {"a 1", true, "a", 1},
      {"a{} 2.5 1700000000000", true, "a", 2.5},
      {"a{l=\"x}y\\\"z\"} -3e2", true, "a", -300},
      {"a +Inf", true, "a", INFINITY},
      {"a -Inf", true, "a", -INFINITY},
      {"a", false, "", 0},
      {"a{l=\"x\"}", false, "", 0},
      {"9a 1", false, "", 0},
      {"a 1x", false, "", 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.line);
    PromSample s;
    REQUIRE(parse_sample_line(c.line, s) == c.ok);
    if (!c.ok) continue;
    CHECK(s.name == c.name);
    CHECK(s.value == c.value);
  }
  PromSample nan;
  REQUIRE(parse_sample_line("a NaN", nan));
  CHECK(std::isnan(nan.value));
}

TEST_CASE("find_label decodes escapes and tells absent from empty") {
  const std::string_view labels = R"(a="1",b="",c="x\"y\\z\nw", d = "sp")";
  CHECK(find_label(labels, "a") == "1");
  CHECK(find_label(labels, "b") == "");
  CHECK(find_label(labels, "c") == "x\"y\\z\nw");
  CHECK(find_label(labels, "d") == "sp");
  CHECK_FALSE(find_label(labels, "e"));
}

TEST_CASE("named flavours") {
  CHECK(MetricsMapping::named("auto"));
  CHECK_FALSE(MetricsMapping::named("none"));  // not scraped: mapping_for gives none
  CHECK(MetricsMapping::named("vllm"));
  CHECK(MetricsMapping::named("triton"));
  CHECK_FALSE(MetricsMapping::named("tgi"));
}

TEST_CASE("parse_load skips lines by name: longer names, comments, indentation, no final newline") {
  struct Case {
    const char* what;
    std::string_view text;
    double waiting;  // -1: unknown
  };
  const Case cases[] = {
      {"a longer name sharing the prefix is not the metric",
       "vllm:num_requests_waiting_by_reason{reason=\"x\"} 9\nvllm:num_requests_waiting 2\n", 2},
      {"only the longer name", "vllm:num_requests_waiting_total 9\n", -1},
      {"a comment naming the metric", "# vllm:num_requests_waiting 9\n", -1},
      {"indented sample", "  \tvllm:num_requests_waiting 4\n", 4},
      {"tab after the name", "vllm:num_requests_waiting\t5\n", 5},
      {"last line without newline", "x 1\nvllm:num_requests_waiting{a=\"b\"} 6", 6},
      {"blank and whitespace-only lines", "\n   \n\r\nvllm:num_requests_waiting 7\r\n", 7},
      {"name alone at the end of the page", "vllm:num_requests_waiting", -1},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const auto load = parse_load(c.text, MetricsMapping::vllm());
    if (c.waiting < 0) {
      CHECK_FALSE(load.waiting);
    } else {
      REQUIRE(load.waiting);
      CHECK(*load.waiting == c.waiting);
    }
  }
}

TEST_CASE("parse_load with more selector names than it tracks still reads them all") {
  MetricsMapping mapping;
  for (int i = 0; i < 20; ++i) {
    std::string name(1, 'w');
    name += std::to_string(i);  // w0 .. w19
    mapping.waiting.push_back({name, "", ""});
  }
  mapping.kv_usage.push_back({"kv", "", ""});
  const auto load = parse_load("w19 3\nkv 0.5\nother 1\n", mapping);
  REQUIRE(load.waiting);
  CHECK(*load.waiting == 3);
  REQUIRE(load.kv_usage);
  CHECK(*load.kv_usage == 0.5);
}

TEST_CASE("parse_load tells apart wanted names of the same length, given in any order") {
  MetricsMapping mapping;  // three names of 5 bytes, one of 3, one of 7: added unsorted
  mapping.waiting = {{"queue", "", ""}};
  mapping.running = {{"batch", "", ""}, {"activ", "", ""}};
  mapping.kv_usage = {{"kvcache", "", ""}, {"kvc", "", ""}};
  const auto load = parse_load("batcz 9\nactiv 2\nqueue{m=\"a\"} 3\nkvc 0.25\nkvcache_x 1\n", mapping);
  REQUIRE(load.waiting);
  CHECK(*load.waiting == 3);
  REQUIRE(load.running);
  CHECK(*load.running == 2);  // "batcz" has batch's length but is not it
  REQUIRE(load.kv_usage);
  CHECK(*load.kv_usage == 0.25);  // the second choice: the first never appears
}

TEST_CASE("auto: whichever of vLLM's and SGLang's names the page has; none when it has neither") {
  const MetricsMapping m = MetricsMapping::detect();
  struct Case {
    const char* what;
    std::string_view text;
    double waiting, running, kv;  // -1: not found
  };
  const Case cases[] = {
      {"vLLM v1", "vllm:num_requests_waiting 0\nvllm:num_requests_running 40\nvllm:kv_cache_usage_perc 0.6\n",
       0, 40, 0.6},
      {"vLLM v0 KV name", "vllm:num_requests_running 3\nvllm:gpu_cache_usage_perc 0.2\n", -1, 3, 0.2},
      {"SGLang", "sglang:num_queue_reqs 2\nsglang:num_running_reqs 7\nsglang:token_usage 0.4\n", 2, 7, 0.4},
      {"both: vLLM's first", "sglang:num_queue_reqs 9\nvllm:num_requests_waiting 1\n", 1, -1, -1},
      {"another server's page", "process_cpu_seconds_total 3\nhttp_requests_total 10\n", -1, -1, -1},
  };
  const auto value = [](const std::optional<double>& v) { return v ? *v : -1.0; };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const ScrapedLoad load = parse_load(c.text, m);
    CHECK(value(load.waiting) == c.waiting);
    CHECK(value(load.running) == c.running);
    CHECK(value(load.kv_usage) == doctest::Approx(c.kv));
  }
  MetricsConfig none;
  none.flavour = "none";
  CHECK_FALSE(mapping_for(none));
  CHECK(mapping_for(MetricsConfig{}));  // the default is auto
}
