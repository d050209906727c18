// End-to-end: the official `openai` npm SDK straight against infergate-sim. A real client proves
// the simulator's wire format: response shapes the SDK parses, SSE the SDK streams (usage
// included), the model list, and a vLLM 404 surfacing as the SDK's NotFoundError.
//
// The binary comes from the environment (meson sets it): INFERGATE_SIM_BIN. It binds port 0 and
// prints `listening HOST:PORT` once bound.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import OpenAI from 'openai';

const SIM_BIN = process.env.INFERGATE_SIM_BIN ?? 'build/src/sim/infergate-sim';
const START_TIMEOUT_MS = 20_000;
const MODEL = 'Qwen/Qwen3-0.6B';
const ADAPTER = 'support-lora';

// Starts the simulator and resolves with the child and its `host:port` once it is listening.
function startSim(args) {
  const child = spawn(SIM_BIN, ['--host', '127.0.0.1', '--port', '0', ...args],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`infergate-sim not ready in ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    const onExit = (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`infergate-sim exited early (${code ?? sig}): ${stderr}`));
    };
    child.once('exit', onExit);
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /^listening (\S+)$/m.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve({ child, addr: m[1] });
      }
    });
  });
}

describe('openai SDK against infergate-sim', () => {
  let sim;
  let client;

  before(async () => {
    sim = await startSim(['--model', MODEL, '--lora-modules', ADAPTER, '--itl-ms', '2',
                          '--prefill-overhead-ms', '2', '--jitter', '0', '--seed', '7']);
    client = new OpenAI({ apiKey: 'unused', baseURL: `http://${sim.addr}/v1`, maxRetries: 0, timeout: 10_000 });
  });

  after(() => {
    if (sim && sim.child.exitCode === null) sim.child.kill('SIGTERM');
  });

  test('chat.completions.create, not streaming', async () => {
    const r = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 6,
    });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.model, MODEL);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 6);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 6);
    assert.equal(r.choices[0].message.content.trim().split(/\s+/).length, 6);
  });

  test('chat.completions.create, streaming with usage', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'Stream please' }], max_tokens: 5,
      stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let finish = null;
    let usage = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        text += c.delta.content ?? '';
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    assert.equal(chunks, 1 + 5 + 1);  // role, five tokens, usage
    assert.equal(finish, 'length');
    assert.equal(usage.completion_tokens, 5);
    assert.equal(text.trim().split(/\s+/).length, 5);
  });

  test('the same prompt gives the same text (seeded)', async () => {
    const ask = () => client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'Same question' }], max_tokens: 8,
    });
    const [a, b] = await Promise.all([ask(), ask()]);
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  });

  test('completions.create, streaming and not', async () => {
    const r = await client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 4 });
    assert.equal(r.object, 'text_completion');
    assert.equal(r.usage.completion_tokens, 4);
    assert.equal(r.choices[0].text.trim().split(/\s+/).length, 4);
    const stream = await client.completions.create({
      model: MODEL, prompt: 'Once upon a time', max_tokens: 4, stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    assert.equal(text, r.choices[0].text);
  });

  test('a LoRA adapter is a model name', async () => {
    const r = await client.chat.completions.create({
      model: ADAPTER, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2,
    });
    assert.equal(r.model, ADAPTER);
  });

  test('models.list shows the base model and the adapter with its parent', async () => {
    const ids = [];
    const byId = {};
    for await (const m of client.models.list()) {
      ids.push(m.id);
      byId[m.id] = m;
    }
    assert.deepEqual(ids, [MODEL, ADAPTER]);
    assert.equal(byId[ADAPTER].parent, MODEL);
    assert.equal(byId[MODEL].owned_by, 'vllm');
  });

  test('embeddings.create returns unit vectors', async () => {
    const r = await client.embeddings.create({ model: MODEL, input: ['a', 'b'], encoding_format: 'float' });
    assert.equal(r.data.length, 2);
    const norm = Math.hypot(...r.data[0].embedding);
    assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
  });

  test('an unknown model is a NotFoundError', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}`);
        assert.equal(err.status, 404);
        assert.match(err.message, /does not exist/);
        return true;
      });
  });

  test('a bad request is a BadRequestError', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 0 }),
      (err) => err instanceof OpenAI.BadRequestError && err.status === 400);
  });
});
