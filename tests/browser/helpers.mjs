// helpers.mjs - shared pieces of the browser tests: find the binary, fill a
// temporary demo database, run `otklik serve` on a free port (read from its
// first log line), make an integration token, and launch Debian's chromium.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

/** The binary under test: $OTKLIK_BIN, else the sanitizer build, else the release build. */
export function otklikBin() {
  if (process.env.OTKLIK_BIN) return path.resolve(process.env.OTKLIK_BIN);
  const san = path.join(root, 'build', 'otklik-san');
  return existsSync(san) ? san : path.join(root, 'build', 'otklik');
}

/** Runs one otklik command to completion; returns its stdout (throws on failure). */
export function otklik(args, input) {
  return execFileSync(otklikBin(), args, {
    encoding: 'utf8',
    input,
    timeout: 60_000,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/**
 * A temporary directory with a demo database and an integration token.
 * Returns {dir, db, token, cleanup()}.
 */
export function demoDb({ customers = 300, requests = 500 } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'otklik-browser-'));
  const db = path.join(dir, 'otklik.db');
  otklik(['demo', '--db', db, '--customers', String(customers), '--requests', String(requests)]);
  const out = otklik(['token', 'create', '--db', db, '--name', 'browser-test', '--role', 'integration']);
  const token = out.match(/otk_[A-Za-z0-9_-]+/)?.[0] ?? out.trim().split(/\s+/).pop();
  return { dir, db, token, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Starts `otklik serve` on 127.0.0.1:0 and resolves once its first log line
 * names the bound address.  Returns {url, proc, log(), stop()}; stop() sends
 * SIGTERM and waits for the exit (SIGKILL after 5 s).
 */
export function startServer(db, { timeoutMs = 15_000 } = {}) {
  const proc = spawn(otklikBin(), ['serve', '--db', db, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`otklik serve did not report its address:\n${stderr}`)), timeoutMs);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      stderr += chunk;
      // The address is on the first log line; only complete lines are read.
      const m = /listening=(http:\/\/[^\s]+)\s/.exec(stderr);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/$/, '')); }
    });
    proc.stdout.resume();
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`otklik serve exited (${code}):\n${stderr}`)); });
  });
  return ready.then((url) => ({
    url,
    proc,
    log: () => stderr,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const res = await exited;
      clearTimeout(killer);
      return res;
    },
  }));
}

/** Posts a request through the intake API as an integration. */
export async function postRequest(url, token, body) {
  const resp = await fetch(`${url}/api/v1/requests`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await resp.json();
  if (resp.status !== 201 && resp.status !== 200) throw new Error(`intake ${resp.status}: ${JSON.stringify(json)}`);
  return json;
}

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Launches Debian's chromium headless. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
  });
}

/**
 * A fresh page (own cookies) that fails loudly: collects page errors and
 * CSP violations so a test can assert there were none.
 */
export async function newPage(browser, { width = 1440, height = 900, locale = 'ru-RU' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[19]/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.problems = problems;
  return { context, page };
}

/** Logs in through the form and waits for the inbox to list requests. */
export async function login(page, url, user, password = 'demo') {
  await page.goto(url + '/');
  await page.locator('#login-login').fill(user);
  await page.locator('#login-password').fill(password);
  await page.locator('#login-submit').click();
  await page.locator('#inbox-list .row').first().waitFor({ timeout: 10_000 });
}
