// Telegram end to end against the real binary: webhook Updates in (secret
// token, dedup, threading, photos, contacts, unknown updates, bad bodies),
// replies out through the outbox to a local fake Bot API that fails on
// demand (5xx, 429 Retry-After, timeouts, a blocked bot), credential
// rotation without restart, and no duplicate send after a crash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, login, postOversized, prepareDb, removeDir, startServer, tempDir } from './helpers.mjs';
import { startPlatformFake } from './fakes/platform.mjs';
import { addChannel, fixture, getRequest, hook, outboxOf, waitFor, waitRequests } from './fakes/channels.mjs';

let dir, db, token, adminToken, server, fake, op, channel;
const SECRET = 'tg-secret_Token-1';
const BOT = '123456:AAH-test-bot-token';
const path = '/hooks/telegram/main-bot';
const headers = (s = SECRET) => ({ 'Content-Type': 'application/json', 'X-Telegram-Bot-Api-Secret-Token': s });

before(async () => {
  dir = tempDir();
  ({ db, token, adminToken } = prepareDb(dir, { customers: 50, requests: 50 }));
  fake = await startPlatformFake();
  server = await startServer(db);
  channel = await addChannel(server.base, adminToken, 'telegram', 'main-bot',
    { bot_token: BOT, secret_token: SECRET },
    { api_base: fake.url, retry_base_ms: 50, timeout_ms: 3000, max_attempts: 5 });
  op = await login(server.base, 'operator');
});

after(async () => {
  await server?.stop();
  await fake?.stop();
  removeDir(dir);
});

