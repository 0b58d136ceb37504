// The care machine through the API: rules with versions, validation and
// dry runs; SLA clocks and breaches; QR posters, the public signal page and
// the director's notification; goodwill limits; the incident machine.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { api, login, prepareDb, removeDir, startServer, tempDir, uid } from './helpers.mjs';

let dir, server, token, adminToken;

before(async () => {
  dir = tempDir();
  ({ token, adminToken } = prepareDb(dir));
  server = await startServer(`${dir}/otklik.db`);
});

after(async () => {
  await server.stop();
  removeDir(dir);
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll a request until pred(request) holds (the engine works asynchronously). */
async function until(id, pred, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await api(server.base, 'GET', `/api/v1/requests/${id}`, { token: adminToken });
    if (pred(r.body)) return r.body;
    if (Date.now() > end) throw new Error(`timed out: ${JSON.stringify(r.body.events.map((e) => e.type))}`);
    await sleep(50);
  }
}

const types = (req) => req.events.map((e) => e.type);

describe('rules', () => {
  it('refuses a bad rule naming the bad part, saves versions, deletes', async () => {
    const bad = await api(server.base, 'POST', '/api/v1/rules', {
      token: adminToken,
      body: { name: 'bad', when: { event: ['request.created'], topic: ['checkout_queue', 'weather'] }, actions: [{ type: 'notify', role: 'supervisor' }] },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'when.topic[1]');
    const body = { name: 'VIP жалобы', when: { event: ['request.created'], tier: ['vip'] }, actions: [{ type: 'set_priority', value: 'high' }] };
    const c = await api(server.base, 'POST', '/api/v1/rules', { token: adminToken, body });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    assert.equal(c.body.version, 1);
    const u = await api(server.base, 'PUT', `/api/v1/rules/${c.body.id}`, { token: adminToken, body: { ...body, actions: [{ type: 'set_priority', value: 'urgent' }] } });
    assert.equal(u.status, 200);
    assert.equal(u.body.version, 2);
    assert.equal(u.body.versions.length, 2);
    assert.equal(u.body.actions[0].value, 'urgent');
    const badAction = await api(server.base, 'PUT', `/api/v1/rules/${c.body.id}`, { token: adminToken, body: { ...body, actions: [{ type: 'compensate', points: -5, reason: 'x' }] } });
    assert.equal(badAction.body.error.field, 'actions[0].points');
    const op = await api(server.base, 'GET', '/api/v1/rules', { token });
    assert.equal(op.status, 403);
    const d = await api(server.base, 'DELETE', `/api/v1/rules/${c.body.id}`, { token: adminToken });
    assert.equal(d.status, 200);
    assert.equal((await api(server.base, 'GET', `/api/v1/rules/${c.body.id}`, { token: adminToken })).status, 404);
  });

  it('runs a rule on new requests and says why on the request', async () => {
    const marker = `метка${Date.now()}`;
    const c = await api(server.base, 'POST', '/api/v1/rules', {
      token: adminToken,
      body: { name: 'Слово-маркер', when: { event: ['request.created'], text_contains: [marker.toUpperCase()] }, actions: [{ type: 'set_priority', value: 'urgent' }, { type: 'add_tags', tags: ['marker'] }] },
    });
    assert.equal(c.status, 201);
    const r = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'web', source_id: uid('r'), text: `Текст с ${marker}` } });
    const req = await until(r.body.id, (q) => q.priority === 'urgent');
    const matched = req.events.find((e) => e.type === 'rule.matched');
    assert.equal(matched.data.rule_id, c.body.id);
    assert.equal(matched.data.version, 1);
    assert.ok(types(req).includes('request.tagged'));
    assert.equal(req.events.find((e) => e.type === 'request.priority_changed').actor, `rule:${c.body.id}`);
    await api(server.base, 'DELETE', `/api/v1/rules/${c.body.id}`, { token: adminToken });
  });

  it('posts a signed webhook to a receiver and records it on the request', async () => {
    const got = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => { got.push({ headers: req.headers, body }); res.end('ok'); });
    });
    await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${receiver.address().port}/hook`;
    try {
      const secret = 'секрет-получателя-42';
      const marker = `вебхук${Date.now()}`;
      const short = await api(server.base, 'POST', '/api/v1/rules', {
        token: adminToken, body: { name: 'короткий секрет', when: { event: ['request.created'] }, actions: [{ type: 'webhook', url, secret: 'abc' }] },
      });
      assert.equal(short.status, 400);
      assert.equal(short.body.error.field, 'actions[0].secret');
      const c = await api(server.base, 'POST', '/api/v1/rules', {
        token: adminToken,
        body: { name: 'В CRM', when: { event: ['request.created'], text_contains: [marker] }, actions: [{ type: 'webhook', url, secret }] },
      });
      assert.equal(c.status, 201, JSON.stringify(c.body));
      const r = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'web', source_id: uid('wh'), text: `Проверка ${marker}` } });
      const req = await until(r.body.id, (q) => types(q).includes('webhook.sent'), 15000);
      assert.equal(got.length, 1);
      const body = JSON.parse(got[0].body);
      assert.equal(body.request_id, r.body.id);
      assert.equal(body.rule_id, c.body.id);
      assert.equal(body.event_type, 'request.created');
      assert.equal(got[0].headers['content-type'], 'application/json');
      const want = 'sha256=' + createHmac('sha256', secret).update(got[0].body).digest('hex');
      assert.equal(got[0].headers['x-otklik-signature'], want);
      const sent = req.events.find((e) => e.type === 'webhook.sent');
      assert.equal(String(sent.data.webhook_id), got[0].headers['x-otklik-webhook-id']);
      assert.equal(sent.data.url, url);
      assert.ok(!JSON.stringify(req.events).includes(secret), 'the secret is not in the events');
      await api(server.base, 'DELETE', `/api/v1/rules/${c.body.id}`, { token: adminToken });
    } finally {
      receiver.close();
    }
  });

  it('dry-runs a rule over history with counts', async () => {
    const ids = [];
    for (let i = 0; i < 3; i += 1) {
      const r = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'viber', source_id: uid('dry'), text: 'Сухой прогон' } });
      ids.push(r.body.id);
    }
    const r = await api(server.base, 'POST', '/api/v1/rules/dry-run', {
      token: adminToken, body: { rule: { when: { event: ['request.created'], channel: ['viber'], text_contains: ['сухой прогон'] } } },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.matched_requests, 3);
    assert.deepEqual(r.body.requests.sort(), ids.sort());
    assert.ok(Object.values(r.body.by_day).reduce((a, b) => a + b, 0) === 3);
    const bad = await api(server.base, 'POST', '/api/v1/rules/dry-run', { token: adminToken, body: { rule: { when: { event: ['request.created'], channel: ['pigeon'] } } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'rule.when.channel[0]');
  });
});

describe('SLA', () => {
  it('shows a written request\'s clocks due in a day', async () => {
    const r = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'web', source_id: uid('sla'), text: 'Когда ответите?' } });
    await until(r.body.id, (q) => types(q).includes('sla.started'));
    const s = await api(server.base, 'GET', `/api/v1/requests/${r.body.id}/sla`, { token });
    assert.equal(s.status, 200);
    const fr = s.body.clocks.find((c) => c.clock === 'first_response');
    assert.equal(fr.state, 'running');
    assert.equal(Date.parse(fr.due_at) - Date.parse(fr.started_at), 86400000);
    const m = await api(server.base, 'POST', `/api/v1/requests/${r.body.id}/messages`, { token: adminToken, body: { text: 'Отвечаем' } });
    assert.equal(m.status, 201);
    await until(r.body.id, (q) => types(q).includes('sla.stopped'));
    const after = await api(server.base, 'GET', `/api/v1/requests/${r.body.id}/sla`, { token });
    assert.equal(after.body.clocks.find((c) => c.clock === 'first_response').outcome, 'met');
    assert.equal((await api(server.base, 'GET', '/api/v1/requests/99999999/sla', { token })).status, 404);
  });

  it('moves the due times when a priority change brings another policy', async () => {
    const p = await api(server.base, 'PUT', '/api/v1/sla/policies/52', {
      token: adminToken, body: { name: 'Срочные', position: 2, match: { priority: ['urgent'] }, calendar: '24x7', first_response_s: 600, resolution_s: 3600, warn_pct: 80 },
    });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const r = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'web', source_id: uid('rt'), text: 'Подскажите, когда привезут заказ' } });
    assert.notEqual(r.body.priority, 'urgent');
    await until(r.body.id, (q) => types(q).includes('sla.started'));
    const before = await api(server.base, 'GET', `/api/v1/requests/${r.body.id}/sla`, { token });
    const fr0 = before.body.clocks.find((c) => c.clock === 'first_response');
    assert.equal(Date.parse(fr0.due_at) - Date.parse(fr0.started_at), 86400000);
    const u = await api(server.base, 'PATCH', `/api/v1/requests/${r.body.id}`, { token: adminToken, body: { priority: 'urgent' } });
    assert.equal(u.status, 200, JSON.stringify(u.body));
    const req = await until(r.body.id, (q) => types(q).includes('sla.retargeted'));
    const ev = req.events.find((e) => e.type === 'sla.retargeted');
    assert.deepEqual(ev.data.clocks.map((c) => c.clock).sort(), ['first_response', 'resolution']);
    assert.equal(ev.data.clocks[0].policy_id, 52);
    const after = await api(server.base, 'GET', `/api/v1/requests/${r.body.id}/sla`, { token });
    const fr = after.body.clocks.find((c) => c.clock === 'first_response');
    const res = after.body.clocks.find((c) => c.clock === 'resolution');
    assert.equal(fr.started_at, fr0.started_at, 'the clock keeps its start');
    assert.equal(Date.parse(fr.due_at) - Date.parse(fr.started_at), 600000);
    assert.equal(Date.parse(res.due_at) - Date.parse(res.started_at), 3600000);
    assert.equal(fr.state, 'running');
    const off = await api(server.base, 'PUT', '/api/v1/sla/policies/52', {
      token: adminToken, body: { name: 'Срочные', enabled: false, match: { priority: ['urgent'] }, calendar: '24x7', first_response_s: 600 },
    });
    assert.equal(off.status, 200);
  });

  it('warns and breaches a short policy, escalates, and counts compliance', async () => {
    const p = await api(server.base, 'PUT', '/api/v1/sla/policies/50', {
      token: adminToken, body: { name: 'СМС быстро', position: 1, match: { channel: ['sms'] }, calendar: '24x7', first_response_s: 1, resolution_s: 600, warn_pct: 50 },
    });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const bad = await api(server.base, 'PUT', '/api/v1/sla/policies/51', { token: adminToken, body: { name: 'x', calendar: 'mars', first_response_s: 5 } });
    assert.equal(bad.body.error.field, 'calendar');
    const r = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'sms', source_id: uid('br'), text: 'Срочно' } });
    const req = await until(r.body.id, (q) => types(q).includes('sla.breached'), 8000);
    assert.ok(types(req).includes('sla.warning'));
    assert.equal(req.events.find((e) => e.type === 'sla.breached').data.clock, 'first_response');
    const esc = await until(r.body.id, (q) => types(q).includes('escalation.raised'));
    assert.equal(esc.events.find((e) => e.type === 'escalation.raised').data.level, 'supervisor');
    const comp = await api(server.base, 'GET', '/api/v1/sla/compliance', { token });
    const row = comp.body.items.find((i) => i.policy_id === 50 && i.clock === 'first_response');
    assert.ok(row.breached >= 1);
    // A store director counts the clocks of the store only: not this request, which has none.
    const dir = await login(server.base, 'director');
    const dcomp = await api(server.base, 'GET', '/api/v1/sla/compliance', { cookie: dir.cookie });
    assert.equal(dcomp.status, 200);
    const drow = dcomp.body.items.find((i) => i.policy_id === 50 && i.clock === 'first_response');
    assert.ok(!drow || drow.breached < row.breached);
    const sup = await login(server.base, 'supervisor');
    const n = await api(server.base, 'GET', '/api/v1/notifications?unread=1', { cookie: sup.cookie });
    const mine = n.body.items.find((i) => i.request_id === r.body.id);
    assert.ok(mine, 'the supervisor is told');
    const read = await api(server.base, 'POST', `/api/v1/notifications/${mine.id}/read`, { cookie: sup.cookie, csrf: sup.csrf });
    assert.equal(read.status, 200);
  });
});

describe('QR posters and store signals', () => {
  let store, link;

  it('makes a signed poster and a public page without scripts', async () => {
    const d = await login(server.base, 'director');
    const mine = await api(server.base, 'GET', '/api/v1/requests?limit=1', { cookie: d.cookie });
    store = mine.body.items[0].store;
    const res = await fetch(`${server.base}/api/v1/stores/${store}/poster?checkout=2&base_url=${encodeURIComponent(server.base)}`, { headers: { Authorization: `Bearer ${adminToken}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /image\/svg\+xml/);
    const svg = await res.text();
    assert.match(svg, /<svg/);
    link = /(http:\/\/[^<]+\/q\?[^<]+)</.exec(svg)[1].replaceAll('&amp;', '&');
    const png = await fetch(`${server.base}/api/v1/stores/${store}/poster?format=png`, { headers: { Authorization: `Bearer ${adminToken}` } });
    assert.deepEqual([...new Uint8Array(await png.arrayBuffer())].slice(0, 4), [0x89, 0x50, 0x4e, 0x47]);
    const page = await fetch(link);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy'), /default-src 'self'/);
    const html = await page.text();
    assert.doesNotMatch(html, /<script|style=/);
    assert.match(html, /Очередь на кассе/);
    const forged = await fetch(link.replace(/k=[^&]+/, 'k=AAAAAAAAAAAAAAAAAAAAAA'));
    assert.equal(forged.status, 404);
    const other = await fetch(link.replace(/c=2/, 'c=3'));
    assert.equal(other.status, 404);
  });

  it('turns a tap into a signal that reaches the store director at once', async () => {
    const u = new URL(link);
    const form = new URLSearchParams({ s: u.searchParams.get('s'), c: u.searchParams.get('c'), k: u.searchParams.get('k'), problem: 'queue', phone: '8 912 000-11-22' });
    const t0 = Date.now();
    const res = await fetch(`${server.base}/q`, { method: 'POST', body: form, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(res.status, 201);
    const id = Number(res.headers.get('x-otklik-request'));
    const req = await until(id, (q) => types(q).includes('notification.created'));
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(req.channel, 'qr');
    assert.equal(req.kind, 'signal');
    assert.equal(req.topic, 'checkout_queue');
    const esc = req.events.find((e) => e.type === 'escalation.raised');
    assert.equal(esc.data.level, 'store_director');
    const d = await login(server.base, 'director');
    const n = await api(server.base, 'GET', '/api/v1/notifications', { cookie: d.cookie });
    assert.ok(n.body.items.some((i) => i.request_id === id && i.kind === 'escalation'));
    const conf = await api(server.base, 'POST', `/api/v1/requests/${id}/escalation/confirm`, { cookie: d.cookie, csrf: d.csrf });
    assert.equal(conf.status, 200, JSON.stringify(conf.body));
    assert.ok(conf.body.escalation.confirmed_at);
    const bad = await fetch(`${server.base}/q`, { method: 'POST', body: new URLSearchParams({ ...Object.fromEntries(form), problem: 'volcano' }) });
    assert.equal(bad.status, 400);
  });
});

