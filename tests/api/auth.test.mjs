// Logins, sessions with CSRF, API tokens, and what each role may see.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, cli, login, postOversized, prepareDb, removeDir, startServer, tempDir, uid } from './helpers.mjs';

let dir, server, token, adminToken, db;

before(async () => {
  dir = tempDir();
  ({ token, adminToken, db } = prepareDb(dir));
  server = await startServer(db);
});

after(async () => {
  await server.stop();
  removeDir(dir);
});

describe('authentication', () => {
  it('refuses the API without credentials, with a bad token or a malformed header', async () => {
    for (const headers of [{}, { Authorization: 'Bearer otk_nope' }, { Authorization: 'Basic abc' }]) {
      const r = await api(server.base, 'GET', '/api/v1/requests', { headers });
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'unauthorized');
    }
  });

  it('logs in with a session cookie that is HttpOnly and SameSite=Strict', async () => {
    const s = await login(server.base, 'operator');
    assert.match(s.setCookie, /HttpOnly/);
    assert.match(s.setCookie, /SameSite=Strict/);
    assert.equal(s.me.role, 'operator');
    assert.ok(s.csrf.length >= 32);
    const me = await api(server.base, 'GET', '/api/v1/auth/me', { cookie: s.cookie });
    assert.equal(me.status, 200);
    assert.equal(me.body.login, 'operator');
    const list = await api(server.base, 'GET', '/api/v1/requests?limit=1', { cookie: s.cookie });
    assert.equal(list.status, 200);
    // The session id is no API token, even while the session is cached.
    const asToken = await api(server.base, 'POST', '/api/v1/requests', { token: s.cookie.split('=')[1], body: { channel: 'chat', source_id: uid('st'), text: 'x' } });
    assert.equal(asToken.status, 401);
  });

  it('refuses a wrong password without saying which part was wrong', async () => {
    for (const body of [{ login: 'operator', password: 'wrong' }, { login: 'nobody', password: 'demo' }]) {
      const r = await api(server.base, 'POST', '/api/v1/auth/login', { body });
      assert.equal(r.status, 401);
      assert.equal(r.body.error.message, 'wrong login or password');
    }
    const missing = await api(server.base, 'POST', '/api/v1/auth/login', { body: { login: 'operator' } });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.field, 'password');
  });

  it('requires the CSRF token for changes made with a session cookie', async () => {
    const s = await login(server.base, 'operator');
    const body = { channel: 'chat', source_id: uid('csrf'), text: 'Через браузер' };
    const without = await api(server.base, 'POST', '/api/v1/requests', { cookie: s.cookie, body });
    assert.equal(without.status, 403);
    assert.equal(without.body.error.code, 'csrf');
    const wrong = await api(server.base, 'POST', '/api/v1/requests', { cookie: s.cookie, csrf: 'x'.repeat(43), body });
    assert.equal(wrong.status, 403);
    const ok = await api(server.base, 'POST', '/api/v1/requests', { cookie: s.cookie, csrf: s.csrf, body });
    assert.equal(ok.status, 201);
  });

  it('refuses a body without credentials before reading it', async () => {
    // An announced gigabyte with no token: answered 401 from the headers alone.
    const big = await postOversized(server.base, '/api/v1/import', { 'Content-Type': 'application/x-ndjson' }, 1e9, 'headers');
    assert.equal(big.status, 401);
    assert.equal(big.body.error.code, 'unauthorized');
    // A body that is sent whole is read and dropped, and still answered 401.
    const whole = await postOversized(server.base, '/api/v1/import', { 'Content-Type': 'application/x-ndjson' }, 3 * 1024 * 1024, 'whole');
    assert.equal(whole.status, 401);
    // A role without the permission is refused the same way (403), before the body.
    const op = await login(server.base, 'operator');
    const denied = await postOversized(server.base, '/api/v1/import', { 'Content-Type': 'application/x-ndjson', Cookie: op.cookie, 'X-CSRF-Token': op.csrf }, 1e9, 'headers');
    assert.equal(denied.status, 403);
  });

  it('counts parallel failed logins against the limit', async () => {
    // A server of its own allowing 5 failures per address and minute; 20
    // attempts at once may not all reach the password check.
    const own = await startServer(db, ['--login_attempts_per_min', '5']);
    try {
      const tries = await Promise.all(Array.from({ length: 20 }, () =>
        api(own.base, 'POST', '/api/v1/auth/login', { body: { login: 'supervisor', password: 'wrong' } })));
      const refused = tries.filter((r) => r.status === 401).length;
      const limited = tries.filter((r) => r.status === 429);
      assert.equal(refused + limited.length, 20);
      assert.equal(refused, 5);
      assert.equal(limited[0].body.error.code, 'rate_limited');
      // Unknown logins count the same.
      const unknown = await api(own.base, 'POST', '/api/v1/auth/login', { body: { login: 'nobody', password: 'x' } });
      assert.equal(unknown.status, 429);
    } finally {
      await own.stop();
    }
  });

  it('ends the session on logout', async () => {
    const s = await login(server.base, 'supervisor');
    const out = await api(server.base, 'POST', '/api/v1/auth/logout', { cookie: s.cookie, csrf: s.csrf });
    assert.equal(out.status, 200);
    const me = await api(server.base, 'GET', '/api/v1/auth/me', { cookie: s.cookie });
    assert.equal(me.status, 401);
  });
});

