// analytics.test.mjs - rollups, trends and reports against the real binary
// on a demo chain: the detector finds the demo's rising "cold in the store"
// complaints at NSK-001 and the delivery spike in region Урал; the rollups
// kept from events equal a full rebuild; reports filter, scope by role,
// refuse bad filters and export CSV; operator performance follows live work.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { tempDir, removeDir, prepareDb, startServer, api, login, cli, binary, uid } from './helpers.mjs';

let dir, env, server;
const N_REQUESTS = 20000;

before(async () => {
  dir = tempDir();
  env = prepareDb(dir, { customers: 4000, requests: N_REQUESTS });
  const seed = cli(['analytics', 'seed-surveys', '--db', env.db, '--answers', '3000', '--days', '90']);
  assert.equal(seed.status, 0, seed.stderr);
  server = await startServer(env.db);
  // The rollup worker catches up with the imported history.
  await until(async () => (await get('/reports/sla?from=2024-01-01&bucket=month')).total.created >= N_REQUESTS, 60000);
});

after(async () => {
  if (server) await server.stop();
  removeDir(dir);
});

async function until(fn, ms = 15000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function get(path, who = { token: env.adminToken }) {
  const r = await api(server.base, 'GET', '/api/v1' + path, who);
  assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
  return r.body;
}

test('the detector finds the rising cold-store complaints and the Урал delivery spike', async () => {
  const d = await api(server.base, 'POST', '/api/v1/analytics/detect', { token: env.adminToken });
  assert.equal(d.status, 200);
  const alerts = (await get('/reports/alerts?from=2024-01-01')).rows;
  const cold = alerts.find((a) => a.kind === 'rising' && a.topic === 'store_condition' && a.store === 'NSK-001');
  assert.ok(cold, 'rising store_condition at NSK-001: ' + JSON.stringify(alerts.map((a) => [a.kind, a.topic, a.store, a.region])));
  assert.ok(cold.evidence.rate_ratio >= 2);
  assert.ok(cold.p_value < 1e-6);
  assert.equal(cold.evidence.series.length, 42);
  assert.equal(cold.evidence.weekly.length, 6);
  const spike = alerts.find((a) => a.kind === 'spike' && a.topic === 'delivery' && a.scope === 'region' && a.region === 'Урал');
  assert.ok(spike, 'delivery spike in Урал');
  const ageDays = (Date.now() - Date.parse(spike.evidence.from)) / 86400000;
  assert.ok(ageDays > 25 && ageDays < 40, `about a month ago: ${spike.evidence.from}`);
  assert.ok(spike.evidence.baseline < 5 && Math.max(...spike.evidence.series) >= 15);
  // Nothing else rises at a single store: the detector is not noisy.
  const otherRising = alerts.filter((a) => a.kind === 'rising' && a.scope === 'store' && a.store !== 'NSK-001');
  assert.equal(otherRising.length, 0, JSON.stringify(otherRising.map((a) => [a.topic, a.store])));
  // Alerts are raised once: running again adds none.
  const again = await api(server.base, 'POST', '/api/v1/analytics/detect', { token: env.adminToken });
  assert.equal(again.body.new_alerts, 0);
});

test('rollups kept from events equal a full rebuild from the event log', async () => {
  const paths = ['/reports/sla?from=2024-01-01&bucket=month', '/reports/volumes?from=2024-01-01&bucket=month',
    '/reports/surveys?from=2024-01-01&bucket=month', '/reports/reasons?from=2024-01-01',
    '/reports/matrix?from=2024-01-01', '/reports/sla?from=2024-01-01&channel=phone&topic=delivery'];
  const before = [];
  for (const p of paths) before.push(await get(p));
  const rb = await api(server.base, 'POST', '/api/v1/analytics/rebuild', { token: env.adminToken });
  assert.equal(rb.status, 200);
  assert.ok(rb.body.events >= N_REQUESTS && rb.body.requests >= N_REQUESTS);
  for (let i = 0; i < paths.length; i++) assert.deepEqual(await get(paths[i]), before[i], paths[i]);
});

test('the CLI updating rollups beside the live server counts every request once', async () => {
  const total = async () => (await get('/reports/sla?from=2024-01-01&bucket=month')).total.created;
  const start = await total();
  const run = () => new Promise((resolve) => {
    const p = spawn(binary(), ['analytics', 'update', '--db', env.db], { stdio: 'ignore' });
    p.once('exit', (code) => resolve(code));
  });
  const N = 240;
  const updates = [];
  for (let i = 0; i < N; i += 20) {
    updates.push(run());
    await Promise.all(Array.from({ length: 20 }, () => api(server.base, 'POST', '/api/v1/requests', {
      token: env.token, body: { channel: 'web', source_id: uid('cli-roll'), text: 'Долго нет ответа по заказу' },
    }).then((r) => assert.equal(r.status, 201))));
  }
  assert.deepEqual(await Promise.all(updates), updates.map(() => 0), 'every update exits 0');
  assert.equal(await run(), 0);
  await until(async () => (await total()) >= start + N);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await total(), start + N, 'no request counted twice');
});

