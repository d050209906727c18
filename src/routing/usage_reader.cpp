// Usage objects: found by a byte search, read by simdjson On-Demand on a small padded copy.
//
// Why search bytes rather than parse the body: the proxy sees a JSON response in pieces and keeps
// only its last bytes, which are not a document. A raw `"usage"` followed by `:` is a key (inside
// a JSON string every quote is escaped, so the quote after `usage` would end the string and be
// followed by `,` `]` or `}`), and its object is delimited by counting brackets outside strings;
// simdjson then reads that object alone.
#include "routing/json_key.hpp"
#include "routing/usage_json.hpp"
#include "routing/usage_reader.hpp"

#include <simdjson.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cstring>

namespace infergate {
namespace usage_json {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

constexpr std::string_view kKey = R"("usage")";
// A usage object nests a level or two (prompt_tokens_details); deeper is not one.
constexpr int kMaxDepth = 32;
// Events above this are not parsed whole: only their last usage object is (a Responses API
// "response.completed" carries the whole response). Bounds the per-thread parser's buffers.
constexpr std::size_t kMaxParsed = 64 * 1024;

std::size_t skip_space(std::string_view text, std::size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  return i;
}

// The `{` after the key at `key` (`"usage"`, then `:`, then an object), or npos.
std::size_t object_after_key(std::string_view text, std::size_t key) {
  std::size_t i = skip_space(text, key + kKey.size());
  if (i >= text.size() || text[i] != ':') return std::string_view::npos;
  i = skip_space(text, i + 1);
  return i < text.size() && text[i] == '{' ? i : std::string_view::npos;
}

// A document on a padded copy of `json`, with this thread's parser: the caller's bytes may end
// at the end of a buffer, and simdjson reads up to SIMDJSON_PADDING bytes past the end.
error_code iterate_padded(std::string_view json, od::document& doc) {
  thread_local od::parser parser;
  thread_local std::string buffer;
  buffer.reserve(json.size() + simdjson::SIMDJSON_PADDING);
  buffer.assign(json.data(), json.size());
  return parser.iterate(buffer.data(), buffer.size(), buffer.capacity()).get(doc);
}

// The counts among an object's fields; other fields are skipped, a count that is not a
// non-negative integer is ignored.
error_code read_counts(od::object& object, Counts& counts) {
  for (auto result : object) {
    if (auto e = result.error()) return e;
    od::field& field = result.value_unsafe();
    std::string_view key;
    if (auto e = json_key(field, key)) return e;
    std::optional<std::uint64_t>* slot = nullptr;
    if (key == "prompt_tokens" || key == "input_tokens") {
      slot = &counts.prompt;
    } else if (key == "completion_tokens" || key == "output_tokens") {
      slot = &counts.completion;
    } else {
      continue;
    }
    std::uint64_t n = 0;
    if (!field.value().get_uint64().get(n)) *slot = n;
  }
  return simdjson::SUCCESS;
}

// The "usage" object among the fields of `object` (a Responses API "response", an Anthropic
// "message"), if any.
error_code read_nested_usage(od::object& object, Counts& counts) {
  for (auto result : object) {
    if (auto e = result.error()) return e;
    od::field& field = result.value_unsafe();
    std::string_view key;
    if (auto e = json_key(field, key)) return e;
    if (key != "usage") continue;
    od::object usage;
    if (field.value().get_object().get(usage)) continue;  // null, or not an object
    if (auto e = read_counts(usage, counts)) return e;
  }
  return simdjson::SUCCESS;
}

error_code read_event_fields(od::object& top, EventJson& event) {
  bool usage_object = false;
  bool choices_empty = false;
  for (auto result : top) {
    if (auto e = result.error()) return e;
    od::field& field = result.value_unsafe();
    std::string_view key;
    if (auto e = json_key(field, key)) return e;
    od::value& value = field.value();
    if (key == "usage") {
      od::object usage;
      if (value.get_object().get(usage)) continue;
      usage_object = true;
      if (auto e = read_counts(usage, event.counts)) return e;
    } else if (key == "choices") {
      od::array choices;
      if (value.get_array().get(choices)) continue;
      if (auto e = choices.is_empty().get(choices_empty)) return e;
    } else if (key == "response" || key == "message") {
      od::object nested;
      if (value.get_object().get(nested)) continue;
      if (auto e = read_nested_usage(nested, event.counts)) return e;
    }
  }
  event.usage_only = usage_object && choices_empty;
  return simdjson::SUCCESS;
}

// The offset of the first `"usage"` at or after `from`, or npos. Every SSE event pays this scan,
// so it is vectorized: glibc's memmem is scalar for a 7-byte needle (about 2.5 instructions a
// byte, most of the tap's cost then). With SSE2, 16 positions at a time are tested for 'u' at +1
// and 'g' at +4, a pair rare in JSON (quotes alone are everywhere), and candidates are compared.
std::size_t find_key(std::string_view text, std::size_t from) {
  const char* const p = text.data();
  const std::size_t n = text.size();
  std::size_t i = from;
#if defined(__SSE2__)
  // A window at i tests positions i..i+15: it loads up to p[i+19], and a candidate needs 7 bytes.
  constexpr std::size_t kWindow = 16 + kKey.size() - 1;  // 22: every load and compare in text
  if (n >= kWindow && i <= n - kWindow) {
    const __m128i u = _mm_set1_epi8('u');
    const __m128i g = _mm_set1_epi8('g');
    const std::size_t last = n - kWindow;
    for (bool done = false; !done; i += 16) {
      unsigned skip = 0;  // the last window overlaps the one before it: its first positions were seen
      if (i >= last) {
        skip = static_cast<unsigned>(i - last);
        i = last;
        done = true;
      }
      const __m128i at_u = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 1));
      const __m128i at_g = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 4));
      auto mask = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(at_u, u), _mm_cmpeq_epi8(at_g, g))));
      mask &= ~0u << skip;
      for (; mask != 0; mask &= mask - 1) {
        const std::size_t at = i + static_cast<std::size_t>(std::countr_zero(mask));
        if (std::memcmp(p + at, kKey.data(), kKey.size()) == 0) return at;
      }
    }
    return std::string_view::npos;
  }