describe('goodwill bonuses', () => {
  it('lets an operator give up to the limit and asks a supervisor above it', async () => {
    const r = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'web', source_id: uid('gw'), customer: { phone: '+79265551234', name: 'Пётр' }, text: 'Испорченный товар' } });
    const op = await login(server.base, 'operator');
    const small = await api(server.base, 'POST', `/api/v1/requests/${r.body.id}/goodwill`, { cookie: op.cookie, csrf: op.csrf, body: { points: 300, reason: 'Извинение за товар' } });
    assert.equal(small.status, 201, JSON.stringify(small.body));
    assert.equal(small.body.status, 'accrued');
    const big = await api(server.base, 'POST', `/api/v1/requests/${r.body.id}/goodwill`, { cookie: op.cookie, csrf: op.csrf, body: { points: 2000, reason: 'Крупная компенсация' } });
    assert.equal(big.status, 202);
    const self = await api(server.base, 'POST', `/api/v1/goodwill/${big.body.goodwill_id}/approve`, { cookie: op.cookie, csrf: op.csrf });
    assert.equal(self.status, 403);
    const sup = await login(server.base, 'supervisor');
    const ok = await api(server.base, 'POST', `/api/v1/goodwill/${big.body.goodwill_id}/approve`, { cookie: sup.cookie, csrf: sup.csrf });
    assert.equal(ok.status, 200);
    const again = await api(server.base, 'POST', `/api/v1/goodwill/${big.body.goodwill_id}/approve`, { cookie: sup.cookie, csrf: sup.csrf });
    assert.equal(again.status, 409);
    const cust = await api(server.base, 'GET', `/api/v1/customers/${r.body.customer_id}`, { token: adminToken });
    assert.equal(cust.body.bonus.balance, 2300);
    const lim = await api(server.base, 'PUT', '/api/v1/admin/goodwill-limits', { token: adminToken, body: { limits: { operator: 100, wizard: 5 } } });
    assert.equal(lim.body.error.field, 'limits.wizard');
  });
});

