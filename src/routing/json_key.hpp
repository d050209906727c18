// A JSON object key for the On-Demand readers of request and response bodies.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <string_view>

namespace infergate {

// The key of `field`, escapes decoded. simdjson refuses to decode a key holding a lone UTF-16
// surrogate (\ud800), which is grammatical JSON (RFC 8259 section 8.2) that Python's json, and so
// vLLM, accepts, and that string values may hold here too: such a key comes back as its raw
// text, whose backslash makes it equal no name the readers look for. Other bad escapes stay errors.
inline simdjson::error_code json_key(simdjson::ondemand::field& field, std::string_view& key) {
  const char* const raw = field.key().raw();  // before unescaped_key(), which consumes it
  const auto error = field.unescaped_key().get(key);
  if (error != simdjson::STRING_ERROR) return error;
  // Stage 1 matched this key's quotes, backslash pairs skipped: the same scan finds its end.
  std::size_t n = 0;
  while (raw[n] != '"') n += raw[n] == '\\' ? 2 : 1;
  const auto hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (raw[i] != '\\') continue;
    const char c = raw[i + 1];
    if (c == 'u') {
      if (i + 6 > n || !hex(raw[i + 2]) || !hex(raw[i + 3]) || !hex(raw[i + 4]) || !hex(raw[i + 5])) {
        return error;
      }
      i += 5;
    } else if (std::string_view("\"\\/bfnrt").find(c) != std::string_view::npos) {
      ++i;
    } else {
      return error;
    }
  }
  key = std::string_view(raw, n);
  return simdjson::SUCCESS;
}

}  // namespace infergate