async function reply(id, text) {
  const r = await api(server.base, 'POST', `/api/v1/requests/${id}/messages`,
    { cookie: op.cookie, csrf: op.csrf, body: { text } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

test('the admin API never shows the secrets, and the log never has them', async () => {
  const list = await api(server.base, 'GET', '/api/v1/admin/channels', { token: adminToken });
  assert.equal(list.status, 200);
  const text = JSON.stringify(list.body);
  assert.ok(!text.includes(SECRET) && !text.includes(BOT));
  const ch = list.body.items.find((c) => c.name === 'main-bot');
  assert.deepEqual(ch.secrets_set.sort(), ['bot_token', 'secret_token']);
  assert.equal(ch.webhook, path);
  const denied = await api(server.base, 'GET', '/api/v1/admin/channels', { token });
  assert.equal(denied.status, 403);
  const missing = await api(server.base, 'POST', '/api/v1/admin/channels',
    { token: adminToken, body: { adapter: 'telegram', name: 'x', secrets: { bot_token: 'a' } } });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.field, 'secrets');
  assert.ok(!server.log().includes(SECRET) && !server.log().includes(BOT));
});

test('a wrong or missing secret token is refused and nothing is written', async () => {
  const body = fixture('telegram/text.json');
  const wrong = await hook(server.base, path, body, headers('nope'));
  assert.equal(wrong.status, 403);
  assert.equal(wrong.body.error.code, 'forbidden');
  const none = await hook(server.base, path, body, { 'Content-Type': 'application/json' });
  assert.equal(none.status, 401);
  await new Promise((r) => setTimeout(r, 300));
  const list = await api(server.base, 'GET', '/api/v1/requests?channel=telegram&limit=200', { token });
  assert.ok(!list.body.items.some((r) => r.source_id === 'tg:5123456789:4711'));
  const unknownChannel = await hook(server.base, '/hooks/telegram/other-bot', body, headers());
  assert.equal(unknownChannel.status, 404);
});

test('malformed JSON is a 400, an oversized body a 413, unknown updates are acknowledged', async () => {
  const bad = await hook(server.base, path, '{"update_id": 1, "message": {', headers());
  assert.equal(bad.status, 400);
  for (const [how, bytes] of [['whole', 1400000], ['chunked', 1400000], ['headers', 64 << 20]]) {
    const huge = await postOversized(server.base, path, headers(), bytes, how);
    assert.equal(huge.status, 413, how);
    assert.equal(huge.body.error.code, 'too_big', how);
  }
  for (const f of ['my_chat_member.json', 'callback_query.json']) {
    const r = await hook(server.base, path, fixture(`telegram/${f}`), headers());
    assert.equal(r.status, 200, f);
    assert.equal(r.body.accepted, 0, f);
  }
});

test('a message becomes a request once, follow-ups join it, edits and photos too', async () => {
  const r1 = await hook(server.base, path, fixture('telegram/text.json'), headers());
  assert.equal(r1.status, 200);
  assert.equal(r1.body.accepted, 1);
  const again = await hook(server.base, path, fixture('telegram/text.json'), headers());
  assert.equal(again.status, 200);
  const items = await waitRequests(server.base, token, 'telegram',
    (xs) => xs.some((r) => r.source_id === 'tg:5123456789:4711'));
  const created = items.filter((r) => r.source_id === 'tg:5123456789:4711');
  assert.equal(created.length, 1, 'redelivery is deduplicated');
  const id = created[0].id;
  assert.equal(created[0].customer_name, 'Анна Смирнова');
  for (const f of ['followup.json', 'edited.json', 'photo.json', 'sticker.json']) {
    const r = await hook(server.base, path, fixture(`telegram/${f}`), headers());
    assert.equal(r.status, 200, f);
  }
  const full = await waitFor(async () => {
    const q = await getRequest(server.base, token, id);
    return q.messages.length >= 5 ? q : null;
  }, { what: 'follow-ups in the same request' });
  const bodies = full.messages.map((m) => m.body);
  assert.ok(bodies.includes('Подскажите, когда будет?'));
  assert.ok(bodies.includes('Подскажите, когда будет доставка?'));
  assert.ok(bodies.includes('Вот чек'));
  const att = full.events.filter((e) => e.type === 'message.attachments');
  assert.ok(att.some((e) => e.data.attachments[0].file_id === 'AgACAgIAAxkBAAIBY2Y-large'),
    'the largest photo size is kept');
  assert.ok(att.some((e) => e.data.attachments[0].type === 'sticker'));
});

test('a shared contact gives the customer a phone identity', async () => {
  const r = await hook(server.base, path, fixture('telegram/contact.json'), headers());
  assert.equal(r.status, 200);
  const lookup = await waitFor(async () => {
    const q = await api(server.base, 'GET', '/api/v1/customers/lookup?phone=%2B79161234567', { token });
    return q.status === 200 ? q : null;
  }, { what: 'phone identity' });
  const items = await waitRequests(server.base, token, 'telegram',
    (xs) => xs.some((x) => x.source_id === 'tg:5123456789:4711'));
  const req = items.find((x) => x.source_id === 'tg:5123456789:4711');
  assert.equal(lookup.body.customer_id, req.customer_id);
});

test('each member of a group has their own request, and replies go to the group chat id', async () => {
  fake.clear();
  await hook(server.base, path, fixture('telegram/group.json'), headers());
  const items = await waitRequests(server.base, token, 'telegram',
    (xs) => xs.some((x) => x.source_id === 'tg:-1001234567890:88'));
  const req = items.find((x) => x.source_id === 'tg:-1001234567890:88');
  // Another member writes in the same group: a request of their own.
  const other = JSON.parse(fixture('telegram/group.json'));
  other.update_id += 1;
  other.message.message_id = 89;
  other.message.from = { id: 6234567891, is_bot: false, first_name: 'Ольга' };
  other.message.text = 'А в отделе молочки нет ценников';
  assert.equal((await hook(server.base, path, JSON.stringify(other), headers())).status, 200);
  // The first member writes again: it joins their conversation.
  const again = JSON.parse(fixture('telegram/group.json'));
  again.update_id += 2;
  again.message.message_id = 90;
  again.message.text = 'Уже полтора часа';
  assert.equal((await hook(server.base, path, JSON.stringify(again), headers())).status, 200);
  const all = await waitRequests(server.base, token, 'telegram',
    (xs) => xs.some((x) => x.source_id === 'tg:-1001234567890:89'));
  const second = all.find((x) => x.source_id === 'tg:-1001234567890:89');
  assert.notEqual(second.id, req.id);
  assert.notEqual(second.customer_id, req.customer_id);
  const first = await waitFor(async () => {
    const r = await getRequest(server.base, token, req.id);
    return r.messages.some((m) => m.body === 'Уже полтора часа') ? r : null;
  }, { what: 'the follow-up in the first member\'s request' });
  assert.equal(first.messages.filter((m) => m.direction === 'in').length, 2);
  await reply(req.id, 'Спасибо, передали администратору');
  const sent = await waitFor(() => fake.requests().find((x) => x.json?.chat_id === -1001234567890),
    { what: 'sendMessage to the group' });
  assert.equal(sent.path, `/bot${BOT}/sendMessage`);
  assert.equal(sent.json.text, 'Спасибо, передали администратору');
});

test('a reply is retried after 5xx and 429 Retry-After, then recorded as sent once', async () => {
  const items = await waitRequests(server.base, token, 'telegram',
    (xs) => xs.some((x) => x.source_id === 'tg:5123456789:4711'));
  const req = items.find((x) => x.source_id === 'tg:5123456789:4711');
  fake.clear();
  fake.fail({ status: 502 }, { status: 429, retry_after: 1,
    body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } } });
  const t0 = Date.now();
  await reply(req.id, 'Заказ 12345 привезут сегодня до 18:00');
  const rows = await waitFor(async () => {
    const o = await outboxOf(server.base, adminToken, req.id);
    const row = o.find((x) => x.body === 'Заказ 12345 привезут сегодня до 18:00');
    return row?.status === 'sent' ? o : null;
  }, { what: 'sent after retries' });
  const row = rows.find((x) => x.body === 'Заказ 12345 привезут сегодня до 18:00');
  assert.equal(row.attempts, 3);
  assert.ok(Date.now() - t0 >= 1000, 'Retry-After of 1 s honoured');
  const got = fake.requests().filter((x) => x.json?.text === 'Заказ 12345 привезут сегодня до 18:00');
  assert.equal(got.length, 3);
  assert.equal(got[2].json.chat_id, 5123456789);
  assert.match(row.external_id, /^5123456789:\d+$/);
  const full = await getRequest(server.base, token, req.id);
  assert.ok(full.events.some((e) => e.type === 'outbox.sent' && e.data.outbox_id === row.id));
});

