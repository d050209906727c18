// End-to-end: the official `openai` npm SDK against infergate in front of infergate-sim.
// A real client proves the wire format: response shapes the SDK parses, SSE the SDK streams, and
// errors surfacing as the SDK's typed exceptions (NotFoundError, BadRequestError).
//
// Binaries come from the environment (meson sets them): INFERGATE_SIM_BIN, INFERGATE_BIN.
// Both bind port 0 and print `listening HOST:PORT` (the gateway also `admin HOST:PORT`).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI, { toFile } from 'openai';
import { startProcess, stopProcess } from './processes.mjs';

const SIM_BIN = process.env.INFERGATE_SIM_BIN ?? 'build/src/sim/infergate-sim';
const GATEWAY_BIN = process.env.INFERGATE_BIN ?? 'build/src/app/infergate';
const BASE_MODEL = 'Qwen/Qwen3-0.6B';
const ALIAS = 'support-bot';      // served as the LoRA adapter below on the same pool
const ADAPTER = 'support-lora';

describe('infergate with the official openai SDK', () => {
  let sim;
  let gateway;
  let client;
  let tmp;
  let simPorts;

  before(async () => {
    // Small modelled latencies: streams have one event per token without making the test slow.
    sim = await startProcess([SIM_BIN, '--host', '127.0.0.1', '--port', '0', '--instances', '2',
      '--model', BASE_MODEL, '--lora-modules', ADAPTER, '--itl-ms', '2',
      '--prefill-overhead-ms', '1', '--prefill-per-token-us', '0', '--lora-load-ms', '1'], 2);
    simPorts = sim.listening;
    tmp = mkdtempSync(path.join(tmpdir(), 'infergate-e2e-'));
    const config = path.join(tmp, 'gateway.yaml');
    writeFileSync(config, [
      'listen: 127.0.0.1:0',
      'admin: 127.0.0.1:0',
      'workers: 1',
      'pools:',
      `  - {name: qwen, endpoints: [${simPorts.join(', ')}]}`,
      'models:',
      `  - {name: ${BASE_MODEL}, targets: [{pool: qwen}]}`,
      `  - {name: ${ALIAS}, targets: [{pool: qwen, model: ${ADAPTER}}]}`,
      '',
    ].join('\n'));
    gateway = await startProcess([GATEWAY_BIN, '--config', config, '--listen', '127.0.0.1:0',
      '--admin', '127.0.0.1:0', '--workers', '1'], 2);
    client = new OpenAI({
      baseURL: `http://${gateway.listening[0]}/v1`,
      apiKey: 'x',
      maxRetries: 0,   // a retry would hide a gateway error
      timeout: 10_000,
    });
  });

  after(() => {
    stopProcess(gateway);
    stopProcess(sim);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('chat.completions.create, not streaming', async () => {
    const { data, response } = await client.chat.completions.create({
      model: BASE_MODEL,
      messages: [{ role: 'user', content: 'Hello!' }],
      max_tokens: 4,
    }).withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, BASE_MODEL);
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.ok(data.choices[0].message.content.length > 0);
    assert.equal(data.choices[0].finish_reason, 'length');
    assert.equal(data.usage.completion_tokens, 4);
    // The gateway names the endpoint that served the request: one of the pool's.
    assert.ok(simPorts.includes(response.headers.get('x-gateway-destination-endpoint-served')),
      `x-gateway-destination-endpoint-served: ${response.headers.get('x-gateway-destination-endpoint-served')}`);
  });

  test('chat.completions.create, streaming: one chunk per token, last finish_reason', async () => {
    const stream = await client.chat.completions.create({
      model: BASE_MODEL,
      messages: [{ role: 'user', content: 'Count to six.' }],
      max_tokens: 6,
      stream: true,
    });
    let chunks = 0;
    let contentChunks = 0;
    let text = '';
    let lastFinish = null;
    for await (const chunk of stream) {
      chunks += 1;
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.model, BASE_MODEL);
      const choice = chunk.choices[0];
      if (!choice) continue;
      if (choice.delta?.content) {
        contentChunks += 1;
        text += choice.delta.content;
      }
      if (choice.finish_reason) lastFinish = choice.finish_reason;
    }
    assert.equal(contentChunks, 6, `chunks ${chunks}, text ${JSON.stringify(text)}`);
    assert.ok(chunks >= contentChunks);
    assert.equal(lastFinish, 'length');
  });

  test('completions.create (legacy text completions)', async () => {
    const completion = await client.completions.create({
      model: BASE_MODEL,
      prompt: 'Once upon a time',
      max_tokens: 3,
    });
    assert.equal(completion.object, 'text_completion');
    assert.equal(completion.model, BASE_MODEL);
    assert.ok(completion.choices[0].text.length > 0);
    assert.equal(completion.choices[0].finish_reason, 'length');
  });

  test('embeddings.create is routed too', async () => {
    const res = await client.embeddings.create({ model: BASE_MODEL, input: ['a', 'b'] });
    assert.equal(res.data.length, 2);
    assert.ok(res.data[0].embedding.length > 0);
  });

  test('models.list contains every configured model; models.retrieve one', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes(BASE_MODEL), `models: ${ids}`);
    assert.ok(ids.includes(ALIAS), `models: ${ids}`);
    const one = await client.models.retrieve(ALIAS);
    assert.equal(one.id, ALIAS);
    assert.equal(one.owned_by, 'qwen');
  });

  test('audio.transcriptions.create: the SDK\'s form is routed by its model field', async () => {
    // The alias reaches the simulator as the adapter it names (else it would answer 404), and
    // the file's bytes, which hold the form's own delimiter prefix, pass untouched.
    const audio = Buffer.concat([Buffer.from('RIFF'), Buffer.from('\r\n--', 'latin1'),
      Buffer.alloc(4096, 0xff)]);
    const file = await toFile(audio, 'hello.wav', { type: 'audio/wav' });
    const res = await client.audio.transcriptions.create({ file, model: ALIAS, language: 'en' });
    assert.equal(res.text, 'fast reply');
    await assert.rejects(
      client.audio.transcriptions.create({ file: await toFile(audio, 'a.wav'), model: 'no-such-model' }),
      (err) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found');
  });

  test('an alias is rewritten to its served model name', async () => {
    const res = await client.chat.completions.create({
      model: ALIAS,
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 2,
    });
    // The simulator echoes the model it served: the adapter, not the alias the client asked for.
    assert.equal(res.model, ADAPTER);
  });

  test('an unknown model rejects with NotFoundError (404, model_not_found)', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model: 'no-such-model',
        messages: [{ role: 'user', content: 'Hi' }],
      }),
      (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 404);
        assert.equal(err.code, 'model_not_found');
        assert.ok(err.error?.message?.length > 0);
        return true;
      });
  });

  test('a non-string model rejects with BadRequestError (400)', async () => {
    // The SDK's types forbid this body, so it goes through the SDK's raw post().
    await assert.rejects(
      client.post('/chat/completions', {
        body: { model: 123, messages: [{ role: 'user', content: 'Hi' }] },
      }),
      (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 400);
        return true;
      });
  });

  test('a body that is not JSON rejects with BadRequestError (400)', async () => {
    const res = await fetch(`http://${gateway.listening[0]}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
      body: '{"model": "Qwen/Qwen3-0.6B", "messages": [',
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(typeof body.error?.message, 'string');
  });
});
