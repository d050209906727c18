// End-to-end: the admin listener's status page in a real browser (Debian's chromium, headless,
// driven by puppeteer-core). After known traffic the numbers the page shows must be the ones
// /debug/endpoints serves, the startup change must be listed, and a 400 px window must not
// scroll sideways. Screenshots are kept as artifacts.
//
// Environment (meson sets it): INFERGATE_BIN, INFERGATE_SIM_BIN, CHROMIUM_BIN (default
// /usr/bin/chromium), INFERGATE_ARTIFACT_DIR (default: the current directory).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { startProcess, stopProcess } from './processes.mjs';

const SIM_BIN = process.env.INFERGATE_SIM_BIN ?? 'build/src/sim/infergate-sim';
const GATEWAY_BIN = process.env.INFERGATE_BIN ?? 'build/src/app/infergate';
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const ARTIFACTS = process.env.INFERGATE_ARTIFACT_DIR ?? process.cwd();
const MODEL = 'Qwen/Qwen3-0.6B';
const STUCK = 'stuck-model';   // served by a simulator that never answers: stays in flight
const REQUESTS = 24;           // known traffic through the gateway
const WAIT_MS = 20_000;        // bound of every wait below

// Polls `probe` every 100 ms until it returns a truthy value; throws with `what` after WAIT_MS.
async function until(what, probe) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// The compared fields of every endpoint, keyed "pool/address", as /debug/endpoints has them.
function endpointFields(debug) {
  const out = {};
  for (const pool of debug.pools) {
    for (const e of pool.endpoints) {
      out[`${pool.name}/${e.name}`] = {
        in_flight: e.in_flight,
        waiting: e.scraped ? e.scraped.waiting : null,
        running: e.scraped ? e.scraped.running : null,
        kv_usage: e.scraped ? e.scraped.kv_usage : null,
        dispatched: e.dispatched_total,
      };
    }
  }
  return out;
}

// The same fields read from the page's data-value attributes.
function pageFields(page) {
  return page.evaluate(() => {
    const out = {};
    for (const card of document.querySelectorAll('[data-endpoint]')) {
      const v = (name) => JSON.parse(card.querySelector(`[data-field="${name}"]`).dataset.value ?? 'null');
      out[card.dataset.endpoint] = {
        in_flight: v('in_flight'), waiting: v('waiting'), running: v('running'),
        kv_usage: v('kv_usage'), dispatched: v('dispatched'),
      };
    }
    return out;
  });
}