describe('roles', () => {
  it('keeps admin settings from operators', async () => {
    const s = await login(server.base, 'operator');
    const r = await api(server.base, 'GET', '/api/v1/admin/settings', { cookie: s.cookie });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'forbidden');
    const a = await api(server.base, 'GET', '/api/v1/admin/settings', { token: adminToken });
    assert.equal(a.status, 200);
    assert.equal(typeof a.body.max_body_bytes, 'number');
    assert.equal((await api(server.base, 'GET', '/api/v1/users', { cookie: s.cookie })).status, 403);
    const sup = await login(server.base, 'supervisor');
    const users = await api(server.base, 'GET', '/api/v1/users', { cookie: sup.cookie });
    assert.equal(users.status, 200);
    assert.ok(users.body.items.every((u) => !('password_hash' in u)));
  });

  it('shows a store director only the store', async () => {
    const s = await login(server.base, 'director');
    const me = await api(server.base, 'GET', '/api/v1/auth/me', { cookie: s.cookie });
    assert.equal(me.body.scope, 'store');
    const mine = await api(server.base, 'GET', '/api/v1/requests?limit=200', { cookie: s.cookie });
    assert.equal(mine.status, 200);
    assert.ok(mine.body.items.length > 0);
    const stores = new Set(mine.body.items.map((i) => i.store));
    assert.equal(stores.size, 1);
    const own = [...stores][0];
    // A request of another store is invisible: 404, not 403, so ids do not leak.
    const all = await api(server.base, 'GET', '/api/v1/requests?limit=200', { token: adminToken });
    const foreign = all.body.items.find((i) => i.store && i.store !== own);
    assert.ok(foreign);
    assert.equal((await api(server.base, 'GET', `/api/v1/requests/${foreign.id}`, { cookie: s.cookie })).status, 404);
    const patch = await api(server.base, 'PATCH', `/api/v1/requests/${foreign.id}`, { cookie: s.cookie, csrf: s.csrf, body: { priority: 'high' } });
    assert.equal(patch.status, 404);
    // Asking for another store by filter still yields only the own store.
    const other = await api(server.base, 'GET', `/api/v1/requests?store=${foreign.store}`, { cookie: s.cookie });
    assert.equal(other.body.items.length, 0);
  });

  it('shows a regional manager only the region', async () => {
    const s = await login(server.base, 'regional');
    const all = await api(server.base, 'GET', '/api/v1/stores', { token: adminToken });
    const regionOf = Object.fromEntries(all.body.items.map((x) => [x.code, x.region]));
    const me = await api(server.base, 'GET', '/api/v1/auth/me', { cookie: s.cookie });
    assert.equal(me.body.scope, 'region');
    const mine = await api(server.base, 'GET', '/api/v1/requests?limit=200', { cookie: s.cookie });
    assert.ok(mine.body.items.length > 0);
    assert.ok(mine.body.items.every((i) => regionOf[i.store] === me.body.region));
  });

  it('lets a store-bound token file requests only for its store', async () => {
    const t = cli(['token', 'create', '--db', db, '--name', 'kiosk', '--role', 'store_director', '--store', 'MSK-001']);
    assert.equal(t.status, 0, t.stderr);
    const kiosk = t.stdout.trim();
    const ok = await api(server.base, 'POST', '/api/v1/requests', { token: kiosk, body: { channel: 'qr', source_id: uid('k'), store: 'MSK-001', text: 'Очередь на кассе' } });
    assert.equal(ok.status, 201);
    const no = await api(server.base, 'POST', '/api/v1/requests', { token: kiosk, body: { channel: 'qr', source_id: uid('k'), store: 'MSK-002', text: 'Очередь на кассе' } });
    assert.equal(no.status, 403);
    // Repeating another store's message id must not reveal that store's request.
    const foreign = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'email', source_id: uid('f'), store: 'MSK-002', customer: { name: 'Чужой клиент' }, text: 'Секрет другого магазина' } });
    assert.equal(foreign.status, 201);
    const probe = await api(server.base, 'POST', '/api/v1/requests', { token: kiosk, body: { channel: 'email', source_id: foreign.body.source_id, store: 'MSK-001', text: 'x' } });
    assert.equal(probe.status, 409);
    assert.equal(probe.body.error.field, 'source_id');
    assert.ok(!JSON.stringify(probe.body).includes('Секрет'));
  });

  it('keeps a store-bound token to its store in imports and customer data', async () => {
    const t = cli(['token', 'create', '--db', db, '--name', 'bound-integration', '--role', 'integration', '--store', 'MSK-001']);
    assert.equal(t.status, 0, t.stderr);
    const bound = t.stdout.trim();
    const line = JSON.stringify({ type: 'request', channel: 'email', source_id: uid('imp'), store: 'MSK-002', text: 'Чужой магазин' });
    const imp = await api(server.base, 'POST', '/api/v1/import', { token: bound, raw: line + '\n', headers: { 'Content-Type': 'application/x-ndjson' } });
    assert.equal(imp.status, 403);
    assert.equal(imp.body.error.code, 'forbidden');
    assert.match(imp.body.error.message, /bound to a store/);
    // Refused from the headers: an announced gigabyte is not waited for.
    const early = await postOversized(server.base, '/api/v1/import', { 'Content-Type': 'application/x-ndjson', Authorization: `Bearer ${bound}` }, 1e9, 'headers');
    assert.equal(early.status, 403);
    const boundMe = await api(server.base, 'GET', '/api/v1/auth/me', { token: bound });
    assert.equal(boundMe.body.scope, 'store');
    assert.equal(boundMe.body.store, 'MSK-001');
    assert.ok(!boundMe.body.permissions.includes('import'));
    // A customer who wrote only to another store is not found by the bound token.
    const phone = '+7916' + String(Date.now() % 10000000).padStart(7, '0');
    const elsewhere = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'sms', source_id: uid('o'), store: 'MSK-002', customer: { phone }, text: 'Где заказ?' } });
    assert.equal(elsewhere.status, 201);
    const seen = await api(server.base, 'GET', `/api/v1/customers/lookup?phone=${encodeURIComponent(phone)}`, { token });
    assert.equal(seen.status, 200);
    assert.equal(seen.body.open_requests.length, 1);
    const hidden = await api(server.base, 'GET', `/api/v1/customers/lookup?phone=${encodeURIComponent(phone)}`, { token: bound });
    assert.equal(hidden.status, 404);
    // Once the customer writes to MSK-001 too, the bound token sees that request only.
    const here = await api(server.base, 'POST', '/api/v1/requests', { token: bound, body: { channel: 'sms', source_id: uid('h'), store: 'MSK-001', customer: { phone }, text: 'И ещё вопрос' } });
    assert.equal(here.status, 201);
    const mine = await api(server.base, 'GET', `/api/v1/customers/lookup?phone=${encodeURIComponent(phone)}`, { token: bound });
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body.open_requests.map((r) => r.id), [here.body.id]);
    // The demo director sees, of that customer, the request at the director's own store only.
    const s = await login(server.base, 'director');
    const me = await api(server.base, 'GET', '/api/v1/auth/me', { cookie: s.cookie });
    assert.equal(me.body.scope, 'store');
    assert.equal(typeof me.body.store, 'string');
    const atDirector = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'sms', source_id: uid('d'), store: me.body.store, customer: { phone }, text: 'В магазине директора' } });
    assert.equal(atDirector.status, 201);
    const c = await api(server.base, 'GET', `/api/v1/customers/${here.body.customer_id}`, { cookie: s.cookie });
    assert.equal(c.status, 200);
    assert.ok(c.body.requests.every((r) => r.store === me.body.store), JSON.stringify(c.body.requests));
    assert.ok(c.body.requests.some((r) => r.id === atDirector.body.id));
    assert.ok(me.body.store === 'MSK-001' || !c.body.requests.some((r) => r.id === here.body.id));
  });

  it('keeps a region-bound token to its region', async () => {
    const store = await api(server.base, 'GET', '/api/v1/stores', { token: adminToken });
    const stores = store.body.items ?? store.body;
    const home = stores.find((x) => x.code === 'MSK-001');
    const away = stores.find((x) => x.region !== home.region);
    assert.ok(home && away, 'the demo has stores in two regions');
    const t = cli(['token', 'create', '--db', db, '--name', 'region-integration', '--role', 'integration', '--region', home.region]);
    assert.equal(t.status, 0, t.stderr);
    const bound = t.stdout.trim();
    const me = await api(server.base, 'GET', '/api/v1/auth/me', { token: bound });
    assert.equal(me.body.scope, 'region');
    assert.equal(me.body.region, home.region);
    const imp = await api(server.base, 'POST', '/api/v1/import', { token: bound, raw: '{"type":"customer","card":"R-1"}\n', headers: { 'Content-Type': 'application/x-ndjson' } });
    assert.equal(imp.status, 403);
    assert.match(imp.body.error.message, /bound to a region/);
    const phone = '+7917' + String(Date.now() % 10000000).padStart(7, '0');
    const there = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'sms', source_id: uid('ra'), store: away.code, customer: { phone }, text: 'В другом регионе' } });
    assert.equal(there.status, 201);
    const hidden = await api(server.base, 'GET', `/api/v1/customers/lookup?phone=${encodeURIComponent(phone)}`, { token: bound });
    assert.equal(hidden.status, 404);
    const seen = await api(server.base, 'GET', `/api/v1/customers/lookup?phone=${encodeURIComponent(phone)}`, { token });
    assert.equal(seen.status, 200);
  });

  it('does not let an integration token change requests', async () => {
    const c = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'sms', source_id: uid('i'), text: 'x' } });
    const r = await api(server.base, 'PATCH', `/api/v1/requests/${c.body.id}`, { token, body: { status: 'open' } });
    assert.equal(r.status, 403);
  });
});
