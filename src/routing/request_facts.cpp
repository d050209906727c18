// Request facts with simdjson On-Demand: one pass over the top-level object, no copy of the body
// when the caller left padding, and a full validation of everything else on the way.
//
// Why validate what we do not use: the gateway and the model server must agree on the request.
// On-Demand only checks what it visits, so `{"model":"a","x":[1,,2]}` or trailing garbage would
// otherwise be routed and then refused (or worse, read differently) by the server.
// Stage 1 (SIMD, runtime-dispatched) already checks UTF-8, string termination and control
// characters; what is left is cheap: the grammar of each scalar token and escape sequences.
// Strings are checked on their raw token (an SSE2 scan for backslashes) rather than unescaped,
// because the On-Demand front end is compiled for the generic target and unescapes byte by byte.
// Every value is consumed as it is checked (see validate_value). bench/micro/ has the figures.
#include "infergate/request_facts.hpp"
#include "routing/json_key.hpp"

#include <simdjson.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>

namespace infergate {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

static_assert(kBodyPadding >= simdjson::SIMDJSON_PADDING,
              "the proxy's body padding must cover what simdjson reads past the end");

// Nesting deeper than this is refused (Python's json gives up near 1000 too); it also bounds
// the recursion of validate_value on hostile bodies, and stays under the parser's own limit
// (simdjson asserts on it in builds without optimization).
constexpr int kMaxDepth = 1000;
static_assert(kMaxDepth + 8 < simdjson::DEFAULT_MAX_DEPTH);

// Bodies above this size get a parser of their own, so a worker thread does not keep buffers
// sized for the largest body it ever saw (simdjson allocates about 5 bytes per input byte).
constexpr std::size_t kLargeBody = 4u << 20;

od::parser& thread_parser() {
  thread_local od::parser parser;
  return parser;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// What may follow a backslash: 2 for a one-character escape, 6 for \uXXXX (hex checked
// separately), 0 for anything else. RFC 8259 section 7.
constexpr std::array<std::uint8_t, 256> kEscapeLength = [] {
  std::array<std::uint8_t, 256> table{};
  for (unsigned char c : std::string_view("\"\\/bfnrt")) table[c] = 2;
  table['u'] = 6;
  return table;
}();

// Length of the escape sequence at `p` (a backslash), 0 when it is not valid.
// Lone surrogates (\ud800) are grammatical JSON and pass, as they do in Python's json.
inline std::size_t escape_length(const char* p, const char* end) {
  if (end - p < 2) return 0;
  const std::size_t length = kEscapeLength[static_cast<unsigned char>(p[1])];
  if (length != 6) return length;
  return end - p >= 6 && is_hex(p[2]) && is_hex(p[3]) && is_hex(p[4]) && is_hex(p[5]) ? 6 : 0;
}

// Escape grammar of a string's content (between the quotes).
// Chat bodies carry an escape every few dozen bytes (\n, \"), so a memchr per escape costs more
// than the scan: with SSE2 (every x86-64) 64 bytes are scanned per step into one bit mask.
bool valid_escapes(std::string_view s) {
  const char* p = s.data();
  const char* const end = p + s.size();
  std::size_t i = 0;
  std::size_t next = 0;  // escapes starting before this index were consumed by the previous one
#if defined(__SSE2__)
  const __m128i backslash = _mm_set1_epi8('\\');
  for (; i + 64 <= s.size(); i += 64) {
    std::uint64_t mask = 0;
    for (int lane = 0; lane < 4; ++lane) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 16 * lane));
      const auto bits = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash)));
      mask |= static_cast<std::uint64_t>(bits) << (16 * lane);
    }
    for (; mask != 0; mask &= mask - 1) {
      const std::size_t at = i + static_cast<std::size_t>(std::countr_zero(mask));
      if (at < next) continue;
      const std::size_t length = escape_length(p + at, end);
      if (length == 0) return false;
      next = at + length;
    }
  }
#endif
  for (i = std::max(i, next); i < s.size();) {
    const void* found = std::memchr(p + i, '\\', s.size() - i);
    if (!found) break;
    const auto at = static_cast<std::size_t>(static_cast<const char*>(found) - p);
    const std::size_t length = escape_length(p + at, end);
    if (length == 0) return false;
    i = at + length;
  }
  return true;
}