test('a timeout is retried; a blocked bot goes to the dead letter, visible on the request', async () => {
  const items = await waitRequests(server.base, token, 'telegram',
    (xs) => xs.some((x) => x.source_id === 'tg:5123456789:4711'));
  const req = items.find((x) => x.source_id === 'tg:5123456789:4711');
  fake.clear();
  fake.fail({ delay_ms: 4500 });
  await reply(req.id, 'Проверяем задержку');
  await waitFor(async () => {
    const o = await outboxOf(server.base, adminToken, req.id);
    return o.find((x) => x.body === 'Проверяем задержку' && x.status === 'sent');
  }, { what: 'sent after a timeout', timeout_ms: 30000 });
  fake.fail({ status: 403, body: { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' } });
  await reply(req.id, 'Это сообщение не дойдёт');
  const dead = await waitFor(async () => {
    const o = await outboxOf(server.base, adminToken, req.id);
    return o.find((x) => x.body === 'Это сообщение не дойдёт' && x.status === 'dead');
  }, { what: 'dead letter' });
  assert.match(dead.last_error, /blocked by the user/);
  const full = await getRequest(server.base, token, req.id);
  assert.ok(full.events.some((e) => e.type === 'outbox.dead' && e.data.outbox_id === dead.id));
  const retry = await api(server.base, 'POST', `/api/v1/admin/outbox/${dead.id}/retry`, { token: adminToken });
  assert.equal(retry.status, 200);
  await waitFor(async () => {
    const o = await outboxOf(server.base, adminToken, req.id);
    return o.find((x) => x.id === dead.id && x.status === 'sent');
  }, { what: 'sent after a manual retry' });
});

test('rotating the secret token takes effect without a restart', async () => {
  const r = await api(server.base, 'POST', `/api/v1/admin/channels/${channel.id}/rotate`,
    { token: adminToken, body: { secrets: { secret_token: 'rotated-Secret-2' } } });
  assert.equal(r.status, 200);
  assert.ok(r.body.rotated_at);
  assert.ok(!JSON.stringify(r.body).includes('rotated-Secret-2'));
  const old = await hook(server.base, path, fixture('telegram/followup.json'), headers());
  assert.equal(old.status, 403);
  const fresh = await hook(server.base, path, fixture('telegram/followup.json'), headers('rotated-Secret-2'));
  assert.equal(fresh.status, 200);
  const off = await api(server.base, 'PATCH', `/api/v1/admin/channels/${channel.id}`,
    { token: adminToken, body: { is_active: false } });
  assert.equal(off.status, 200);
  const gone = await hook(server.base, path, fixture('telegram/followup.json'), headers('rotated-Secret-2'));
  assert.equal(gone.status, 404);
  await api(server.base, 'PATCH', `/api/v1/admin/channels/${channel.id}`,
    { token: adminToken, body: { is_active: true } });
});

test('a crash while sending never sends twice: the row becomes unknown', async () => {
  const items = await waitRequests(server.base, token, 'telegram',
    (xs) => xs.some((x) => x.source_id === 'tg:5123456789:4711'));
  const req = items.find((x) => x.source_id === 'tg:5123456789:4711');
  await api(server.base, 'PATCH', `/api/v1/admin/channels/${channel.id}`,
    { token: adminToken, body: { settings: { api_base: fake.url, retry_base_ms: 50, timeout_ms: 20000 } } });
  fake.clear();
  fake.fail({ delay_ms: 8000 });
  await reply(req.id, 'Отправка во время сбоя');
  await waitFor(() => fake.requests().some((x) => x.json?.text === 'Отправка во время сбоя'), { what: 'send in flight' });
  await server.kill9();
  server = await startServer(db);
  const row = await waitFor(async () => {
    const o = await outboxOf(server.base, adminToken, req.id);
    return o.find((x) => x.body === 'Отправка во время сбоя' && x.status === 'unknown');
  }, { what: 'unknown after restart' });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(fake.requests().filter((x) => x.json?.text === 'Отправка во время сбоя').length, 1);
  const full = await getRequest(server.base, token, req.id);
  assert.ok(full.events.some((e) => e.type === 'outbox.unknown' && e.data.outbox_id === row.id));
});
