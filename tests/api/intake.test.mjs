// Intake from every channel, dedup, bad input (which must change nothing),
// reading, listing with filters and search, changes and messages.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, postOversized, prepareDb, removeDir, startServer, tempDir, uid } from './helpers.mjs';

const CHANNELS = ['phone', 'callback', 'web', 'chat', 'email', 'telegram', 'viber', 'vk',
  'whatsapp', 'sms', 'qr', 'app', 'review', 'social', 'internal'];

let dir, server, token, adminToken;

before(async () => {
  dir = tempDir();
  ({ token, adminToken } = prepareDb(dir));
  server = await startServer(`${dir}/otklik.db`);
});

after(async () => {
  assert.equal(await server.stop(), 0, 'graceful shutdown exits 0');
  removeDir(dir);
});

const post = (body, t = token) => api(server.base, 'POST', '/api/v1/requests', { token: t, body });
const total = async () => {
  // Count requests by walking the whole list with the biggest page.
  let n = 0;
  let cursor = '';
  for (;;) {
    const r = await api(server.base, 'GET', `/api/v1/requests?limit=200${cursor}`, { token });
    assert.equal(r.status, 200);
    n += r.body.items.length;
    if (!r.body.next_cursor) return n;
    cursor = `&cursor=${r.body.next_cursor}`;
  }
};

describe('intake', () => {
  it('creates a request with a customer and answers 201 with the stored request', async () => {
    const src = uid('tg');
    const r = await post({
      channel: 'telegram', source_id: src,
      customer: { phone: '8 (912) 345-67-89', telegram_id: '5550001', name: 'Иван Петров' },
      store: 'MSK-001', subject: 'Очередь', text: 'Огромные очереди на кассе, работает одна касса!!!',
      kind: 'complaint',
    });
    assert.equal(r.status, 201);
    assert.ok(r.body.id > 0);
    assert.ok(r.body.customer_id > 0);
    assert.equal(r.body.status, 'new');
    assert.equal(r.body.channel, 'telegram');
    assert.equal(r.body.store, 'MSK-001');
    assert.equal(r.body.source_id, src);
    assert.equal(r.body.customer_name, 'Иван Петров');
    assert.match(r.body.text, /очереди на кассе/);
    // The answer is made without reading back: it must equal what GET shows.
    const got = await api(server.base, 'GET', `/api/v1/requests/${r.body.id}`, { token });
    const { messages, events, ...plain } = got.body;
    assert.ok(messages.length === 1 && events.length >= 1);
    assert.deepEqual(r.body, plain);
  });

  it('answers with text that needs escaping exactly as GET shows it', async () => {
    const r = await post({
      channel: 'web', source_id: uid('esc'),
      customer: { email: 'Quote.Test@Example.ru', name: 'Анна "Кавычка" \\ Слэш' },
      subject: 'Тема\tс табом', text: 'Строка 1\nСтрока 2 "цитата" \\ обратный слэш 😊 \u0001',
    });
    assert.equal(r.status, 201);
    assert.equal(r.body.text, 'Строка 1\nСтрока 2 "цитата" \\ обратный слэш 😊 \u0001');
    const got = await api(server.base, 'GET', `/api/v1/requests/${r.body.id}`, { token });
    const { messages, events, ...plain } = got.body;
    assert.deepEqual(r.body, plain);
  });

  it('answers a known customer with the stored name and a duplicate with the stored request', async () => {
    const phone = '+79035550777';
    const first = await post({ channel: 'sms', source_id: uid('nm'), customer: { phone, name: 'Ольга' }, text: 'Первое' });
    const second = await post({ channel: 'sms', source_id: uid('nm'), customer: { phone, name: 'Оля' }, text: 'Второе', subject: 'Тема' });
    assert.equal(second.body.customer_name, 'Ольга');
    const got = await api(server.base, 'GET', `/api/v1/requests/${second.body.id}`, { token });
    const { messages, events, ...plain } = got.body;
    assert.deepEqual(second.body, plain);
    const dup = await post({ channel: 'sms', source_id: first.body.source_id, text: 'повтор' });
    assert.equal(dup.status, 200);
    const firstGet = await api(server.base, 'GET', `/api/v1/requests/${first.body.id}`, { token });
    const { messages: m2, events: e2, ...firstPlain } = firstGet.body;
    assert.deepEqual(dup.body, firstPlain);
  });

  it('delivers the same channel+source_id once: 200 with the same request, nothing written', async () => {
    const src = uid('dup');
    const body = { channel: 'viber', source_id: src, customer: { phone: '+79990001122' }, text: 'Где мой заказ?' };
    const first = await post(body);
    assert.equal(first.status, 201);
    const before = await total();
    const again = await post(body);
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    assert.equal(await total(), before);
    // Another channel with the same source id is another message.
    const other = await post({ ...body, channel: 'whatsapp' });
    assert.equal(other.status, 201);
    assert.notEqual(other.body.id, first.body.id);
  });

  it('accepts every channel and defaults the kind by channel', async () => {
    for (const channel of CHANNELS) {
      const r = await post({ channel, source_id: uid(channel), customer: { email: `User.${channel}@Example.RU` }, text: `Сообщение из канала ${channel}` });
      assert.equal(r.status, 201, `${channel}: ${JSON.stringify(r.body)}`);
      const expectedKind = { qr: 'signal', internal: 'internal', review: 'review' }[channel] ?? 'complaint';
      assert.equal(r.body.kind, expectedKind);
    }
  });

  it('ties identities to one customer across channels', async () => {
    const a = await post({ channel: 'sms', source_id: uid('s'), customer: { phone: '+7 912 7770011' }, text: 'Первое сообщение' });
    const b = await post({ channel: 'email', source_id: uid('e'), customer: { phone: '89127770011', email: 'Same.Person@Mail.RU' }, text: 'Второе сообщение' });
    const c = await post({ channel: 'web', source_id: uid('w'), customer: { email: 'same.person@mail.ru' }, text: 'Третье сообщение' });
    assert.equal(b.body.customer_id, a.body.customer_id);
    assert.equal(c.body.customer_id, a.body.customer_id);
  });

  it('links to the first known customer and records a merge suggestion when identities disagree', async () => {
    const a = await post({ channel: 'sms', source_id: uid('m'), customer: { phone: '+79035550101' }, text: 'Клиент А' });
    const b = await post({ channel: 'email', source_id: uid('m'), customer: { email: 'client.b@example.ru' }, text: 'Клиент Б' });
    assert.notEqual(a.body.customer_id, b.body.customer_id);
    const both = await post({ channel: 'chat', source_id: uid('m'), customer: { phone: '+79035550101', email: 'client.b@example.ru' }, text: 'Оба сразу' });
    assert.equal(both.status, 201);
    assert.equal(both.body.customer_id, a.body.customer_id, 'linked to the first identity found (phone)');
    const c360 = await api(server.base, 'GET', `/api/v1/customers/${a.body.customer_id}`, { token: adminToken });
    assert.equal(c360.status, 200);
    assert.deepEqual(c360.body.merge_suggestions.map((m) => m.customer_id), [b.body.customer_id]);
    // No silent merge: B keeps its own identity.
    const cb = await api(server.base, 'GET', `/api/v1/customers/${b.body.customer_id}`, { token: adminToken });
    assert.ok(cb.body.identities.some((i) => i.kind === 'email' && i.value === 'client.b@example.ru'));
  });
});