enum class NumberKind { invalid, integer, real };

// Number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  (RFC 8259 section 6).
// Checked on the token rather than converted: JSON has no range limit, simdjson's types do.
NumberKind classify_number(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i == n) return NumberKind::invalid;
  if (s[i] == '0') {
    ++i;
  } else if (is_digit(s[i])) {
    while (i < n && is_digit(s[i])) ++i;
  } else {
    return NumberKind::invalid;
  }
  if (i == n) return NumberKind::integer;
  if (s[i] == '.') {
    const std::size_t start = ++i;
    while (i < n && is_digit(s[i])) ++i;
    if (i == start) return NumberKind::invalid;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    const std::size_t start = i;
    while (i < n && is_digit(s[i])) ++i;
    if (i == start) return NumberKind::invalid;
  }
  return i == n ? NumberKind::real : NumberKind::invalid;
}

// A string token as stage 1 delimited it: quotes at both ends, content checked for escapes.
bool valid_string_token(std::string_view tok) {
  return tok.size() >= 2 && tok.front() == '"' && tok.back() == '"' &&
         valid_escapes(tok.substr(1, tok.size() - 2));
}

error_code validate_value(od::value& value, int depth);

error_code validate_object(od::value& value, int depth) {
  od::object object;
  if (auto e = value.get_object().get(object)) return e;
  for (auto result : object) {
    if (auto e = result.error()) return e;
    // Used in place: copying the field out of its result costs a store-forwarding stall.
    od::field& field = result.value_unsafe();
    // Keys are short: the generic unescape is fine here and checks their escapes.
    std::string_view key;
    if (auto e = json_key(field, key)) return e;
    if (auto e = validate_value(field.value(), depth + 1)) return e;
  }
  return simdjson::SUCCESS;
}

error_code validate_array(od::value& value, int depth) {
  od::array array;
  if (auto e = value.get_array().get(array)) return e;
  for (auto result : array) {
    if (auto e = result.error()) return e;
    if (auto e = validate_value(result.value_unsafe(), depth + 1)) return e;
  }
  return simdjson::SUCCESS;
}

