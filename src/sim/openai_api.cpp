#include "sim/openai_api.hpp"

#include <charconv>

#include <simdjson.h>

#include "sim/text.hpp"

namespace infergate::sim {
namespace ond = simdjson::ondemand;

struct RequestParser::Impl {
  ond::parser parser;
};

namespace {

// Reads `v` as a string or a list of text parts ({"type":"text","text":...}), appending to `out`.
bool append_content(ond::value v, std::string& out) {
  ond::json_type t;
  if (v.type().get(t)) return false;
  if (t == ond::json_type::null) return true;
  if (t == ond::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) return false;
    out.append(s);
    return true;
  }
  if (t != ond::json_type::array) return false;
  ond::array parts;
  if (v.get_array().get(parts)) return false;
  for (auto part : parts) {
    ond::object po;
    if (part.get_object().get(po)) return false;
    for (auto f : po) {
      std::string_view key;
      if (f.unescaped_key().get(key)) return false;
      ond::value pv;
      if (f.value().get(pv)) return false;
      if (key != "text") continue;
      std::string_view s;
      if (pv.get_string().get(s)) return false;
      out.append(s);
    }
  }
  return true;
}

// Renders messages with a ChatML-like template (Qwen's), which is what gets tokenized.
bool render_messages(ond::value v, std::string& out) {
  ond::array msgs;
  if (v.get_array().get(msgs)) return false;
  for (auto m : msgs) {
    ond::object mo;
    if (m.get_object().get(mo)) return false;
    std::string role = "user";
    std::string content;
    for (auto f : mo) {
      std::string_view key;
      if (f.unescaped_key().get(key)) return false;
      ond::value fv;
      if (f.value().get(fv)) return false;
      if (key == "role") {
        std::string_view s;
        if (fv.get_string().get(s)) return false;
        role = s;
      } else if (key == "content") {
        if (!append_content(fv, content)) return false;
      }
    }
    out += "<|im_start|>";
    out += role;
    out += '\n';
    out += content;
    out += "<|im_end|>\n";
  }
  out += "<|im_start|>assistant\n";
  return true;
}

// A completion prompt: a string, a list of strings (the first is used, n=1), or token ids.
bool read_prompt(ond::value v, ApiRequest& out) {
  ond::json_type t;
  if (v.type().get(t)) return false;
  if (t == ond::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) return false;
    out.prompt = s;
    return true;
  }
  if (t != ond::json_type::array) return false;
  ond::array a;
  if (v.get_array().get(a)) return false;
  bool first = true;
  for (auto item : a) {
    ond::json_type it;
    if (item.type().get(it)) return false;
    if (it == ond::json_type::number) {
      std::uint64_t id;
      if (item.get_uint64().get(id)) return false;
      out.prompt_ids.push_back(static_cast<std::uint32_t>(id));
    } else {
      std::string_view s;
      if (item.get_string().get(s)) return false;
      if (first) out.prompt = s;
    }
    first = false;
  }
  return true;
}

bool read_inputs(ond::value v, std::vector<std::string>& out) {
  ond::json_type t;
  if (v.type().get(t)) return false;
  if (t == ond::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) return false;
    out.emplace_back(s);
    return true;
  }
  ond::array a;
  if (v.get_array().get(a)) return false;
  for (auto item : a) {
    std::string_view s;
    if (item.get_string().get(s)) return false;
    out.emplace_back(s);
  }
  return true;
}

bool read_bool(ond::value v, bool& out) {
  ond::json_type t;
  if (v.type().get(t)) return false;
  if (t == ond::json_type::null) return true;
  return !v.get_bool().get(out);
}

bool read_stream_options(ond::value v, ApiRequest& out) {
  ond::json_type t;
  if (v.type().get(t)) return false;
  if (t == ond::json_type::null) return true;
  ond::object o;
  if (v.get_object().get(o)) return false;
  for (auto f : o) {
    std::string_view key;
    if (f.unescaped_key().get(key)) return false;
    ond::value fv;
    if (f.value().get(fv)) return false;
    if (key == "include_usage" && !read_bool(fv, out.include_usage)) return false;
  }
  return true;
}

bool read_max_tokens(ond::value v, ApiRequest& out) {
  ond::json_type t;
  if (v.type().get(t)) return false;
  if (t == ond::json_type::null) return true;
  std::int64_t n;
  if (v.get_int64().get(n) || n < 1 || n > 1'000'000) return false;
  out.max_tokens = static_cast<std::uint32_t>(n);
  return true;
}

