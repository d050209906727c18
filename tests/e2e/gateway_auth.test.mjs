// End-to-end: API keys, per-key limits and token accounting seen by the official `openai` SDK.
// The SDK must raise AuthenticationError for a missing or unknown key, NotFoundError for a model
// the key may not use (so names don't leak), and retry a 429 by its Retry-After.
//
// Binaries come from the environment (meson sets them): INFERGATE_SIM_BIN, INFERGATE_BIN.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { startProcess, stopProcess } from './processes.mjs';

const SIM_BIN = process.env.INFERGATE_SIM_BIN ?? 'build/src/sim/infergate-sim';
const GATEWAY_BIN = process.env.INFERGATE_BIN ?? 'build/src/app/infergate';
const BASE_MODEL = 'Qwen/Qwen3-0.6B';
const ALIAS = 'support-bot';
const ADAPTER = 'support-lora';
const RESEARCH_KEY = 'sk-research-0123456789';
const SUPPORT_KEY = 'sk-support-0123456789';   // configured as its SHA-256 only
const BATCH_KEY = 'sk-batch-0123456789';       // one request per 3 s window
const LIMIT_WINDOW_S = 3;

async function metricsText(gateway) {
  const res = await fetch(`http://${gateway.admin}/metrics`);
  return res.text();
}

// The sum of every sample of `name` whose label text contains each of `labels` (`k="v"`).
function sample(text, name, ...labels) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (labels.every((l) => line.includes(l))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('API keys, limits and usage with the official openai SDK', () => {
  let sim;
  let gateway;
  let tmp;
  const client = (apiKey, options = {}) => new OpenAI({
    baseURL: `http://${gateway.listening[0]}/v1`, apiKey, maxRetries: 0, timeout: 20_000, ...options,
  });

  before(async () => {
    sim = await startProcess([SIM_BIN, '--host', '127.0.0.1', '--port', '0', '--instances', '1',
      '--model', BASE_MODEL, '--lora-modules', ADAPTER, '--itl-ms', '1',
      '--prefill-overhead-ms', '1', '--prefill-per-token-us', '0', '--lora-load-ms', '1'], 1);
    tmp = mkdtempSync(path.join(tmpdir(), 'infergate-e2e-auth-'));
    const supportDigest = createHash('sha256').update(SUPPORT_KEY).digest('hex');
    const config = path.join(tmp, 'gateway.yaml');
    writeFileSync(config, [
      'workers: 1',
      'pools:',
      `  - {name: qwen, endpoints: [${sim.listening[0]}]}`,
      'models:',
      `  - {name: ${BASE_MODEL}, targets: [{pool: qwen}]}`,
      `  - {name: ${ALIAS}, targets: [{pool: qwen, model: ${ADAPTER}}]}`,
      'auth:',
      '  keys:',
      `    - {name: research-1, team: research, key: ${RESEARCH_KEY}}`,
      `    - {name: support-1, team: support, key: "sha256:${supportDigest}", models: ["support*"]}`,
      `    - {name: batch-1, team: batch, key: ${BATCH_KEY}, limits: {requests_per_minute: 1}}`,
      'limits:',
      `  window: ${LIMIT_WINDOW_S}s`,
      '',
    ].join('\n'));
    gateway = await startProcess([GATEWAY_BIN, '--config', config, '--listen', '127.0.0.1:0',
      '--admin', '127.0.0.1:0'], 2);
  });

  after(() => {
    stopProcess(gateway);
    stopProcess(sim);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const ask = (c, model = BASE_MODEL, extra = {}) => c.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 3, ...extra,
  });

  test('an unknown key, and no key, raise AuthenticationError (401 invalid_api_key)', async () => {
    for (const key of ['sk-not-a-key', RESEARCH_KEY + 'x']) {
      await assert.rejects(ask(client(key)), (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.code, 'invalid_api_key');
        return true;
      });
    }
    const res = await fetch(`http://${gateway.listening[0]}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: BASE_MODEL, messages: [] }),
    });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, 'invalid_api_key');
  });

  test('a known key works, by Authorization and by x-api-key', async () => {
    const res = await ask(client(RESEARCH_KEY));
    assert.equal(res.usage.completion_tokens, 3);
    const viaHeader = await fetch(`http://${gateway.listening[0]}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': RESEARCH_KEY },
      body: JSON.stringify({ model: BASE_MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }),
    });
    assert.equal(viaHeader.status, 200);
  });

  test('a key limited to support* sees only its models; others are NotFoundError', async () => {
    const c = client(SUPPORT_KEY);
    const ids = [];
    for await (const m of c.models.list()) ids.push(m.id);
    assert.deepEqual(ids, [ALIAS]);
    const served = await ask(c, ALIAS);
    assert.equal(served.model, ADAPTER);
    await assert.rejects(ask(c, BASE_MODEL), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.code, 'model_not_found');
      return true;
    });
    await assert.rejects(c.models.retrieve(BASE_MODEL), (err) => err instanceof OpenAI.NotFoundError);
  });

  test('over its limit: RateLimitError with Retry-After; the SDK retries after it and succeeds', async () => {
    const first = await ask(client(BATCH_KEY)).withResponse();
    assert.equal(first.response.headers.get('x-ratelimit-limit-requests'), '1');
    assert.equal(first.response.headers.get('x-ratelimit-remaining-requests'), '0');
    assert.ok(first.response.headers.get('x-ratelimit-reset-requests'));
    let retryAfter = 0;
    await assert.rejects(ask(client(BATCH_KEY)), (err) => {
      assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.code, 'rate_limit_exceeded');
      retryAfter = Number(err.headers.get('retry-after'));
      return true;
    });
    // The window counts 61 buckets of window/60 each, and Retry-After rounds up to seconds.
    assert.ok(retryAfter >= 1 && retryAfter <= LIMIT_WINDOW_S + 1, `retry-after ${retryAfter}`);
    const started = Date.now();
    const retried = await ask(client(BATCH_KEY, { maxRetries: 3 }));
    assert.equal(retried.usage.completion_tokens, 3);
    assert.ok(Date.now() - started >= 300, 'the SDK waited before its retry');
    const text = await metricsText(gateway);
    assert.ok(sample(text, 'infergate_team_rate_limited_total', 'team="batch"', 'limit="requests"') >= 2);
  });

  test('usage is counted per team, also for a stream that did not ask for it', async () => {
    const before = await metricsText(gateway);
    const stream = await client(RESEARCH_KEY).chat.completions.create({
      model: BASE_MODEL, messages: [{ role: 'user', content: 'Count.' }], max_tokens: 5, stream: true,
    });
    let content = 0;
    for await (const chunk of stream) {
      // The gateway asked the server for usage; the client, which did not, never sees it.
      assert.ok(!chunk.usage, `unexpected usage chunk ${JSON.stringify(chunk)}`);
      if (chunk.choices[0]?.delta?.content) content += 1;
    }
    assert.equal(content, 5);
    const after = await metricsText(gateway);
    const output = (t) => sample(t, 'infergate_team_tokens_total', 'team="research"', 'type="output"');
    assert.equal(output(after) - output(before), 5);
    const count = (t) => sample(t, 'inference_model_output_tokens_count', `model_name="${BASE_MODEL}"`);
    assert.equal(count(after) - count(before), 1);
  });
});
