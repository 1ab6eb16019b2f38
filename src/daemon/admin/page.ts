/**
 * The live pipeline page served at GET /: static HTML + vanilla JS, no build step. It polls
 * /pipelines every second and draws source → Kafka → sinks with throughput, lag, state (with its
 * reason), snapshot progress and last errors, and /history every 5 s for small inline-SVG charts of
 * the last minutes (throughput, lag, time lag, commit→applied latency) per component. All data is
 * inserted with textContent / SVG attributes (never as HTML).
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cdc-fanout</title>
<style>
  :root { --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; --muted:#57606a; --line:#d0d7de; --bg:#f6f8fa; }
  * { box-sizing: border-box; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #fff; }
  header { display:flex; align-items:center; gap:1rem; padding: .75rem 1.25rem; border-bottom:1px solid var(--line); background: var(--bg); }
  header h1 { font-size: 1.1rem; margin: 0; }
  #conn { color: var(--muted); font-size: .85rem; }
  main { padding: 1rem 1.25rem; display: grid; gap: 1.25rem; }
  .pipeline { border:1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; }
  .pipeline h2 { font-size: 1rem; margin: 0 0 .5rem; }
  .pipeline h2 small { color: var(--muted); font-weight: normal; }
  .flow { display:grid; grid-template-columns: minmax(220px,1fr) 40px minmax(180px,.8fr) 40px minmax(260px,1.4fr); align-items: start; }
  .arrow { align-self: center; text-align:center; font-size: 1.4rem; color: var(--muted); }
  .box { border:1px solid var(--line); border-radius: 6px; padding: .5rem .75rem; background: #fff; }
  .box h3 { margin: 0 0 .25rem; font-size: .95rem; display:flex; justify-content: space-between; gap:.5rem; }
  .sinks { display:grid; gap:.5rem; }
  .kv { display:grid; grid-template-columns: auto 1fr; gap: 0 .75rem; font-size: .85rem; }
  .kv dt { color: var(--muted); } .kv dd { margin:0; font-variant-numeric: tabular-nums; }
  .state { font-size: .75rem; font-weight: 600; padding: 0 .4rem; border-radius: 999px; border:1px solid currentColor; white-space: nowrap; }
  .s-RUNNING { color: var(--ok); } .s-PAUSED, .s-STARTING, .s-RESTARTING { color: var(--warn); } .s-STANDBY { color: var(--muted); } .s-FAILED { color: var(--bad); } .s-STOPPED, .s-DISABLED { color: var(--muted); }
  .err { color: var(--bad); font-size: .8rem; margin-top: .25rem; word-break: break-word; }
  .bar { height: 8px; background: #eaeef2; border-radius: 4px; overflow: hidden; margin: 2px 0 6px; }
  .bar > div { height: 100%; background: #0969da; }
  .snap { font-size: .8rem; }
  button { font-size: .75rem; margin-right: .25rem; }
  #auth { display:none; gap:.5rem; align-items:center; }
  .charts { display:flex; flex-wrap: wrap; gap: .25rem .75rem; margin-top: .35rem; }
  .chart { font-size: .7rem; color: var(--muted); }
  .chart svg { display:block; background: var(--bg); border-radius: 3px; }
  .chart path { fill: none; stroke: #0969da; stroke-width: 1.5; }
  .chart .area { fill: #0969da22; stroke: none; }
</style>
</head>
<body>
<header>
  <h1>cdc-fanout</h1>
  <span id="conn" data-testid="conn">connecting…</span>
  <form id="auth"><label>Admin token <input id="token" type="password" autocomplete="off"></label><button>Use</button></form>
</header>
<main id="pipelines" data-testid="pipelines"></main>
<script>
(() => {
  const $ = (sel) => document.querySelector(sel);
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') el.className = v; else if (k.startsWith('on')) el.addEventListener(k.slice(2), v); else el.setAttribute(k, v);
    }
    for (const kid of kids.flat(Infinity)) if (kid !== null && kid !== undefined) el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    return el;
  }
  const fmt = (n) => n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
  const fmtLag = (n) => n === null || n === undefined ? 'unknown' : Number(n).toLocaleString('en-US');
  const fmtMs = (n) => n === null || n === undefined ? 'unknown' : n < 1000 ? Math.round(n) + ' ms' : (n / 1000).toFixed(1) + ' s';
  const NS = 'http://www.w3.org/2000/svg';
  let hist = {};
  function svg(tag, attrs) { const el = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v)); return el; }
  // A sparkline of one series (nulls = unknown leave gaps), scaled to its own maximum.
  function chart(label, series, values, show) {
    const W = 120, H = 28, P = 2;
    const box = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img' });
    const vals = values || [];
    const known = vals.filter((v) => v !== null);
    const max = Math.max(1e-9, ...known);
    const x = (i) => P + (vals.length > 1 ? (i * (W - 2 * P)) / (vals.length - 1) : 0);
    const y = (v) => H - P - (v / max) * (H - 2 * P);
    let d = '', pen = false;
    vals.forEach((v, i) => { if (v === null) { pen = false; return; } d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1) + ' '; pen = true; });
    if (d) box.append(svg('path', { d: d.trim(), 'data-testid': 'chart-line' }));
    const title = svg('title', {}); title.textContent = label + ' (last ' + vals.length + ' samples, max ' + show(known.length ? max : null) + ')'; box.append(title);
    const last = vals.length ? vals[vals.length - 1] : null;
    return h('div', { class: 'chart', 'data-testid': 'chart', 'data-series': series, 'data-points': String(known.length) }, label + ' ' + show(last), box);
  }
  const charts = (hc, specs) => h('div', { class: 'charts', 'data-testid': 'charts' }, specs.map(([label, key, show]) => chart(label, key, hc ? hc.series[key] : [], show)));
  const headers = () => { const t = sessionStorage.getItem('cdcToken'); return t ? { authorization: 'Bearer ' + t } : {}; };
  const state = (s, reason) => h('span', { class: 'state s-' + s, 'data-testid': 'state', title: reason || '' }, s);
  const kv = (pairs) => h('dl', { class: 'kv' }, pairs.map(([k, v, id]) => [h('dt', {}, k), h('dd', { 'data-testid': id }, v)]));
  async function act(p, s, a) {
    await fetch('pipelines/' + encodeURIComponent(p) + '/sinks/' + encodeURIComponent(s) + '/' + a, { method: 'POST', headers: headers() });
    poll();
  }
  function sourceBox(p) {
    const s = p.source;
    return h('div', { class: 'box source', 'data-testid': 'source' },
      h('h3', {}, h('span', {}, 'Postgres source'), state(s.state, s.reason)),
      kv([['events', fmt(s.eventsPublished), 'source-events'], ['events/s', fmt(s.eventsPerSec), 'source-rate'], ['last LSN', s.lastLsn || '–', 'source-lsn'], ['slot lag', s.slotLagBytes === null ? 'unknown' : fmt(s.slotLagBytes) + ' B' + (s.slotLagMs === null ? '' : ' / ' + fmt(Math.round(s.slotLagMs / 1000)) + ' s'), 'source-slot-lag'], ['WAL status', s.slot ? (s.slot.exists ? s.slot.walStatus || '–' : 'slot missing') : '–', 'source-wal-status'], ['restarts', fmt(s.restarts)]]),
      s.slot && s.slot.warnings.length ? h('div', { class: 'err', 'data-testid': 'source-slot-warning' }, s.slot.warnings.join('; ')) : null,
      s.reason && s.state !== 'RUNNING' ? h('div', { class: 'err', 'data-testid': 'source-reason' }, s.reason) : null,
      charts(hist[p.name] && hist[p.name].source, [['events/s', 'eventsPerSec', fmt], ['slot lag B', 'slotLagBytes', fmtLag]]),
      s.snapshot.length ? h('div', { class: 'snap', 'data-testid': 'snapshot' }, s.snapshot.map((t) => {
        const pct = t.finished ? 100 : t.total ? Math.min(100, Math.round(100 * t.done / t.total)) : 0;
        return [h('div', {}, t.table + ': ' + fmt(t.done) + (t.total ? ' / ' + fmt(t.total) : '') + (t.finished ? ' ✓' : '') + (!t.finished && t.rowsPerSecond !== undefined ? ' · ' + fmt(t.rowsPerSecond) + ' rows/s' + (t.etaSeconds === null || t.etaSeconds === undefined ? '' : ' · ETA ' + fmt(t.etaSeconds) + ' s') + (t.chunks ? ' · chunks ' + fmt(t.chunks.done) + '/' + fmt(t.chunks.total) + ' · ' + t.threads + ' workers' : '') : '')), h('div', { class: 'bar' }, h('div', { style: 'width:' + pct + '%' }))];
      })) : null,
      s.incremental ? h('div', { class: 'snap', 'data-testid': 'incremental-snapshot' },
        h('div', {}, 'incremental snapshot ' + s.incremental.state.toLowerCase() + (s.incremental.table ? ' · ' + s.incremental.table : '') + ': ' + fmt(s.incremental.rows) + ' / ~' + fmt(s.incremental.estimated) + ' rows · ' + fmt(s.incremental.rowsPerSecond) + ' rows/s' + (s.incremental.state === 'running' && s.incremental.etaSeconds !== null ? ' · ETA ' + fmt(s.incremental.etaSeconds) + ' s' : '')),
        h('div', { class: 'bar' }, h('div', { style: 'width:' + (s.incremental.state === 'done' ? 100 : s.incremental.estimated ? Math.min(100, Math.round(100 * s.incremental.rows / s.incremental.estimated)) : 0) + '%' }))) : null,
      s.lastError ? h('div', { class: 'err', 'data-testid': 'source-error' }, 'last error ' + s.lastError.at.slice(11, 19) + ' UTC: ' + s.lastError.message) : null);
  }
  // Rebuild jobs started from this page (GET …/rebuild polled while they run).
  const rebuilds = {};
  const rebuildPath = (p, s) => 'pipelines/' + encodeURIComponent(p) + '/sinks/' + encodeURIComponent(s) + '/rebuild';
  async function rebuild(p, s) {
    if (!confirm('Rebuild sink "' + s + '" into a new generation from the log? The live one keeps serving until the atomic swap; the previous generation is dropped after 10 minutes.')) return;
    const res = await fetch(rebuildPath(p, s), { method: 'POST', headers: { ...headers(), 'content-type': 'application/json' }, body: '{}' });
    const body = await res.json();
    rebuilds[p + '/' + s] = res.ok ? body : { state: 'failed', error: body.error };
    poll();
  }
  async function pollRebuilds() {
    for (const [key, job] of Object.entries(rebuilds)) {
      if (job.state !== 'running') continue;
      const [p, s] = key.split('/');
      const res = await fetch(rebuildPath(p, s), { headers: headers(), cache: 'no-store' });
      if (res.ok) rebuilds[key] = await res.json();
    }
  }
  function rebuildLine(job) {
    const what = job.error ? 'failed: ' + job.error : job.progress ? 'generation ' + job.progress.generation + ' ' + job.progress.phase + ': ' + job.progress.message : job.state;
    return h('div', { class: job.error ? 'err' : 'snap', 'data-testid': 'sink-rebuild' }, 'rebuild ' + what);
  }
  function sinkBox(p, s) {
    return h('div', { class: 'box sink', 'data-testid': 'sink', 'data-sink': s.name },
      h('h3', {}, h('span', {}, s.name + ' ', h('small', {}, '(' + s.type + ')')), state(s.state, s.reason)),
      kv([['records', fmt(s.records), 'sink-records'], ['records/s', fmt(s.recordsPerSec), 'sink-rate'], ['lag', fmtLag(s.lag), 'sink-lag'], ['time lag', fmtMs(s.timeLagMs), 'sink-time-lag'], ['commit→applied', s.latencyMs === null ? '–' : fmtMs(s.latencyMs), 'sink-latency'], ['restarts', fmt(s.restarts)]]),
      s.reason && s.state !== 'RUNNING' ? h('div', { class: 'err', 'data-testid': 'sink-reason' }, s.reason) : null,
      s.lastError ? h('div', { class: 'err', 'data-testid': 'sink-error' }, 'last error ' + s.lastError.at.slice(11, 19) + ' UTC: ' + s.lastError.message) : null,
      (s.failedTables || []).map((t) => h('div', { class: 'err', 'data-testid': 'sink-failed-table' }, 'table ' + (t.table || t.topic) + ' FAILED since ' + t.since.slice(11, 19) + ' UTC (other tables go on; resume retries it): ' + t.error)),
      charts(hist[p.name] && (hist[p.name].sinks.find((x) => x.name === s.name)), [['records/s', 'recordsPerSec', fmt], ['lag', 'lag', fmtLag], ['time lag', 'timeLagMs', fmtMs], ['commit→applied', 'latencyMs', fmtMs]]),
      h('div', {}, s.state === 'PAUSED'
        ? h('button', { onclick: () => act(p.name, s.name, 'resume') }, 'resume')
        : h('button', { onclick: () => act(p.name, s.name, 'pause') }, 'pause'),
        s.state !== 'PAUSED' && (s.failedTables || []).length ? h('button', { onclick: () => act(p.name, s.name, 'resume') }, 'retry failed tables') : null,
        h('button', { onclick: () => act(p.name, s.name, 'restart') }, 'restart'),
        s.type === 'elasticsearch' || s.type === 'clickhouse' || s.type === 'redis' ? h('button', { onclick: () => rebuild(p.name, s.name), title: 'new generation from the log, atomic swap (docs/rebuild.md)' }, 'rebuild') : null),
      rebuilds[p.name + '/' + s.name] ? rebuildLine(rebuilds[p.name + '/' + s.name]) : null);
  }
  function render(list) {
    const root = $('#pipelines');
    root.replaceChildren(...list.map((p) => h('section', { class: 'pipeline', 'data-testid': 'pipeline', 'data-pipeline': p.name },
      h('h2', {}, p.name + ' ', h('small', {}, p.file)),
      h('div', { class: 'flow' },
        sourceBox(p),
        h('div', { class: 'arrow' }, '→'),
        h('div', { class: 'box kafka', 'data-testid': 'kafka' }, h('h3', {}, 'Kafka'), kv([['brokers', p.kafka.bootstrapServers], ['topics', p.topicPrefix + '.*']])),
        h('div', { class: 'arrow' }, '→'),
        h('div', { class: 'sinks' }, p.sinks.length ? p.sinks.map((s) => sinkBox(p, s)) : h('div', { class: 'box' }, 'no sinks'))))));
    if (!list.length) root.replaceChildren(h('p', {}, 'No pipelines configured.'));
  }
  let htimer;
  async function pollHistory() {
    clearTimeout(htimer);
    try {
      const res = await fetch('history', { headers: headers(), cache: 'no-store' });
      if (res.ok) { const body = await res.json(); hist = Object.fromEntries(body.pipelines.map((p) => [p.name, p])); }
    } catch (e) { /* the /pipelines poll reports the connection */ }
    finally { htimer = setTimeout(pollHistory, 5000); }
  }
  let timer;
  async function poll() {
    clearTimeout(timer);
    try {
      await pollRebuilds();
      const res = await fetch('pipelines', { headers: headers(), cache: 'no-store' });
      if (res.status === 401) { $('#auth').style.display = 'flex'; $('#conn').textContent = 'token required'; return; }
      const body = await res.json();
      render(body.pipelines);
      $('#conn').textContent = 'updated ' + new Date().toLocaleTimeString();
      $('#conn').dataset.updates = String(Number($('#conn').dataset.updates || 0) + 1);
    } catch (e) {
      $('#conn').textContent = 'daemon unreachable: ' + e.message;
    } finally {
      timer = setTimeout(poll, 1000);
    }
  }
  $('#auth').addEventListener('submit', (e) => { e.preventDefault(); sessionStorage.setItem('cdcToken', $('#token').value); $('#auth').style.display = 'none'; poll(); pollHistory(); });
  poll();
  pollHistory();
})();
</script>
</body>
</html>
`;