describe('incident machine', () => {
  it('turns "item not found" into a task for the online team and "delivered" into a survey', async () => {
    const order = uid('ORD');
    const ev = (status, extra = {}) => api(server.base, 'POST', '/api/v1/orders/events', { token, body: { order, status, source_id: uid('oe'), store: 'MSK-001', customer: { phone: '+79265557777' }, ...extra } });
    assert.equal((await ev('confirmed')).status, 201);
    assert.equal((await ev('item_not_found')).status, 201);
    let tasks;
    for (let i = 0; i < 100; i += 1) {
      tasks = await api(server.base, 'GET', '/api/v1/requests?channel=internal&limit=50', { token: adminToken });
      if (tasks.body.items.some((t) => t.order === order)) break;
      await sleep(50);
    }
    const task = tasks.body.items.find((t) => t.order === order);
    assert.ok(task, 'a task was created');
    assert.equal(task.queue, 'dept:online');
    await ev('delivered');
  });
});

describe('public endpoint limits', () => {
  it('rate limits the public form', async () => {
    let limited = 0;
    for (let i = 0; i < 15; i += 1) {
      const r = await fetch(`${server.base}/q`, { method: 'POST', body: new URLSearchParams({ s: 'X', c: '0', k: 'bad', problem: 'queue' }) });
      if (r.status === 429) limited += 1;
      else assert.equal(r.status, 404);
    }
    assert.ok(limited >= 4);
  });
});
