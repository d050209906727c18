// LineFormatter: each field of a RequestRecord reduced to one small Value, then written as JSON
// or as text. One switch knows the fields; the two renderers know only the kinds of value.
#include "telemetry/access_log_format.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace infergate::telemetry {
namespace {

struct Value {
  enum class Kind : std::uint8_t { text, number, millis, boolean, time, null, absent } kind = Kind::absent;
  std::string_view text;
  bool truncated = false;
  std::int64_t number = 0;  // number, boolean (0/1), millis (microseconds, <0: null), time (Unix us)
};

template <std::size_t N>
Value text_value(const FixedText<N>& t) {
  return {Value::Kind::text, t.view(), t.truncated, 0};
}
Value number_value(std::int64_t n) { return {Value::Kind::number, {}, false, n}; }
Value millis_value(std::int64_t us) { return {Value::Kind::millis, {}, false, us}; }
Value bool_value(bool b) { return {Value::Kind::boolean, {}, false, b ? 1 : 0}; }
Value tokens_value(std::int64_t n) { return n < 0 ? Value{Value::Kind::null, {}, false, 0} : number_value(n); }

// Time in the pool's queue: to its end, or to the request's end when it left while waiting.
std::int64_t queue_us(const RequestRecord& r) {
  if (r.queue_start_us < 0) return -1;
  const std::int64_t end = r.queue_end_us >= 0 ? r.queue_end_us : r.end_us;
  return std::max<std::int64_t>(0, end - r.queue_start_us);
}

// `hex` holds the trace id's 32 digits when the field is the trace id.
Value value_of(LogField field, const RequestRecord& r, char (&hex)[32]) {
  using F = LogField;
  switch (field) {
    case F::time: return {Value::Kind::time, {}, false, r.start_unix_us};
    case F::request_id: return text_value(r.request_id);
    case F::trace_id: {
      const auto& id = r.trace.trace_id;
      if (std::all_of(id.begin(), id.end(), [](std::uint8_t b) { return b == 0; })) return {};
      static constexpr char digits[] = "0123456789abcdef";
      for (std::size_t i = 0; i < id.size(); ++i) {
        hex[2 * i] = digits[id[i] >> 4];
        hex[2 * i + 1] = digits[id[i] & 15];
      }
      return {Value::Kind::text, {hex, sizeof hex}, false, 0};
    }
    case F::method: return {Value::Kind::text, r.method_view(), false, 0};
    case F::path: return text_value(r.path);
    case F::client: return text_value(r.client);
    case F::team: return text_value(r.team);
    case F::key: return text_value(r.key);
    case F::model: return text_value(r.model);
    case F::model_forwarded: return text_value(r.model_forwarded);
    case F::pool: return text_value(r.pool);
    case F::endpoint: return text_value(r.endpoint);
    case F::status: return number_value(r.status);
    case F::reason: return text_value(r.reason);
    case F::retries: return number_value(r.retries);
    case F::bytes_in: return number_value(static_cast<std::int64_t>(r.bytes_in));
    case F::bytes_out: return number_value(static_cast<std::int64_t>(r.bytes_out));
    case F::ttfb_ms: return millis_value(r.first_byte_us);
    case F::queue_ms: return millis_value(queue_us(r));
    case F::duration_ms: return millis_value(r.end_us);
    case F::input_tokens: return tokens_value(r.input_tokens);
    case F::output_tokens: return tokens_value(r.output_tokens);
    case F::stream: return bool_value(r.stream);
    case F::client_aborted: return bool_value(r.client_aborted);
  }
  return {};
}

// Every text field of a record escaped at its worst, and every other value at its longest: a
// line never outgrows this (sizeof bounds the sum of the records' text capacities).
constexpr std::size_t kLineBound =
    json_string_bound(sizeof(RequestRecord)) + kLogFieldCount * (40 + kMillisBound);

char* put(char* p, std::string_view text) {
  std::memcpy(p, text.data(), text.size());
  return p + text.size();
}

// Numbers, booleans, times: the same in both formats except for quoting and null.
char* put_plain(char* p, const Value& v, std::string_view null) {
  switch (v.kind) {
    case Value::Kind::number: return std::to_chars(p, p + 20, v.number).ptr;
    case Value::Kind::boolean: return put(p, v.number ? "true" : "false");
    case Value::Kind::millis: return v.number < 0 ? put(p, null) : put_millis(p, v.number);
    case Value::Kind::time: return put_rfc3339_ms(p, v.number);
    case Value::Kind::null: return put(p, null);
    default: return p;
  }
}

char* put_json_value(char* p, const Value& v) {
  if (v.kind == Value::Kind::text) return put_json_string(p, v.text, v.truncated);
  if (v.kind != Value::Kind::time) return put_plain(p, v, "null");
  *p++ = '"';
  p = put_plain(p, v, "null");
  *p++ = '"';
  return p;
}

bool needs_quotes(const Value& v) {
  if (v.truncated || v.text == "-") return true;
  return std::any_of(v.text.begin(), v.text.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c <= 0x20 || c >= 0x7F || c == '"' || c == '\\';
  });
}

