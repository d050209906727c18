// The session's account of each request (telemetry/request_record.hpp): its id and trace
// context, read from the request or made here and passed on to the server and back to the
// client, and the record filled as the request goes, handed once to the access log and the
// tracer when the request ends. Nothing here allocates or makes a system call.
#include <chrono>

#include "proxy/session.hpp"
#include "telemetry/access_log.hpp"
#include "telemetry/span_exporter.hpp"

namespace infergate::proxy {
namespace {

constexpr std::string_view kRequestIdHeader = "x-request-id";
constexpr std::string_view kTraceparentHeader = "traceparent";
constexpr std::string_view kTracestateHeader = "tracestate";

std::int32_t micros_between(Clock::time_point from, Clock::time_point to) noexcept {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(to - from).count();
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(us, 0, INT32_MAX));
}

}  // namespace

void Session::begin_record() {
  record_ = {};
  record_started_ = true;
  record_start_ = Clock::now();
  record_.start_unix_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  record_.client.assign(peer_ip_);
  request_id_in_ = traceparent_in_ = tracestate_in_ = {};
  trace_continued_ = false;
}

std::int32_t Session::record_now() const noexcept { return micros_between(record_start_, Clock::now()); }

bool Session::read_trace_header(std::string_view name, std::string_view value) noexcept {
  if (name.size() == kRequestIdHeader.size() && iequals(name, kRequestIdHeader)) {
    if (request_id_in_.empty()) request_id_in_ = value;
  } else if (name.size() == kTraceparentHeader.size() && iequals(name, kTraceparentHeader)) {
    if (traceparent_in_.empty()) traceparent_in_ = value;
  } else if (name.size() == kTracestateHeader.size() && iequals(name, kTracestateHeader)) {
    if (tracestate_in_.empty()) tracestate_in_ = value;
  } else {
    return false;
  }
  return true;
}

void Session::start_trace() {
  const std::string_view method = http::to_string(request_->method());
  std::copy_n(method.data(), std::min(method.size(), record_.method.size()), record_.method.data());
  record_.path.assign(target_);
  if (telemetry::sane_request_id(request_id_in_)) {
    record_.request_id.assign(request_id_in_);
  } else {
    telemetry::format_request_id(worker_.ids(), record_.request_id);
  }
  // A valid traceparent is continued (with its tracestate); anything else starts a new trace
  // and neither header goes on as it came.
  const auto parent = telemetry::parse_traceparent(traceparent_in_);
  trace_continued_ = parent.has_value() && telemetry::valid_tracestate(tracestate_in_);
  record_.trace = telemetry::start_trace(trace_continued_ ? parent : std::nullopt,
                                         worker_.config().tracing.sample_ratio, worker_.ids());
}

const telemetry::FixedText<32>& Session::request_id() {
  // A request refused before its head was whole (400, 408, 431) still gets an id.
  if (record_.request_id.empty()) telemetry::format_request_id(worker_.ids(), record_.request_id);
  return record_.request_id;
}

void Session::append_trace_headers(std::string& head) {
  head += "x-request-id: ";
  head += request_id().view();
  head += "\r\ntraceparent: ";
  // The server's parent is the gateway's upstream span, a child of its request span.
  telemetry::TraceIds upstream = record_.trace;
  upstream.span_id = telemetry::child_span_id(record_.trace, telemetry::SpanRole::upstream);
  std::array<char, 55> traceparent;
  telemetry::format_traceparent(upstream, traceparent);
  head.append(traceparent.data(), traceparent.size());
  head += "\r\n";
  if (trace_continued_ && !tracestate_in_.empty()) {
    head += "tracestate: ";
    head += tracestate_in_;
    head += "\r\n";
  }
}

void Session::append_request_id(std::string& head) {
  head += "x-request-id: ";
  head += request_id().view();
  head += "\r\n";
}

void Session::note_status(unsigned status) noexcept {
  record_.status = static_cast<std::uint16_t>(status);
  if (record_.first_byte_us < 0) record_.first_byte_us = record_now();
}

void Session::note_first_body_byte() noexcept {
  // A stream's first event carries the first token: the time a user waits for.
  if (!first_body_byte_) {
    first_body_byte_ = true;
    record_.first_byte_us = record_now();
  }
}

void Session::note_reason(ErrorKind kind) noexcept {
  if (record_.reason.empty()) record_.reason.assign(describe(kind).reason);
}

void Session::note_attempt(const Decision& decision, const Endpoint& endpoint) noexcept {
  if (record_.upstream_start_us >= 0 && record_.retries < 255) ++record_.retries;
  record_.upstream_start_us = record_now();
  record_.endpoint.assign(endpoint.name);
  if (decision.target && decision.target->pool) record_.pool.assign(decision.target->pool->name);
  record_.model_forwarded.assign(decision.rewrite() ? std::string_view(decision.target->served_model)
                                                    : std::string_view(decision.model->name));
}

void Session::finish_record() {
  if (!record_started_) return;
  record_started_ = false;
  first_body_byte_ = false;
  record_.end_us = record_now();
  record_.client_aborted = client_gone_;
  if (key_) {
    record_.team.assign(key_->team);
    record_.key.assign(key_->name);
  }
  const unsigned worker = worker_.index();
  if (telemetry::AccessLog* log = worker_.access_log()) log->submit(worker, record_);
  if (telemetry::SpanExporter* tracer = worker_.tracer(); tracer && record_.trace.sampled) {
    tracer->submit(worker, record_);
  }
}

}  // namespace infergate::proxy
