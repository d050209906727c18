// The OpenAI/vLLM wire format, without HTTP: request parsing (simdjson On-Demand) and the JSON
// bodies and SSE events vLLM sends. Shapes follow vLLM's OpenAI-compatible server.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace infergate::sim {

enum class Endpoint : std::uint8_t { chat, completion, embedding };

struct ApiRequest {
  Endpoint endpoint = Endpoint::chat;
  std::string model;                    // empty when the body names none
  bool stream = false;
  bool include_usage = false;           // stream_options.include_usage
  bool ignore_eos = false;              // vLLM extension
  std::optional<std::uint32_t> max_tokens;  // max_tokens or max_completion_tokens
  std::string prompt;                   // prompt text, chat template applied
  std::vector<std::uint32_t> prompt_ids;  // a prompt given as token ids
  std::vector<std::string> inputs;      // embeddings input
};

// Parses request bodies. Reuses its simdjson buffers, so keep one per thread.
class RequestParser {
 public:
  RequestParser();
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses `body` for `endpoint`. `body` may get SIMDJSON padding appended to its capacity
  // (its size is unchanged). With `fields_only`, the prompt is not rendered (fast mode). On
  // failure returns false and sets `error` to a message for a 400.
  bool parse(Endpoint endpoint, std::string& body, bool fields_only, ApiRequest& out, std::string& error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What every response body of one request shares.
struct ReplyInfo {
  Endpoint endpoint = Endpoint::chat;
  std::string_view id;
  std::string_view model;
  std::int64_t created = 0;
  std::uint32_t prompt_tokens = 0;
  std::uint32_t completion_tokens = 0;
};

// "chatcmpl-..."/"cmpl-..."/"embd-..." followed by 32 hex digits derived from `n`.
std::string make_request_id(Endpoint endpoint, std::uint64_t n);

// Non-streaming body of a chat or text completion.
std::string completion_body(const ReplyInfo& r, std::string_view text, std::string_view finish_reason);

// One SSE event `data: {chunk}\n\n`. For chat, `first` sends the assistant role delta (vLLM sends
// it with empty content before the first token). `finish_reason` empty: null.
void append_chunk(std::string& out, const ReplyInfo& r, std::string_view text,
                  std::string_view finish_reason, bool first);
// The include_usage event: empty choices and the usage object.
void append_usage_chunk(std::string& out, const ReplyInfo& r);
// `data: [DONE]\n\n`
void append_done(std::string& out);

std::string embeddings_body(const ReplyInfo& r, const std::vector<std::vector<float>>& vectors);

struct ServedModel {
  std::string id;
  std::string parent;  // empty for base models; the base model for LoRA adapters
};
std::string models_body(const std::vector<ServedModel>& models, std::int64_t created, std::uint32_t max_model_len);

// vLLM's error body: {"error":{"message","type","param","code"}} (code = HTTP status).
std::string error_body(unsigned status, std::string_view type, std::string_view message,
                       std::string_view param = {});

}  // namespace infergate::sim
