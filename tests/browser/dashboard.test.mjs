// dashboard.test.mjs - the analytics pages in headless Chromium against the
// real binary: an executive logs in, the chain dashboard draws its charts
// with data (NPS band, CSAT, volumes, SLA, reasons, alerts) and a screenshot
// is saved; the task matrix and operator views; a director's store view;
// no page errors or CSP violations anywhere.
// Run: cd tests && node --test browser/dashboard.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoDb, startServer, launchBrowser, newPage, login, otklik } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const shots = path.resolve(here, '..', '..', 'build', 'test-logs');

let env, server, browser;

before(async () => {
  env = demoDb({ customers: 2000, requests: 8000 });
  otklik(['analytics', 'seed-surveys', '--db', env.db, '--answers', '2500']);
  otklik(['analytics', 'detect', '--db', env.db]);
  server = await startServer(env.db);
  browser = await launchBrowser();
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (server) await server.stop();
  if (env) env.cleanup();
});

test('executive dashboard renders every chart with data', async () => {
  const { context, page } = await newPage(browser, { width: 1440, height: 1300 });
  try {
    await login(page, server.url, 'ceo');
    await page.locator('#nav-dashboard').click();
    await page.waitForSelector('body[data-ready="exec"]', { timeout: 15_000 });
    assert.equal(await page.locator('#dash-title').textContent(), 'Вся сеть');
    // Cards carry figures, not dashes.
    const nps = await page.locator('.card.nps .card-value').textContent();
    assert.match(nps, /^-?\d+(\.\d)?$/, `NPS card: ${nps}`);
    assert.match(await page.locator('.card.nps .card-sub').textContent(), /95%/);
    // NPS: a line, its points and the confidence band.
    assert.ok(await page.locator('#chart-nps path.series').count() >= 1);
    assert.ok(await page.locator('#chart-nps circle.point').count() >= 5);
    assert.equal(await page.locator('#chart-nps polygon.band').count(), 1);
    assert.ok(await page.locator('#chart-csat polygon.band').count() === 1);
    assert.ok(await page.locator('#chart-volumes rect.bar').count() >= 20, 'stacked volume bars');
    assert.equal(await page.locator('#chart-sla path.series').count(), 3);
    assert.ok(await page.locator('#chart-reasons rect.bar').count() >= 5);
    assert.ok(await page.locator('#alerts li.alert').count() >= 1, 'alerts are listed');
    assert.match(await page.locator('#alerts').textContent(), /Доставка|Состояние магазина/);
    // Every figure has its CSV link.
    const csv = await page.locator('a.csv[data-report="sla"]').getAttribute('href');
    assert.match(csv, /\/api\/v1\/reports\/sla\?.*format=csv/);
    const resp = await page.request.get(server.url + csv);
    assert.equal(resp.status(), 200);
    assert.match(await resp.text(), /^period,created,responded/);
    await page.screenshot({ path: path.join(shots, 'dashboard-exec.png'), fullPage: true });
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('task matrix, a store view and its filters', async () => {
  const { context, page } = await newPage(browser);
  try {
    await login(page, server.url, 'head');
    await page.goto(server.url + '/dashboard.html#matrix');
    await page.waitForSelector('body[data-ready="matrix"]');
    const rows = await page.locator('#matrix-table tbody tr').count();
    assert.ok(rows >= 5, `matrix rows: ${rows}`);
    assert.match(await page.locator('#matrix-table').textContent(), /Очереди на кассе/);
    await page.screenshot({ path: path.join(shots, 'dashboard-matrix.png'), fullPage: true });

    await page.evaluate(() => { delete document.body.dataset.ready; });
    await page.locator('.dash-nav a[data-view="store"]').click();
    await page.waitForSelector('body[data-ready="store"]');
    await page.locator('#f-store').selectOption('NSK-001');
    await page.evaluate(() => { delete document.body.dataset.ready; });
    await page.locator('#dash-filters button[type="submit"]').click();
    await page.waitForSelector('body[data-ready="store"]');
    assert.match(await page.locator('#dash-title').textContent(), /NSK-001/);
    assert.ok(await page.locator('#chart-reasons rect.bar').count() >= 1);
    assert.match(await page.locator('#chart-reasons').textContent(), /Состояние магазина/);
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('operators view for a supervisor; a director sees only the store', async () => {
  const { context, page } = await newPage(browser);
  try {
    await login(page, server.url, 'supervisor');
    await page.goto(server.url + '/dashboard.html#operators');
    await page.waitForSelector('body[data-ready="operators"]');
    assert.ok(await page.locator('#operators-table th').count() >= 6);
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
  const d = await newPage(browser, { width: 390, height: 844 });
  try {
    await login(d.page, server.url, 'director');
    await d.page.goto(server.url + '/dashboard.html');
    await d.page.waitForSelector('body[data-ready="exec"]');
    assert.equal(await d.page.locator('#dash-title').textContent(), 'Мой магазин');
    assert.ok(await d.page.locator('#f-store').isHidden());
    assert.ok(await d.page.locator('#chart-volumes rect.bar').count() >= 1);
    await d.page.screenshot({ path: path.join(shots, 'dashboard-director-mobile.png'), fullPage: true });
    assert.deepEqual(d.page.problems, []);
  } finally {
    await d.context.close();
  }
});

test('the public survey page is usable on a phone', async () => {
  const out = otklik(['token', 'create', '--db', env.db, '--name', 'survey-admin', '--role', 'admin']);
  const token = out.trim().split(/\s+/).pop();
  const list = await (await fetch(server.url + '/api/v1/surveys', { headers: { Authorization: `Bearer ${token}` } })).json();
  const nps = list.items.find((s) => s.code === 'after_visit');
  const stores = await (await fetch(server.url + '/api/v1/stores', { headers: { Authorization: `Bearer ${token}` } })).json();
  const inv = await (await fetch(`${server.url}/api/v1/surveys/${nps.id}/invitations`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ store: stores.items[0].code }),
  })).json();
  const { context, page } = await newPage(browser, { width: 390, height: 844 });
  try {
    await page.goto(server.url + inv.link);
    assert.equal(await page.locator('input[name="score"]').count(), 11);
    await page.locator('label.score', { hasText: '9' }).first().click();
    await page.locator('textarea[name="comment"]').fill('Удобно и быстро');
    await page.screenshot({ path: path.join(shots, 'survey-mobile.png'), fullPage: true });
    await page.locator('button[type="submit"]').click();
    await page.locator('h1', { hasText: 'Спасибо' }).waitFor();
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});
