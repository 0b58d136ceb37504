// widget.test.mjs - the chat widget on a retailer's page in a real browser
// against the real binary: a visitor opens the chat and writes, the message
// becomes a webchat request, the operator's reply appears in the open widget
// without a reload, the conversation survives a page reload, and a page on
// an origin the channel does not allow cannot post.
// Run: cd tests && node --test browser/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { demoDb, otklik, startServer, launchBrowser, newPage } from './helpers.mjs';

let env;      // {dir, db, token, cleanup}
let server;   // {url, stop}
let browser;
let admin;    // admin API token

before(async () => {
  env = demoDb({ customers: 100, requests: 100 });
  admin = otklik(['token', 'create', '--db', env.db, '--name', 'widget-admin', '--role', 'admin']).trim();
  server = await startServer(env.db);
  browser = await launchBrowser();
  // The retailer's page is served by the same host here: allow that origin.
  const r = await api('POST', '/admin/channels', admin, {
    adapter: 'webchat', name: 'site', secrets: {}, settings: { allowed_origins: [server.url] },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (server) await server.stop();
  if (env) env.cleanup();
});

async function api(method, path, token, body) {
  const resp = await fetch(server.url + '/api/v1' + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: resp.status, body: await resp.json() };
}

/** Polls fn until it returns a truthy value. */
async function until(fn, what, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a visitor chats through the widget and sees the operator\'s reply live', async () => {
  const { context, page } = await newPage(browser, { width: 1024, height: 768 });
  try {
    await page.goto(server.url + '/widget-demo.html');
    const button = page.getByRole('button', { name: 'Чат с поддержкой' });
    await button.click();
    const panel = page.locator('[data-otklik="panel"]');
    await panel.waitFor({ state: 'visible' });

    const text = `Не могу оплатить заказ картой (${Date.now().toString(36)})`;
    await page.locator('[data-otklik="contact"]').fill('+7 916 555-12-34');
    await page.locator('[data-otklik="input"]').fill(text);
    await page.locator('[data-otklik="input"]').press('Enter');
    await page.locator('[data-otklik="messages"] [data-direction="in"]', { hasText: text }).waitFor();
    assert.equal(await page.locator('[data-otklik="input"]').inputValue(), '', 'the input is cleared');

    // The message is a webchat request with the visitor's phone as an identity.
    const req = await until(async () => {
      const r = await api('GET', '/requests?channel=chat&limit=50', env.token);
      return r.body.items.find((x) => x.text === text);
    }, 'the chat request');
    const full = await api('GET', `/requests/${req.id}`, env.token);
    assert.ok(full.body.messages.some((m) => m.direction === 'in' && m.body === text), JSON.stringify(full.body.messages));
    const cust = await api('GET', `/customers/${full.body.customer_id}`, env.token);
    assert.ok(cust.body.identities.some((i) => i.kind === 'phone' && i.value === '+79165551234'));

    // The operator answers; the open widget shows it without a reload.
    const reply = 'Здравствуйте! Проверили: оплата прошла, заказ собирают.';
    const m = await api('POST', `/requests/${req.id}/messages`, admin, { text: reply });
    assert.equal(m.status, 201, JSON.stringify(m.body));
    await page.locator('[data-otklik="messages"] [data-direction="out"]', { hasText: reply }).waitFor({ timeout: 15_000 });

    // A reload keeps the conversation (the visitor id is in localStorage).
    await page.reload();
    await page.locator('[data-otklik="panel"]').waitFor({ state: 'visible' });
    await page.locator('[data-otklik="messages"] [data-direction="in"]', { hasText: text }).waitFor();
    await page.locator('[data-otklik="messages"] [data-direction="out"]', { hasText: reply }).waitFor();
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('a page on an origin the channel does not allow cannot post', async () => {
  const { context, page } = await newPage(browser);
  try {
    // Another origin for the same server: localhost instead of 127.0.0.1.
    const other = server.url.replace('127.0.0.1', 'localhost');
    await page.goto(other + '/widget-demo.html');
    await page.getByRole('button', { name: 'Чат с поддержкой' }).click();
    const before = (await api('GET', '/requests?channel=chat&limit=200', env.token)).body.items.length;
    await page.locator('[data-otklik="input"]').fill('Сообщение с чужого сайта');
    await page.locator('[data-otklik="input"]').press('Enter');
    // The widget says it failed, keeps the text, and nothing is written.
    const status = page.locator('[data-otklik="status"]');
    await until(async () => (await status.textContent()).trim() !== '', 'the widget\'s error');
    assert.equal(await page.locator('[data-otklik="input"]').inputValue(), 'Сообщение с чужого сайта');
    await new Promise((r) => setTimeout(r, 500));
    const after = (await api('GET', '/requests?channel=chat&limit=200', env.token)).body.items.length;
    assert.equal(after, before);
  } finally {
    await context.close();
  }
});
