// The access log's field names, in their default order. Header-only so that the config parser
// (src/routing) can refuse an unknown name in `access_log.fields` without linking the writer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace infergate::telemetry {

enum class LogField : std::uint8_t {
  time,
  request_id,
  trace_id,
  method,
  path,
  client,
  team,
  key,
  model,
  model_forwarded,
  pool,
  endpoint,
  status,
  reason,
  retries,
  bytes_in,
  bytes_out,
  ttfb_ms,
  queue_ms,
  duration_ms,
  input_tokens,
  output_tokens,
  stream,
  client_aborted,
};

inline constexpr std::size_t kLogFieldCount = 24;

// Indexed by LogField; these are the JSON keys and the names `access_log.fields` takes.
inline constexpr std::array<std::string_view, kLogFieldCount> kLogFieldNames = {
    "time",        "request_id", "trace_id",   "method",       "path",          "client",
    "team",        "key",        "model",      "model_forwarded", "pool",       "endpoint",
    "status",      "reason",     "retries",    "bytes_in",     "bytes_out",     "ttfb_ms",
    "queue_ms",    "duration_ms", "input_tokens", "output_tokens", "stream",     "client_aborted",
};

constexpr std::string_view log_field_name(LogField field) noexcept {
  return kLogFieldNames[static_cast<std::size_t>(field)];
}

constexpr std::optional<LogField> log_field(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kLogFieldCount; ++i) {
    if (kLogFieldNames[i] == name) return static_cast<LogField>(i);
  }
  return std::nullopt;
}

}  // namespace infergate::telemetry
