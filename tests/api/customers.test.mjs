// The customer 360, the IVR lookup, order events and the NDJSON import.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, prepareDb, removeDir, startServer, tempDir, uid } from './helpers.mjs';

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

const ndjson = (lines) => api(server.base, 'POST', '/api/v1/import', {
  token, raw: lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'),
  headers: { 'Content-Type': 'application/x-ndjson' },
});

describe('import', () => {
  it('keeps good lines, reports bad ones with line numbers and reasons', async () => {
    const r = await ndjson([
      { type: 'customer', name: 'Анна Иванова', phone: '+79265550001', card: 'C-1001', email: 'anna@example.ru' },
      { type: 'customer', name: 'Без контактов' },
      '{"type": "customer", "phone": ',
      { type: 'order', id: 'IMP-1', customer: { card: 'C-1001' }, store: 'MSK-001', status: 'shipped', total: 1999.9, created_at: '2026-01-10T10:00:00Z', promised_at: '2026-01-12T18:00:00Z', history: [{ status: 'created', at: '2026-01-10T10:00:00Z' }, { status: 'assembling', at: '2026-01-10T12:00:00Z' }] },
      { type: 'purchase', id: 'R-1', customer: { card: 'C-1001' }, store: 'MSK-001', total: 523.1, items: 3, at: '2026-01-05T15:00:00Z' },
      { type: 'purchase', id: 'R-1', customer: { card: 'C-1001' }, store: 'MSK-001', total: 1, at: '2026-01-05T15:00:00Z' },
      { type: 'bonus', customer: { card: 'C-1001' }, amount: 150, reason: 'purchase', ref: 'R-1' },
      { type: 'bonus', customer: { card: 'C-1001' }, amount: 150, reason: 'purchase', ref: 'R-1' },
      { type: 'bonus', customer: { card: 'C-1001' }, amount: -40, reason: 'redeem' },
      { type: 'bonus', customer: { card: 'C-1001' }, amount: -1000, reason: 'redeem' },
      { type: 'request', channel: 'email', source_id: uid('imp'), customer: { email: 'anna@example.ru' }, text: 'Старое обращение', status: 'closed', topic: 'delivery', created_at: '2025-12-01T10:00:00Z' },
      { type: 'planet', name: 'Марс' },
      '',
      { type: 'order', id: 'IMP-2', status: 'created' },
    ]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.lines, 14);
    assert.deepEqual(r.body.by_type, { customer: 1, order: 1, purchase: 1, bonus: 2, request: 1 });
    assert.equal(r.body.accepted, 6);
    const rejected = Object.fromEntries(r.body.rejected.map((x) => [x.line, x.error]));
    assert.deepEqual(Object.keys(rejected).map(Number), [2, 3, 6, 8, 10, 12, 14]);
    assert.equal(rejected[3].code, 'invalid');
    assert.equal(rejected[6].code, 'conflict');
    assert.equal(rejected[8].field, 'ref', 'the same receipt is credited once');
    assert.equal(rejected[10].field, 'amount');
    assert.equal(rejected[12].field, 'type');
    assert.equal(rejected[14].field, 'customer');
    assert.equal(r.body.rejected_count, 7);

    const look = await api(server.base, 'GET', '/api/v1/customers/lookup?card=C-1001', { token });
    assert.equal(look.status, 200);
    assert.equal(look.body.bonus_balance, 110);
    assert.deepEqual(look.body.open_orders.map((o) => [o.id, o.status]), [['IMP-1', 'shipped']]);
  });

  // The search's reading of the backlog itself is tested in tests/unit/test_intake.c, where an
  // import can be held: here the 150 rows may be in the index by the time the search runs.
  it('finds imported requests by their words at once, and moves their terms into the index after', async () => {
    const word = `жирафий${Date.now() % 100000}`;
    const lines = [];
    for (let i = 0; i < 150; i++) {
      lines.push({ type: 'request', channel: 'email', source_id: uid('srch'), customer: { email: `s${i}@example.ru` }, text: `Обращение ${i}: ${word} на кассе` });
    }
    const r = await ndjson(lines);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.accepted, 150);
    const found = await api(server.base, 'GET', `/api/v1/requests?q=${encodeURIComponent(word)}&limit=200`, { token });
    assert.equal(found.status, 200);
    assert.equal(found.body.items.length, 150);
    let backlog = -1;
    for (let i = 0; i < 250 && backlog !== 0; i++) {
      const h = await (await fetch(`${server.base}/healthz`)).json();
      backlog = h.consumers_lag.search_backlog;
      if (backlog !== 0) await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal(backlog, 0, 'the backlog was moved into the index');
    const m = await fetch(`${server.base}/metrics`, { headers: { Authorization: `Bearer ${adminToken}` } });
    assert.match(await m.text(), /^otklik_search_backlog_rows 0$/m);
    const again = await api(server.base, 'GET', `/api/v1/requests?q=${encodeURIComponent(word)}&limit=200`, { token });
    assert.equal(again.body.items.length, 150);
  });

  it('counts a request in the metrics once when a batch is retried line by line', async () => {
    const created = async () => {
      const res = await fetch(`${server.base}/metrics`, { headers: { Authorization: `Bearer ${adminToken}` } });
      const m = /otklik_requests_created_total\{channel="vk"\} (\d+)/.exec(await res.text());
      return Number(m[1]);
    };
    const dup = uid('dup');
    assert.equal((await ndjson([{ type: 'request', channel: 'vk', source_id: dup, text: 'Первое' }])).status, 200);
    const before = await created();
    // Three new requests, then a repeat: the batch fails at the repeat and is written again line by line.
    const r = await ndjson([
      ...[1, 2, 3].map((i) => ({ type: 'request', channel: 'vk', source_id: uid('met'), text: `Вопрос ${i}` })),
      { type: 'request', channel: 'vk', source_id: dup, text: 'Повтор' },
    ]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.by_type.request, 3);
    assert.equal(r.body.rejected_count, 1);
    assert.equal(await created(), before + 3);
  });

  it('takes an import larger than memory holds through a spool file, line for line', async () => {
    const spooled = async () => {
      const res = await fetch(`${server.base}/metrics`, { headers: { Authorization: `Bearer ${adminToken}` } });
      const text = await res.text();
      return [Number(/otklik_http_spooled_bodies_total (\d+)/.exec(text)[1]),
        Number(/otklik_http_spooled_bytes_total (\d+)/.exec(text)[1])];
    };
    const [bodiesBefore, bytesBefore] = await spooled();
    const tag = uid('spool');
    const pad = 'Ы'.repeat(90); // two bytes each: lines of ~300 bytes
    const lines = [];
    for (let i = 0; i < 9000; i++) {
      lines.push(JSON.stringify({ type: 'customer', name: `${pad} ${i}`, card: `${tag}-${i}` }));
      if (i === 4321) lines.push('{"type": "customer", "card": '); // malformed, mid-file
    }
    const text = lines.join('\n'); // the last line has no newline
    const bytes = Buffer.byteLength(text);
    assert.ok(bytes > 2 * 1024 * 1024, `a body past the 1 MiB spool threshold (${bytes})`);
    const r = await api(server.base, 'POST', '/api/v1/import', { token, raw: text, headers: { 'Content-Type': 'application/x-ndjson' } });
    assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 500));
    assert.equal(r.body.lines, 9001);
    assert.equal(r.body.accepted, 9000);
    assert.deepEqual(r.body.rejected.map((x) => x.line), [4323]);
    const [bodiesAfter, bytesAfter] = await spooled();
    assert.equal(bodiesAfter, bodiesBefore + 1);
    assert.equal(bytesAfter - bytesBefore, bytes);
    for (const i of [0, 4321, 4322, 8999]) {
      const look = await api(server.base, 'GET', `/api/v1/customers/lookup?card=${tag}-${i}`, { token });
      assert.equal(look.status, 200, `customer ${i}`);
      assert.equal(look.body.name, `${pad} ${i}`);
    }
    // A small import stays in memory.
    assert.equal((await ndjson([{ type: 'customer', name: 'Мал', card: `${tag}-small` }])).status, 200);
    assert.equal((await spooled())[0], bodiesAfter);
  });

  it('answers 503 and keeps nothing when a large import cannot be spooled', async () => {
    const d = tempDir();
    const p = prepareDb(d, { customers: 10, requests: 10 });
    const srv = await startServer(p.db, ['--spool_dir', `${d}/no-such-dir`]);
    try {
      const tag = uid('nospool');
      const lines = Array.from({ length: 6000 }, (_, i) => JSON.stringify({ type: 'customer', name: 'Ж'.repeat(100), card: `${tag}-${i}` }));
      const r = await api(srv.base, 'POST', '/api/v1/import', { token: p.token, raw: lines.join('\n'), headers: { 'Content-Type': 'application/x-ndjson' } });
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'unavailable');
      assert.match(r.body.error.message, /cannot keep/);
      const look = await api(srv.base, 'GET', `/api/v1/customers/lookup?card=${tag}-0`, { token: p.token });
      assert.equal(look.status, 404);
      // A small import does not need the spool.
      const small = await api(srv.base, 'POST', '/api/v1/import', { token: p.token, raw: lines[0], headers: { 'Content-Type': 'application/x-ndjson' } });
      assert.equal(small.status, 200);
      assert.equal(small.body.accepted, 1);
    } finally {
      await srv.stop();
      removeDir(d);
    }
  });

  it('refuses an empty import and a wrong content type', async () => {
    assert.equal((await ndjson([])).status, 400);
    const r = await api(server.base, 'POST', '/api/v1/import', { token, raw: 'x', headers: { 'Content-Type': 'text/csv' } });
    assert.equal(r.status, 415);
  });

  it('is not open to operators', async () => {
    const r = await api(server.base, 'POST', '/api/v1/import', { token: 'otk_x', raw: '{}', headers: { 'Content-Type': 'application/x-ndjson' } });
    assert.equal(r.status, 401);
  });
});

