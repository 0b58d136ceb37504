// SMS (Twilio, SMS.ru), telephony call events and their figures, the web
// chat widget's endpoints, the mobile app API, reviews and social mentions,
// each against the real binary, with wrong credentials refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { api, login, prepareDb, removeDir, startServer, tempDir } from './helpers.mjs';
import { startPlatformFake } from './fakes/platform.mjs';
import { addChannel, fixture, getRequest, hook, outboxOf, waitFor, waitRequests } from './fakes/channels.mjs';

let dir, db, token, adminToken, server, fake, op;
const TWILIO_URL = 'https://support.example.ru/hooks/twilio/intl';

before(async () => {
  dir = tempDir();
  ({ db, token, adminToken } = prepareDb(dir, { customers: 30, requests: 30 }));
  fake = await startPlatformFake();
  server = await startServer(db);
  const common = { api_base: fake.url, retry_base_ms: 50, timeout_ms: 2000 };
  await addChannel(server.base, adminToken, 'twilio', 'intl', { account_sid: 'AC0123456789abcdef0123456789abcdef', auth_token: 'tw-token' },
    { ...common, from: '+15005550006', public_url: TWILIO_URL });
  await addChannel(server.base, adminToken, 'smsru', 'ru', { api_id: 'F2D79B58-A5A2-2F9E', callback_key: 'cb-key-1' }, common);
  await addChannel(server.base, adminToken, 'phone', 'pbx', { signing_key: 'pbx-key' }, {});
  await addChannel(server.base, adminToken, 'webchat', 'site', {}, { allowed_origins: ['https://shop.example'], rate_per_s: 50 });
  await addChannel(server.base, adminToken, 'app', 'mobile', { app_token: 'app-secret-token' }, {});
  await addChannel(server.base, adminToken, 'reviews', 'market', { token: 'rv-token' }, {});
  await addChannel(server.base, adminToken, 'social', 'monitor', { token: 'soc-token' }, { high_reach: 10000 });
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

function twilioSig(form) {
  const params = Object.fromEntries(new URLSearchParams(form));
  const data = TWILIO_URL + Object.keys(params).sort().map((k) => k + params[k]).join('');
  return createHmac('sha1', 'tw-token').update(data).digest('base64');
}
const twilio = (form, sig = twilioSig(form)) => hook(server.base, '/hooks/twilio/intl', form,
  { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sig });

test('Twilio: X-Twilio-Signature checked, SMS in with media, reply out, status callback', async () => {
  const form = fixture('sms/twilio_inbound.form');
  assert.equal((await twilio(form, 'AAAA')).status, 403);
  // Form keys that are not UTF-8 (parsed before the signature can be checked) are skipped.
  assert.equal((await twilio('%FF[]=a&%FF[]=b&%FE=c', 'AAAA')).status, 403);
  assert.equal((await api(server.base, 'GET', '/healthz')).status, 200);
  assert.equal((await hook(server.base, '/hooks/twilio/intl', form, { 'Content-Type': 'application/x-www-form-urlencoded' })).status, 401);
  const r = await twilio(form);
  assert.equal(r.status, 200);
  assert.match(r.text, /<Response><\/Response>/);
  const items = await waitRequests(server.base, token, 'sms', (xs) => xs.some((x) => x.source_id === 'tw:SM4f2a9b3c1d0e8f7a6b5c4d3e2f1a0b9c'));
  const req = items.find((x) => x.source_id === 'tw:SM4f2a9b3c1d0e8f7a6b5c4d3e2f1a0b9c');
  assert.equal(req.text, 'Здравствуйте, где мой заказ A-1001?');
  fake.clear();
  await reply(req.id, 'Заказ A-1001 доставят сегодня');
  const sent = await waitFor(() => fake.requests().find((x) => x.path.endsWith('/Messages.json')), { what: 'Twilio send' });
  assert.equal(sent.path, '/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json');
  assert.equal(sent.headers.authorization, `Basic ${Buffer.from('AC0123456789abcdef0123456789abcdef:tw-token').toString('base64')}`);
  assert.deepEqual(sent.form, { To: '+79161112233', From: '+15005550006', Body: 'Заказ A-1001 доставят сегодня' });
  const row = await waitFor(async () => (await outboxOf(server.base, adminToken, req.id)).find((x) => x.status === 'sent'), { what: 'sent' });
  const status = fixture('sms/twilio_status.form').replaceAll('SID', row.external_id);
  assert.equal((await twilio(status)).status, 200);
  await waitFor(async () => (await outboxOf(server.base, adminToken, req.id)).find((x) => x.status === 'delivered'), { what: 'delivered' });
});

test('SMS.ru: callback key checked, incoming SMS and delivery status, answer 100', async () => {
  const body = fixture('sms/smsru_callback.form');
  const h = { 'Content-Type': 'application/x-www-form-urlencoded' };
  assert.equal((await hook(server.base, '/hooks/smsru/ru', body, h)).status, 401);
  assert.equal((await hook(server.base, '/hooks/smsru/ru?key=nope', body, h)).status, 403);
  const r = await hook(server.base, '/hooks/smsru/ru?key=cb-key-1', body, h);
  assert.equal(r.status, 200);
  assert.equal(r.text, '100');
  const items = await waitRequests(server.base, token, 'sms', (xs) => xs.some((x) => x.source_id === 'smsru:000000-10000001'));
  const req = items.find((x) => x.source_id === 'smsru:000000-10000001');
  assert.equal(req.text, 'Когда откроется магазин на Садовой?');
  fake.clear();
  await reply(req.id, 'В 9:00');
  const sent = await waitFor(() => fake.requests().find((x) => x.path === '/sms/send'), { what: 'SMS.ru send' });
  assert.deepEqual(sent.form, { api_id: 'F2D79B58-A5A2-2F9E', to: '79161234000', msg: 'В 9:00', json: '1' });
  const row = await waitFor(async () => (await outboxOf(server.base, adminToken, req.id)).find((x) => x.status === 'sent'), { what: 'sent' });
  await hook(server.base, '/hooks/smsru/ru?key=cb-key-1', body.replace('SMSID', encodeURIComponent(row.external_id)), h);
  await waitFor(async () => (await outboxOf(server.base, adminToken, req.id)).find((x) => x.status === 'delivered'), { what: 'delivered' });
});

const pbx = (obj, key = 'pbx-key') => {
  const body = JSON.stringify(obj);
  return hook(server.base, '/hooks/phone/pbx', body, { 'Content-Type': 'application/json',
    'X-Otklik-Signature': `sha256=${createHmac('sha256', key).update(body).digest('hex')}` });
};

test('phone: signed call events give service level, ASA, abandonment and callback requests', async () => {
  const events = JSON.parse(fixture('phone/events.json'));
  assert.equal((await pbx(events[0], 'wrong')).status, 403);
  assert.equal((await pbx({ event: 'exploded', call_id: 'x' })).status, 400);
  for (const e of events) assert.equal((await pbx(e)).status, 200, JSON.stringify(e));
  await pbx(events[1]); // a repeated event changes nothing
  const stats = await waitFor(async () => {
    const s = await api(server.base, 'GET', '/api/v1/calls/stats?since=2024-05-10T00:00:00Z&until=2024-05-11T00:00:00Z&answer_within_s=20', { token });
    return s.body.offered === 5 && s.body.callback_requests === 1 ? s.body : null;
  }, { what: 'call stats' });
  assert.equal(stats.answered, 2);
  assert.equal(stats.abandoned, 2); // c-3 abandoned, c-4 missed
  assert.equal(stats.answered_within_threshold, 1);
  assert.equal(stats.service_level, 0.25);
  assert.equal(stats.asa_s, 26);
  assert.equal(stats.abandonment_rate, 0.4);
  assert.equal(stats.aht_s, 210);
  const cb = await waitRequests(server.base, token, 'callback', (xs) => ['call:c-3', 'call:c-4', 'call:c-5'].every((s) => xs.some((x) => x.source_id === s)));
  assert.equal(cb.filter((x) => x.source_id?.startsWith('call:c-')).length, 3);
  const lookup = await api(server.base, 'GET', '/api/v1/customers/lookup?phone=%2B79165550005', { token });
  assert.equal(lookup.status, 200, 'the IVR finds the caller');
});

test('web chat: CORS origin checked, messages both ways by long poll, contact left by the visitor', async () => {
  const visitor = 'a1b2c3d4e5f6a7b8c9d0';
  const post = (obj, origin = 'https://shop.example') => hook(server.base, '/hooks/webchat/site', JSON.stringify(obj),
    { 'Content-Type': 'text/plain', Origin: origin });
  assert.equal((await post({ visitor, id: 'm1', text: 'hi' }, 'https://evil.example')).status, 403);
  assert.equal((await post({ visitor: 'short', id: 'm1', text: 'hi' })).status, 400);
  assert.equal((await post({ visitor, id: 'm1', text: 'Здравствуйте', phone: 'не телефон' })).status, 400);
  const ok = await post({ visitor, id: 'm1', text: 'Здравствуйте, есть ли в наличии кофе?', phone: '8 (916) 777-66-55' });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('access-control-allow-origin'), 'https://shop.example');
  const first = await waitFor(async () => {
    const r = await hook(server.base, `/hooks/webchat/site?visitor=${visitor}&after=0`, '', { Origin: 'https://shop.example' }, 'GET');
    return r.body.messages?.length ? r.body : null;
  }, { what: 'own message visible' });
  const reqId = first.messages[0].request_id;
  // An operator's reply wakes a waiting long poll.
  const t0 = Date.now();
  const pending = hook(server.base, `/hooks/webchat/site?visitor=${visitor}&after=${first.last_id}&wait_s=10`, '', {}, 'GET');
  await new Promise((r) => setTimeout(r, 300));
  await reply(reqId, 'Да, кофе есть');
  const got = await pending;
  assert.equal(got.status, 200);
  assert.equal(got.body.messages[0].direction, 'out');
  assert.equal(got.body.messages[0].text, 'Да, кофе есть');
  assert.ok(Date.now() - t0 < 9500, 'the reply arrived before the poll timed out');
  await waitFor(async () => (await outboxOf(server.base, adminToken, reqId)).find((x) => x.status === 'sent'), { what: 'sent' });
  const lookup = await api(server.base, 'GET', '/api/v1/customers/lookup?phone=%2B79167776655', { token });
  assert.equal(lookup.status, 200, 'the phone left in the chat identifies the customer');
  const again = await post({ visitor, id: 'm2', text: 'Спасибо!' });
  assert.equal(again.status, 200);
  const full = await waitFor(async () => {
    const q = await getRequest(server.base, token, reqId);
    return q.messages.length === 3 ? q : null;
  }, { what: 'follow-up in the same chat' });
  assert.equal(full.channel, 'chat');
});

test('mobile app: token required, user id is the identity, replies readable by the app', async () => {
  const h = (t = 'app-secret-token') => ({ 'Content-Type': 'application/json', Authorization: `Bearer ${t}` });
  const body = JSON.stringify({ user_id: 'u-5001', id: 'am-1', text: 'Не приходят push-уведомления', email: 'user5001@example.ru' });
  assert.equal((await hook(server.base, '/hooks/app/mobile', body, { 'Content-Type': 'application/json' })).status, 401);
  assert.equal((await hook(server.base, '/hooks/app/mobile', body, h('bad'))).status, 403);
  assert.equal((await hook(server.base, '/hooks/app/mobile', body, h())).status, 200);
  const items = await waitRequests(server.base, token, 'app', (xs) => xs.some((x) => x.source_id === 'u:u-5001:am-1'));
  const req = items.find((x) => x.source_id === 'u:u-5001:am-1');
  await reply(req.id, 'Проверьте разрешения в настройках телефона');
  const pulled = await waitFor(async () => {
    const r = await hook(server.base, '/hooks/app/mobile?user=u-5001&after=0', '', h(), 'GET');
    return r.body.messages?.some((m) => m.direction === 'out') ? r.body : null;
  }, { what: 'reply pulled by the app' });
  assert.equal(pulled.messages.at(-1).text, 'Проверьте разрешения в настройках телефона');
  const lookup = await api(server.base, 'GET', '/api/v1/customers/lookup?app_id=u-5001', { token });
  assert.ok(lookup.status === 200 || lookup.status === 400, 'lookup by app id where supported');
});

test('reviews: batch import, low ratings high priority with the rating kept', async () => {
  const h = { 'Content-Type': 'application/json', Authorization: 'Bearer rv-token' };
  assert.equal((await hook(server.base, '/hooks/reviews/market', '{"reviews":[{"id":"x","rating":9}]}', h)).status, 400);
  assert.equal((await hook(server.base, '/hooks/reviews/market', fixture('reviews/batch.json'), { 'Content-Type': 'application/json' })).status, 401);
  const r = await hook(server.base, '/hooks/reviews/market', fixture('reviews/batch.json'), h);
  assert.equal(r.status, 200);
  assert.equal(r.body.accepted, 3);
  const mine = (x) => x.source_id?.startsWith('review:rv-');
  const items = (await waitRequests(server.base, token, 'review', (xs) => xs.filter(mine).length === 3)).filter(mine);
  const low = items.find((x) => x.source_id === 'review:rv-1001');
  const high = items.find((x) => x.source_id === 'review:rv-1002');
  assert.equal(low.kind, 'review');
  assert.equal(low.priority, 'high');
  assert.notEqual(high.priority, 'high');
  assert.equal(items.find((x) => x.source_id === 'review:rv-1003').text, 'Оценка 3 из 5');
  const full = await getRequest(server.base, token, low.id);
  const ev = full.events.find((e) => e.type === 'review.received');
  assert.equal(ev.data.rating, 1);
  assert.equal(ev.data.product, 'SKU-448812');
});

test('social mentions: reach kept for the rules, a large reach is high priority', async () => {
  const h = { 'Content-Type': 'application/json', Authorization: 'Bearer soc-token' };
  assert.equal((await hook(server.base, '/hooks/social/monitor', '{"id":"1","platform":"vk","text":"x","reach":-5}', h)).status, 400);
  const r = await hook(server.base, '/hooks/social/monitor', fixture('social/mentions.json'), h);
  assert.equal(r.status, 200);
  const mine = (x) => x.source_id?.startsWith('social:');
  const items = (await waitRequests(server.base, token, 'social', (xs) => xs.filter(mine).length === 2)).filter(mine);
  const big = items.find((x) => x.source_id === 'social:vk:vk_wall_-1_9001');
  const small = items.find((x) => x.source_id === 'social:telegram:tg_post_42');
  assert.equal(big.priority, 'high');
  assert.notEqual(small.priority, 'high');
  const full = await getRequest(server.base, token, big.id);
  const ev = full.events.find((e) => e.type === 'social.mention');
  assert.equal(ev.data.reach, 250000);
  assert.equal(ev.data.url, 'https://vk.com/wall-1_9001');
  // Replies to a public post cannot be sent back: they are reported as unroutable.
  await reply(big.id, 'Проверим магазин сегодня');
  const after = await waitFor(async () => {
    const q = await getRequest(server.base, token, big.id);
    return q.events.some((e) => e.type === 'outbox.unroutable') ? q : null;
  }, { what: 'unroutable reply' });
  assert.ok(after);
});

test('the public webhook route is rate limited per channel', async () => {
  const visitor = 'ratelimit0000000000001';
  let limited = 0;
  const calls = [];
  for (let i = 0; i < 400; i += 1) {
    calls.push(hook(server.base, `/hooks/webchat/site?visitor=${visitor}&after=0`, '', {}, 'GET'));
  }
  for (const r of await Promise.all(calls)) if (r.status === 429) limited += 1;
  assert.ok(limited > 0, 'some calls over 50/s were refused');
});
