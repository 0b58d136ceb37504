// surveys.test.mjs - surveys end to end against the real binary: the
// default definitions, a proactive invitation when a request is solved and
// the per-customer limit, the public page (HTML, CSP, escaping), one answer
// per invitation, a low score opening a follow-up complaint, tampered
// tokens, validation, and anonymous eNPS answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tempDir, removeDir, prepareDb, startServer, api, login, uid } from './helpers.mjs';

let dir, env, server, op;

before(async () => {
  dir = tempDir();
  env = prepareDb(dir);
  server = await startServer(env.db, ['--public_url', 'https://care.example.test/']);
  op = await login(server.base, 'operator');
});

after(async () => {
  if (server) await server.stop();
  removeDir(dir);
});

const admin = () => ({ token: env.adminToken });
const sql = (q) => spawnSync('sqlite3', [env.db, q], { encoding: 'utf8' }).stdout.trim();

async function surveys() {
  const r = await api(server.base, 'GET', '/api/v1/surveys', admin());
  assert.equal(r.status, 200);
  return r.body;
}

async function until(fn, ms = 10000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function newRequest(phone, text = 'Долго ждал ответа по заказу') {
  const r = await api(server.base, 'POST', '/api/v1/requests', {
    token: env.token,
    body: { channel: 'telegram', source_id: uid('srv'), customer: { phone, name: 'Анна' }, text },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function solve(id) {
  const r = await api(server.base, 'PATCH', `/api/v1/requests/${id}`, {
    cookie: op.cookie, csrf: op.csrf, body: { status: 'solved' },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

test('default survey definitions with kinds and reasons', async () => {
  const s = await surveys();
  const codes = s.items.map((i) => i.code);
  for (const c of ['after_request', 'after_delivery', 'after_visit', 'effort', 'csi', 'enps']) assert.ok(codes.includes(c), c);
  assert.deepEqual(s.kinds.map((k) => k.kind), ['nps', 'csat', 'ces', 'csi', 'enps']);
  assert.ok(s.reasons.find((r) => r.code === 'queue' && r.department === 'store_ops'));
});

test('a solved request invites its customer once within the limit', async () => {
  const phone = '+7912' + String(Date.now()).slice(-7);
  const before = (await surveys()).items.find((i) => i.code === 'after_request').invited;
  const a = await newRequest(phone);
  await solve(a.id);
  await until(async () => (await surveys()).items.find((i) => i.code === 'after_request').invited === before + 1);
  const b = await newRequest(phone, 'Ещё один вопрос про бонусы');
  await solve(b.id);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal((await surveys()).items.find((i) => i.code === 'after_request').invited, before + 1,
    'the same customer is not asked again within min_interval_days');
  assert.match(sql(`SELECT source || ' ' || status FROM survey_invitations WHERE request_id = ${a.id}`), /^request_solved (queued|link_only)$/);
});

test('public page, one answer per invitation, low score opens a follow-up', async () => {
  const csat = (await surveys()).items.find((i) => i.code === 'after_request');
  const req = await newRequest('+7913' + String(Date.now()).slice(-7));
  const inv = await api(server.base, 'POST', `/api/v1/surveys/${csat.id}/invitations`, {
    cookie: op.cookie, csrf: op.csrf, body: { request_id: req.id },
  });
  assert.equal(inv.status, 201, JSON.stringify(inv.body));
  assert.match(inv.body.link, /^\/s\/\d+\.[A-Za-z0-9_-]{22}$/);
  // The customer gets the link under the public address, not a path.
  assert.equal(inv.body.url, 'https://care.example.test' + inv.body.link);
  const settings = await api(server.base, 'GET', '/api/v1/admin/settings', admin());
  assert.equal(settings.body.public_url, 'https://care.example.test');

  const page = await fetch(server.base + inv.body.link);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /text\/html/);
  assert.match(page.headers.get('content-security-policy'), /default-src 'self'/);
  const html = await page.text();
  assert.match(html, /name="viewport"/);
  for (let s = 1; s <= 5; s++) assert.ok(html.includes(`value="${s}"`), `score ${s}`);
  assert.ok(!html.includes('value="6"'), 'CSAT has five points');
  assert.ok(!/<script|style=/.test(html), 'no scripts or inline styles');

  const form = new URLSearchParams({ score: '1', reason: 'queue', comment: 'Очередь <b>40</b> минут & никого' });
  const ans = await fetch(server.base + inv.body.link, {
    method: 'POST', body: form, headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(ans.status, 200);
  assert.match(await ans.text(), /Спасибо/);
  const again = await fetch(server.base + inv.body.link, {
    method: 'POST', body: form, headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(again.status, 409, 'one answer per invitation');

  const row = sql(`SELECT score || '|' || reason || '|' || department || '|' || comment || '|' || followup_request_id FROM survey_answers WHERE invitation_id = ${inv.body.id}`);
  const [score, reason, dept, comment, follow] = row.split('|');
  assert.equal(score, '1');
  assert.equal(reason, 'queue');
  assert.equal(dept, 'store_ops');
  assert.equal(comment, 'Очередь <b>40</b> минут & никого');
  const f = await api(server.base, 'GET', `/api/v1/requests/${follow}`, { token: env.token });
  assert.equal(f.status, 200);
  assert.equal(f.body.kind, 'complaint');
  assert.equal(f.body.topic, 'checkout_queue');
  assert.equal(f.body.customer_id, req.customer_id, 'the follow-up joins the same customer');

  // The page now says it was answered.
  assert.match(await (await fetch(server.base + inv.body.link)).text(), /уже получен/);

  // The survey's invitations: the answered one with its request, newest first, in pages.
  const list = await api(server.base, 'GET', `/api/v1/surveys/${csat.id}/invitations`, { cookie: op.cookie });
  assert.equal(list.status, 200, JSON.stringify(list.body));
  const mine = list.body.items.find((i) => i.id === inv.body.id);
  assert.equal(mine.status, 'answered');
  assert.equal(mine.request_id, req.id);
  assert.equal(mine.customer_id, req.customer_id);
  assert.ok(Date.parse(mine.answered_at) >= Date.parse(mine.created_at));
  const ids = list.body.items.map((i) => i.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
  assert.ok(ids.length >= 2, 'the proactive invitations are listed too');
  const p1 = await api(server.base, 'GET', `/api/v1/surveys/${csat.id}/invitations?limit=1`, { cookie: op.cookie });
  assert.equal(p1.body.items.length, 1);
  const p2 = await api(server.base, 'GET', `/api/v1/surveys/${csat.id}/invitations?limit=1&cursor=${p1.body.next_cursor}`, { cookie: op.cookie });
  assert.equal(p2.body.items[0].id, ids[1], 'the next page starts right after the cursor');
  const answered = await api(server.base, 'GET', `/api/v1/surveys/${csat.id}/invitations?status=answered`, { cookie: op.cookie });
  assert.ok(answered.body.items.every((i) => i.status === 'answered'));
  const bad = await api(server.base, 'GET', `/api/v1/surveys/${csat.id}/invitations?status=lost`, { cookie: op.cookie });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.field, 'status');
  assert.equal((await api(server.base, 'GET', '/api/v1/surveys/999999/invitations', { cookie: op.cookie })).status, 404);
});

test('JSON answers: validation, high score without follow-up, tampered tokens', async () => {
  const nps = (await surveys()).items.find((i) => i.code === 'after_delivery');
  const inv = await api(server.base, 'POST', `/api/v1/surveys/${nps.id}/invitations`, {
    cookie: op.cookie, csrf: op.csrf, body: { store: (await api(server.base, 'GET', '/api/v1/stores', admin())).body.items[0].code },
  });
  assert.equal(inv.status, 201);
  const post = (body, link = inv.body.link) => api(server.base, 'POST', link, { body });
  const cases = [
    [{ score: 11 }, 400, 'score'],
    [{ score: -1 }, 400, 'score'],
    [{ score: 'ten' }, 400, 'score'],
    [{ score: 9, reason: 'weather' }, 400, 'reason'],
    [{ score: 9, extra: 1 }, 400, 'extra'],
  ];
  for (const [body, status, field] of cases) {
    const r = await post(body);
    assert.equal(r.status, status, JSON.stringify(body));
    assert.equal(r.body.error.field, field);
  }
  const bad = inv.body.link.slice(0, -2) + (inv.body.link.endsWith('AA') ? 'BB' : 'AA');
  assert.equal((await post({ score: 9 }, bad)).status, 404);
  assert.equal((await fetch(server.base + bad)).status, 404);
  assert.equal((await fetch(server.base + '/s/12345')).status, 404);
  const ok = await post({ score: 10, comment: 'Курьер приехал вовремя' });
  assert.equal(ok.status, 201);
  assert.equal(ok.body.low, false);
  assert.equal(ok.body.followup_request_id, null);
});

test('eNPS answers are anonymous and open no follow-up', async () => {
  const enps = (await surveys()).items.find((i) => i.code === 'enps');
  const inv = await api(server.base, 'POST', `/api/v1/surveys/${enps.id}/invitations`, {
    token: env.adminToken, body: { store: (await api(server.base, 'GET', '/api/v1/stores', admin())).body.items[0].code },
  });
  assert.equal(inv.status, 201);
  const r = await api(server.base, 'POST', inv.body.link, { body: { score: 2, reason: 'workload' } });
  assert.equal(r.status, 201);
  assert.equal(r.body.low, true);
  assert.equal(r.body.followup_request_id, null);
  const row = sql(`SELECT coalesce(invitation_id, 'null') || '|' || coalesce(customer_id, 'null') || '|' || (at_ms % 86400000) FROM survey_answers WHERE kind = 'enps' ORDER BY id DESC LIMIT 1`);
  assert.equal(row, 'null|null|0', 'no invitation, no customer, time only to the day');
  const ev = sql(`SELECT coalesce(actor, 'null') || '|' || coalesce(request_id, 'null') || '|' || data FROM events WHERE type = 'survey.answered' ORDER BY id DESC LIMIT 1`);
  assert.match(ev, /^null\|null\|/);
  assert.ok(!/invitation|answer_id|customer/.test(ev), ev);
  // The invitation list shows the department at most, never the employee.
  const list = await api(server.base, 'GET', `/api/v1/surveys/${enps.id}/invitations`, admin());
  assert.equal(list.status, 200);
  assert.ok(list.body.items.length >= 1);
  assert.ok(list.body.items.every((i) => !('user_id' in i)), JSON.stringify(list.body.items[0]));
});

test('survey definitions: admin only, validated', async () => {
  const body = { code: 'csat_test', kind: 'csat', question: 'Оцените кассу', min_interval_days: 7 };
  const forbidden = await api(server.base, 'POST', '/api/v1/surveys', { cookie: op.cookie, csrf: op.csrf, body });
  assert.equal(forbidden.status, 403);
  const r = await api(server.base, 'POST', '/api/v1/surveys', { ...admin(), body });
  assert.equal(r.status, 201);
  assert.equal(r.body.trigger, 'manual');
  assert.equal((await api(server.base, 'POST', '/api/v1/surveys', { ...admin(), body })).status, 409);
  const bad = await api(server.base, 'POST', '/api/v1/surveys', { ...admin(), body: { ...body, code: 'x2', kind: 'stars' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.field, 'kind');
  const low = await api(server.base, 'POST', '/api/v1/surveys', { ...admin(), body: { ...body, code: 'x3', low_score: 9 } });
  assert.equal(low.status, 400);
  assert.equal(low.body.error.field, 'low_score');
});
