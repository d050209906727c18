// The status page's script: polls the admin listener's JSON (same origin) and redraws in place.
// No library: a few DOM helpers and SVG sparklines. Every number the page shows also sits raw in
// a data-value attribute, next to a stable data-field name, so tests (and scrapers) can read it.
'use strict';

const POLL_MS = 1000;          // endpoints, models, changes
const FETCH_TIMEOUT_MS = 3000;
const RATE_WINDOW_S = 10;      // the headline rates: over the last ten seconds of samples

const state = { lastOk: null, polls: 0 };  // polls: refreshes rendered (tests wait on it)

// ---- small helpers -------------------------------------------------------------------------

// el('div', {class: 'x', 'data-field': 'y'}, child, 'text', ...)
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

function fmt(v, digits = 0) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toLocaleString([], { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function fmtAge(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60000)} min`;
}

// Writes a value into an element: its text for people, data-value for machines.
function put(node, raw, text) {
  node.dataset.value = raw === null || raw === undefined ? 'null' : String(raw);
  if (node.textContent !== text) node.textContent = text;
}

function field(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

async function getJson(path) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
  try {
    const res = await fetch(path, { cache: 'no-store', signal: ctl.signal });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return await res.json();
  } finally {
    clearTimeout(timer);
  }
}

// ---- rates from the history columns ----------------------------------------------------------

// Per-second rate of a running total over the last `window` seconds (null with < 2 samples).
function recentRate(times, totals, window) {
  let last = totals.length - 1;
  while (last >= 0 && totals[last] === null) last--;
  if (last < 1) return null;
  let first = last;
  while (first > 0 && totals[first - 1] !== null && times[last] - times[first - 1] <= window * 1000) first--;
  if (first === last) first = last - 1;
  if (totals[first] === null) return null;
  const dt = (times[last] - times[first]) / 1000;
  return dt > 0 ? Math.max(0, totals[last] - totals[first]) / dt : null;
}

// The per-sample rate series of a running total (null where a neighbour is missing).
function rateSeries(times, totals) {
  const out = [null];
  for (let i = 1; i < totals.length; i++) {
    const dt = (times[i] - times[i - 1]) / 1000;
    const ok = totals[i] !== null && totals[i - 1] !== null && dt > 0;
    out.push(ok ? Math.max(0, totals[i] - totals[i - 1]) / dt : null);
  }
  return out;
}

// ---- sparklines ------------------------------------------------------------------------------

// Draws `values` (oldest first; null = gap) into a fixed window of `capacity` slots, right
// aligned, so the plot scrolls left as samples arrive. The y scale starts at 0.
function drawPlot(plot, values, capacity, digits) {
  const W = 300, H = 40;
  const box = plot.querySelector('svg');
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  const max = Math.max(1e-9, ...finite);
  const peak = finite.length ? Math.max(...finite) : null;
  put(field(plot, 'peak'), peak, peak === null ? '' : `max ${fmt(peak, digits)}`);
  const x = (i) => ((capacity - values.length + i) / Math.max(1, capacity - 1)) * W;
  const y = (v) => H - 1 - (v / max) * (H - 4);
  // One path per unbroken run of values.
  let line = '', area = '';
  let run = [];
  const flush = () => {
    if (run.length === 0) return;
    const pts = run.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    line += `M${pts.join('L')}`;
    area += `M${x(run[0][0]).toFixed(1)},${H}L${pts.join('L')}L${x(run[run.length - 1][0]).toFixed(1)},${H}Z`;
    run = [];
  };
  values.forEach((v, i) => (v === null || !Number.isFinite(v) ? flush() : run.push([i, v])));
  flush();
  box.querySelector('.line').setAttribute('d', line);
  box.querySelector('.area').setAttribute('d', area);
}

function makePlot(name, caption) {
  const box = svg('svg', { viewBox: '0 0 300 40', preserveAspectRatio: 'none', role: 'img',
                           'aria-label': caption });
  box.append(svg('line', { class: 'base', x1: 0, y1: 39.5, x2: 300, y2: 39.5 }),
             svg('path', { class: 'area' }), svg('path', { class: 'line' }));
  return el('div', { class: 'plot', 'data-plot': name },
    el('div', { class: 'caption' }, el('span', {}, caption), el('span', { 'data-field': 'peak' })),
    box);
}

// ---- endpoints -------------------------------------------------------------------------------

const cards = new Map();   // "pool/address" -> card element
const poolBoxes = new Map(); // pool name -> section element

function metric(name, label) {
  return el('div', {}, el('dt', {}, label), el('dd', { 'data-field': name }, '–'));
}

function makeCard(key, address) {
  const card = el('article', { class: 'card', 'data-endpoint': key },
    el('div', { class: 'card-head' },
      el('span', { class: 'dot', 'data-field': 'health' }),
      el('span', { class: 'address' }, address),
      el('span', { class: 'health', 'data-field': 'health_text' })),
    el('dl', { class: 'metrics' },
      metric('waiting', 'Queue'), metric('running', 'Running'), metric('kv_usage', 'KV cache'),
      metric('in_flight', 'In flight'), metric('rate', 'Req/s'), metric('dispatched', 'Sent')),
    el('div', { class: 'scrape', 'data-field': 'scrape_age' }),
    el('div', { class: 'plots' }, makePlot('rate', 'req/s'), makePlot('waiting', 'queue')));
  return card;
}

function poolBox(name) {
  let box = poolBoxes.get(name);
  if (!box) {
    box = el('section', { class: 'pool', id: `pool-${name}`, 'data-pool': name },
      el('h3', {}, name), el('div', { class: 'endpoints' }));
    poolBoxes.set(name, box);
  }
  return box;
}

function renderEndpoint(card, e) {
  const s = e.scraped;  // null until the first successful scrape
  const up = e.health.available;
  const dot = field(card, 'health');
  dot.dataset.health = up ? 'up' : 'down';
  put(dot, up, '');
  let why = up ? 'healthy' : 'unavailable';
  if (e.health.ejected_for_ms > 0) why = `ejected ${fmtAge(e.health.ejected_for_ms)}`;
  else if (e.health.scrape_failures > 0) why = `${e.health.scrape_failures} scrape failures`;
  put(field(card, 'health_text'), why, why);
  const v = (x) => (s ? x : null);
  put(field(card, 'waiting'), v(s?.waiting), fmt(v(s?.waiting), 1));
  put(field(card, 'running'), v(s?.running), fmt(v(s?.running), 1));
  const kv = v(s?.kv_usage);
  put(field(card, 'kv_usage'), kv, kv === null || kv === undefined ? '–' : `${fmt(kv * 100, 1)} %`);
  put(field(card, 'in_flight'), e.in_flight, fmt(e.in_flight));
  put(field(card, 'dispatched'), e.dispatched_total, fmt(e.dispatched_total));
  const age = field(card, 'scrape_age');
  age.classList.toggle('stale', !s || s.stale);
  put(age, s ? s.age_ms : null, s ? `scraped ${fmtAge(s.age_ms)} ago${s.stale ? ' (stale)' : ''}`
                                  : 'not scraped yet');
}

function renderEndpoints(data) {
  const seen = new Set();
  const root = document.getElementById('pools');
  const order = [];
  let total = 0, inFlight = 0, upCount = 0;
  for (const pool of data.pools) {
    const box = poolBox(pool.name);
    order.push(box);
    const list = box.querySelector('.endpoints');
    const wanted = [];
    for (const e of pool.endpoints) {
      const key = `${pool.name}/${e.name}`;
      seen.add(key);
      let card = cards.get(key);
      if (!card) { card = makeCard(key, e.name); cards.set(key, card); }
      renderEndpoint(card, e);
      wanted.push(card);
      total++; inFlight += e.in_flight; if (e.health.available) upCount++;
    }
    if (wanted.length === 0) wanted.push(el('p', { class: 'empty' }, 'no endpoints'));
    list.replaceChildren(...wanted);   // moves existing cards, keeps their plots
  }
  for (const key of [...cards.keys()]) if (!seen.has(key)) cards.delete(key);
  for (const name of [...poolBoxes.keys()]) {
    if (!data.pools.some((p) => p.name === name)) poolBoxes.delete(name);
  }
  root.replaceChildren(...(order.length ? order : [el('p', { class: 'empty' }, 'no pools')]));
  put(field(document, 'in_flight_total'), inFlight, fmt(inFlight));
  put(field(document, 'endpoints_up'), upCount, `${upCount} / ${total}`);
}

// ---- history: headline rates and plots ---------------------------------------------------------

function renderHistory(h) {
  const t = h.unix_ms;
  const n = t.length;
  const reqRate = recentRate(t, h.requests, RATE_WINDOW_S);
  const errRate = recentRate(t, h.errors, RATE_WINDOW_S);
  put(field(document, 'request_rate'), reqRate, fmt(reqRate, 1));
  put(field(document, 'error_rate'), errRate, fmt(errRate, 2));
  put(field(document, 'requests_total'), n ? h.requests[n - 1] : null, fmt(n ? h.requests[n - 1] : null));
  put(field(document, 'errors_total'), n ? h.errors[n - 1] : null, fmt(n ? h.errors[n - 1] : null));
  for (const e of h.endpoints) {
    const card = cards.get(`${e.pool}/${e.address}`);
    if (!card) continue;
    const rate = recentRate(t, e.dispatched, RATE_WINDOW_S);
    put(field(card, 'rate'), rate, fmt(rate, 1));
    drawPlot(card.querySelector('[data-plot="rate"]'), rateSeries(t, e.dispatched), h.capacity, 1);
    drawPlot(card.querySelector('[data-plot="waiting"]'), e.waiting, h.capacity, 1);
  }
}

// ---- models and changes ----------------------------------------------------------------------

function renderModels(data) {
  const root = document.getElementById('models');
  const items = data.models.map((m) => {
    const sum = m.targets.reduce((a, t) => a + t.weight, 0) || 1;
    const targets = m.targets.map((t) => el('li', {},
      el('span', { class: 'weight' }, `${fmt((100 * t.weight) / sum, 1)} %`),
      el('span', {}, '→ ', el('a', { href: `#pool-${t.pool}` }, t.pool)),
      t.model !== m.name ? el('span', { class: 'muted' }, `as ${t.model}`) : ''));
    return el('div', { class: 'model', 'data-model': m.name },
      el('span', { class: 'name' }, m.name),
      el('span', { class: 'muted' }, `  priority ${m.priority}`),
      el('ul', { class: 'targets' }, ...targets));
  });
  root.replaceChildren(...(items.length ? items : [el('p', { class: 'empty' }, 'no models')]));
}