describe('clients that hang up', () => {
  it('a client gone before its answer: the server stays up and the request is stored', async () => {
    const { connect } = await import('node:net');
    const url = new URL(server.base);
    const ids = [];
    // Each client writes a whole request and closes at once, while the request
    // is waiting for its commit; some closes land after the commit.
    await Promise.all(Array.from({ length: 200 }, (_, i) => new Promise((resolveP) => {
      const src = uid(`gone-${i}`);
      ids.push(src);
      const body = JSON.stringify({ channel: 'web', source_id: src, customer: { email: `gone${i}@example.ru` },
        text: 'Спросить и уйти' });
      const sock = connect(Number(url.port), url.hostname, () => {
        sock.write([`POST /api/v1/requests HTTP/1.1`, `Host: ${url.host}`, `Authorization: Bearer ${token}`,
          'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
        setTimeout(() => { sock.destroy(); resolveP(); }, i % 6);
      });
      sock.on('error', () => resolveP());
    })));
    const h = await api(server.base, 'GET', '/healthz');
    assert.equal(h.status, 200, 'still serving');
    // Posting one of them again finds it stored (200, a duplicate), never a second copy.
    let stored = 0;
    for (const src of ids) {
      const r = await post({ channel: 'web', source_id: src, customer: { email: 'x@example.ru' }, text: 'снова' });
      assert.ok(r.status === 200 || r.status === 201, `status ${r.status}`);
      if (r.status === 200) stored++;
    }
    assert.ok(stored > 0, 'requests written before the hang-up are stored');
  });
});

describe('bad input gets a 4xx with a JSON error and writes nothing', () => {
  const cases = [
    ['malformed JSON', { raw: '{"channel": "sms",', headers: { 'Content-Type': 'application/json' } }, 400, null],
    ['not an object', { raw: '[1,2]', headers: { 'Content-Type': 'application/json' } }, 400, null],
    ['wrong content type', { raw: '{"channel":"sms","text":"x"}', headers: { 'Content-Type': 'text/plain' } }, 415, null],
    ['unknown channel', { body: { channel: 'pigeon', text: 'x' } }, 400, 'channel'],
    ['missing channel', { body: { text: 'x' } }, 400, 'channel'],
    ['missing text', { body: { channel: 'sms' } }, 400, 'text'],
    ['blank text', { body: { channel: 'sms', text: '   ' } }, 400, 'text'],
    ['text of wrong type', { body: { channel: 'sms', text: 42 } }, 400, 'text'],
    ['customer of wrong type', { body: { channel: 'sms', text: 'x', customer: 'Иван' } }, 400, 'customer'],
    ['invalid phone', { body: { channel: 'sms', text: 'x', customer: { phone: '12ab' } } }, 400, 'customer.phone'],
    ['short phone', { body: { channel: 'sms', text: 'x', customer: { phone: '+7 912' } } }, 400, 'customer.phone'],
    ['invalid e-mail', { body: { channel: 'email', text: 'x', customer: { email: 'no-at-sign' } } }, 400, 'customer.email'],
    ['unknown kind', { body: { channel: 'sms', text: 'x', kind: 'rant' } }, 400, 'kind'],
    ['unknown store', { body: { channel: 'sms', text: 'x', store: 'NOPE-999' } }, 400, 'store'],
    ['bad created_at', { body: { channel: 'sms', text: 'x', created_at: 'yesterday' } }, 400, 'created_at'],
    ['created_at in the future', { body: { channel: 'sms', text: 'x', created_at: '2999-01-01T00:00:00Z' } }, 400, 'created_at'],
    ['unknown field', { body: { channel: 'sms', text: 'x', colour: 'red' } }, 400, 'colour'],
    ['unknown customer field', { body: { channel: 'sms', text: 'x', customer: { phone_number: '+79123456789' } } }, 400, 'customer'],
    ['created_at before 2000', { body: { channel: 'sms', text: 'x', created_at: '0001-01-01T00:00:00Z' } }, 400, 'created_at'],
    ['text too long', { body: { channel: 'sms', text: 'я'.repeat(20001) } }, 400, 'text'],
    ['NUL in text', { body: { channel: 'sms', text: 'a\u0000b' } }, 400, null],
    ['invalid UTF-8', { raw: Buffer.concat([Buffer.from('{"channel":"sms","text":"'), Buffer.from([0xd0, 0x28, 0xff]), Buffer.from('"}')]), headers: { 'Content-Type': 'application/json' } }, 400, null],
  ];
  for (const [name, req, status, field] of cases) {
    it(name, async () => {
      const before = await total();
      const r = await api(server.base, 'POST', '/api/v1/requests', { token, ...req });
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(typeof r.body.error.code, 'string');
      assert.ok(r.body.error.message.length > 0);
      if (field) assert.equal(r.body.error.field, field);
      assert.equal(await total(), before, 'nothing was written');
    });
  }
  const oversized = [['whole', 'sent whole', 2 << 20], ['chunked', 'sent without a length', 2 << 20],
    ['headers', 'of 64 MB, announced', 64 << 20]];
  for (const [how, what, bytes] of oversized) {
    it(`oversized body ${what}`, async () => {
      const before = await total();
      const r = await postOversized(server.base, '/api/v1/requests',
        { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, bytes, how);
      assert.equal(r.status, 413, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'too_big');
      assert.ok(r.body.error.message.length > 0);
      assert.equal(await total(), before, 'nothing was written');
    });
  }
});

describe('reading, listing and search', () => {
  it('returns one request with its messages and events', async () => {
    const c = await post({ channel: 'chat', source_id: uid('g'), customer: { phone: '+79161112233' }, text: 'Нет ценника на сыр' });
    const r = await api(server.base, 'GET', `/api/v1/requests/${c.body.id}`, { token });
    assert.equal(r.status, 200);
    assert.equal(r.body.messages.length, 1);
    assert.equal(r.body.messages[0].direction, 'in');
    assert.equal(r.body.messages[0].body, 'Нет ценника на сыр');
    assert.ok(r.body.events.some((e) => e.type === 'request.created'));
    assert.equal((await api(server.base, 'GET', '/api/v1/requests/99999999', { token })).status, 404);
    assert.equal((await api(server.base, 'GET', '/api/v1/requests/abc', { token })).status, 404);
  });

  it('pages with a keyset cursor without repeats or gaps', async () => {
    const seen = new Set();
    let cursor = '';
    let pages = 0;
    let last = Infinity;
    for (;;) {
      const r = await api(server.base, 'GET', `/api/v1/requests?limit=37${cursor}`, { token });
      assert.equal(r.status, 200);
      for (const item of r.body.items) {
        assert.ok(!seen.has(item.id), `id ${item.id} repeated`);
        assert.ok(item.id < last, 'newest first');
        last = item.id;
        seen.add(item.id);
      }
      pages += 1;
      if (!r.body.next_cursor) break;
      cursor = `&cursor=${r.body.next_cursor}`;
    }
    assert.ok(pages > 3);
    assert.equal(seen.size, await total());
  });

  it('filters by status, channel, store, customer and time', async () => {
    const c = await post({ channel: 'vk', source_id: uid('f'), customer: { vk_id: 'id777' }, store: 'MSK-001', text: 'Фильтр' });
    const byChannel = await api(server.base, 'GET', '/api/v1/requests?channel=vk&limit=200', { token });
    assert.ok(byChannel.body.items.length > 0);
    assert.ok(byChannel.body.items.every((i) => i.channel === 'vk'));
    const byStore = await api(server.base, 'GET', '/api/v1/requests?store=MSK-001&status=new&limit=200', { token });
    assert.ok(byStore.body.items.every((i) => i.store === 'MSK-001' && i.status === 'new'));
    assert.ok(byStore.body.items.some((i) => i.id === c.body.id));
    const byCustomer = await api(server.base, 'GET', `/api/v1/requests?customer=${c.body.customer_id}`, { token });
    assert.deepEqual(byCustomer.body.items.map((i) => i.id), [c.body.id]);
    const since = new Date(Date.now() - 60000).toISOString();
    const recent = await api(server.base, 'GET', `/api/v1/requests?since=${since}&limit=200`, { token });
    assert.ok(recent.body.items.every((i) => i.created_at >= since));
    const old = await api(server.base, 'GET', `/api/v1/requests?until=${since}&limit=5`, { token });
    assert.ok(old.body.items.every((i) => i.created_at < since));
    for (const bad of ['status=lost', 'channel=fax', 'limit=0', 'limit=1000', 'since=today', 'cursor=x', 'topic=weather']) {
      const r = await api(server.base, 'GET', `/api/v1/requests?${bad}`, { token });
      assert.equal(r.status, 400, bad);
      assert.ok(r.body.error.field);
    }
  });

  it('finds Russian word forms with q', async () => {
    const marker = `Проверка${Date.now()}`;
    const c = await post({ channel: 'web', source_id: uid('q'), text: `${marker}: стояли в очереди сорок минут, кассиров не хватает` });
    for (const q of ['очередь', 'очередями', 'ОЧЕРЕДИ', 'кассир', 'минута']) {
      const r = await api(server.base, 'GET', `/api/v1/requests?q=${encodeURIComponent(q)}&limit=200`, { token });
      assert.equal(r.status, 200);
      assert.ok(r.body.items.some((i) => i.id === c.body.id), `q=${q}`);
    }
    const none = await api(server.base, 'GET', `/api/v1/requests?q=${encodeURIComponent('бегемот жираф')}`, { token });
    assert.equal(none.body.items.length, 0);
  });
});

describe('changes and messages', () => {
  it('moves through the status machine and refuses impossible transitions with 409', async () => {
    const c = await post({ channel: 'sms', source_id: uid('st'), text: 'Статусы' });
    const patch = (body) => api(server.base, 'PATCH', `/api/v1/requests/${c.body.id}`, { token: adminToken, body });
    assert.equal((await patch({ status: 'open' })).body.status, 'open');
    assert.equal((await patch({ status: 'pending' })).body.status, 'pending');
    const solved = await patch({ status: 'solved' });
    assert.equal(solved.body.status, 'solved');
    assert.ok(solved.body.solved_at);
    const closed = await patch({ status: 'closed' });
    assert.ok(closed.body.closed_at);
    const reopen = await patch({ status: 'open' });
    assert.equal(reopen.status, 409);
    assert.equal(reopen.body.error.code, 'conflict');
    assert.equal(reopen.body.error.field, 'status');
    const r = await api(server.base, 'GET', `/api/v1/requests/${c.body.id}`, { token });
    assert.equal(r.body.status, 'closed');
    assert.equal(r.body.events.filter((e) => e.type === 'request.status_changed').length, 4);
  });

  it('changes priority, queue, topic (kept as a correction) and assignee, each as an event', async () => {
    const c = await post({ channel: 'sms', source_id: uid('p'), text: 'Поля' });
    const r = await api(server.base, 'PATCH', `/api/v1/requests/${c.body.id}`, {
      token: adminToken, body: { priority: 'urgent', queue: 'vip', topic: 'delivery', assignee: 1 },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.priority, 'urgent');
    assert.equal(r.body.queue, 'vip');
    assert.equal(r.body.topic, 'delivery');
    assert.equal(r.body.assignee_id, 1);
    const full = await api(server.base, 'GET', `/api/v1/requests/${c.body.id}`, { token });
    const types = full.body.events.map((e) => e.type);
    for (const t of ['request.priority_changed', 'request.queue_changed', 'request.topic_corrected', 'request.assigned']) assert.ok(types.includes(t), t);
    const corr = full.body.events.find((e) => e.type === 'request.topic_corrected');
    assert.equal(corr.actor, 'token:test-admin');
    for (const [body, field] of [[{ priority: 'asap' }, 'priority'], [{ topic: 'weather' }, 'topic'], [{ assignee: 'me' }, 'assignee'], [{ assignee: 999999 }, 'assignee'], [{ colour: 1 }, 'colour'], [{}, null]]) {
      const bad = await api(server.base, 'PATCH', `/api/v1/requests/${c.body.id}`, { token: adminToken, body });
      assert.equal(bad.status, 400, JSON.stringify(body));
      if (field) assert.equal(bad.body.error.field, field);
    }
    assert.equal((await api(server.base, 'PATCH', '/api/v1/requests/99999999', { token: adminToken, body: { priority: 'low' } })).status, 404);
  });

  it('a reply opens a new request and stamps the first response', async () => {
    const c = await post({ channel: 'telegram', source_id: uid('m'), text: 'Когда привезут заказ?' });
    const m = await api(server.base, 'POST', `/api/v1/requests/${c.body.id}/messages`, { token: adminToken, body: { text: 'Заказ будет сегодня до 18:00' } });
    assert.equal(m.status, 201);
    const note = await api(server.base, 'POST', `/api/v1/requests/${c.body.id}/messages`, { token: adminToken, body: { text: 'Проверить склад', direction: 'note' } });
    assert.equal(note.status, 201);
    const r = await api(server.base, 'GET', `/api/v1/requests/${c.body.id}`, { token });
    assert.equal(r.body.status, 'open');
    assert.ok(r.body.first_response_at);
    assert.deepEqual(r.body.messages.map((x) => x.direction), ['in', 'out', 'note']);
    const bad = await api(server.base, 'POST', `/api/v1/requests/${c.body.id}/messages`, { token: adminToken, body: { text: '' } });
    assert.equal(bad.status, 400);
    const badDir = await api(server.base, 'POST', `/api/v1/requests/${c.body.id}/messages`, { token: adminToken, body: { text: 'x', direction: 'sideways' } });
    assert.equal(badDir.body.error.field, 'direction');
  });

  it('knows no such resource and no such method', async () => {
    assert.equal((await api(server.base, 'GET', '/api/v1/nothing', { token })).status, 404);
    const m = await api(server.base, 'DELETE', '/api/v1/requests', { token });
    assert.equal(m.status, 405);
    assert.equal(m.body.error.code, 'method_not_allowed');
    // HEAD is GET without the body.
    const head = await fetch(`${server.base}/api/v1/requests?limit=1`, { method: 'HEAD', headers: { Authorization: `Bearer ${token}` } });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal((await fetch(`${server.base}/healthz`, { method: 'HEAD' })).status, 200);
  });
});
