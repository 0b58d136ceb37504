// The live stream (SSE), health and metrics.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { api, login, prepareDb, removeDir, startServer, tempDir, uid } from './helpers.mjs';

let dir, server, token, adminToken;

before(async () => {
  dir = tempDir();
  ({ token, adminToken } = prepareDb(dir));
  server = await startServer(`${dir}/otklik.db`);
});

after(async () => {
  await server.stop();
  removeDir(dir);
});

/** Open an SSE connection; collects parsed events until close(). */
function openStream(headers) {
  return new Promise((resolve, reject) => {
    const events = [];
    const waiters = [];
    const req = http.get(`${server.base}/api/v1/stream`, { headers }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = {};
          for (const line of block.split('\n')) {
            const m = /^(id|event|data): (.*)$/.exec(line);
            if (m) ev[m[1]] = m[2];
          }
          if (ev.data) {
            ev.data = JSON.parse(ev.data);
            events.push(ev);
            for (const w of waiters.splice(0)) w();
          }
        }
      });
      resolve({
        status: res.statusCode,
        contentType: res.headers['content-type'],
        events,
        until: async (pred, ms = 5000) => {
          const end = Date.now() + ms;
          while (!events.some(pred)) {
            if (Date.now() > end) throw new Error(`no matching event in ${JSON.stringify(events.map((e) => e.event))}`);
            await new Promise((r) => { waiters.push(r); setTimeout(r, 100); });
          }
          return events.find(pred);
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
  });
}

describe('live stream', () => {
  it('delivers request.created to a logged-in operator without polling', async () => {
    const s = await login(server.base, 'operator');
    const stream = await openStream({ Cookie: s.cookie });
    assert.equal(stream.status, 200);
    assert.match(stream.contentType, /text\/event-stream/);
    const src = uid('sse');
    const c = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'telegram', source_id: src, store: 'MSK-001', text: 'Живая лента' } });
    const ev = await stream.until((e) => e.event === 'request.created' && e.data.request_id === c.body.id);
    assert.equal(ev.data.data.channel, 'telegram');
    assert.equal(Number(ev.id), ev.data.id);
    await api(server.base, 'PATCH', `/api/v1/requests/${c.body.id}`, { token: adminToken, body: { status: 'open' } });
    await stream.until((e) => e.event === 'request.status_changed' && e.data.request_id === c.body.id);
    stream.close();
  });

  it('resumes after Last-Event-ID', async () => {
    const c = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'sms', source_id: uid('resume'), text: 'Пропущенное событие' } });
    const full = await api(server.base, 'GET', `/api/v1/requests/${c.body.id}`, { token });
    const createdId = full.body.events.find((e) => e.type === 'request.created').id;
    const stream = await openStream({ Authorization: `Bearer ${token}`, 'Last-Event-ID': String(createdId - 1) });
    const ev = await stream.until((e) => e.data.request_id === c.body.id);
    assert.equal(ev.event, 'request.created');
    stream.close();
  });

  it('shows a store director only events of the store', async () => {
    const s = await login(server.base, 'director');
    const me = await api(server.base, 'GET', '/api/v1/requests?limit=1', { cookie: s.cookie });
    const own = me.body.items[0].store;
    const other = own === 'MSK-001' ? 'MSK-002' : 'MSK-001';
    const stream = await openStream({ Cookie: s.cookie });
    const foreign = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'qr', source_id: uid('o'), store: other, text: 'Грязный пол' } });
    const mine = await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'qr', source_id: uid('o'), store: own, text: 'Грязный пол' } });
    await stream.until((e) => e.data.request_id === mine.body.id);
    assert.ok(!stream.events.some((e) => e.data.request_id === foreign.body.id));
    stream.close();
  });

  it('needs a login', async () => {
    const r = await api(server.base, 'GET', '/api/v1/stream');
    assert.equal(r.status, 401);
  });
});

describe('health and metrics', () => {
  it('answers /healthz without credentials', async () => {
    const r = await api(server.base, 'GET', '/healthz');
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'ok');
  });

  it('exposes Prometheus metrics to authorised callers only', async () => {
    await api(server.base, 'POST', '/api/v1/requests', { token, body: { channel: 'whatsapp', source_id: uid('met'), text: 'Счётчик' } });
    assert.equal((await api(server.base, 'GET', '/metrics')).status, 401);
    const res = await fetch(`${server.base}/metrics`, { headers: { Authorization: `Bearer ${adminToken}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/plain/);
    const text = await res.text();
    const m = /otklik_requests_created_total\{channel="whatsapp"\} (\d+)/.exec(text);
    assert.ok(m && Number(m[1]) >= 1, 'requests by channel');
    assert.match(text, /# TYPE otklik_http_request_duration_seconds histogram/);
    assert.match(text, /otklik_http_request_duration_seconds_bucket\{le="\+Inf"\} \d+/);
    assert.match(text, /otklik_commit_duration_seconds_count \d+/);
    assert.match(text, /otklik_writer_queue_depth \d+/);
    // Writes are acknowledged by the WAL's fsync on its own thread: the request
    // above was made durable by at least one of them.
    const syncs = /otklik_wal_syncs_total (\d+)/.exec(text);
    const batches = /otklik_wal_synced_batches_total (\d+)/.exec(text);
    assert.ok(syncs && Number(syncs[1]) >= 1, 'WAL syncs');
    assert.ok(batches && Number(batches[1]) >= Number(syncs[1]), 'each sync makes a batch durable');
  });

  it('serves the web page publicly with a content security policy', async () => {
    const res = await fetch(`${server.base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/html/);
    assert.match(res.headers.get('content-security-policy'), /default-src 'self'/);
    assert.match(await res.text(), /<html|<!doctype/i);
  });
});
