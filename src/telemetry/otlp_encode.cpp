#include "telemetry/otlp_encode.hpp"

#include <charconv>
#include <cstring>

#include "telemetry/access_log_format.hpp"
#include "telemetry/trace_context.hpp"

namespace infergate::telemetry {
namespace {

// Wire types.
constexpr unsigned kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5;

// Field numbers (opentelemetry/proto/...).
namespace field {
constexpr unsigned request_resource_spans = 1;                      // ExportTraceServiceRequest
constexpr unsigned rs_resource = 1, rs_scope_spans = 2;             // ResourceSpans
constexpr unsigned resource_attributes = 1;                         // Resource
constexpr unsigned ss_scope = 1, ss_spans = 2;                      // ScopeSpans
constexpr unsigned scope_name = 1, scope_version = 2;               // InstrumentationScope
constexpr unsigned span_trace_id = 1, span_span_id = 2, span_parent = 4, span_name = 5,
                   span_kind = 6, span_start = 7, span_end = 8, span_attributes = 9,
                   span_status = 15, span_flags = 16;               // Span
constexpr unsigned status_message = 2, status_code = 3;             // Status
constexpr unsigned kv_key = 1, kv_value = 2;                        // KeyValue
constexpr unsigned any_string = 1, any_bool = 2, any_int = 3, any_double = 4;  // AnyValue
}  // namespace field

constexpr std::uint64_t kKindInternal = 1, kKindServer = 2, kKindClient = 3;
constexpr std::uint64_t kStatusError = 2;
// Span.flags: bit 8 says whether the parent is remote (bit 9 says the bit is known).
constexpr std::uint32_t kParentKnown = 0x100, kParentRemote = 0x200;

void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void tag(std::string& out, unsigned number, unsigned wire) { varint(out, (number << 3) | wire); }

void bytes(std::string& out, unsigned number, std::string_view data) {
  tag(out, number, kBytes);
  varint(out, data.size());
  out.append(data);
}

void fixed64(std::string& out, unsigned number, std::uint64_t v) {
  tag(out, number, kFixed64);
  char raw[8];
  std::memcpy(raw, &v, 8);  // little-endian hosts only (x86-64, arm64)
  out.append(raw, 8);
}

void fixed32(std::string& out, unsigned number, std::uint32_t v) {
  tag(out, number, kFixed32);
  char raw[4];
  std::memcpy(raw, &v, 4);
  out.append(raw, 4);
}

template <std::size_t N>
std::string_view id_bytes(const std::array<std::uint8_t, N>& id) {
  return {reinterpret_cast<const char*>(id.data()), N};
}

// A message built in `scratch` and appended as one length-delimited field.
class Nested {
 public:
  Nested(std::string& parent, unsigned number) : parent_(parent), number_(number) {}
  ~Nested() { bytes(parent_, number_, body); }
  std::string body;