describe('the status page in headless Chromium', () => {
  let sim, stuckSim, gateway, browser, page, tmp, base, admin, config;
  const held = new AbortController();   // the requests to the stuck pool, cancelled at the end

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      // A failure, not a skip: CI installs chromium (scripts/install-deps.sh --test).
      throw new Error(`chromium not found at ${CHROMIUM}: apt-get install chromium ` +
        '(scripts/install-deps.sh --test), or set CHROMIUM_BIN');
    }
    sim = await startProcess([SIM_BIN, '--port', '0', '--instances', '2', '--model', MODEL,
      '--itl-ms', '2', '--prefill-overhead-ms', '1', '--prefill-per-token-us', '0'], 2);
    stuckSim = await startProcess([SIM_BIN, '--port', '0', '--model', STUCK, '--hang-rate', '1'], 1);
    tmp = mkdtempSync(path.join(tmpdir(), 'infergate-status-'));
    config = path.join(tmp, 'gateway.yaml');
    writeFileSync(config, [
      'pools:',
      `  - {name: qwen, endpoints: [${sim.listening.join(', ')}], metrics: {flavour: vllm, interval: 100ms}}`,
      `  - {name: stuck, endpoints: [${stuckSim.listening[0]}], metrics: {flavour: vllm, interval: 100ms}}`,
      'models:',
      `  - {name: ${MODEL}, targets: [{pool: qwen}]}`,
      `  - {name: ${STUCK}, targets: [{pool: stuck}]}`,
      '',
    ].join('\n'));
    gateway = await startProcess([GATEWAY_BIN, '--config', config, '--listen', '127.0.0.1:0',
      '--admin', '127.0.0.1:0', '--workers', '1'], 2);
    base = `http://${gateway.listening[0]}`;
    admin = `http://${gateway.admin}`;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      // --no-sandbox: containers (and CI runners as root) have no user namespaces for it.
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    });
    page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.problems = problems;
  });

  after(async () => {
    held.abort();
    if (browser) await browser.close();
    stopProcess(gateway);
    stopProcess(sim);
    stopProcess(stuckSim);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const chat = (model, signal) => fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 }),
    signal,
  });
  const debugEndpoints = async () => (await fetch(`${admin}/debug/endpoints`)).json();
  const polls = () => page.evaluate(() => Number(document.body.dataset.polls ?? 0));

  test('serves one self-contained page with a strict policy', async () => {
    const res = await fetch(`${admin}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href="(?!data:)|https?:\/\/(?!www\.w3\.org)/,
      'nothing fetched from elsewhere');
  });

  test('after known traffic the page shows what /debug/endpoints says', async () => {
    // Known traffic, spread over a few seconds so that the plots have a shape.
    for (let i = 0; i < REQUESTS; i += 4) {
      const batch = await Promise.all([0, 1, 2, 3].map(() => chat(MODEL)));
      for (const r of batch) { assert.equal(r.status, 200); await r.arrayBuffer(); }
      await new Promise((r) => setTimeout(r, 250));
    }
    const missing = await chat('no-such-model');
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    // Two requests held in flight on the stuck pool (its server never answers).
    chat(STUCK, held.signal).catch(() => {});
    chat(STUCK, held.signal).catch(() => {});
    await until('the two stuck requests in flight', async () => {
      const d = await debugEndpoints();
      return d.pools.find((p) => p.name === 'stuck').endpoints[0].in_flight === 2 &&
        d.pools.every((p) => p.endpoints.every((e) => e.scraped !== null));
    });

    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(`${admin}/`, { waitUntil: 'load' });
    await until('the page to render', async () => (await polls()) > 0);

    // The API is read before and after a refresh that started after the first read; when the two
    // reads agree the page (fetched in between) must agree too. Scrapes move under us: retry.
    const matched = await until('the page to match /debug/endpoints', async () => {
      const before = endpointFields(await debugEndpoints());
      const seen = await polls();
      await until('two more refreshes', async () => (await polls()) >= seen + 2);
      const shown = await pageFields(page);
      const afterward = endpointFields(await debugEndpoints());
      if (JSON.stringify(before) !== JSON.stringify(afterward)) return null;
      return { api: afterward, shown };
    });
    assert.deepEqual(matched.shown, matched.api);
    const stuckKey = `stuck/${stuckSim.listening[0]}`;
    assert.equal(matched.shown[stuckKey].in_flight, 2);
    const sent = sim.listening.reduce((n, a) => n + matched.shown[`qwen/${a}`].dispatched, 0);
    assert.equal(sent, REQUESTS, 'requests sent to the qwen pool');

    // The gateway-wide totals come from the history sampler (one sample a second).
    const totals = await until('the totals to include the traffic', async () => {
      const t = await page.evaluate(() => ({
        requests: JSON.parse(document.querySelector('[data-field="requests_total"]').dataset.value ?? 'null'),
        errors: JSON.parse(document.querySelector('[data-field="errors_total"]').dataset.value ?? 'null'),
      }));
      return t.requests === REQUESTS + 1 ? t : null;   // + the 404
    });
    assert.ok(totals.errors >= 1, `errors ${totals.errors}`);
    const models = await page.$$eval('[data-model]', (n) => n.map((m) => m.dataset.model));
    assert.deepEqual(models.sort(), [MODEL, STUCK].sort());
    assert.deepEqual(page.problems, [], 'no script errors (CSP violations included)');

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
    const dark = path.join(ARTIFACTS, 'status-page-dark.png');
    await page.screenshot({ path: dark, fullPage: true });
    console.log(`screenshot: ${dark}`);
    await page.emulateMediaFeatures([]);
  });

  test('the changes list shows the startup entry', async () => {
    const changes = await (await fetch(`${admin}/debug/changes`)).json();
    assert.equal(changes.changes.at(-1).source, 'startup');
    assert.equal(changes.changes.at(-1).applied, true);
    const shown = await page.$$eval('#changes [data-change-source]',
      (n) => n.map((li) => [li.dataset.changeSource, li.dataset.applied]));
    assert.deepEqual(shown.at(-1), ['startup', 'true']);
  });

  test('a broken config file shows as refused, with file:line:field', async () => {
    const good = readFileSync(config, 'utf8');
    writeFileSync(config, good.replace('targets: [{pool: qwen}]', 'targets: [{pool: nowhere}]'));
    gateway.child.kill('SIGHUP');
    const banner = await until('the refused change on the page', () => page.evaluate(() => {
      const b = document.getElementById('last-change');
      return !b.hidden && b.classList.contains('refused') ? b.textContent : null;
    }));
    // The watcher sees the file change; the SIGHUP reloads it too (whichever comes first).
    assert.match(banner, /sighup|file/);
    assert.match(banner, /gateway\.yaml:\d+:\d+: .*nowhere/);
    writeFileSync(config, good);
    gateway.child.kill('SIGHUP');
    await until('the applied change on the page', () => page.evaluate(() =>
      document.querySelector('#changes [data-change-source]')?.dataset.applied === 'true'));
  });

  test('a 400 px window does not scroll sideways', async () => {
    await page.setViewport({ width: 400, height: 800 });
    await until('a refresh at 400 px', async () => (await polls()) > 0);
    const { scroll, width } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
    assert.ok(scroll <= width, `scrollWidth ${scroll} > window width ${width}`);
    const shot = path.join(ARTIFACTS, 'status-page-400px.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
  });

  test('a failed fetch shows "stale since", keeping the numbers', async () => {
    await page.setRequestInterception(true);
    page.on('request', (r) => (r.url().includes('/debug/') ? r.abort() : r.continue()));
    const chip = await until('the stale chip', async () => {
      const text = await page.$eval('#live', (n) => (n.dataset.state === 'stale' ? n.textContent : ''));
      return text || null;
    });
    assert.match(chip, /^stale since \d\d:\d\d:\d\d$/);
    const cards = await page.$$eval('[data-endpoint]', (n) => n.length);
    assert.equal(cards, 3, 'the last numbers stay on screen');
    await page.setRequestInterception(false);
  });
});
