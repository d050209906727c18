#include "sim/options.hpp"

#include <charconv>
#include <functional>
#include <optional>
#include <string_view>

namespace infergate::sim {
namespace {

using Setter = std::function<bool(std::string_view)>;

struct Flag {
  const char* name;
  const char* arg;  // nullptr: a switch without a value
  const char* help;
  Setter set;
};

template <typename T>
bool parse_num(std::string_view s, T& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_rate(std::string_view s, double& out) {
  return parse_num(s, out) && out >= 0.0 && out <= 1.0;
}

bool parse_ms(std::string_view s, Micros& out) {
  double v;
  if (!parse_num(s, v) || v < 0) return false;
  out = ms(v);
  return true;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto comma = s.find(',');
    auto item = s.substr(0, comma);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

struct Raw {  // values that are resolved after all flags are read
  std::uint16_t port = 8000;
  std::optional<std::uint16_t> base_port;
  std::vector<std::uint16_t> ports;
  std::uint32_t instances = 1;
  std::string pod_name;
};

std::vector<Flag> flags(SimOptions& o, Raw& raw, bool& help) {
  auto u32 = [](std::uint32_t& dst) { return [&dst](std::string_view s) { return parse_num(s, dst); }; };
  auto dbl = [](double& dst) { return [&dst](std::string_view s) { return parse_num(s, dst) && dst >= 0; }; };
  auto rate = [](double& dst) { return [&dst](std::string_view s) { return parse_rate(s, dst); }; };
  auto msec = [](Micros& dst) { return [&dst](std::string_view s) { return parse_ms(s, dst); }; };
  auto str = [](std::string& dst) { return [&dst](std::string_view s) { dst = s; return !s.empty(); }; };
  EngineConfig& e = o.engine;
  Faults& f = o.faults;
  return {
      {"--host", "ADDR", "address to bind (default 127.0.0.1)", str(o.host)},
      {"--port", "PORT", "port of the first instance; 0 lets the OS choose (default 8000)",
       [&](std::string_view s) { return parse_num(s, raw.port); }},
      {"--base-port", "P", "instances listen on P..P+N-1", [&](std::string_view s) {
         std::uint16_t p;
         if (!parse_num(s, p)) return false;
         raw.base_port = p;
         return true;
       }},
      {"--ports", "P1,P2", "explicit port list, one instance each", [&](std::string_view s) {
         for (const auto& item : split_list(s)) {
           std::uint16_t p;
           if (!parse_num(std::string_view(item), p)) return false;
           raw.ports.push_back(p);
         }
         return !raw.ports.empty();
       }},
      {"--instances", "N", "number of servers in this process, each with its own state (default 1)",
       [&](std::string_view s) { return parse_num(s, raw.instances) && raw.instances >= 1 && raw.instances <= 1024; }},
      {"--model", "NAME", "base model name (default Qwen/Qwen3-0.6B)", str(o.model)},
      {"--served-model-name", "A,B", "names the base model answers to (default: --model)",
       [&](std::string_view s) { o.served_names = split_list(s); return !o.served_names.empty(); }},
      {"--lora-modules", "A,B", "LoRA adapters served on top of the base model",
       [&](std::string_view s) { o.lora_modules = split_list(s); return true; }},
      {"--max-loras", "N", "adapters resident at once (default 1)", u32(e.max_loras)},
      {"--lora-load-ms", "MS", "delay to load an adapter that is not resident (default 50)", msec(e.lora_load_delay)},
      {"--pod-name", "NAME", "x-inference-pod value (default $POD_NAME or infergate-sim; -i suffix per instance)",
       str(raw.pod_name)},
      {"--max-num-seqs", "N", "requests in the running batch (default 32)", u32(e.max_num_seqs)},
      {"--max-queue", "N", "waiting requests before 503 (default 1024)", u32(e.max_queue)},
      {"--kv-blocks", "N", "KV cache blocks (default 8192)", u32(e.kv_blocks)},
      {"--block-size", "N", "tokens per KV block (default 16)", u32(e.block_size)},
      {"--prefill-overhead-ms", "MS", "fixed prefill time (default 10)", msec(e.prefill_overhead)},
      {"--prefill-per-token-us", "US", "prefill time per uncached prompt token (default 20)", dbl(e.prefill_per_token_us)},
      {"--itl-ms", "MS", "inter-token latency with a batch of one (default 10)", msec(e.itl)},
      {"--itl-load-factor", "F", "ITL multiplier when the batch is full (default 2)", dbl(e.itl_load_factor)},
      {"--max-num-batched-tokens", "N",
       "tokens per engine step, shared by decodes and prefill chunks; > 0 turns on the step model "
       "(prefill competes with decode for the GPU, as vLLM's chunked prefill; default 0: each "
       "request's prefill is its own delay)", u32(e.max_num_batched_tokens)},
      {"--jitter", "F", "latency standard deviation as a fraction of the mean (default 0)", dbl(e.jitter)},
      {"--seed", "N", "seed of jitter, faults and text (default 1)",
       [&](std::string_view s) { return parse_num(s, e.seed); }},
      {"--output-len", "N", "tokens generated when a request sets no max_tokens (default 16)", u32(o.output_len)},
      {"--max-model-len", "N", "context length (default 32768)", u32(o.max_model_len)},
      {"--embedding-dim", "N", "length of embedding vectors (default 16)", u32(o.embedding_dim)},
      {"--metrics-flavor", "F", "vllm-v1 | vllm-v0 | vllm-both | sglang (default vllm-v1)",
       [&](std::string_view s) { return parse_flavor(s, o.flavor); }},
      {"--fail-500-rate", "R", "fraction of model requests answered 500", rate(f.fail_500)},
      {"--fail-429-rate", "R", "fraction of model requests answered 429", rate(f.fail_429)},
      {"--reset-before-rate", "R", "fraction of model requests reset before the response", rate(f.reset_before)},
      {"--reset-midstream-rate", "R", "fraction of streamed requests reset halfway", rate(f.reset_midstream)},
      {"--hang-rate", "R", "fraction of model requests that never get a byte", rate(f.hang)},
      {"--startup-delay-ms", "MS", "/health answers 503 for this long after start", msec(f.startup_delay)},
      {"--fast", nullptr, "fast mode: no modelled latency, a fixed small reply", [&](std::string_view) { o.fast = true; return true; }},
      {"--log-level", "L", "trace | debug | info | warn | error (default info)", str(o.log_level)},
      {"--help", nullptr, "this text", [&](std::string_view) { help = true; return true; }},
  };
}

void resolve(SimOptions& o, const Raw& raw, const char* env_pod_name) {
  o.ports.clear();
  if (!raw.ports.empty()) {
    o.ports = raw.ports;
  } else {
    const std::uint16_t first = raw.base_port ? *raw.base_port : raw.port;
    for (std::uint32_t i = 0; i < raw.instances; ++i) {
      o.ports.push_back(first == 0 ? 0 : static_cast<std::uint16_t>(first + i));
    }
  }
  std::string pod = !raw.pod_name.empty() ? raw.pod_name
                    : (env_pod_name && *env_pod_name) ? env_pod_name
                                                      : "infergate-sim";
  o.pod_names.clear();
  for (std::size_t i = 0; i < o.ports.size(); ++i) {
    o.pod_names.push_back(o.ports.size() > 1 ? pod + "-" + std::to_string(i) : pod);
  }
  if (o.served_names.empty()) o.served_names.push_back(o.model);
}

}  // namespace

ParseStatus parse_options(int argc, const char* const* argv, const char* env_pod_name,
                          SimOptions& out, std::string& error) {
  Raw raw;
  bool help = false;
  auto table = flags(out, raw, help);
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string_view::npos && arg.starts_with("--")) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    const Flag* flag = nullptr;
    for (const auto& f : table) {
      if (arg == f.name) flag = &f;
    }
    if (!flag) {
      error = "unknown option " + std::string(arg);
      return ParseStatus::error;
    }
    if (flag->arg && !has_value) {
      if (i + 1 >= argc) {
        error = std::string(arg) + " needs a value";
        return ParseStatus::error;
      }
      value = argv[++i];
    }
    if (!flag->set(value)) {
      error = "bad value for " + std::string(arg) + ": '" + std::string(value) + "'";
      return ParseStatus::error;
    }
  }
  if (help) return ParseStatus::help;
  resolve(out, raw, env_pod_name);
  return ParseStatus::ok;
}

std::string usage_text() {
  SimOptions o;
  Raw raw;
  bool help = false;
  std::string out =
      "usage: infergate-sim [options]\n"
      "A simulated vLLM model server (OpenAI-compatible API, vLLM metrics, latency model).\n"
      "Prints 'listening HOST:PORT' once each instance is bound.\n\noptions:\n";
  for (const auto& f : flags(o, raw, help)) {
    std::string left = std::string("  ") + f.name + (f.arg ? std::string(" ") + f.arg : "");
    if (left.size() < 28) left.resize(28, ' ');
    out += left + "  " + f.help + "\n";
  }
  return out;
}

}  // namespace infergate::sim
