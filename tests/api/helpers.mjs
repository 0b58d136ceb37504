// Shared helpers for the API tests: run the real otklik binary on a
// temporary SQLite database and talk to it over HTTP on 127.0.0.1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');

export function binary() {
  if (process.env.OTKLIK_BIN) return process.env.OTKLIK_BIN;
  const san = join(root, 'build', 'otklik-san');
  return existsSync(san) ? san : join(root, 'build', 'otklik');
}

export function tempDir() {
  return mkdtempSync(join(tmpdir(), 'otklik-test-'));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/** Run the CLI synchronously; returns {status, stdout, stderr}. */
export function cli(args, input) {
  const r = spawnSync(binary(), args, { input: input ?? '', encoding: 'utf8', timeout: 120000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Create a database with small demo data and an integration token. */
export function prepareDb(dir, { customers = 200, requests = 300 } = {}) {
  const db = join(dir, 'otklik.db');
  const demo = cli(['demo', '--db', db, '--customers', String(customers), '--requests', String(requests)]);
  if (demo.status !== 0) throw new Error(`demo failed: ${demo.stderr}`);
  const tok = cli(['token', 'create', '--db', db, '--name', 'test-integration', '--role', 'integration']);
  if (tok.status !== 0) throw new Error(`token create failed: ${tok.stderr}`);
  const admin = cli(['token', 'create', '--db', db, '--name', 'test-admin', '--role', 'admin']);
  return { db, token: tok.stdout.trim(), adminToken: admin.stdout.trim() };
}

/** Start `otklik serve` on a free port; resolves to {base, proc, stop(), kill9()}. */
export function startServer(db, extraArgs = []) {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(binary(), ['serve', '--db', db, '--listen', '127.0.0.1:0', ...extraArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    let resolved = false;
    const timer = setTimeout(() => {
      if (!resolved) reject(new Error(`server did not start: ${log}`));
    }, 30000);
    proc.stderr.on('data', (chunk) => {
      log += chunk.toString();
      const m = /listening=http:\/\/([0-9.]+:\d+)/.exec(log);
      if (m && !resolved) {
        resolved = true;
        clearTimeout(timer);
        const server = {
          base: `http://${m[1]}`,
          proc,
          log: () => log,
          stop: () => new Promise((res) => {
            if (proc.exitCode !== null) return res(proc.exitCode);
            proc.once('exit', (code) => res(code));
            proc.kill('SIGTERM');
          }),
          kill9: () => new Promise((res) => {
            proc.once('exit', () => res());
            proc.kill('SIGKILL');
          }),
        };
        resolvePromise(server);
      }
    });
    proc.once('exit', (code) => {
      if (!resolved) {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}: ${log}`));
      }
    });
  });
}

/** JSON request helper: returns {status, body, headers}. */
export async function api(base, method, path, { token, body, headers = {}, raw, cookie, csrf } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (cookie) h.Cookie = cookie;
  if (csrf) h['X-CSRF-Token'] = csrf;
  let payload;
  if (raw !== undefined) {
    payload = raw;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['Content-Type'] = h['Content-Type'] ?? 'application/json';
  }
  const res = await fetch(base + path, { method, headers: h, body: payload });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

let counter = 0;
/** A unique source id for intake tests. */
export function uid(prefix = 'src') {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now()}-${counter}`;
}

/** Log in through the API; returns {cookie, csrf, me}. */
export async function login(base, loginName, password = 'demo') {
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ login: loginName, password }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`login ${loginName}: ${res.status} ${JSON.stringify(body)}`);
  const setCookie = res.headers.get('set-cookie');
  const cookie = setCookie.split(';')[0];
  return { cookie, csrf: body.csrf_token, me: body, setCookie };
}

/**
 * POST a body larger than the server takes; returns {status, body}.
 * how: 'whole' sends it with its Content-Length, 'chunked' without a
 * length, 'headers' announces the length but sends only the headers (the
 * server must answer without waiting for a body it will not take).
 */
export async function postOversized(base, path, headers, bytes, how) {
  const { connect } = await import('node:net');
  const { request } = await import('node:http');
  const url = new URL(path, base);
  if (how !== 'headers') {
    return new Promise((resolveP, reject) => {
      const h = how === 'whole' ? { ...headers, 'Content-Length': bytes } : headers;
      const req = request(url, { method: 'POST', headers: h }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolveP({ status: res.statusCode, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      const piece = Buffer.alloc(64 * 1024, 0x78);
      let sent = 0;
      for (; sent + piece.length <= bytes; sent += piece.length) req.write(piece);
      if (sent < bytes) req.write(piece.subarray(0, bytes - sent));
      req.end();
    });
  }
  return new Promise((resolveP, reject) => {
    const sock = connect(Number(url.port), url.hostname);
    const chunks = [];
    sock.setTimeout(10000, () => sock.destroy(new Error('no answer to an oversized body')));
    sock.on('error', reject);
    sock.on('data', (d) => chunks.push(d));
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1]);
      let body = null;
      try { body = JSON.parse(text.slice(split + 4)); } catch { body = text.slice(split + 4); }
      resolveP({ status, body });
    });
    const lines = [`POST ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`,
      `Content-Length: ${bytes}`, 'Connection: close'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    sock.write(lines.join('\r\n') + '\r\n\r\n');
  });
}
