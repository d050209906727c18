#include "routing/metrics_text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace infergate {
namespace {

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

// Prometheus values: Go float syntax plus NaN, +Inf, -Inf.
bool parse_value(std::string_view s, double& out) {
  if (s.empty()) return false;
  if (s == "+Inf" || s == "Inf") { out = std::numeric_limits<double>::infinity(); return true; }
  if (s == "-Inf") { out = -std::numeric_limits<double>::infinity(); return true; }
  if (s == "NaN") { out = std::numeric_limits<double>::quiet_NaN(); return true; }
  if (s.front() == '+') s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

// Finds the closing brace of a label set, skipping quoted values (which may hold '}' and '\"').
std::size_t label_set_end(std::string_view s, std::size_t open) {
  bool quoted = false;
  for (std::size_t i = open + 1; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '\\') ++i;
      else if (c == '"') quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == '}') {
      return i;
    }
  }
  return std::string_view::npos;
}

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(std::move(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

namespace {

// A sample line whose name is known to be the first `i` bytes: labels, value, optional timestamp.
bool parse_sample_rest(std::string_view line, std::size_t i, PromSample& out) {
  out.name = line.substr(0, i);
  out.labels = {};
  if (i < line.size() && line[i] == '{') {
    const auto close = label_set_end(line, i);
    if (close == std::string_view::npos) return false;
    out.labels = line.substr(i + 1, close - i - 1);
    i = close + 1;
  }
  if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) return false;
  const auto value_start = line.find_first_not_of(" \t", i);
  if (value_start == std::string_view::npos) return false;
  auto value_end = line.find_first_of(" \t", value_start);  // an optional timestamp may follow
  if (value_end == std::string_view::npos) value_end = line.size();
  return parse_value(line.substr(value_start, value_end - value_start), out.value);
}

}  // namespace

bool parse_sample_line(std::string_view line, PromSample& out) {
  std::size_t i = 0;
  if (line.empty() || !is_name_start(line[0])) return false;
  while (i < line.size() && is_name_char(line[i])) ++i;
  return parse_sample_rest(line, i, out);
}

std::optional<std::string> find_label(std::string_view labels, std::string_view key) {
  std::size_t i = 0;
  while (i < labels.size()) {
    while (i < labels.size() && (labels[i] == ' ' || labels[i] == ',')) ++i;
    const auto eq = labels.find('=', i);
    if (eq == std::string_view::npos) return std::nullopt;
    const auto quote = labels.find_first_not_of(' ', eq + 1);
    if (quote == std::string_view::npos || labels[quote] != '"') return std::nullopt;
    auto name = labels.substr(i, eq - i);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    std::string value;
    std::size_t j = quote + 1;
    for (; j < labels.size() && labels[j] != '"'; ++j) {
      if (labels[j] == '\\' && j + 1 < labels.size()) {
        ++j;
        value.push_back(labels[j] == 'n' ? '\n' : labels[j]);
      } else {
        value.push_back(labels[j]);
      }
    }
    if (j >= labels.size()) return std::nullopt;  // unterminated value
    if (name == key) return value;
    i = j + 1;
  }
  return std::nullopt;
}

bool MetricSelector::matches(const PromSample& s) const {
  if (s.name != name) return false;
  if (label.empty()) return true;
  const auto v = find_label(s.labels, label);
  return v && *v == label_value;
}

MetricsMapping MetricsMapping::vllm() {
  return {{{"vllm:num_requests_waiting", "", ""}},
          {{"vllm:num_requests_running", "", ""}},
          {{"vllm:kv_cache_usage_perc", "", ""}, {"vllm:gpu_cache_usage_perc", "", ""}},
          "vllm:lora_requests_info"};
}

MetricsMapping MetricsMapping::sglang() {
  return {{{"sglang:num_queue_reqs", "", ""}},
          {{"sglang:num_running_reqs", "", ""}},
          {{"sglang:token_usage", "", ""}},
          ""};
}

MetricsMapping MetricsMapping::trtllm() {
  return {{{"nv_trt_llm_request_metrics", "request_type", "waiting"}},
          {{"nv_trt_llm_request_metrics", "request_type", "scheduled"}},
          {{"nv_trt_llm_kv_cache_block_metrics", "kv_cache_block_type", "fraction"}},
          ""};
}

MetricsMapping MetricsMapping::detect() {
  MetricsMapping m = vllm();
  const MetricsMapping s = sglang();
  m.waiting.insert(m.waiting.end(), s.waiting.begin(), s.waiting.end());
  m.running.insert(m.running.end(), s.running.begin(), s.running.end());
  m.kv_usage.insert(m.kv_usage.end(), s.kv_usage.begin(), s.kv_usage.end());
  return m;
}

std::optional<MetricsMapping> MetricsMapping::named(std::string_view flavour) {
  if (flavour == "auto") return detect();
  if (flavour == "vllm") return vllm();
  if (flavour == "sglang") return sglang();
  if (flavour == "trtllm" || flavour == "triton") return trtllm();
  return std::nullopt;
}

std::optional<MetricSelector> parse_selector(std::string_view text) {
  MetricSelector selector;
  const auto open = text.find('{');
  const std::string_view name = text.substr(0, open);
  if (name.empty() || !is_name_start(name[0])) return std::nullopt;
  for (char c : name) {
    if (!is_name_char(c)) return std::nullopt;
  }
  selector.name = std::string(name);
  if (open == std::string_view::npos) return selector;
  if (text.back() != '}') return std::nullopt;
  const std::string_view labels = text.substr(open + 1, text.size() - open - 2);
  const auto eq = labels.find('=');
  if (eq == std::string_view::npos || eq == 0) return std::nullopt;
  const std::string_view label = labels.substr(0, eq);
  for (char c : label) {
    if (!is_name_char(c) || c == ':') return std::nullopt;
  }
  auto value = find_label(labels, label);
  if (!value || labels.find(',') != std::string_view::npos) return std::nullopt;
  selector.label = std::string(label);
  selector.label_value = std::move(*value);
  return selector;
}

std::optional<MetricsMapping> mapping_for(const MetricsConfig& config) {
  if (config.flavour.empty() || config.flavour == "none") return std::nullopt;
  MetricsMapping mapping;
  if (config.flavour != "custom") {
    auto named = MetricsMapping::named(config.flavour);
    if (!named) return std::nullopt;
    mapping = std::move(*named);
  }
  const auto replace = [](const std::vector<std::string>& texts, std::vector<MetricSelector>& out) {
    if (texts.empty()) return true;
    out.clear();
    for (const auto& t : texts) {
      auto selector = parse_selector(t);
      if (!selector) return false;
      out.push_back(std::move(*selector));
    }
    return true;
  };
  if (!replace(config.waiting, mapping.waiting) || !replace(config.running, mapping.running) ||
      !replace(config.kv_usage, mapping.kv_usage)) {
    return std::nullopt;
  }
  if (!config.lora_info.empty()) mapping.lora_info = config.lora_info;
  return mapping;
}

namespace {

// Records `value` for a signal if `s` matches a selector preferred over the one seen so far.
void offer(const std::vector<MetricSelector>& selectors, const PromSample& s,
           std::optional<double>& value, std::size_t& rank) {
  for (std::size_t r = 0; r < selectors.size() && r < rank; ++r) {
    if (selectors[r].matches(s)) {
      value = s.value;
      rank = r;
      return;
    }
  }
}

// The metric names one parse looks for, without allocating. A line is one of them when the byte
// after the name's length ends a name and the bytes before it are the name: most lines fail on
// that one byte, tested once per distinct length (the vLLM names have three lengths for five
// names). Past 16 names every line is parsed (offer() still picks the right ones).
class WantedNames {
 public:
  void add(std::string_view name) {
    const auto used = names_.begin() + static_cast<std::ptrdiff_t>(count_);
    if (name.empty() || std::find(names_.begin(), used, name) != used) return;
    if (count_ == names_.size()) {
      overflow_ = true;
      return;
    }
    // Kept sorted by length, so that the names of one length are one run.
    auto at = std::upper_bound(names_.begin(), used, name,
                               [](std::string_view x, std::string_view y) { return x.size() < y.size(); });
    std::move_backward(at, used, used + 1);
    *at = name;
    ++count_;
    run_count_ = 0;
    for (std::size_t i = 0; i < count_; ++i) {
      if (run_count_ == 0 || runs_[run_count_ - 1].length != names_[i].size()) {
        runs_[run_count_++] = {names_[i].size(), i, i};
      }
      runs_[run_count_ - 1].end = i + 1;
    }
  }
  static constexpr std::size_t kUnknown = std::string_view::npos;
  // The length of the wanted name `line` starts with, 0 if none; kUnknown past 16 names (every
  // line is then a candidate).
  std::size_t match(std::string_view line) const {
    if (overflow_) return kUnknown;
    for (std::size_t r = 0; r < run_count_; ++r) {
      const Run& run = runs_[r];
      if (line.size() <= run.length || !kEndsName[static_cast<unsigned char>(line[run.length])]) continue;
      for (std::size_t i = run.begin; i < run.end; ++i) {
        if (std::memcmp(line.data(), names_[i].data(), run.length) == 0) return run.length;
      }
    }
    return 0;
  }

 private:
  struct Run {
    std::size_t length, begin, end;  // names_[begin, end) have this length
  };
  static constexpr std::array<bool, 256> kEndsName = [] {
    std::array<bool, 256> ends{};
    ends['{'] = ends[' '] = ends['\t'] = true;
    return ends;
  }();

  std::array<std::string_view, 16> names_{};
  std::array<Run, 16> runs_{};
  std::size_t count_ = 0, run_count_ = 0;
  bool overflow_ = false;
};

}  // namespace

ScrapedLoad parse_load(std::string_view text, const MetricsMapping& mapping) {
  ScrapedLoad load;
  constexpr auto none = std::numeric_limits<std::size_t>::max();
  std::size_t waiting_rank = none, running_rank = none, kv_rank = none;
  double newest_lora = -std::numeric_limits<double>::infinity();
  std::string_view lora_labels;

  WantedNames wanted;
  for (const auto* list : {&mapping.waiting, &mapping.running, &mapping.kv_usage}) {
    for (const MetricSelector& selector : *list) wanted.add(selector.name);
  }
  wanted.add(mapping.lora_info);
  const auto visit = [&](const PromSample& s) {
    offer(mapping.waiting, s, load.waiting, waiting_rank);
    offer(mapping.running, s, load.running, running_rank);
    offer(mapping.kv_usage, s, load.kv_usage, kv_rank);
    if (!mapping.lora_info.empty() && s.name == mapping.lora_info && s.value >= newest_lora) {
      newest_lora = s.value;
      lora_labels = s.labels;
      load.has_lora_info = true;
    }
  };
  // Only lines of the families this mapping reads are parsed; the others (a vLLM page is mostly
  // histogram buckets and comments) are rejected by their first byte or by the byte after a
  // wanted name's length: 28 -> 6 -> ~2 us for a 39 KB page (bench/micro).
  PromSample sample;
  const char* cursor = text.data();
  const char* const end = cursor + text.size();
  while (cursor < end) {
    const auto left = static_cast<std::size_t>(end - cursor);
    const auto* nl = static_cast<const char*>(std::memchr(cursor, '\n', left));
    if (nl == nullptr) nl = end;
    std::string_view line(cursor, static_cast<std::size_t>(nl - cursor));
    cursor = nl + 1;
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == ' ' || line[0] == '\t') {
      const auto first = line.find_first_not_of(" \t");
      if (first == std::string_view::npos || line[first] == '#') continue;
      line.remove_prefix(first);
    }
    const std::size_t name_length = wanted.match(line);
    if (name_length == 0) continue;
    if (line.back() == '\r') line.remove_suffix(1);
    const bool parsed = name_length == WantedNames::kUnknown ? parse_sample_line(line, sample)
                                                             : parse_sample_rest(line, name_length, sample);
    if (parsed) visit(sample);
  }

  if (load.has_lora_info) {
    if (auto v = find_label(lora_labels, "running_lora_adapters")) load.running_loras = split_csv(*v);
    if (auto v = find_label(lora_labels, "waiting_lora_adapters")) load.waiting_loras = split_csv(*v);
    if (auto v = find_label(lora_labels, "max_lora")) {
      int n = 0;
      const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (ec == std::errc{} && p == v->data() + v->size()) load.max_loras = n;
    }
  }
  return load;
}

}  // namespace infergate
