// Every refusal a client can see, and the one mapping from it to an OpenAI-shaped error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace infergate {

enum class ErrorKind : std::uint8_t {
  invalid_json,        // 400 body is not a JSON object
  missing_model,       // 400 no top-level "model"
  model_not_string,    // 400 "model" is not a string
  duplicate_model,     // 400 top-level "model" appears twice
  invalid_form,        // 400 multipart/form-data body whose parts cannot be read
  model_not_found,     // 404 no route for that model
  route_not_found,     // 404 path the gateway does not serve
  method_not_allowed,  // 405
  request_timeout,     // 408 client too slow sending its request
  body_too_large,      // 413
  headers_too_large,   // 431
  bad_request,         // 400 malformed HTTP
  saturated,           // 429 pool saturated, sheddable request dropped
  upstream_failed,     // 502 upstream failed before the first response byte
  no_ready_endpoint,   // 503 pool has no usable endpoint
  queue_full,          // 503 gateway queue full or queue wait expired
  upstream_timeout,    // 504 no first byte in time
  upstream_died,       // mid-stream upstream failure (SSE error event, no status change)
  shutting_down,       // 503 draining
  invalid_api_key,     // 401 auth on, and no key or an unknown one
  requests_limited,    // 429 the key's requests per minute are used up
  tokens_limited,      // 429 the key's tokens per minute are used up
  limits_unavailable,  // 503 the shared limit store cannot be reached and limits fail closed
};

struct ErrorInfo {
  unsigned status;              // HTTP status code
  std::string_view type;        // OpenAI "type"
  std::string_view code;        // OpenAI "code"
  std::string_view reason;      // value of the x-gateway-error-reason header
  bool retry_after;             // send Retry-After
};

// The single table from refusal to status, type, code and reason.
const ErrorInfo& describe(ErrorKind kind) noexcept;

// `{"error":{"message":...,"type":...,"param":...,"code":...}}`; `param` null when empty.
std::string error_body(ErrorKind kind, std::string_view message, std::string_view param = {});

// The default human message for a kind (used when the caller has nothing more specific).
std::string_view default_message(ErrorKind kind) noexcept;

// "The model 'NAME' does not exist. GET /v1/models lists the models this gateway serves."
// NAME is cut at 200 bytes (on a UTF-8 boundary, "..." appended): clients control it.
std::string model_not_found_message(std::string_view model);

// `name` as quoted in a message: at most 200 bytes, cut on a UTF-8 boundary, "..." appended.
std::string quote_for_message(std::string_view name);

// Appends `s` to `out` as JSON string content (without the quotes), escaping as RFC 8259 asks.
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace infergate
