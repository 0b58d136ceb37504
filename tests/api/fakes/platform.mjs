// A local fake of the messaging platforms' send APIs (Telegram, Viber, VK,
// WhatsApp Cloud API, SMS.ru, Twilio, a mobile push endpoint).  It records
// every request it receives and can fail on demand: HTTP 5xx, 429 with
// Retry-After, slow answers (timeouts), or a platform's own error body.
import { createServer } from 'node:http';

function answer(path, n, body) {
  if (/\/bot[^/]+\/sendMessage$/.test(path)) {
    return { ok: true, result: { message_id: 1000 + n, chat: { id: body?.chat_id }, date: 1, text: body?.text } };
  }
  if (path.endsWith('/pa/send_message')) return { status: 0, status_message: 'ok', message_token: 5000000000000000000n + BigInt(n) };
  if (path.endsWith('/method/messages.send')) return { response: 7000 + n };
  if (/\/messages$/.test(path)) {
    return { messaging_product: 'whatsapp', contacts: [{ input: body?.to, wa_id: body?.to }], messages: [{ id: `wamid.FAKE${n}` }] };
  }
  if (path.endsWith('/sms/send')) {
    return { status: 'OK', status_code: 100, sms: { [body?.to ?? '']: { status: 'OK', status_code: 100, sms_id: `000-${n}` } }, balance: 100.5 };
  }
  if (/\/Messages\.json$/.test(path)) return { sid: `SM${String(n).padStart(32, '0')}`, status: 'queued' };
  return { ok: true, n };
}

function stringify(v) {
  // BigInt message tokens (Viber) are written as plain JSON integers.
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `@@${x}@@` : x)).replace(/"@@(\d+)@@"/g, '$1');
}

/** Start the fake; resolves to {url, requests, fail(mode), clear(), stop()}. */
export function startPlatformFake() {
  const received = [];
  const plan = []; // queued failure modes, used one per request
  let served = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let json = null;
      let form = null;
      const ct = req.headers['content-type'] ?? '';
      if (ct.includes('json')) {
        try { json = JSON.parse(raw); } catch { json = null; }
      } else if (ct.includes('x-www-form-urlencoded')) {
        form = Object.fromEntries(new URLSearchParams(raw));
      }
      const rec = { method: req.method, path: req.url, headers: req.headers, raw, json, form, at: Date.now() };
      received.push(rec);
      const mode = plan.shift();
      if (mode?.delay_ms) {
        setTimeout(() => reply(mode), mode.delay_ms);
      } else {
        reply(mode);
      }
      function reply(m) {
        if (m?.status) {
          const h = { 'Content-Type': 'application/json' };
          if (m.retry_after) h['Retry-After'] = String(m.retry_after);
          res.writeHead(m.status, h);
          res.end(JSON.stringify(m.body ?? { ok: false, error_code: m.status, description: `fake failure ${m.status}` }));
          return;
        }
        served += 1;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(stringify(answer(req.url.split('?')[0], served, json ?? form)));
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests: () => received,
        /** Queue failure modes: {status, retry_after, body, delay_ms}; one per coming request. */
        fail: (...modes) => plan.push(...modes),
        clear: () => { received.length = 0; plan.length = 0; },
        stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}

/** Poll fn until it returns a truthy value (or throw after timeout_ms). */
export async function waitFor(fn, { timeout_ms = 20000, interval_ms = 50, what = 'condition' } = {}) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeout_ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval_ms));
  }
}