// One top-level field; false with `error` set when its value is not acceptable.
bool read_field(std::string_view key, ond::value v, bool fields_only, ApiRequest& out, std::string& error) {
  if (key == "model") {
    std::string_view s;
    if (v.get_string().get(s)) return (error = "'model' must be a string", false);
    out.model = s;
  } else if (key == "stream") {
    if (!read_bool(v, out.stream)) return (error = "'stream' must be a boolean", false);
  } else if (key == "stream_options") {
    if (!read_stream_options(v, out)) return (error = "'stream_options' is invalid", false);
  } else if (key == "ignore_eos") {
    if (!read_bool(v, out.ignore_eos)) return (error = "'ignore_eos' must be a boolean", false);
  } else if (key == "max_tokens" || key == "max_completion_tokens") {
    if (!read_max_tokens(v, out)) return (error = std::string("'") + std::string(key) + "' must be a positive integer", false);
  } else if (key == "messages" && out.endpoint == Endpoint::chat && !fields_only) {
    if (!render_messages(v, out.prompt)) return (error = "'messages' is invalid", false);
    out.inputs.emplace_back();  // marks that messages were present
  } else if (key == "prompt" && out.endpoint == Endpoint::completion && !fields_only) {
    if (!read_prompt(v, out)) return (error = "'prompt' is invalid", false);
    out.inputs.emplace_back();
  } else if (key == "input" && out.endpoint == Endpoint::embedding) {
    if (!read_inputs(v, out.inputs)) return (error = "'input' is invalid", false);
  }
  return true;
}

}  // namespace

RequestParser::RequestParser() : impl_(std::make_unique<Impl>()) {}
RequestParser::~RequestParser() = default;

bool RequestParser::parse(Endpoint endpoint, std::string& body, bool fields_only, ApiRequest& out,
                          std::string& error) {
  out = ApiRequest{};
  out.endpoint = endpoint;
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  ond::document doc;
  ond::object obj;
  if (impl_->parser.iterate(body.data(), body.size(), body.capacity()).get(doc) ||
      doc.get_object().get(obj)) {
    error = "request body is not a valid JSON object";
    return false;
  }
  for (auto f : obj) {
    std::string_view key;
    ond::value v;
    if (f.unescaped_key().get(key) || f.value().get(v)) {
      error = "request body is not valid JSON";
      return false;
    }
    if (!read_field(key, v, fields_only, out, error)) return false;
  }
  if (!fields_only && endpoint != Endpoint::embedding && out.inputs.empty()) {
    error = endpoint == Endpoint::chat ? "'messages' is required" : "'prompt' is required";
    return false;
  }
  if (endpoint != Endpoint::embedding) out.inputs.clear();
  if (endpoint == Endpoint::embedding && out.inputs.empty() && !fields_only) {
    error = "'input' is required";
    return false;
  }
  return true;
}

namespace {

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_str(std::string& out, std::string_view s) {
  out += '"';
  append_json_escaped(out, s);
  out += '"';
}

void append_usage(std::string& out, const ReplyInfo& r) {
  out += "{\"prompt_tokens\":";
  append_uint(out, r.prompt_tokens);
  out += ",\"total_tokens\":";
  append_uint(out, std::uint64_t{r.prompt_tokens} + r.completion_tokens);
  out += ",\"completion_tokens\":";
  append_uint(out, r.completion_tokens);
  out += ",\"prompt_tokens_details\":null}";
}

void append_head(std::string& out, const ReplyInfo& r, std::string_view object) {
  out += "{\"id\":";
  append_str(out, r.id);
  out += ",\"object\":\"";
  out += object;
  out += "\",\"created\":";
  append_int(out, r.created);
  out += ",\"model\":";
  append_str(out, r.model);
}

void append_finish(std::string& out, std::string_view finish_reason) {
  out += ",\"finish_reason\":";
  if (finish_reason.empty()) {
    out += "null";
  } else {
    append_str(out, finish_reason);
  }
  out += ",\"stop_reason\":null";
}

}  // namespace

