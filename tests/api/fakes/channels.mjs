// Helpers shared by the channel API tests: configure a channel through the
// admin API, post raw webhook payloads, read fixtures, wait for intake.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { api } from '../helpers.mjs';
import { waitFor } from './platform.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** A fixture file of tests/fixtures/channels as text (or Buffer when raw). */
export function fixture(name, raw = false) {
  const p = join(here, '..', '..', 'fixtures', 'channels', name);
  return raw ? readFileSync(p) : readFileSync(p, 'utf8');
}

/** Create a channel through the admin API; returns the created channel. */
export async function addChannel(base, adminToken, adapter, name, secrets, settings = {}) {
  const r = await api(base, 'POST', '/api/v1/admin/channels', {
    token: adminToken, body: { adapter, name, secrets, settings },
  });
  if (r.status !== 201) throw new Error(`channel ${adapter}/${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** POST a raw body to a webhook; returns {status, body, text}. */
export async function hook(base, path, raw, headers = {}, method = 'POST') {
  const res = await fetch(base + path, { method, headers, body: method === 'GET' ? undefined : raw });
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, body, text, headers: res.headers };
}

/** Wait until requests of a channel match pred; returns the list items. */
export async function waitRequests(base, token, channel, pred, what) {
  return waitFor(async () => {
    const r = await api(base, 'GET', `/api/v1/requests?channel=${channel}&limit=200`, { token });
    return r.status === 200 && pred(r.body.items) ? r.body.items : null;
  }, { what: what ?? `requests of ${channel}` });
}

/** One request with messages and events. */
export async function getRequest(base, token, id) {
  const r = await api(base, 'GET', `/api/v1/requests/${id}`, { token });
  if (r.status !== 200) throw new Error(`request ${id}: ${r.status}`);
  return r.body;
}

/** The outbox rows of a request (admin view). */
export async function outboxOf(base, adminToken, requestId) {
  const r = await api(base, 'GET', `/api/v1/admin/outbox?request=${requestId}`, { token: adminToken });
  if (r.status !== 200) throw new Error(`outbox: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.items;
}

export { waitFor };
