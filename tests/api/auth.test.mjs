// Logins, sessions with CSRF, API tokens, and what each role may see.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, cli, login, prepareDb, removeDir, startServer, tempDir, uid } from './helpers.mjs';

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

  it('does not let an integration token change requests', async () => {
    const c = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'sms', source_id: uid('i'), text: 'x' } });
    const r = await api(server.base, 'PATCH', `/api/v1/requests/${c.body.id}`, { token, body: { status: 'open' } });
    assert.equal(r.status, 403);
  });
});