#endif
  // Short texts (and builds without SSE2): byte by byte.
  for (; i + kKey.size() <= n; ++i) {
    if (p[i] == '"' && p[i + 1] == 'u' && std::memcmp(p + i, kKey.data(), kKey.size()) == 0) return i;
  }
  return std::string_view::npos;
}

}  // namespace

std::size_t next_usage_object(std::string_view text, std::size_t from) {
  while (from < text.size()) {
    const std::size_t key = find_key(text, from);
    if (key == std::string_view::npos) return std::string_view::npos;
    const std::size_t brace = object_after_key(text, key);
    if (brace != std::string_view::npos) return brace;
    from = key + kKey.size() - 1;  // the closing quote may open the next key
  }
  return std::string_view::npos;
}

std::size_t last_usage_object(std::string_view text, std::size_t& before) {
  while (before > 0) {
    const std::size_t key = text.rfind(kKey, before - 1);
    if (key == std::string_view::npos) break;
    before = key;
    const std::size_t brace = object_after_key(text, key);
    if (brace != std::string_view::npos) return brace;
  }
  before = 0;
  return std::string_view::npos;
}

std::size_t object_length(std::string_view text, std::size_t at) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = at; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped byte; past the end, the loop ends
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) return 0;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i - at + 1;
    }
  }
  return 0;
}

bool read_usage_object(std::string_view object, Counts& counts) {
  if (object.size() > kMaxParsed) return false;
  od::document doc;
  if (iterate_padded(object, doc)) return false;
  od::object top;
  if (doc.get_object().get(top)) return false;
  Counts read;
  if (read_counts(top, read)) return false;
  counts = read;
  return true;
}

bool read_event_json(std::string_view json, EventJson& event) {
  event = {};
  if (json.size() > kMaxParsed) {
    // Too large to parse whole: its last usage object only, and never the usage-only chunk.
    std::size_t before = json.size();
    const std::size_t at = last_usage_object(json, before);
    const std::size_t length = at == std::string_view::npos ? 0 : object_length(json, at);
    return length > 0 && read_usage_object(json.substr(at, length), event.counts);
  }
  od::document doc;
  if (iterate_padded(json, doc)) return false;
  od::object top;
  if (doc.get_object().get(top)) return false;
  EventJson read;
  if (read_event_fields(top, read)) return false;
  event = read;
  return true;
}

}  // namespace usage_json

std::optional<Usage> parse_usage_object(std::string_view object) {
  usage_json::Counts counts;
  if (!usage_json::read_usage_object(object, counts) || !counts.any()) return std::nullopt;
  return Usage{counts.prompt.value_or(0), counts.completion.value_or(0)};
}

std::optional<Usage> find_usage(std::string_view json_tail) {
  // A bound on the candidates tried, each a bracket count to its end: hostile bodies full of
  // "usage" keys cost at most this many scans.
  constexpr int kMaxCandidates = 16;
  std::size_t before = json_tail.size();
  for (int i = 0; i < kMaxCandidates; ++i) {
    const std::size_t at = usage_json::last_usage_object(json_tail, before);
    if (at == std::string_view::npos) return std::nullopt;
    const std::size_t length = usage_json::object_length(json_tail, at);
    if (length == 0) continue;  // cut off by the end of the tail, or not an object
    if (auto usage = parse_usage_object(json_tail.substr(at, length))) return usage;
  }
  return std::nullopt;
}

BodyTail::BodyTail(std::optional<std::uint64_t> content_length, std::size_t size)
    : size_(size), length_(content_length) {}

void BodyTail::reset(std::optional<std::uint64_t> content_length) {
  buffer_.clear();
  length_ = content_length;
  seen_ = 0;
}

void BodyTail::append(std::string_view piece) {
  const std::uint64_t start = seen_;
  seen_ += piece.size();
  if (length_ && *length_ >= start) {
    // Only the bytes within the last size_ of the declared length; bytes past it are not body.
    const std::uint64_t keep_from = *length_ > size_ ? *length_ - size_ : 0;
    const std::uint64_t from = std::max(start, keep_from);
    const std::uint64_t to = std::min(seen_, *length_);
    if (to <= from) return;
    // A short body needs no more than itself: an idle connection keeps this buffer.
    const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(size_, *length_));
    if (buffer_.capacity() < wanted) buffer_.reserve(wanted);
    const auto n = static_cast<std::size_t>(to - from);
    if (buffer_.size() + n > size_) buffer_.erase(0, buffer_.size() + n - size_);  // never, in order
    buffer_.append(piece.data() + (from - start), n);
    return;
  }
  if (length_) return;  // past the declared length
  if (piece.size() >= size_) {
    buffer_.assign(piece.data() + piece.size() - size_, size_);
    return;
  }
  if (buffer_.capacity() < size_) buffer_.reserve(size_);
  if (buffer_.size() + piece.size() > size_) buffer_.erase(0, buffer_.size() + piece.size() - size_);
  buffer_.append(piece);
}

}  // namespace infergate
