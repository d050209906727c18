// The span exporter's HTTP side: POSTs OTLP batches to the collector's URL on one keep-alive
// connection, from the exporter's thread (its own small event loop). Connect, write and read
// together are bounded by tracing.timeout; a failure closes the connection (the next batch
// connects again) and is reported to the exporter, which counts it.
#pragma once

#include "infergate/config.hpp"
#include "telemetry/span_exporter.hpp"

namespace infergate::proxy {

// `config.endpoint` must have passed the config loader (parse_otlp_url).
telemetry::SpanExporter::Send make_otlp_sender(const TracingConfig& config);

}  // namespace infergate::proxy
