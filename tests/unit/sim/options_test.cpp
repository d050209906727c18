#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sim/options.hpp"

using namespace infergate::sim;

namespace {
ParseStatus parse(std::vector<const char*> args, SimOptions& o, std::string& err, const char* pod = nullptr) {
  args.insert(args.begin(), "infergate-sim");
  return parse_options(static_cast<int>(args.size()), args.data(), pod, o, err);
}
}  // namespace

TEST_CASE("ports and pod names per instance") {
  struct Row {
    std::vector<const char*> args;
    const char* env_pod;
    std::vector<std::uint16_t> ports;
    std::vector<std::string> pods;
  };
  const std::vector<Row> rows = {
      {{}, nullptr, {8000}, {"infergate-sim"}},
      {{"--port", "8001"}, "pod-a", {8001}, {"pod-a"}},
      {{"--port", "0", "--instances", "3"}, nullptr, {0, 0, 0}, {"infergate-sim-0", "infergate-sim-1", "infergate-sim-2"}},
      {{"--instances=2", "--base-port", "9001", "--pod-name", "p"}, "env", {9001, 9002}, {"p-0", "p-1"}},
      {{"--ports", "8001,8005"}, nullptr, {8001, 8005}, {"infergate-sim-0", "infergate-sim-1"}},
  };
  for (const auto& r : rows) {
    SimOptions o;
    std::string err;
    REQUIRE(parse(r.args, o, err, r.env_pod) == ParseStatus::ok);
    CHECK(o.ports == r.ports);
    CHECK(o.pod_names == r.pods);
  }
}

TEST_CASE("model, adapters, timings, faults") {
  SimOptions o;
  std::string err;
  REQUIRE(parse({"--model", "Qwen/Qwen3-0.6B", "--lora-modules", "a,b", "--itl-ms", "2.5", "--jitter", "0.1",
                 "--fail-500-rate", "0.25", "--startup-delay-ms", "300", "--metrics-flavor", "sglang", "--fast",
                 "--max-num-batched-tokens", "2048"},
                o, err) == ParseStatus::ok);
  CHECK(o.served_names == std::vector<std::string>{"Qwen/Qwen3-0.6B"});
  CHECK(o.lora_modules == std::vector<std::string>{"a", "b"});
  CHECK(o.engine.itl == 2500);
  CHECK(o.engine.jitter == doctest::Approx(0.1));
  CHECK(o.engine.max_num_batched_tokens == 2048);
  CHECK(o.faults.fail_500 == doctest::Approx(0.25));
  CHECK(o.faults.startup_delay == ms(300));
  CHECK(o.flavor == MetricsFlavor::sglang);
  CHECK(o.fast);
}

TEST_CASE("errors name the flag; --help lists every flag") {
  const std::vector<std::vector<const char*>> bad = {
      {"--nope"}, {"--port"}, {"--port", "x"}, {"--fail-429-rate", "2"}, {"--metrics-flavor", "tgi"}, {"--instances", "0"}};
  for (const auto& args : bad) {
    SimOptions o;
    std::string err;
    CHECK(parse(args, o, err) == ParseStatus::error);
    CHECK(err.find(args[0]) != std::string::npos);
  }
  SimOptions o;
  std::string err;
  CHECK(parse({"--help"}, o, err) == ParseStatus::help);
  const std::string usage = usage_text();
  for (const char* flag : {"--host", "--port", "--instances", "--base-port", "--ports", "--pod-name", "--lora-modules",
                           "--max-loras", "--max-num-seqs", "--kv-blocks", "--block-size", "--prefill-overhead-ms",
                           "--prefill-per-token-us", "--itl-ms", "--itl-load-factor", "--jitter", "--seed",
                           "--metrics-flavor", "--fail-500-rate", "--fail-429-rate", "--reset-before-rate",
                           "--reset-midstream-rate", "--hang-rate", "--startup-delay-ms", "--fast", "--max-queue",
                           "--max-num-batched-tokens"}) {
    CAPTURE(flag);
    CHECK(usage.find(flag) != std::string::npos);
  }
}
