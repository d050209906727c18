// What one request did, as the access log and the tracer see it. A session fills one record as
// the request goes and hands it over once, when the response ended (or was refused). The record
// is plain data of fixed size: copying it into a ring costs a memcpy, no allocation, and the
// writer threads format it later, off the request path.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace infergate::telemetry {

// A short text kept inline; longer input is cut at N bytes (and marked, for the log).
template <std::size_t N>
struct FixedText {
  static_assert(N < 256);
  char data[N];
  std::uint8_t size = 0;
  bool truncated = false;

  void assign(std::string_view text) noexcept {
    size = static_cast<std::uint8_t>(std::min(text.size(), N));
    truncated = text.size() > N;
    std::memcpy(data, text.data(), size);
  }
  std::string_view view() const noexcept { return {data, size}; }
  bool empty() const noexcept { return size == 0; }
};

// W3C trace context of one request: the trace it belongs to, the gateway's span in it and the
// caller's span (zero when the gateway started the trace).
struct TraceIds {
  std::array<std::uint8_t, 16> trace_id{};
  std::array<std::uint8_t, 8> span_id{};         // the gateway's span: the parent toward the server
  std::array<std::uint8_t, 8> parent_span_id{};  // the caller's span; all zero: a new trace
  bool sampled = false;                          // trace-flags bit 0, as sent to the server
  bool has_parent() const noexcept {
    return std::any_of(parent_span_id.begin(), parent_span_id.end(), [](auto b) { return b; });
  }
};

struct RequestRecord {
  // Wall-clock start (Unix microseconds); every other time is microseconds after it, -1 when
  // the request never reached that point.
  std::int64_t start_unix_us = 0;
  std::int32_t queue_start_us = -1, queue_end_us = -1;  // in its pool's wait queue
  std::int32_t upstream_start_us = -1;  // the (last) attempt: connect or lease
  std::int32_t first_byte_us = -1;      // the first response byte written to the client
  std::int32_t end_us = 0;              // the response's last byte (or the refusal) was written

  FixedText<32> request_id;  // as received when sane, else generated (32 hex digits)
  TraceIds trace;
  std::array<char, 8> method{};  // NUL-padded, e.g. "POST"
  FixedText<160> path;           // the request target as received
  FixedText<46> client;          // the peer's IP address
  FixedText<48> team;            // the key's team, when auth: is on
  FixedText<48> key;             // the key's name, when auth: is on
  FixedText<96> model;           // the model the client asked for
  FixedText<96> model_forwarded; // the model name sent to the server (after a rewrite)
  FixedText<64> pool;
  FixedText<64> endpoint;        // host:port of the (last) endpoint tried
  FixedText<32> reason;          // refusal or error code (e.g. "model_not_found"); empty: none
  std::uint16_t status = 0;      // the status the client received; 0: none (client left first)
  std::uint8_t retries = 0;      // attempts after the first
  bool stream = false;           // the client asked for a streamed response
  bool client_aborted = false;   // the client closed before the response ended
  std::uint64_t bytes_in = 0;    // request head + body, as read from the client
  std::uint64_t bytes_out = 0;   // response head + body, as written to the client
  std::int64_t input_tokens = -1, output_tokens = -1;  // from the response's usage; -1: unknown

  std::string_view method_view() const noexcept {
    return {method.data(), static_cast<std::size_t>(std::find(method.begin(), method.end(), '\0') -
                                                    method.begin())};
  }
  bool failed() const noexcept { return status >= 400 || status == 0 || client_aborted; }
};

}  // namespace infergate::telemetry
