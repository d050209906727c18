// The one refusal table and the OpenAI-shaped bodies built from it.
#include "infergate/errors.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace infergate;

TEST_CASE("each refusal has its status, type, code and Retry-After") {
  struct Case {
    ErrorKind kind;
    unsigned status;
    std::string_view type;
    std::string_view code;
    bool retry_after;
  };
  const std::vector<Case> cases = {
      {ErrorKind::invalid_json, 400, "invalid_request_error", "invalid_json", false},
      {ErrorKind::missing_model, 400, "invalid_request_error", "missing_model", false},
      {ErrorKind::model_not_string, 400, "invalid_request_error", "model_not_string", false},
      {ErrorKind::duplicate_model, 400, "invalid_request_error", "duplicate_model", false},
      {ErrorKind::invalid_form, 400, "invalid_request_error", "invalid_form", false},
      {ErrorKind::model_not_found, 404, "invalid_request_error", "model_not_found", false},
      {ErrorKind::route_not_found, 404, "invalid_request_error", "route_not_found", false},
      {ErrorKind::method_not_allowed, 405, "invalid_request_error", "method_not_allowed", false},
      {ErrorKind::request_timeout, 408, "timeout", "request_timeout", false},
      {ErrorKind::body_too_large, 413, "invalid_request_error", "body_too_large", false},
      {ErrorKind::headers_too_large, 431, "invalid_request_error", "headers_too_large", false},
      {ErrorKind::bad_request, 400, "invalid_request_error", "bad_request", false},
      {ErrorKind::saturated, 429, "rate_limit_error", "saturated", true},
      {ErrorKind::upstream_failed, 502, "server_error", "upstream_failed", false},
      {ErrorKind::no_ready_endpoint, 503, "server_error", "no_ready_endpoint", true},
      {ErrorKind::queue_full, 503, "server_error", "queue_full", true},
      {ErrorKind::upstream_timeout, 504, "timeout", "upstream_timeout", false},
      {ErrorKind::upstream_died, 502, "server_error", "upstream_died", false},
      {ErrorKind::shutting_down, 503, "server_error", "shutting_down", true},
      {ErrorKind::invalid_api_key, 401, "invalid_request_error", "invalid_api_key", false},
      {ErrorKind::requests_limited, 429, "requests", "rate_limit_exceeded", true},
      {ErrorKind::tokens_limited, 429, "tokens", "rate_limit_exceeded", true},
      {ErrorKind::limits_unavailable, 503, "server_error", "limits_unavailable", true},
  };
  CHECK(cases.size() == static_cast<std::size_t>(ErrorKind::limits_unavailable) + 1);
  for (const auto& c : cases) {
    CAPTURE(c.code);
    const ErrorInfo& info = describe(c.kind);
    CHECK(info.status == c.status);
    CHECK(info.type == c.type);
    CHECK(info.code == c.code);
    // The two rate limits share OpenAI's code; the reason header tells them apart.
    if (c.code == "rate_limit_exceeded") {
      CHECK(info.reason == (c.kind == ErrorKind::requests_limited ? "rate_limit_requests"
                                                                  : "rate_limit_tokens"));
    } else {
      CHECK(info.reason == c.code);
    }
    CHECK(info.retry_after == c.retry_after);
    CHECK_FALSE(default_message(c.kind).empty());
  }
}

TEST_CASE("error bodies are exact JSON") {
  struct Case {
    ErrorKind kind;
    std::string message;
    std::string_view param;
    std::string_view body;
  };
  const std::vector<Case> cases = {
      {ErrorKind::missing_model, "", "model",
       R"({"error":{"message":"The request body has no top-level \"model\" field.","type":"invalid_request_error","param":"model","code":"missing_model"}})"},
      {ErrorKind::no_ready_endpoint, "pool qwen has no endpoints", "",
       R"({"error":{"message":"pool qwen has no endpoints","type":"server_error","param":null,"code":"no_ready_endpoint"}})"},
      {ErrorKind::model_not_found, model_not_found_message("a\"b"), "model",
       R"({"error":{"message":"The model 'a\"b' does not exist. GET /v1/models lists the models this gateway serves.","type":"invalid_request_error","param":"model","code":"model_not_found"}})"},
  };
  for (const auto& c : cases) {
    CHECK(std::string_view(error_body(c.kind, c.message, c.param)) == c.body);
  }
}

TEST_CASE("JSON escaping") {
  struct Case {
    std::string_view in;
    std::string_view out;
  };
  const std::vector<Case> cases = {
      {"", ""},
      {"plain", "plain"},
      {"q\"b\\s/", R"(q\"b\\s/)"},
      {"\b\f\n\r\t", R"(\b\f\n\r\t)"},
      {std::string_view("\x00\x01\x1f\x7f", 4), "\\u0000\\u0001\\u001f\x7f"},
      {"caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80"},
  };
  for (const auto& c : cases) {
    std::string out = "<";
    append_json_escaped(out, c.in);
    CHECK(std::string_view(out).substr(1) == c.out);
  }
}

TEST_CASE("a huge model name is cut in the message, on a UTF-8 boundary") {
  std::string utf8 = "x";
  for (int i = 0; i < 150; ++i) utf8 += "\xc3\xa9";
  const std::string cut = quote_for_message(utf8);
  CHECK(cut.size() <= 203);
  CHECK(cut.ends_with("..."));
  const std::string kept = cut.substr(0, cut.size() - 3);
  CHECK(kept.size() % 2 == 1);  // "x" plus whole two-byte characters
  CHECK(utf8.starts_with(kept));
  CHECK(quote_for_message("short") == "short");
  CHECK(model_not_found_message(std::string(1000, 'm')).size() < 300);
}
