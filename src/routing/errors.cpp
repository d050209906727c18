// The one mapping from a refusal to what the client sees (DESIGN.md section 5).
#include "infergate/errors.hpp"

#include <array>
#include <cstddef>

namespace infergate {
namespace {

struct Row {
  ErrorInfo info;
  std::string_view message;
};

constexpr std::string_view kInvalidRequest = "invalid_request_error";
constexpr std::string_view kRateLimit = "rate_limit_error";
constexpr std::string_view kServer = "server_error";
constexpr std::string_view kTimeout = "timeout";

// Indexed by ErrorKind; the static_assert below keeps it in step with the enum.
// code and reason are the same word on purpose (one name to grep in logs, headers and bodies),
// except for the two rate limits, which share OpenAI's code.
constexpr std::array<Row, 23> kTable{{
    {{400, kInvalidRequest, "invalid_json", "invalid_json", false},
     "The request body is not a valid JSON object."},
    {{400, kInvalidRequest, "missing_model", "missing_model", false},
     "The request body has no top-level \"model\" field."},
    {{400, kInvalidRequest, "model_not_string", "model_not_string", false},
     "The top-level \"model\" field must be a string."},
    {{400, kInvalidRequest, "duplicate_model", "duplicate_model", false},
     "The top-level \"model\" field appears more than once."},
    {{400, kInvalidRequest, "invalid_form", "invalid_form", false},
     "The multipart/form-data body is malformed (its boundary or parts cannot be read)."},
    {{404, kInvalidRequest, "model_not_found", "model_not_found", false},
     "The model does not exist. GET /v1/models lists the models this gateway serves."},
    {{404, kInvalidRequest, "route_not_found", "route_not_found", false},
     "This gateway does not serve that path."},
    {{405, kInvalidRequest, "method_not_allowed", "method_not_allowed", false},
     "This method is not allowed on that path."},
    {{408, kTimeout, "request_timeout", "request_timeout", false},
     "The request was not received in time."},
    {{413, kInvalidRequest, "body_too_large", "body_too_large", false},
     "The request body is larger than this gateway accepts."},
    {{431, kInvalidRequest, "headers_too_large", "headers_too_large", false},
     "The request headers are larger than this gateway accepts."},
    {{400, kInvalidRequest, "bad_request", "bad_request", false},
     "The HTTP request is malformed."},
    {{429, kRateLimit, "saturated", "saturated", true},
     "The model's servers are saturated; retry later."},
    {{502, kServer, "upstream_failed", "upstream_failed", false},
     "The model server failed before sending a response."},
    {{503, kServer, "no_ready_endpoint", "no_ready_endpoint", true},
     "No model server is ready for this model; retry later."},
    {{503, kServer, "queue_full", "queue_full", true},
     "The gateway's queue for this model is full; retry later."},
    {{504, kTimeout, "upstream_timeout", "upstream_timeout", false},
     "The model server did not answer in time."},
    {{502, kServer, "upstream_died", "upstream_died", false},
     "The model server failed in the middle of the response."},
    {{503, kServer, "shutting_down", "shutting_down", true},
     "The gateway is shutting down; retry on another instance."},
    // OpenAI's own words and codes, so that the SDKs raise AuthenticationError and retry 429s.
    {{401, kInvalidRequest, "invalid_api_key", "invalid_api_key", false},
     "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key'."},
    // The two limits share OpenAI's code; the reason header says which one was reached.
    {{429, "requests", "rate_limit_exceeded", "rate_limit_requests", true},
     "Rate limit reached: requests per minute. Retry after the time in Retry-After."},
    {{429, "tokens", "rate_limit_exceeded", "rate_limit_tokens", true},
     "Rate limit reached: tokens per minute. Retry after the time in Retry-After."},
    {{503, kServer, "limits_unavailable", "limits_unavailable", true},
     "The rate limit store is unavailable and this gateway refuses requests without it."},
}};
static_assert(kTable.size() == static_cast<std::size_t>(ErrorKind::limits_unavailable) + 1,
              "one row per ErrorKind");

constexpr char kHex[] = "0123456789abcdef";

// Model names come from clients and may be huge; a message quotes at most this many bytes.
constexpr std::size_t kMaxQuotedName = 200;

}  // namespace

const ErrorInfo& describe(ErrorKind kind) noexcept {
  return kTable[static_cast<std::size_t>(kind)].info;
}

std::string_view default_message(ErrorKind kind) noexcept {
  return kTable[static_cast<std::size_t>(kind)].message;
}

void append_json_escaped(std::string& out, std::string_view s) {
  std::size_t run = 0;  // start of the pending run of bytes that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
}

std::string error_body(ErrorKind kind, std::string_view message, std::string_view param) {
  const ErrorInfo& info = describe(kind);
  if (message.empty()) message = default_message(kind);
  std::string out;
  out.reserve(64 + message.size() + info.type.size() + info.code.size() + param.size());
  out += R"({"error":{"message":")";
  append_json_escaped(out, message);
  out += R"(","type":")";
  out += info.type;
  out += R"(","param":)";
  if (param.empty()) {
    out += "null";
  } else {
    out += '"';
    append_json_escaped(out, param);
    out += '"';
  }
  out += R"(,"code":")";
  out += info.code;
  out += R"("}})";
  return out;
}

std::string quote_for_message(std::string_view name) {
  if (name.size() <= kMaxQuotedName) return std::string(name);
  std::size_t cut = kMaxQuotedName;
  // Back off to a UTF-8 boundary so the message stays valid UTF-8.
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  std::string out(name.substr(0, cut));
  out += "...";
  return out;
}

std::string model_not_found_message(std::string_view model) {
  std::string out = "The model '";
  out += quote_for_message(model);
  out += "' does not exist. GET /v1/models lists the models this gateway serves.";
  return out;
}

}  // namespace infergate
