// What routing needs to know about a request body, found with simdjson On-Demand without copying it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "infergate/errors.hpp"

namespace infergate {

// Bytes simdjson may read past the end of a body; the proxy reserves this much extra capacity.
inline constexpr std::size_t kBodyPadding = 64;

struct RequestFacts {
  std::string model;              // top-level "model", escapes decoded
  std::size_t model_offset = 0;   // offset in the body of the model string token, opening quote included
  std::size_t model_length = 0;   // length of that token, both quotes included
  bool stream = false;            // top-level "stream": true
  // The completion budget the client asked for: chat "max_completion_tokens" (which wins, as in
  // vLLM) or "max_tokens", or the Responses API's "max_output_tokens". Unset when absent, null,
  // negative or not an integer (the server refuses those itself). Last occurrence of a key wins.
  std::optional<std::uint64_t> max_tokens;
  // The top-level "stream_options" key is present (whatever its value: a body that has it is
  // never given a second one), and it is an object whose "include_usage" is true.
  bool stream_options = false;
  bool include_usage = false;
  // The prompt, for prefix-cache affinity: chat "messages" (role and text of each, in order;
  // array contents contribute their "text" parts), the completion "prompt" string (role
  // empty), or the Responses API's "instructions" (role "system", first) and "input" (a string:
  // role "user"; items: as messages). Views into the caller's body, raw JSON string content
  // (escapes not decoded), or static role names: valid while the body is.
  struct PromptPart {
    std::string_view role;
    std::string_view text;
  };
  std::vector<PromptPart> prompt;
  // An estimate of the prompt's tokens for admission: the bytes of the captured roles and texts
  // (raw JSON, escapes not decoded) over four, rounded up. An estimate only: 0 when the prompt
  // is not text (token ids, a form), and images or tool schemas are not counted. The real count
  // comes from the response's usage.
  std::uint64_t prompt_token_estimate() const;
  // multipart/form-data (the audio endpoints): the model token is the "model" field's bytes,
  // without quotes or escapes, and the body has no prompt to hash.
  bool form = false;
};

// Reads the top-level "model" (and "stream") of a JSON object body.
// `capacity` is the size of the buffer behind `body`; when it is at least
// body.size() + kBodyPadding the body is parsed in place, otherwise it is copied once.
// Refusals: invalid_json, missing_model, model_not_string, duplicate_model.
boost::system::result<RequestFacts, ErrorKind> extract_request_facts(std::string_view body,
                                                                     std::size_t capacity = 0);

// The boundary of a `multipart/form-data` Content-Type: nullopt for any other type, empty when
// the parameter is missing or not 1 to 70 characters.
std::optional<std::string_view> form_boundary(std::string_view content_type);

// The "model" (and "stream") fields of a multipart/form-data body (RFC 7578) with that
// boundary. Refusals: invalid_form, missing_model, duplicate_model.
boost::system::result<RequestFacts, ErrorKind> extract_form_facts(std::string_view body,
                                                                  std::string_view boundary);

// The body with only the model token replaced by `served_model` (JSON-escaped, or as is in a
// form); every other byte is unchanged.
std::string rewrite_model(std::string_view body, const RequestFacts& facts,
                          std::string_view served_model);

}  // namespace infergate