describe('customer 360 and lookup', () => {
  it('shows identities, requests, orders with history, purchases and the bonus ledger', async () => {
    const look = await api(server.base, 'GET', '/api/v1/customers/lookup?card=C-1001', { token });
    const c = await api(server.base, 'GET', `/api/v1/customers/${look.body.customer_id}`, { token: adminToken });
    assert.equal(c.status, 200);
    assert.equal(c.body.name, 'Анна Иванова');
    const ids = Object.fromEntries(c.body.identities.map((i) => [i.kind, i.value]));
    assert.deepEqual(ids, { card: 'C-1001', email: 'anna@example.ru', phone: '+79265550001' });
    assert.equal(c.body.orders[0].id, 'IMP-1');
    assert.deepEqual(c.body.orders[0].history.map((h) => h.status), ['created', 'assembling', 'shipped']);
    assert.equal(c.body.orders[0].total, 1999.9);
    assert.equal(c.body.purchases[0].id, 'R-1');
    assert.equal(c.body.purchases[0].items, 3);
    assert.equal(c.body.bonus.balance, 110);
    assert.equal(c.body.bonus.balance, c.body.bonus.ledger.reduce((s, m) => s + m.amount, 0));
    assert.equal(c.body.requests.length, 1);
    assert.equal((await api(server.base, 'GET', '/api/v1/customers/99999999', { token: adminToken })).status, 404);
  });

  it('looks up by any identity, normalising phones and e-mail', async () => {
    for (const q of ['phone=8%20(926)%20555-00-01', 'phone=%2B79265550001', 'phone=9265550001', 'email=ANNA@Example.ru', 'card=C-1001']) {
      const r = await api(server.base, 'GET', `/api/v1/customers/lookup?${q}`, { token });
      assert.equal(r.status, 200, q);
      assert.equal(r.body.name, 'Анна Иванова');
      assert.ok(Array.isArray(r.body.open_requests));
    }
    assert.equal((await api(server.base, 'GET', '/api/v1/customers/lookup?phone=%2B79000000000', { token })).status, 404);
    const two = await api(server.base, 'GET', '/api/v1/customers/lookup?phone=%2B79265550001&card=C-1001', { token });
    assert.equal(two.status, 400);
    assert.equal((await api(server.base, 'GET', '/api/v1/customers/lookup', { token })).status, 400);
    assert.equal((await api(server.base, 'GET', '/api/v1/customers/lookup?phone=abc', { token })).status, 400);
  });
});