char* put_text_value(char* p, const Value& v, std::string_view unit) {
  if (v.kind != Value::Kind::text) {
    p = put_plain(p, v, "-");
    if (v.kind == Value::Kind::millis && v.number >= 0) p = put(p, unit);
    return p;
  }
  if (v.text.empty()) {
    *p++ = '-';
    return p;
  }
  return needs_quotes(v) ? put_json_string(p, v.text, v.truncated) : put(p, v.text);
}

// The text format's names: short where the line is read by eye most.
std::string_view text_name(LogField field) {
  switch (field) {
    case LogField::trace_id: return "trace";
    case LogField::ttfb_ms: return "ttfb";
    case LogField::queue_ms: return "queue";
    case LogField::duration_ms: return "dur";
    case LogField::input_tokens: return "in";
    case LogField::output_tokens: return "out";
    case LogField::client_aborted: return "aborted";
    default: return log_field_name(field);
  }
}

std::string prefix(std::string_view before, std::string_view name, std::string_view after) {
  std::string out(before);
  out += name;
  out += after;
  return out;
}

bool positional(LogField f) {
  return f == LogField::time || f == LogField::request_id || f == LogField::method ||
         f == LogField::path || f == LogField::status;
}

}  // namespace

LineFormatter::LineFormatter(AccessLogConfig::Format format, const std::vector<std::string>& fields)
    : format_(format) {
  std::vector<LogField> selected;
  for (const std::string& name : fields) {
    const auto field = log_field(name);
    if (!field) throw std::invalid_argument("unknown access log field '" + name + "'");
    if (std::find(selected.begin(), selected.end(), *field) != selected.end()) {
      throw std::invalid_argument("access log field '" + name + "' is listed twice");
    }
    selected.push_back(*field);
  }
  if (selected.empty()) {
    for (std::size_t i = 0; i < kLogFieldCount; ++i) selected.push_back(static_cast<LogField>(i));
  }
  if (format_ == AccessLogConfig::Format::json) {
    fields_ = std::move(selected);
    for (const LogField f : fields_) prefixes_.push_back(prefix(",\"", log_field_name(f), "\":"));
    return;
  }
  for (const LogField f : {LogField::time, LogField::request_id, LogField::method, LogField::path,
                           LogField::status}) {
    if (std::find(selected.begin(), selected.end(), f) != selected.end()) positional_.push_back(f);
  }
  for (const LogField f : selected) {
    if (!positional(f)) fields_.push_back(f);
  }
  for (const LogField f : fields_) prefixes_.push_back(prefix(" ", text_name(f), "="));
}

void LineFormatter::append(std::string& out, const RequestRecord& record) const {
  char line[kLineBound];
  char* end = format_ == AccessLogConfig::Format::json ? put_json(line, record)
                                                      : put_text(line, record);
  *end++ = '\n';
  out.append(line, static_cast<std::size_t>(end - line));
}

char* LineFormatter::put_json(char* line, const RequestRecord& record) const {
  // Each field goes out as `,"name":value`; the first one's comma becomes the brace.
  char hex[32];
  char* p = line;
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    const Value v = value_of(fields_[i], record, hex);
    if (v.kind == Value::Kind::absent) continue;
    p = put_json_value(put(p, prefixes_[i]), v);
  }
  if (p == line) *p++ = '{';
  else line[0] = '{';
  *p++ = '}';
  return p;
}

char* LineFormatter::put_text(char* line, const RequestRecord& record) const {
  // Each field goes out as ` name=value` (positional ones as ` value`); the first space is cut.
  char hex[32];
  char* p = line;
  for (const LogField field : positional_) {
    *p++ = ' ';
    p = put_text_value(p, value_of(field, record, hex), "");
  }
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    const Value v = value_of(fields_[i], record, hex);
    if (v.kind == Value::Kind::absent) continue;
    p = put_text_value(put(p, prefixes_[i]), v, "ms");
  }
  if (p == line) return p;
  std::memmove(line, line + 1, static_cast<std::size_t>(p - line - 1));
  return p - 1;
}

}  // namespace infergate::telemetry
