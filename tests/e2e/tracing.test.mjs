// End-to-end: a trace started by a real OpenTelemetry client (the official SDK's tracer and W3C
// propagator) goes through the official `openai` SDK and the gateway to a model server; the
// gateway continues it toward the server and exports its spans over OTLP/HTTP to a receiver that
// decodes them with the official OTLP definitions (otlp_receiver.mjs).
//
// Binaries come from the environment (meson sets them): INFERGATE_BIN.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { context, defaultTextMapSetter, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startProcess, stopProcess } from './processes.mjs';
import { startReceiver } from './otlp_receiver.mjs';

const GATEWAY_BIN = process.env.INFERGATE_BIN ?? 'build/src/app/infergate';
const MODEL = 'Qwen/Qwen3-0.6B';
const SERVED = 'qwen-served';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0([01])$/;

// A model server that answers every chat completion and remembers the headers it got.
function startModelServer() {
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      seen.push({ headers: req.headers, body: JSON.parse(body || '{}') });
      const reply = JSON.stringify({
        id: 'chatcmpl-1', object: 'chat.completion', created: 0, model: SERVED,
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) });
      res.end(reply);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: server.address().port, seen, close: () => new Promise((done) => server.close(done)),
  })));
}

async function until(predicate, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = predicate();
    if (value || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('traces through the gateway, exported over OTLP', () => {
  let upstream;
  let receiver;
  let gateway;
  let tmp;
  let client;
  const provider = new BasicTracerProvider();
  const clientSpans = new InMemorySpanExporter();
  provider.addSpanProcessor(new SimpleSpanProcessor(clientSpans));
  const tracer = provider.getTracer('e2e-client');
  const propagator = new W3CTraceContextPropagator();

  before(async () => {
    upstream = await startModelServer();
    receiver = await startReceiver();
    tmp = mkdtempSync(path.join(tmpdir(), 'infergate-tracing-'));
    const config = path.join(tmp, 'gateway.yaml');
    writeFileSync(config, [
      'workers: 1',
      'pools:',
      `  - {name: qwen, endpoints: ['127.0.0.1:${upstream.port}']}`,
      'models:',
      `  - {name: ${MODEL}, targets: [{pool: qwen, model: ${SERVED}}]}`,
      `tracing: {endpoint: '${receiver.url}', sample_ratio: 1, flush_interval: 50ms, service_name: gw-e2e}`,
      '',
    ].join('\n'));
    gateway = await startProcess([GATEWAY_BIN, '--config', config, '--listen', '127.0.0.1:0',
      '--admin', '127.0.0.1:0', '--log-level', 'warn'], 2);
    client = new OpenAI({ baseURL: `http://${gateway.listening[0]}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  after(async () => {
    stopProcess(gateway);
    await upstream?.close();
    await receiver?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('a client trace is continued to the server and the gateway spans join it', async () => {
    const span = tracer.startSpan('ask the model');
    const headers = {};
    propagator.inject(trace.setSpan(context.active(), span), headers, defaultTextMapSetter);
    const { data: completion, response } = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 3,
    }, { headers }).withResponse();
    span.end();
    assert.equal(completion.usage.completion_tokens, 3);
    const { traceId, spanId: clientSpanId } = span.spanContext();

    // The server saw the same trace, with the gateway's upstream span as its parent.
    const sent = upstream.seen.at(-1).headers;
    const m = TRACEPARENT.exec(sent.traceparent);
    assert.ok(m, sent.traceparent);
    assert.equal(m[1], traceId);
    assert.notEqual(m[2], clientSpanId);
    assert.equal(m[3], '1');
    assert.match(sent['x-request-id'], /^[0-9a-f]{32}$/);
    assert.equal(response.headers.get('x-request-id'), sent['x-request-id']);

    const ours = await until(() => {
      const spans = receiver.spans().filter((s) => s.traceId === traceId);
      return spans.length >= 2 ? spans : null;
    });
    assert.ok(ours, `spans received: ${JSON.stringify(receiver.spans().map((s) => s.name))}`);
    const server = ours.find((s) => s.kind === 2);  // SERVER
    const attempt = ours.find((s) => s.kind === 3);  // CLIENT
    assert.equal(server.parentSpanId, clientSpanId);
    assert.equal(server.name, 'POST /v1/chat/completions');
    assert.equal(attempt.parentSpanId, server.spanId);
    assert.equal(attempt.spanId, m[2]);  // what the model server was told is its parent
    assert.equal(server.attributes['gen_ai.request.model'], MODEL);
    assert.equal(server.attributes['gen_ai.response.model'], SERVED);
    assert.equal(server.attributes['gen_ai.usage.input_tokens'], 7);
    assert.equal(server.attributes['gen_ai.usage.output_tokens'], 3);
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.attributes['infergate.pool'], 'qwen');
    assert.equal(server.attributes['infergate.request_id'], sent['x-request-id']);
    assert.equal(attempt.attributes['server.address'], '127.0.0.1');
    assert.equal(attempt.attributes['server.port'], upstream.port);
    assert.ok(server.attributes['infergate.time_to_first_token_ms'] >= 0);
    assert.ok(server.start <= attempt.start && attempt.end <= server.end);
    assert.equal(server.resource['service.name'], 'gw-e2e');
  });

  test('an invalid traceparent is replaced by a new trace, exported too', async () => {
    const bad = '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01';
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] },
      { headers: { traceparent: bad, tracestate: 'v=1', 'x-request-id': 'e2e-bad-trace' } });
    const sent = upstream.seen.at(-1).headers;
    const m = TRACEPARENT.exec(sent.traceparent);
    assert.ok(m);
    assert.notEqual(m[1], '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(sent.tracestate, undefined);
    assert.equal(sent['x-request-id'], 'e2e-bad-trace');
    const root = await until(() => receiver.spans().find((s) => s.traceId === m[1] && s.kind === 2));
    assert.ok(root);
    assert.equal(root.parentSpanId, '');
    assert.equal(root.attributes['infergate.request_id'], 'e2e-bad-trace');
  });

  test('a collector that is down costs dropped spans, not requests', async () => {
    await receiver.close();
    for (let i = 0; i < 5; i += 1) {
      const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] });
      assert.equal(r.usage.total_tokens, 10);
    }
    const text = async () => (await fetch(`http://${gateway.admin}/metrics`)).text();
    let metrics = '';
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      metrics = await text();
      if (/infergate_tracing_spans_dropped_total\{reason="export_failed"\} [1-9]/.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(metrics, /infergate_tracing_spans_dropped_total\{reason="export_failed"\} [1-9]/);
  });
});