std::string make_request_id(Endpoint endpoint, std::uint64_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = endpoint == Endpoint::chat ? "chatcmpl-" : endpoint == Endpoint::completion ? "cmpl-" : "embd-";
  std::uint64_t a = n * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
  std::uint64_t b = (a ^ (a >> 29)) * 0xBF58476D1CE4E5B9ULL;
  for (std::uint64_t x : {a, b}) {
    for (int i = 60; i >= 0; i -= 4) id += kHex[(x >> i) & 15];
  }
  return id;
}

std::string completion_body(const ReplyInfo& r, std::string_view text, std::string_view finish_reason) {
  std::string out;
  out.reserve(256 + text.size());
  if (r.endpoint == Endpoint::chat) {
    append_head(out, r, "chat.completion");
    out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
    append_str(out, text);
    out += ",\"tool_calls\":[]},\"logprobs\":null";
  } else {
    append_head(out, r, "text_completion");
    out += ",\"choices\":[{\"index\":0,\"text\":";
    append_str(out, text);
    out += ",\"logprobs\":null";
  }
  append_finish(out, finish_reason);
  out += "}],\"usage\":";
  append_usage(out, r);
  out += ",\"prompt_logprobs\":null}";
  return out;
}

void append_chunk(std::string& out, const ReplyInfo& r, std::string_view text,
                  std::string_view finish_reason, bool first) {
  out += "data: ";
  if (r.endpoint == Endpoint::chat) {
    append_head(out, r, "chat.completion.chunk");
    out += ",\"choices\":[{\"index\":0,\"delta\":{";
    if (first) out += "\"role\":\"assistant\",";
    out += "\"content\":";
    append_str(out, text);
    out += "},\"logprobs\":null";
  } else {
    append_head(out, r, "text_completion");
    out += ",\"choices\":[{\"index\":0,\"text\":";
    append_str(out, text);
    out += ",\"logprobs\":null";
  }
  if (finish_reason.empty()) {
    out += ",\"finish_reason\":null";
  } else {
    append_finish(out, finish_reason);
  }
  out += "}]}\n\n";
}

void append_usage_chunk(std::string& out, const ReplyInfo& r) {
  out += "data: ";
  append_head(out, r, r.endpoint == Endpoint::chat ? "chat.completion.chunk" : "text_completion");
  out += ",\"choices\":[],\"usage\":";
  append_usage(out, r);
  out += "}\n\n";
}

void append_done(std::string& out) { out += "data: [DONE]\n\n"; }

std::string embeddings_body(const ReplyInfo& r, const std::vector<std::vector<float>>& vectors) {
  std::string out;
  append_head(out, r, "list");
  out += ",\"data\":[";
  char buf[32];
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    if (i) out += ',';
    out += "{\"index\":";
    append_uint(out, i);
    out += ",\"object\":\"embedding\",\"embedding\":[";
    for (std::size_t j = 0; j < vectors[i].size(); ++j) {
      if (j) out += ',';
      auto res = std::to_chars(buf, buf + sizeof buf, vectors[i][j]);
      out.append(buf, res.ptr);
    }
    out += "]}";
  }
  out += "],\"usage\":";
  append_usage(out, r);
  out += '}';
  return out;
}

std::string models_body(const std::vector<ServedModel>& models, std::int64_t created, std::uint32_t max_model_len) {
  std::string out = "{\"object\":\"list\",\"data\":[";
  bool first = true;
  for (const auto& m : models) {
    if (!first) out += ',';
    first = false;
    out += "{\"id\":";
    append_str(out, m.id);
    out += ",\"object\":\"model\",\"created\":";
    append_int(out, created);
    out += ",\"owned_by\":\"vllm\",\"root\":";
    append_str(out, m.parent.empty() ? m.id : "/adapters/" + m.id);
    out += ",\"parent\":";
    if (m.parent.empty()) {
      out += "null";
    } else {
      append_str(out, m.parent);
    }
    out += ",\"max_model_len\":";
    append_uint(out, max_model_len);
    out += ",\"permission\":[]}";
  }
  out += "]}";
  return out;
}

std::string error_body(unsigned status, std::string_view type, std::string_view message,
                       std::string_view param) {
  std::string out = "{\"error\":{\"message\":";
  append_str(out, message);
  out += ",\"type\":";
  append_str(out, type);
  out += ",\"param\":";
  if (param.empty()) {
    out += "null";
  } else {
    append_str(out, param);
  }
  out += ",\"code\":";
  append_uint(out, status);
  out += "}}";
  return out;
}

}  // namespace infergate::sim