// Validates one value completely and consumes it. Consuming matters: when an iteration moves
// past a value left unconsumed, On-Demand skips it by counting brackets only, and would then
// let `["a":1]` or `{"a":"b":"c"}` through.
error_code validate_value(od::value& value, int depth) {
  if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto e = value.type().get(type)) return e;
  switch (type) {
    case od::json_type::object:
      return validate_object(value, depth);
    case od::json_type::array:
      return validate_array(value, depth);
    case od::json_type::string: {
      // Checked on the raw token: the generic unescape would cost a pass over every byte.
      if (!valid_string_token(trim_right(value.raw_json_token()))) return simdjson::STRING_ERROR;
      return value.get_raw_json_string().error();
    }
    case od::json_type::number: {
      // The int64 parser (strict JSON grammar) is the cheapest way through the common case,
      // prompts sent as arrays of thousands of token ids. Anything else: our grammar check
      // (simdjson's error would not tell bad grammar from range), then the double parser to
      // consume the token; integers beyond int64 pass, 1e999 (beyond double) is refused.
      if (!value.get_int64().error()) return simdjson::SUCCESS;
      const NumberKind kind = classify_number(trim_right(value.raw_json_token()));
      if (kind == NumberKind::invalid) return simdjson::NUMBER_ERROR;
      return value.get_double().error();
    }
    case od::json_type::boolean:
      return value.get_bool().error();
    case od::json_type::null: {
      bool null = false;
      if (auto e = value.is_null().get(null)) return e;
      return null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

bool is_boolean(od::value& value) {
  od::json_type type;
  return !value.type().get(type) && type == od::json_type::boolean;
}

using FactsResult = boost::system::result<RequestFacts, ErrorKind>;
using PromptPart = RequestFacts::PromptPart;

// A string value, validated and consumed as validate_value does, its raw content kept in `out`;
// any other value is validated and leaves `out` alone. Returns whether it was a string.
error_code capture_string(od::value& value, int depth, std::string_view& out, bool& is_string) {
  od::json_type type;
  if (auto e = value.type().get(type)) return e;
  is_string = type == od::json_type::string;
  if (!is_string) return validate_value(value, depth);
  const std::string_view tok = trim_right(value.raw_json_token());
  if (!valid_string_token(tok)) return simdjson::STRING_ERROR;
  if (auto e = value.get_raw_json_string().error()) return e;
  out = tok.substr(1, tok.size() - 2);
  return simdjson::SUCCESS;
}

// A message's "content": a string, or an array of parts whose "text" strings count.
error_code read_content(od::value& value, int depth, std::vector<PromptPart>& parts) {
  std::string_view text;
  bool is_string = false;
  od::json_type type;
  if (auto e = value.type().get(type)) return e;
  if (type != od::json_type::array) {
    if (auto e = capture_string(value, depth, text, is_string)) return e;
    if (is_string) parts.push_back({{}, text});
    return simdjson::SUCCESS;
  }
  od::array array;
  if (auto e = value.get_array().get(array)) return e;
  for (auto result : array) {
    if (auto e = result.error()) return e;
    od::value& part = result.value_unsafe();
    if (auto e = part.type().get(type)) return e;
    if (type != od::json_type::object) {
      if (auto e = validate_value(part, depth + 1)) return e;
      continue;
    }
    od::object object;
    if (auto e = part.get_object().get(object)) return e;
    for (auto field_result : object) {
      if (auto e = field_result.error()) return e;
      od::field& field = field_result.value_unsafe();
      std::string_view key;
      if (auto e = json_key(field, key)) return e;
      if (key == "text") {
        if (auto e = capture_string(field.value(), depth + 2, text, is_string)) return e;
        if (is_string) parts.push_back({{}, text});
      } else if (auto e = validate_value(field.value(), depth + 2)) {
        return e;
      }
    }
  }
  return simdjson::SUCCESS;
}

// "messages": validated like any value; the role and text of each message kept, in order.
// The role is attached after the message's fields are read (it may follow "content").
error_code read_messages(od::value& value, std::vector<PromptPart>& parts) {
  od::json_type type;
  if (auto e = value.type().get(type)) return e;
  if (type != od::json_type::array) return validate_value(value, 1);
  od::array array;
  if (auto e = value.get_array().get(array)) return e;
  for (auto result : array) {
    if (auto e = result.error()) return e;
    od::value& message = result.value_unsafe();
    if (auto e = message.type().get(type)) return e;
    if (type != od::json_type::object) {
      if (auto e = validate_value(message, 2)) return e;
      continue;
    }
    od::object object;
    if (auto e = message.get_object().get(object)) return e;
    const std::size_t first = parts.size();
    std::string_view role;
    for (auto field_result : object) {
      if (auto e = field_result.error()) return e;
      od::field& field = field_result.value_unsafe();
      std::string_view key;
      if (auto e = json_key(field, key)) return e;
      bool is_string = false;
      if (key == "role") {
        if (auto e = capture_string(field.value(), 3, role, is_string)) return e;
      } else if (key == "content") {
        if (auto e = read_content(field.value(), 3, parts)) return e;
      } else if (auto e = validate_value(field.value(), 3)) {
        return e;
      }
    }
    if (parts.size() == first) parts.push_back({role, {}});  // a tool call, an empty turn
    for (std::size_t i = first; i < parts.size(); ++i) parts[i].role = role;
  }
  return simdjson::SUCCESS;
}

// The completion budget keys, each read as it comes (the last occurrence wins) and combined
// at the end of the walk the way vLLM combines them.
struct Budget {
  std::optional<std::uint64_t> max_tokens, max_completion_tokens, max_output_tokens;

  std::optional<std::uint64_t>* slot(std::string_view key) {
    if (key == "max_tokens") return &max_tokens;
    if (key == "max_completion_tokens") return &max_completion_tokens;
    if (key == "max_output_tokens") return &max_output_tokens;
    return nullptr;
  }
  std::optional<std::uint64_t> combined() const {
    if (max_completion_tokens) return max_completion_tokens;
    return max_tokens ? max_tokens : max_output_tokens;
  }
};

// A token count: a non-negative integer that fits 64 bits, otherwise unset (null, -1, 16.0,
// "16": the server refuses or defaults those). The value is validated and consumed either way.
error_code read_count(od::value& value, std::optional<std::uint64_t>& out) {
  od::json_type type;
  if (auto e = value.type().get(type)) return e;
  std::uint64_t count = 0;
  if (type == od::json_type::number && !value.get_uint64().get(count)) {
    out = count;
    return simdjson::SUCCESS;
  }
  out.reset();
  return validate_value(value, 1);
}

// "stream_options": whether it is an object whose "include_usage" is true (last one wins).
error_code read_stream_options(od::value& value, bool& include_usage) {
  include_usage = false;
  od::json_type type;
  if (auto e = value.type().get(type)) return e;
  if (type != od::json_type::object) return validate_value(value, 1);
  od::object object;
  if (auto e = value.get_object().get(object)) return e;
  for (auto result : object) {
    if (auto e = result.error()) return e;
    od::field& field = result.value_unsafe();
    std::string_view key;
    if (auto e = json_key(field, key)) return e;
    od::value& option = field.value();
    if (key == "include_usage" && is_boolean(option)) {
      if (auto e = option.get_bool().get(include_usage)) return e;
    } else if (auto e = validate_value(option, 2)) {
      return e;
    }
  }
  return simdjson::SUCCESS;
}

// The top-level "model" value: a string, its escapes decoded, its token located in the body.
// The value is consumed either way, so the walk can go on validating the rest.
boost::system::result<void, ErrorKind> read_model(od::value& value, const char* base,
                                                  RequestFacts& facts) {
  od::json_type type;
  if (value.type().get(type)) return ErrorKind::invalid_json;
  if (type != od::json_type::string) {
    if (validate_value(value, 1)) return ErrorKind::invalid_json;
    return ErrorKind::model_not_string;
  }
  const std::string_view tok = trim_right(value.raw_json_token());
  std::string_view decoded;
  if (value.get_string().get(decoded)) return ErrorKind::invalid_json;
  facts.model.assign(decoded.data(), decoded.size());
  facts.model_offset = static_cast<std::size_t>(tok.data() - base);
  facts.model_length = tok.size();
  return {};
}

// Walks the whole document. A refusal about "model" waits for the end of the walk, so that an
// invalid document is always reported as invalid_json, whatever comes first in it.
FactsResult walk_document(od::parser& parser, const char* data, std::size_t size,
                          std::size_t capacity) {
  od::document doc;
  if (parser.iterate(data, size, capacity).get(doc)) return ErrorKind::invalid_json;
  od::object object;
  if (doc.get_object().get(object)) return ErrorKind::invalid_json;

  RequestFacts facts;
  bool have_model = false;
  std::optional<ErrorKind> refusal;
  std::string_view instructions;
  Budget budget;
  for (auto result : object) {
    if (result.error()) return ErrorKind::invalid_json;
    od::field& field = result.value_unsafe();  // in place, as in validate_object
    std::string_view key;
    if (json_key(field, key)) return ErrorKind::invalid_json;
    od::value& value = field.value();
    if (key == "model") {
      if (have_model) {
        if (validate_value(value, 1)) return ErrorKind::invalid_json;
        refusal = refusal.value_or(ErrorKind::duplicate_model);
        continue;
      }
      have_model = true;
      if (auto r = read_model(value, data, facts); !r) {
        if (r.error() == ErrorKind::invalid_json) return r.error();
        refusal = refusal.value_or(r.error());
      }
    } else if (key == "messages") {
      facts.prompt.clear();  // a repeated key: the last one wins, as for "stream"
      if (read_messages(value, facts.prompt)) return ErrorKind::invalid_json;
    } else if (key == "prompt") {
      std::string_view text;
      bool is_string = false;
      if (capture_string(value, 1, text, is_string)) return ErrorKind::invalid_json;
      if (is_string) facts.prompt.assign(1, PromptPart{{}, text});
    } else if (key == "input") {
      // The Responses API: a string (one user turn) or items shaped like chat messages, their
      // content parts' "text" kept as read_content keeps a chat message's.
      facts.prompt.clear();
      od::json_type type;
      if (value.type().get(type)) return ErrorKind::invalid_json;
      if (type == od::json_type::array) {
        if (read_messages(value, facts.prompt)) return ErrorKind::invalid_json;
      } else {
        std::string_view text;
        bool is_string = false;
        if (capture_string(value, 1, text, is_string)) return ErrorKind::invalid_json;
        if (is_string) facts.prompt.assign(1, PromptPart{"user", text});
      }
    } else if (key == "instructions") {
      // The Responses API's system prompt: it leads the prompt wherever the key stands.
      bool is_string = false;
      if (capture_string(value, 1, instructions, is_string)) return ErrorKind::invalid_json;
      if (!is_string) instructions = {};
    } else if (key == "stream" && is_boolean(value)) {
      // Last one wins, as in the JSON parsers model servers use.
      bool stream = false;
      if (value.get_bool().get(stream)) return ErrorKind::invalid_json;
      facts.stream = stream;
    } else if (auto* slot = budget.slot(key)) {
      if (read_count(value, *slot)) return ErrorKind::invalid_json;
    } else if (key == "stream_options") {
      facts.stream_options = true;
      if (read_stream_options(value, facts.include_usage)) return ErrorKind::invalid_json;
    } else if (validate_value(value, 1)) {
      return ErrorKind::invalid_json;
    }
  }
  // Anything after the closing brace (a second value, a stray bracket) makes the body invalid.
  // current_location() reports OUT_OF_BOUNDS exactly when the whole input was consumed.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS) return ErrorKind::invalid_json;
  if (refusal) return *refusal;
  if (!have_model) return ErrorKind::missing_model;
  facts.max_tokens = budget.combined();
  if (!instructions.empty()) facts.prompt.insert(facts.prompt.begin(), PromptPart{"system", instructions});
  return facts;
}

}  // namespace

FactsResult extract_request_facts(std::string_view body, std::size_t capacity) {
  const auto walk = [&](const char* data, std::size_t cap) {
    if (body.size() <= kLargeBody) return walk_document(thread_parser(), data, body.size(), cap);
    od::parser parser;
    return walk_document(parser, data, body.size(), cap);
  };
  if (capacity >= body.size() + simdjson::SIMDJSON_PADDING) return walk(body.data(), capacity);
  // The caller left no padding: one copy into a padded buffer. Offsets are relative to the
  // start of the body, so they hold in the caller's buffer too.
  const simdjson::padded_string copy(body);
  if (copy.data() == nullptr && !body.empty()) return ErrorKind::body_too_large;  // out of memory
  FactsResult result = walk(copy.data(), copy.size() + simdjson::SIMDJSON_PADDING);
  if (result) {
    // The prompt views point into the copy: move them to the same bytes of the caller's body.
    // (Roles the walk supplied itself, such as the Responses API's "system", stay as they are.)
    const auto rebase = [&](std::string_view& v) {
      const bool in_copy = v.data() >= copy.data() && v.data() <= copy.data() + copy.size();
      if (v.data() != nullptr && in_copy) v = {body.data() + (v.data() - copy.data()), v.size()};
    };
    for (auto& part : result->prompt) rebase(part.role), rebase(part.text);
  }
  return result;
}

std::uint64_t RequestFacts::prompt_token_estimate() const {
  std::uint64_t bytes = 0;
  for (const PromptPart& part : prompt) bytes += part.role.size() + part.text.size();
  return (bytes + 3) / 4;
}

std::string rewrite_model(std::string_view body, const RequestFacts& facts,
                          std::string_view served_model) {
  std::string out;
  out.reserve(body.size() - facts.model_length + served_model.size() + 16);
  out.append(body.data(), facts.model_offset);
  if (facts.form) {
    out += served_model;  // a form field's bytes: from the config, so no delimiter inside
  } else {
    out += '"';
    append_json_escaped(out, served_model);
    out += '"';
  }
  const std::size_t tail = facts.model_offset + facts.model_length;
  out.append(body.data() + tail, body.size() - tail);
  return out;
}

}  // namespace infergate
