// Viber, VK and WhatsApp against the real binary: real-format callbacks
// with good and bad signatures, handshakes, unknown events, 64-bit
// message tokens, batches, delivery reports, and replies through each
// platform's send API on a local fake.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { api, login, prepareDb, removeDir, startServer, tempDir } from './helpers.mjs';
import { startPlatformFake } from './fakes/platform.mjs';
import { addChannel, fixture, getRequest, hook, outboxOf, waitFor, waitRequests } from './fakes/channels.mjs';

let dir, db, token, adminToken, server, fake, op;
const VIBER = '445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9';
const WA_SECRET = 'wa-app-secret';
const hmacHex = (key, body) => createHmac('sha256', key).update(body).digest('hex');

before(async () => {
  dir = tempDir();
  ({ db, token, adminToken } = prepareDb(dir, { customers: 30, requests: 30 }));
  fake = await startPlatformFake();
  server = await startServer(db);
  const common = { api_base: fake.url, retry_base_ms: 50, timeout_ms: 2000 };
  await addChannel(server.base, adminToken, 'viber', 'bot', { auth_token: VIBER }, { ...common, sender_name: 'Магазин' });
  await addChannel(server.base, adminToken, 'vk', 'group', { access_token: 'vk-token', secret: 'vk-secret-1', confirmation: 'a1b2c3d4' },
    { ...common, group_id: '218000001' });
  await addChannel(server.base, adminToken, 'whatsapp', 'main', { access_token: 'wa-token', app_secret: WA_SECRET, verify_token: 'wa-verify' },
    { ...common, phone_number_id: '106540352242922', api_version: 'v19.0' });
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
  assert.equal(r.status, 201);
}

const viber = (body, sig = hmacHex(VIBER, body)) => hook(server.base, '/hooks/viber/bot', body,
  { 'Content-Type': 'application/json', 'X-Viber-Content-Signature': sig });

test('Viber: signature checked, 64-bit tokens kept apart, replies and delivery reports', async () => {
  const body = fixture('viber/message_text.json');
  assert.equal((await viber(body, hmacHex('wrong', body))).status, 403);
  assert.equal((await hook(server.base, '/hooks/viber/bot', body, { 'Content-Type': 'application/json' })).status, 401);
  for (const f of ['webhook.json', 'conversation_started.json']) {
    const r = await viber(fixture(`viber/${f}`));
    assert.equal(r.status, 200, f);
    assert.equal(r.body.accepted, 0, f);
  }
  assert.equal((await viber(body)).status, 200);
  assert.equal((await viber(fixture('viber/message_token_neighbour.json'))).status, 200);
  const items = (await waitRequests(server.base, token, 'viber', (xs) => xs.some((x) => x.source_id?.startsWith('vb:'))))
    .filter((x) => x.source_id?.startsWith('vb:'));
  assert.equal(items.length, 1);
  assert.equal(items[0].source_id, 'vb:5491138458262457346');
  const full = await waitFor(async () => {
    const q = await getRequest(server.base, token, items[0].id);
    return q.messages.length === 2 ? q : null;
  }, { what: 'neighbouring token as a second message' });
  assert.equal(full.messages[1].body, 'Скриншот ошибки');
  assert.ok(full.events.some((e) => e.type === 'message.attachments' && e.data.attachments[0].type === 'picture'));
  fake.clear();
  await reply(items[0].id, 'Иван, бонусы списываются на кассе');
  const sent = await waitFor(() => fake.requests().find((x) => x.path === '/pa/send_message'), { what: 'send_message' });
  assert.equal(sent.headers['x-viber-auth-token'], VIBER);
  assert.deepEqual(sent.json, { receiver: '01234567890A=', type: 'text', text: 'Иван, бонусы списываются на кассе', sender: { name: 'Магазин' } });
  const row = await waitFor(async () => (await outboxOf(server.base, adminToken, items[0].id)).find((x) => x.status === 'sent'),
    { what: 'sent' });
  assert.match(row.external_id, /^50000000000000000\d\d$/);
  assert.equal((await viber(fixture('viber/delivered.json').replace('TOKEN', row.external_id))).status, 200);
  assert.equal((await viber(fixture('viber/seen.json').replace('TOKEN', row.external_id))).status, 200);
  await waitFor(async () => (await outboxOf(server.base, adminToken, items[0].id)).find((x) => x.status === 'read' && x.delivered_at),
    { what: 'read' });
  const after = await getRequest(server.base, token, items[0].id);
  assert.ok(after.events.some((e) => e.type === 'outbox.delivered'));
  assert.ok(after.events.some((e) => e.type === 'outbox.read'));
});

const vk = (body) => hook(server.base, '/hooks/vk/group', body, { 'Content-Type': 'application/json' });

test('VK: confirmation string, secret and group checked, messages and comments, "ok" to the rest', async () => {
  const conf = await vk(fixture('vk/confirmation.json'));
  assert.equal(conf.status, 200);
  assert.equal(conf.text, 'a1b2c3d4');
  const bad = await vk(fixture('vk/message_new.json').replace('"secret":"vk-secret-1"', '"secret":"nope"'));
  assert.equal(bad.status, 403);
  const noSecret = await vk(fixture('vk/message_new.json').replace(',"secret":"vk-secret-1"', ''));
  assert.equal(noSecret.status, 401);
  const otherGroup = await vk(fixture('vk/message_new.json').replace('"group_id":218000001', '"group_id":1'));
  assert.equal(otherGroup.status, 403);
  for (const f of ['message_new.json', 'wall_reply_new.json', 'wall_reply_by_group.json', 'group_join.json']) {
    const r = await vk(fixture(`vk/${f}`));
    assert.equal(r.status, 200, f);
    assert.equal(r.text, 'ok', f);
  }
  const mine = (x) => x.source_id?.startsWith('vk:');
  const items = (await waitRequests(server.base, token, 'vk', (xs) => xs.filter(mine).length >= 2)).filter(mine);
  assert.equal(items.length, 2, 'the community\'s own comment is not a request');
  const dm = items.find((x) => x.source_id === 'vk:m:123456789:8801');
  const comment = items.find((x) => x.source_id === 'vk:c:3301:5512');
  assert.ok(dm && comment);
  assert.equal(comment.subject, 'Комментарий к записи 3301');
  const full = await getRequest(server.base, token, dm.id);
  assert.equal(full.events.find((e) => e.type === 'message.attachments').data.attachments[0].url, 'https://sun9-1.userapi.com/z.jpg');
  fake.clear();
  fake.fail({ status: 200, body: { error: { error_code: 10, error_msg: 'Internal server error' } } });
  await reply(dm.id, 'Заказ 777 привезут завтра');
  const rows = await waitFor(async () => {
    const o = await outboxOf(server.base, adminToken, dm.id);
    return o[0]?.status === 'sent' ? o : null;
  }, { what: 'sent after a VK internal error' });
  const sends = fake.requests().filter((x) => x.path === '/method/messages.send');
  assert.equal(sends.length, 2);
  assert.equal(sends[1].form.peer_id, '123456789');
  assert.equal(sends[1].form.message, 'Заказ 777 привезут завтра');
  assert.equal(sends[1].form.random_id, String(rows[0].id), 'random_id is the outbox id');
  assert.equal(sends[0].form.random_id, sends[1].form.random_id, 'a retry reuses the idempotency key');
  assert.equal(sends[1].form.access_token, 'vk-token');
  assert.equal(sends[1].form.v, '5.199');
});

const wa = (body, sig = `sha256=${hmacHex(WA_SECRET, body)}`) => hook(server.base, '/hooks/whatsapp/main', body,
  { 'Content-Type': 'application/json', 'X-Hub-Signature-256': sig });

test('WhatsApp: verify-token handshake, signature over the raw escaped bytes, batches, statuses', async () => {
  const ok = await hook(server.base, '/hooks/whatsapp/main?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wa-verify', '', {}, 'GET');
  assert.equal(ok.status, 200);
  assert.equal(ok.text, '1158201444');
  const no = await hook(server.base, '/hooks/whatsapp/main?hub.mode=subscribe&hub.challenge=1&hub.verify_token=bad', '', {}, 'GET');
  assert.equal(no.status, 403);
  const body = fixture('whatsapp/text.json');
  // The bytes as sent (\u escapes) are what is signed; re-serialised JSON would not match.
  assert.equal((await wa(body, `sha256=${hmacHex(WA_SECRET, JSON.stringify(JSON.parse(body)))}`)).status, 403);
  assert.equal((await wa(body, 'sha256=00')).status, 403);
  assert.equal((await hook(server.base, '/hooks/whatsapp/main', body, { 'Content-Type': 'application/json' })).status, 401);
  assert.equal((await wa('{"object":')).status, 400);
  assert.equal((await wa(fixture('whatsapp/other_field.json'))).body.accepted, 0);
  assert.equal((await wa(body)).status, 200);
  const batch = await wa(fixture('whatsapp/batch_image_and_reaction.json'));
  assert.equal(batch.body.accepted, 1, 'the reaction is acknowledged, not intake');
  const items = await waitRequests(server.base, token, 'whatsapp', (xs) => xs.some((x) => x.source_id?.startsWith('wamid.')));
  const req = items.find((x) => x.source_id?.startsWith('wamid.'));
  assert.equal(req.customer_name, 'Сергей 😊');
  const full = await waitFor(async () => {
    const q = await getRequest(server.base, token, req.id);
    return q.messages.length === 2 ? q : null;
  }, { what: 'image in the same conversation' });
  assert.equal(full.messages[0].body, 'Где мой заказ? 😡');
  assert.equal(full.messages[1].body, 'Фото чека');
  const lookup = await api(server.base, 'GET', '/api/v1/customers/lookup?phone=%2B79031234567', { token });
  assert.equal(lookup.body.customer_id, req.customer_id, 'wa_id gives the phone identity');
  fake.clear();
  await reply(req.id, 'Сергей, заказ в пути');
  const sent = await waitFor(() => fake.requests().find((x) => x.path === '/v19.0/106540352242922/messages'), { what: 'messages POST' });
  assert.equal(sent.headers.authorization, 'Bearer wa-token');
  assert.deepEqual(sent.json, { messaging_product: 'whatsapp', recipient_type: 'individual', to: '79031234567', type: 'text', text: { preview_url: false, body: 'Сергей, заказ в пути' } });
  const row = await waitFor(async () => (await outboxOf(server.base, adminToken, req.id)).find((x) => x.status === 'sent'), { what: 'sent' });
  assert.match(row.external_id, /^wamid\.FAKE\d+$/);
  await wa(fixture('whatsapp/status.json').replaceAll('WAMID', row.external_id));
  await waitFor(async () => (await outboxOf(server.base, adminToken, req.id)).find((x) => x.status === 'read'), { what: 'read' });
});