test('survey figures: NPS with its interval, CSAT, eNPS; filters by channel', async () => {
  const s = await get('/reports/surveys?from=2024-01-01&bucket=month');
  const nps = s.total.nps;
  assert.ok(nps.n > 500);
  assert.ok(nps.ci_low < nps.score && nps.score < nps.ci_high);
  assert.ok(nps.score >= -100 && nps.score <= 100);
  assert.ok(s.total.csat.score > 0 && s.total.csat.score <= 100);
  const byWeb = await get('/reports/surveys?from=2024-01-01&bucket=month&channel=web');
  assert.ok(byWeb.total.nps.n > 0 && byWeb.total.nps.n < nps.n);
  const n = s.rows.filter((r) => r.kind === 'nps').reduce((a, r) => a + r.n, 0);
  assert.equal(n, nps.n, 'buckets sum to the total');
});

test('reports refuse bad filters', async () => {
  const cases = [
    ['/reports/sla?from=yesterday', 'from'],
    ['/reports/sla?from=2026-05-10&to=2026-05-01', 'from'],
    ['/reports/volumes?channel=pigeon', 'channel'],
    ['/reports/surveys?topic=delivery', 'topic'],
    ['/reports/sla?store=NOPE-1', 'store'],
    ['/reports/sla?bucket=year', 'bucket'],
    ['/reports/sla?format=xml', 'format'],
  ];
  for (const [path, field] of cases) {
    const r = await api(server.base, 'GET', '/api/v1' + path, { token: env.adminToken });
    assert.equal(r.status, 400, path);
    assert.equal(r.body.error.field, field, path);
  }
});

test('scope: a director sees the store, a regional manager the region', async () => {
  const all = (await get('/reports/sla?from=2024-01-01&bucket=month')).total.created;
  const dir_ = await login(server.base, 'director');
  const mine = await get('/reports/sla?from=2024-01-01&bucket=month', { cookie: dir_.cookie });
  assert.ok(mine.total.created > 0 && mine.total.created < all / 10);
  const other = await api(server.base, 'GET', '/api/v1/reports/sla?store=NSK-001', { cookie: dir_.cookie });
  const self = await api(server.base, 'GET', '/api/v1/reports/sla?from=2024-01-01&bucket=month&store=NSK-001', { cookie: dir_.cookie });
  assert.ok(other.status === 403 || self.body.total.created === mine.total.created);
  const reg = await login(server.base, 'regional');
  const region = await get('/reports/sla?from=2024-01-01&bucket=month', { cookie: reg.cookie });
  assert.ok(region.total.created > mine.total.created / 2 && region.total.created < all);
  const alerts = await get('/reports/alerts?from=2024-01-01', { cookie: reg.cookie });
  assert.ok(alerts.rows.every((a) => a.region === reg.me.region || a.region === ''), 'no other region');
  assert.ok(alerts.rows.every((a) => a.scope !== 'chain'), 'chain alerts are for chain-wide roles');
});

test('CSV export: header, one line per row, quoting', async () => {
  const json = await get('/reports/matrix?from=2024-01-01');
  const r = await fetch(server.base + '/api/v1/reports/matrix?from=2024-01-01&format=csv', { headers: { Authorization: `Bearer ${env.adminToken}` } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/csv/);
  assert.match(r.headers.get('content-disposition'), /task-matrix\.csv/);
  const lines = (await r.text()).split('\r\n').filter(Boolean);
  assert.equal(lines[0], json.columns.join(','));
  assert.equal(lines.length, json.rows.length + 1);
  const alerts = await fetch(server.base + '/api/v1/reports/alerts?from=2024-01-01&format=csv', { headers: { Authorization: `Bearer ${env.adminToken}` } });
  const text = await alerts.text();
  assert.match(text, /"\{""method"":/, 'JSON evidence is one quoted field with doubled quotes');
});

test('operator performance follows live work; supervisors only', async () => {
  const sup = await login(server.base, 'supervisor');
  const op = await login(server.base, 'operator');
  const list = await get('/requests?status=new&limit=3');
  for (const r of list.items) {
    const p = await api(server.base, 'PATCH', `/api/v1/requests/${r.id}`, { cookie: sup.cookie, csrf: sup.csrf, body: { assignee: op.me.user_id } });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const m = await api(server.base, 'POST', `/api/v1/requests/${r.id}/messages`, { cookie: op.cookie, csrf: op.csrf, body: { direction: 'out', text: 'Здравствуйте! Разбираемся.' } });
    assert.equal(m.status, 201, JSON.stringify(m.body));
    const s = await api(server.base, 'PATCH', `/api/v1/requests/${r.id}`, { cookie: op.cookie, csrf: op.csrf, body: { status: 'solved' } });
    assert.equal(s.status, 200);
  }
  const row = await until(async () => {
    const rep = await get('/reports/operators?from=2024-01-01', { cookie: sup.cookie });
    const mine = rep.rows.find((x) => x.operator_id === op.me.user_id);
    return mine && mine.solved >= list.items.length ? mine : null;
  });
  assert.equal(row.handled, list.items.length);
  assert.equal(row.responded, list.items.length);
  assert.equal(row.fcr_pct, 100);
  const denied = await api(server.base, 'GET', '/api/v1/reports/operators', { cookie: op.cookie });
  assert.equal(denied.status, 403);
});
