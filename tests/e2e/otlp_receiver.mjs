// A stand-in OpenTelemetry Collector for the tests: POST /v1/traces on 127.0.0.1 (port chosen by
// the OS), each body decoded with the official OTLP protobuf definitions that
// @opentelemetry/otlp-transformer ships (the same generated code its exporters encode with).
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');
const { ExportTraceServiceRequest, ExportTraceServiceResponse } = root.opentelemetry.proto.collector.trace.v1;

const hex = (bytes) => Buffer.from(bytes ?? []).toString('hex');

function anyValue(v) {
  if (v.stringValue !== undefined && v.stringValue !== null && v.stringValue !== '') return v.stringValue;
  if (v.intValue !== undefined && v.intValue !== null) return Number(v.intValue);
  if (v.doubleValue !== undefined && v.doubleValue !== null) return v.doubleValue;
  if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
  return v.stringValue;
}

const attributes = (list) => Object.fromEntries((list ?? []).map((kv) => [kv.key, anyValue(kv.value ?? {})]));

// Starts the receiver; resolves to { url, spans(), requests(), close() }. Spans are flattened:
// { traceId, spanId, parentSpanId (hex, '' when none), name, kind, start, end (ns as BigInt),
//   attributes, status, resource }.
export function startReceiver() {
  const spans = [];
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' ||
          req.headers['content-type'] !== 'application/x-protobuf') {
        res.writeHead(400).end();
        return;
      }
      requests += 1;
      const message = ExportTraceServiceRequest.decode(Buffer.concat(chunks));
      for (const rs of message.resourceSpans) {
        const resource = attributes(rs.resource?.attributes);
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({
              traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId),
              name: s.name, kind: s.kind, start: BigInt(s.startTimeUnixNano.toString()),
              end: BigInt(s.endTimeUnixNano.toString()), attributes: attributes(s.attributes),
              status: s.status ?? null, resource, scope: ss.scope?.name,
            });
          }
        }
      }
      const body = ExportTraceServiceResponse.encode({}).finish();
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': body.length });
      res.end(body);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}/v1/traces`,
        spans: () => spans,
        requests: () => requests,
        close: () => new Promise((done) => server.close(done)),
      });
    });
  });
}
