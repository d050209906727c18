// Fuzz target: the W3C trace context headers a client sends (traceparent, tracestate) and its
// x-request-id. A traceparent we accept formats back with the caller's ids.
#include <cstdint>
#include <span>
#include <string>

#include "fuzz_input.hpp"
#include "telemetry/trace_context.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace infergate;
  using namespace infergate::telemetry;
  const std::string_view header = fuzz::text(data, size);
  (void)valid_tracestate(header);
  (void)sane_request_id(header);
  const auto parent = parse_traceparent(header);
  if (!parent) return 0;
  fuzz::check(header.size() >= 55);
  IdSource ids(1);
  TraceIds trace = start_trace(parent, 0.5, ids);
  trace.span_id = parent->parent_id;
  char out[55];
  format_traceparent(trace, std::span<char, 55>(out));
  // The version is always written as 00 and the flags as the sampled bit; the ids are the caller's.
  fuzz::check(std::string_view(out + 2, 51) == header.substr(2, 51));
  return 0;
}
