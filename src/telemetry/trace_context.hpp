// Request ids and W3C Trace Context (https://www.w3.org/TR/trace-context/) for the session: what
// to keep of the caller's headers, and the ids the gateway makes. No allocation, no system call.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "telemetry/request_record.hpp"

namespace infergate::telemetry {

// A per-worker id generator (xoshiro256**): fast, not for secrets; seeded once per worker.
class IdSource {
 public:
  explicit IdSource(std::uint64_t seed) noexcept;
  std::uint64_t next() noexcept;
  // Random bytes; 8- and 16-byte ids are never all zero (invalid in trace context).
  void fill(std::span<std::uint8_t> out) noexcept;

 private:
  std::array<std::uint64_t, 4> s_;
};

// The caller's traceparent, parsed.
struct ParentContext {
  std::array<std::uint8_t, 16> trace_id{};
  std::array<std::uint8_t, 8> parent_id{};
  std::uint8_t flags = 0;
};

// Version 00 exactly as specified (55 characters, lowercase hex, no all-zero ids); a later
// version is read by its first 55 characters when what follows starts with '-'; version ff is
// invalid.
std::optional<ParentContext> parse_traceparent(std::string_view header) noexcept;
// The list-member rules of tracestate, at most 32 members and 512 characters; empty is valid.
bool valid_tracestate(std::string_view header) noexcept;
// Continues `parent` with a new span id and its sampled flag, or starts a new trace sampled
// with probability `sample_ratio`.
TraceIds start_trace(const std::optional<ParentContext>& parent, double sample_ratio,
                     IdSource& ids) noexcept;
// "00-<trace id>-<span id>-<flags>" of `ids.span_id`.
void format_traceparent(const TraceIds& ids, std::span<char, 55> out) noexcept;

// The gateway's child spans of a request span (otlp_encode.hpp): ids derived from the request's
// span id, so no record carries them. The upstream one is the parent the server is sent.
enum class SpanRole : std::uint8_t { queue = 1, upstream = 2 };
std::array<std::uint8_t, 8> child_span_id(const TraceIds& ids, SpanRole role) noexcept;

// An x-request-id is kept when it is 1..128 characters of [A-Za-z0-9._:+/=-].
bool sane_request_id(std::string_view id) noexcept;
void format_request_id(IdSource& ids, FixedText<32>& out) noexcept;  // 128 random bits, hex

void hex(std::span<const std::uint8_t> bytes, char* out) noexcept;  // lowercase, 2 per byte

}  // namespace infergate::telemetry
