// One access log line from one RequestRecord, in JSON (the default) or text. This is the writer
// thread's whole job, so it writes by hand into a stack buffer sized for the longest possible
// line and appends that once: no iostreams, no std::format per field, no allocation.
//
// JSON: one object per line, the keys of kLogFieldNames in the configured order. Empty texts are
// written as "" (the schema of a line never depends on the request); trace_id is left out when the
// request has none (all zero). Times are milliseconds with 3 decimals, null when the request never
// reached that point (ttfb_ms without a response byte; queue_ms when it never waited in a queue).
// Tokens are null when unknown. A text cut to fit the record ends with "…" (U+2026).
// Everything is escaped as a JSON string: quotes, backslash, control bytes and DEL as \uXXXX (or
// \n, \t...), invalid UTF-8 as U+FFFD (a sequence cut by truncation is dropped before the "…").
//
// text: `TIME REQUEST_ID METHOD PATH STATUS name=value ...`: the five positional fields first (those
// selected), then the rest as name=value in the configured order, with short names for a few
// (trace, ttfb, queue, dur, in, out, aborted). Unknown or empty values are "-"; a value with a
// space, a quote, a backslash, a control or non-ASCII byte, or a cut, is written as a JSON string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "infergate/config.hpp"
#include "telemetry/access_log_fields.hpp"
#include "telemetry/request_record.hpp"

namespace infergate::telemetry {

// The value writers put into a buffer with room for their bound and return the new end: the
// writer thread builds each line in one stack buffer and appends it once.
constexpr std::size_t json_string_bound(std::size_t n) { return 6 * n + 5; }  // \u00XX, "", …
inline constexpr std::size_t kRfc3339MsBound = 24;
inline constexpr std::size_t kMillisBound = 26;
char* put_json_string(char* p, std::string_view text, bool truncated);
char* put_rfc3339_ms(char* p, std::int64_t unix_us);
char* put_millis(char* p, std::int64_t us);

// `"text"`, JSON-escaped as above; `truncated` appends "…" inside the quotes.
void append_json_string(std::string& out, std::string_view text, bool truncated = false);
// `text` when it is valid UTF-8, else a copy in `scratch` with U+FFFD for each invalid byte
// (OTLP string fields must be UTF-8: a collector refuses a whole batch otherwise).
std::string_view valid_utf8(std::string_view text, std::string& scratch);
// 2026-12-07T12:00:00.123Z (UTC, milliseconds, truncated toward the past).
void append_rfc3339_ms(std::string& out, std::int64_t unix_us);
// Microseconds as milliseconds with 3 decimals ("40.100"); negative: "null".
void append_millis(std::string& out, std::int64_t us);

class LineFormatter {
 public:
  // `fields` empty: every field in the default order. Throws std::invalid_argument on an unknown
  // or repeated name (the config parser refuses those first, with their line).
  LineFormatter(AccessLogConfig::Format format, const std::vector<std::string>& fields);

  // Appends one line, '\n' included.
  void append(std::string& out, const RequestRecord& record) const;

  const std::vector<LogField>& fields() const noexcept { return fields_; }

 private:
  char* put_json(char* line, const RequestRecord& record) const;
  char* put_text(char* line, const RequestRecord& record) const;

  AccessLogConfig::Format format_;
  std::vector<LogField> fields_;      // JSON: all selected; text: the name=value ones
  std::vector<LogField> positional_;  // text only: time, request_id, method, path, status
  std::vector<std::string> prefixes_;  // per fields_ entry: `,"name":` (JSON) or ` name=` (text)
};

}  // namespace infergate::telemetry