 private:
  std::string& parent_;
  unsigned number_;
};

// An AnyValue string: client-given texts (path, model) may hold any bytes; OTLP wants UTF-8.
void string_value(std::string& any, std::string_view value) {
  std::string scratch;
  bytes(any, field::any_string, valid_utf8(value, scratch));
}

void attribute(std::string& span, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  Nested kv(span, field::span_attributes);
  bytes(kv.body, field::kv_key, key);
  std::string any;
  string_value(any, value);
  bytes(kv.body, field::kv_value, any);
}

void attribute(std::string& span, std::string_view key, std::int64_t value) {
  Nested kv(span, field::span_attributes);
  bytes(kv.body, field::kv_key, key);
  std::string any;
  tag(any, field::any_int, kVarint);
  varint(any, static_cast<std::uint64_t>(value));
  bytes(kv.body, field::kv_value, any);
}

void attribute(std::string& span, std::string_view key, double value) {
  Nested kv(span, field::span_attributes);
  bytes(kv.body, field::kv_key, key);
  std::string any;
  tag(any, field::any_double, kFixed64);
  char raw[8];
  std::memcpy(raw, &value, 8);
  any.append(raw, 8);
  bytes(kv.body, field::kv_value, any);
}

void flag_attribute(std::string& span, std::string_view key, bool value) {
  Nested kv(span, field::span_attributes);
  bytes(kv.body, field::kv_key, key);
  std::string any;
  tag(any, field::any_bool, kVarint);
  varint(any, value ? 1 : 0);
  bytes(kv.body, field::kv_value, any);
}

std::uint64_t at_nanos(const RequestRecord& r, std::int32_t offset_us) {
  return static_cast<std::uint64_t>(r.start_unix_us + offset_us) * 1000u;
}

// The common head of a span: ids, name, kind, times.
void span_head(std::string& span, const RequestRecord& r, const std::array<std::uint8_t, 8>& id,
               const std::array<std::uint8_t, 8>* parent, std::string_view name, std::uint64_t kind,
               std::int32_t from_us, std::int32_t to_us) {
  bytes(span, field::span_trace_id, id_bytes(r.trace.trace_id));
  bytes(span, field::span_span_id, id_bytes(id));
  if (parent) bytes(span, field::span_parent, id_bytes(*parent));
  bytes(span, field::span_name, name);
  tag(span, field::span_kind, kVarint);
  varint(span, kind);
  fixed64(span, field::span_start, at_nanos(r, from_us));
  fixed64(span, field::span_end, at_nanos(r, std::max(from_us, to_us)));
}

void error_status(std::string& span, std::string_view message) {
  Nested status(span, field::span_status);
  bytes(status.body, field::status_message, message);
  tag(status.body, field::status_code, kVarint);
  varint(status.body, kStatusError);
}

void server_span(std::string& spans, const RequestRecord& r) {
  Nested span(spans, field::ss_spans);
  // "{method} {route}" with routes of low cardinality only (OpenTelemetry's HTTP naming): a
  // model id in the path, or a path nobody routes, must not make a span name of its own.
  const std::string_view path = r.path.view().substr(0, r.path.view().find('?'));
  std::string name(r.method_view());
  if (path.starts_with("/v1/models/")) {
    name += " /v1/models/{model}";
  } else if (path.starts_with("/v1/") && r.reason.view() != "route_not_found") {
    name += ' ';
    name += path;
  }
  std::string scratch;
  span_head(span.body, r, r.trace.span_id, r.trace.has_parent() ? &r.trace.parent_span_id : nullptr,
            valid_utf8(name, scratch), kKindServer, 0, r.end_us);
  std::string& b = span.body;
  attribute(b, "http.request.method", r.method_view());
  attribute(b, "url.path", r.path.view().substr(0, r.path.view().find('?')));
  attribute(b, "client.address", r.client.view());
  if (r.status) attribute(b, "http.response.status_code", static_cast<std::int64_t>(r.status));
  attribute(b, "gen_ai.request.model", r.model.view());
  attribute(b, "gen_ai.response.model", r.model_forwarded.view());
  if (r.input_tokens >= 0) attribute(b, "gen_ai.usage.input_tokens", r.input_tokens);
  if (r.output_tokens >= 0) attribute(b, "gen_ai.usage.output_tokens", r.output_tokens);
  attribute(b, "infergate.request_id", r.request_id.view());
  attribute(b, "infergate.team", r.team.view());
  attribute(b, "infergate.pool", r.pool.view());
  attribute(b, "infergate.endpoint", r.endpoint.view());
  attribute(b, "infergate.retries", static_cast<std::int64_t>(r.retries));
  if (r.first_byte_us >= 0) attribute(b, "infergate.time_to_first_token_ms", r.first_byte_us / 1000.0);
  if (r.stream) flag_attribute(b, "infergate.stream", true);
  if (r.client_aborted) flag_attribute(b, "infergate.client_aborted", true);
  if (!r.reason.empty()) attribute(b, "error.type", r.reason.view());
  if (r.status >= 500 || r.status == 0) error_status(b, r.reason.empty() ? "no response" : r.reason.view());
  fixed32(b, field::span_flags, kParentKnown | (r.trace.has_parent() ? kParentRemote : 0u));
}

void queue_span(std::string& spans, const RequestRecord& r) {
  Nested span(spans, field::ss_spans);
  const auto id = child_span_id(r.trace, SpanRole::queue);
  span_head(span.body, r, id, &r.trace.span_id, "queue", kKindInternal, r.queue_start_us,
            r.queue_end_us >= 0 ? r.queue_end_us : r.end_us);
  attribute(span.body, "infergate.pool", r.pool.view());
  fixed32(span.body, field::span_flags, kParentKnown);
}

void upstream_span(std::string& spans, const RequestRecord& r) {
  Nested span(spans, field::ss_spans);
  const auto id = child_span_id(r.trace, SpanRole::upstream);
  span_head(span.body, r, id, &r.trace.span_id, "upstream", kKindClient, r.upstream_start_us, r.end_us);
  std::string& b = span.body;
  const std::string_view endpoint = r.endpoint.view();
  const auto colon = endpoint.rfind(':');
  attribute(b, "server.address", endpoint.substr(0, colon));
  if (colon != std::string_view::npos) {
    std::int64_t port = 0;
    std::from_chars(endpoint.data() + colon + 1, endpoint.data() + endpoint.size(), port);
    attribute(b, "server.port", port);
  }
  attribute(b, "gen_ai.request.model", r.model_forwarded.view());
  if (r.status) attribute(b, "http.response.status_code", static_cast<std::int64_t>(r.status));
  if (r.first_byte_us >= r.upstream_start_us && r.first_byte_us >= 0) {
    attribute(b, "infergate.time_to_first_token_ms", (r.first_byte_us - r.upstream_start_us) / 1000.0);
  }
  fixed32(b, field::span_flags, kParentKnown);
}

void resource_attribute(std::string& resource, std::string_view key, std::string_view value) {
  Nested kv(resource, field::resource_attributes);
  bytes(kv.body, field::kv_key, key);
  std::string any;
  bytes(any, field::any_string, value);
  bytes(kv.body, field::kv_value, any);
}

}  // namespace

void encode_otlp_traces(std::span<const RequestRecord> records, const OtlpResource& resource,
                        std::string& out) {
  out.clear();
  Nested resource_spans(out, field::request_resource_spans);
  {
    Nested res(resource_spans.body, field::rs_resource);
    resource_attribute(res.body, "service.name", resource.service_name);
    resource_attribute(res.body, "service.instance.id", resource.instance_id);
    resource_attribute(res.body, "telemetry.sdk.name", "infergate");
    resource_attribute(res.body, "telemetry.sdk.language", "cpp");
  }
  Nested scope_spans(resource_spans.body, field::rs_scope_spans);
  {
    Nested scope(scope_spans.body, field::ss_scope);
    bytes(scope.body, field::scope_name, "infergate");
    bytes(scope.body, field::scope_version, "1");
  }
  for (const RequestRecord& r : records) {
    server_span(scope_spans.body, r);
    if (r.queue_start_us >= 0) queue_span(scope_spans.body, r);
    if (r.upstream_start_us >= 0) upstream_span(scope_spans.body, r);
  }
}

}  // namespace infergate::telemetry
