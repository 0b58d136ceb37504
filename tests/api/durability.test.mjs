// Nothing acknowledged is lost: kill -9 the server in the middle of a load,
// restart it on the same database, and find every acknowledged request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, prepareDb, removeDir, startServer, tempDir } from './helpers.mjs';

let dir, db, token;

before(() => {
  dir = tempDir();
  ({ db, token } = prepareDb(dir, { customers: 50, requests: 50 }));
});
after(() => removeDir(dir));

describe('durability', () => {
  it('keeps every acknowledged request across kill -9', async () => {
    const server = await startServer(db);
    const acked = new Map(); // source_id -> request id
    let stop = false;
    let errors = 0;
    const worker = async (w) => {
      for (let i = 0; !stop; i++) {
        const source = `kill9-${w}-${i}`;
        try {
          const r = await api(server.base, 'POST', '/api/v1/requests', {
            token, body: { channel: 'sms', source_id: source, customer: { phone: `+7916${String(w).padStart(3, '0')}${String(i % 10000).padStart(4, '0')}` }, text: `Нагрузка ${w}/${i}` },
          });
          if (r.status === 201) acked.set(source, r.body.id);
        } catch {
          errors += 1; // connection cut by the kill: not acknowledged
          return;
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    while (acked.size < 300) await new Promise((r) => setTimeout(r, 20));
    await server.kill9();
    stop = true;
    await Promise.all(workers);
    assert.ok(acked.size >= 300, `acknowledged ${acked.size}`);

    const again = await startServer(db);
    try {
      // Re-sending an acknowledged message must find it: 200 with the same id, never 201.
      let found = 0;
      for (const [source, id] of acked) {
        const r = await api(again.base, 'POST', '/api/v1/requests', {
          token, body: { channel: 'sms', source_id: source, text: 'повтор' },
        });
        assert.equal(r.status, 200, `${source} was acknowledged but is missing`);
        assert.equal(r.body.id, id);
        found += 1;
      }
      assert.equal(found, acked.size);
    } finally {
      await again.stop();
    }
  });
});