function changeTag(c) {
  return el('span', { class: `tag ${c.applied ? 'applied' : 'refused'}` }, c.applied ? 'applied' : 'refused');
}

function renderChanges(data) {
  const list = data.changes.map((c) => el('li', { 'data-change-source': c.source, 'data-applied': c.applied },
    el('time', { datetime: new Date(c.unix_ms).toISOString() }, clock(c.unix_ms)),
    el('span', {}, c.source), changeTag(c), el('span', { class: 'detail' }, c.detail)));
  document.getElementById('changes')
    .replaceChildren(...(list.length ? list : [el('li', { class: 'empty' }, 'none yet')]));
  const banner = document.getElementById('last-change');
  const last = data.changes[0];
  banner.hidden = !last;
  if (!last) return;
  banner.classList.toggle('refused', !last.applied);
  banner.replaceChildren(el('strong', {}, 'Last table change: '), `${last.source}, `, changeTag(last),
    ` at ${clock(last.unix_ms)}`, el('div', { class: 'detail' }, last.detail));
}

// ---- the loop --------------------------------------------------------------------------------

function setLive(ok, error) {
  const chip = document.getElementById('live');
  if (ok) {
    state.lastOk = Date.now();
    chip.dataset.state = 'live';
    chip.textContent = `live · ${clock(state.lastOk)}`;
    chip.title = '';
  } else {
    // Keep the last numbers on screen, say how old they are.
    chip.dataset.state = 'stale';
    chip.textContent = state.lastOk ? `stale since ${clock(state.lastOk)}` : 'no data yet';
    chip.title = String(error);
  }
  document.body.classList.toggle('stale', !ok);
  if (ok) document.body.dataset.polls = String(++state.polls);
}

async function poll() {
  try {
    // Fetched together so that one refresh shows one moment.
    const [endpoints, history, models, changes] = await Promise.all([
      getJson('/debug/endpoints'), getJson('/debug/history'), getJson('/debug/models'),
      getJson('/debug/changes')]);
    renderModels(models);
    renderEndpoints(endpoints);
    renderHistory(history);
    renderChanges(changes);
    setLive(true);
  } catch (err) {
    setLive(false, err);
  }
  setTimeout(poll, POLL_MS);   // after the answer, never overlapping
}

poll();
