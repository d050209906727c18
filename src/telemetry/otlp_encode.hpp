// RequestRecords as one OTLP ExportTraceServiceRequest in protobuf's binary wire format (what
// an OpenTelemetry Collector takes on /v1/traces with content type application/x-protobuf).
// Field numbers are those of opentelemetry-proto's trace, common and resource .proto files;
// the encoding is small enough (varints, fixed64, length-delimited) not to need libprotobuf.
//
// Each record becomes up to three spans of one trace:
//   SERVER "<METHOD> <path>"  the request as the client saw it (span_id; parent: the caller's)
//   INTERNAL "queue"          its wait in the pool's queue, when it waited
//   CLIENT "upstream"         the (last) attempt toward the model server; its id is what the
//                             server received as parent in traceparent (upstream_span_id()).
// Attributes follow the OpenTelemetry HTTP and GenAI semantic conventions where they apply.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "telemetry/request_record.hpp"

namespace infergate::telemetry {

struct OtlpResource {
  std::string service_name;
  std::string instance_id;  // service.instance.id: host and pid
};

// Appends the request body for `records` to `out` (cleared first).
void encode_otlp_traces(std::span<const RequestRecord> records, const OtlpResource& resource,
                        std::string& out);

}  // namespace infergate::telemetry
