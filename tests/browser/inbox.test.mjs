// inbox.test.mjs - the first web page in a real browser against the real
// binary: log in, see the inbox, watch a request posted through the API
// appear without a reload (SSE), open it with the customer 360 beside it,
// change its status, a wrong password, and a store director's limited view.
// Run: cd tests && node --test browser/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { demoDb, startServer, launchBrowser, newPage, login, postRequest } from './helpers.mjs';

let env;      // {dir, db, token, cleanup}
let server;   // {url, stop}
let browser;

before(async () => {
  env = demoDb({ customers: 300, requests: 500 });
  server = await startServer(env.db);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (server) await server.stop();
  if (env) env.cleanup();
});

/** GET through the API as the integration. */
async function apiGet(path) {
  const resp = await fetch(server.url + '/api/v1' + path, { headers: { Authorization: `Bearer ${env.token}` } });
  assert.equal(resp.status, 200, `GET ${path}`);
  return resp.json();
}

/** A demo customer with a phone and a positive bonus balance. */
async function customerWithBonus() {
  const list = await apiGet('/requests?limit=200');
  const seen = new Set();
  for (const r of list.items) {
    if (!r.customer_id || seen.has(r.customer_id)) continue;
    seen.add(r.customer_id);
    const c = await apiGet('/customers/' + r.customer_id);
    const phone = c.identities.find((i) => i.kind === 'phone');
    if (phone && c.bonus.balance > 0) return { id: c.id, name: c.name, phone: phone.value, balance: c.bonus.balance };
  }
  throw new Error('no demo customer with a phone and bonus points');
}

const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const digits = (s) => s.replace(/[^\d-]/g, '');

test('operator: live inbox, request view with customer 360, status change, wrong password', async () => {
  const { context, page } = await newPage(browser);
  try {
    await login(page, server.url, 'operator');
    assert.ok(await page.locator('#inbox-list .row').count() >= 10, 'the inbox lists requests');
    await page.locator('#live.on').waitFor({ timeout: 5000 }); // the stream is connected

    // A request through the intake API appears at the top without a reload.
    const cust = await customerWithBonus();
    const store = (await apiGet('/stores')).items[0].code;
    const text = `Очередь на кассе, работает одна касса (${unique()})`;
    await page.evaluate(() => { window.__sameDocument = true; });
    const created = await postRequest(server.url, env.token, {
      channel: 'telegram', source_id: 'browser-' + unique(),
      customer: { phone: cust.phone, name: cust.name }, store, text,
    });
    assert.equal(created.customer_id, cust.id, 'the request is linked to the known customer');
    const row = page.locator('#inbox-list .row', { hasText: text });
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
    assert.equal(await page.locator('#inbox-list .row').first().getAttribute('data-id'), String(created.id));

    // Its view: the conversation, and the customer 360 with phone and bonus balance.
    await row.click();
    await page.locator('.detail-id', { hasText: '#' + created.id }).waitFor();
    await page.locator('.conversation .msg-in', { hasText: text }).waitFor();
    const panel = page.locator('#customer');
    await panel.locator('.id-value', { hasText: cust.phone }).waitFor({ timeout: 5000 });
    assert.equal(digits(await panel.locator('#bonus-balance').textContent()), String(cust.balance));
    assert.match(await panel.textContent(), /Бонусы/i);

    // Status new -> open: the badges follow, and the server agrees.
    await page.locator('select.ctl-status').selectOption('open');
    await page.locator('.detail-head .badge.statuses-open', { hasText: 'В работе' }).waitFor({ timeout: 5000 });
    await row.locator('.badge.statuses-open').waitFor({ timeout: 5000 });
    assert.equal((await apiGet('/requests/' + created.id)).status, 'open');
    assert.deepEqual(page.problems, [], 'no script errors or CSP violations');
  } finally {
    await context.close();
  }

  // A wrong password shows the error and keeps the login form.
  const second = await newPage(browser);
  try {
    const p = second.page;
    await p.goto(server.url + '/');
    await p.locator('#login-login').fill('operator');
    await p.locator('#login-password').fill('not-the-password');
    await p.locator('#login-submit').click();
    const err = p.locator('#login-error');
    await err.waitFor({ state: 'visible', timeout: 5000 });
    assert.match(await err.textContent(), /Неверный логин или пароль/);
    assert.equal(await p.locator('#app-view').isVisible(), false);
  } finally {
    await second.context.close();
  }
});

test('store director sees only the store\'s requests, live ones included', async () => {
  const { context, page } = await newPage(browser);
  try {
    await login(page, server.url, 'director');
    const shown = await page.locator('#inbox-list .row .tag.store').allTextContents();
    const stores = new Set(shown);
    assert.equal(stores.size, 1, `one store in the inbox, got ${[...stores]}`);
    const [own] = stores;
    // The server agrees with the page (same session cookie).
    const api = await (await page.request.get(server.url + '/api/v1/requests?limit=200')).json();
    assert.ok(api.items.length > 0 && api.items.every((r) => r.store === own));
    assert.equal(await page.locator('#f-store').isVisible(), false, 'no store filter for a store scope');

    // Live: a request for another store never shows; one for the own store does.
    await page.locator('#live.on').waitFor({ timeout: 5000 });
    const other = (await apiGet('/stores')).items.map((s) => s.code).find((c) => c !== own);
    const otherText = `Грязный пол у входа (${unique()})`;
    const ownText = `Не работает касса самообслуживания (${unique()})`;
    await postRequest(server.url, env.token, { channel: 'qr', source_id: 'qr-' + unique(), store: other, text: otherText });
    await postRequest(server.url, env.token, { channel: 'qr', source_id: 'qr-' + unique(), store: own, text: ownText });
    await page.locator('#inbox-list .row', { hasText: ownText }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#inbox-list .row', { hasText: otherText }).count(), 0);
    assert.deepEqual(page.problems, [], 'no script errors or CSP violations');
  } finally {
    await context.close();
  }
});