describe('order events', () => {
  it('creates an order, records each change once and shows it to the IVR', async () => {
    const order = `ORD-T-${Date.now()}`;
    const first = await api(server.base, 'POST', '/api/v1/orders/events', {
      token, body: { order, status: 'created', source_id: `${order}-1`, customer: { phone: '+79265550001' }, store: 'MSK-001', total: 750, promised_at: '2030-01-01T12:00:00Z' },
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const ev = { order, status: 'item_not_found', source_id: `${order}-2`, note: 'Нет молока 3,2%' };
    const second = await api(server.base, 'POST', '/api/v1/orders/events', { token, body: ev });
    assert.equal(second.status, 201);
    const again = await api(server.base, 'POST', '/api/v1/orders/events', { token, body: ev });
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    const look = await api(server.base, 'GET', '/api/v1/customers/lookup?phone=%2B79265550001', { token });
    const o = look.body.open_orders.find((x) => x.id === order);
    assert.equal(o.status, 'item_not_found');
    const c = await api(server.base, 'GET', `/api/v1/customers/${look.body.customer_id}`, { token: adminToken });
    assert.deepEqual(c.body.orders.find((x) => x.id === order).history.map((h) => h.status), ['created', 'item_not_found']);
  });

  it('refuses events it cannot place', async () => {
    const cases = [
      [{ status: 'created' }, 'order'],
      [{ order: 'ORD-NEW-1', status: 'created' }, 'customer'],
      [{ order: 'ORD-NEW-1', status: 'teleported', customer: { phone: '+79265550001' } }, 'status'],
      [{ order: 'ORD-NEW-1', status: 'created', customer: { phone: '+79265550001' }, store: 'NOPE' }, 'store'],
      [{ order: 'ORD-NEW-1', status: 'created', customer: { phone: '+79265550001' }, total: -5 }, 'total'],
    ];
    for (const [body, field] of cases) {
      const r = await api(server.base, 'POST', '/api/v1/orders/events', { token, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.field, field);
    }
    const none = await api(server.base, 'GET', '/api/v1/customers/lookup?phone=%2B79265550001', { token });
    assert.ok(!none.body.open_orders.some((o) => o.id === 'ORD-NEW-1'));
  });
});
