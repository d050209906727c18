// What usage_reader.cpp and sse_usage_tap.cpp share: finding and reading usage objects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace infergate::usage_json {

// Counts as stated: each one present or not (Anthropic states them in two events).
struct Counts {
  std::optional<std::uint64_t> prompt, completion;
  bool any() const { return prompt || completion; }
};

// The offset of the `{` of the first `"usage"` key at or after `from` whose value is an object
// (`"usage" : {`), or npos. `"usage":null` and a "usage" string value are passed over.
std::size_t next_usage_object(std::string_view text, std::size_t from);

// The same, searching backwards: the `{` of the last such key that starts before `before`, or
// npos. `before` becomes that key's offset, so calling again finds the one before it.
std::size_t last_usage_object(std::string_view text, std::size_t& before);

// The length of the JSON object starting at text[at] == '{' (strings and escapes respected),
// or 0 when it does not end within `text` or nests deeper than a usage object may.
std::size_t object_length(std::string_view text, std::size_t at);

// The counts of one usage object's text. False when it is not a valid object.
bool read_usage_object(std::string_view object, Counts& counts);

// What an SSE event's JSON payload says: its counts (top-level "usage", or the "usage" of a
// top-level "response" or "message"), and whether it is the usage-only chunk (top-level
// "choices" an empty array, top-level "usage" an object). False when it is not a valid object.
struct EventJson {
  Counts counts;
  bool usage_only = false;
};
bool read_event_json(std::string_view json, EventJson& event);

}  // namespace infergate::usage_json
