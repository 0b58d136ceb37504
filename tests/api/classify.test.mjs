// Every request understood on arrival: topic, sentiment, confidences and a
// priority from urgency and importance, explained in a request.classified
// event; operators' topic corrections are kept for retraining.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync } from 'node:fs';
import { api, cli, prepareDb, removeDir, startServer, tempDir, uid } from './helpers.mjs';

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

const post = (text, extra = {}) => api(server.base, 'POST', '/api/v1/requests', {
  token, body: { channel: 'telegram', source_id: uid('cl'), text, ...extra },
});

const classified = async (id) => {
  const r = await api(server.base, 'GET', `/api/v1/requests/${id}`, { token });
  return r.body.events.find((e) => e.type === 'request.classified');
};

describe('classification on arrival', () => {
  const cases = [
    ['Очередь на кассе сорок минут, работает одна касса!!!', 'checkout_queue', 'negative'],
    ['Большое спасибо кассиру Анне за вежливое обслуживание', 'gratitude', 'positive'],
    ['Курьер опоздал, заказ так и не привезли', 'delivery', 'negative'],
    ['Не начислились бонусы на карту за вчерашнюю покупку', 'loyalty', null],
    ['Приложение вылетает при оплате заказа', 'website_app', null],
  ];
  for (const [text, topic, sentiment] of cases) {
    it(`labels "${text.slice(0, 30)}..."`, async () => {
      const r = await post(text);
      assert.equal(r.status, 201);
      assert.equal(r.body.topic, topic);
      assert.ok(r.body.topic_confidence > 0 && r.body.topic_confidence <= 1);
      if (sentiment) assert.equal(r.body.sentiment, sentiment);
      assert.ok(['negative', 'neutral', 'positive'].includes(r.body.sentiment));
      const ev = await classified(r.body.id);
      assert.equal(ev.data.topic.label, topic);
      assert.equal(ev.actor, 'classifier');
    });
  }

  it('makes health and legal threats urgent and important, and says why', async () => {
    const r = await post('Продали просроченный творог, меня тошнит, подам в суд');
    assert.equal(r.body.priority, 'urgent');
    const ev = await classified(r.body.id);
    assert.equal(ev.data.quadrant, 'urgent_important');
    assert.ok(ev.data.signals.some((s) => s.startsWith('urgent:')), JSON.stringify(ev.data.signals));
    assert.ok(ev.data.signals.some((s) => s.startsWith('important:')), JSON.stringify(ev.data.signals));
  });

  it('gives thanks a low priority', async () => {
    const r = await post('Спасибо, всё отлично, очень довольна магазином');
    assert.equal(r.body.priority, 'low');
  });

  it('counts repeated contacts about the same topic as important', async () => {
    const phone = '+79260001122';
    for (let i = 0; i < 3; i++) await post(`Опять не привезли заказ, уже ${i + 2}-й раз`, { customer: { phone } });
    const r = await post('Снова не привезли заказ!', { customer: { phone } });
    const ev = await classified(r.body.id);
    assert.ok(ev.data.context.recent_contacts >= 3, JSON.stringify(ev.data.context));
    assert.ok(ev.data.signals.some((s) => s.includes('repeat')), JSON.stringify(ev.data.signals));
  });

  it('marks unsure labels for review', async () => {
    const r = await post('ну такое');
    const ev = await classified(r.body.id);
    assert.equal(r.body.needs_review, ev.data.needs_review);
    const sure = Math.min(r.body.topic_confidence, r.body.sentiment_confidence) >= 0.5;
    assert.equal(r.body.needs_review, !sure);
  });

  it('keeps an operator correction with who made it, and it clears the review mark', async () => {
    const r = await post('ну такое');
    const p = await api(server.base, 'PATCH', `/api/v1/requests/${r.body.id}`, { token: adminToken, body: { topic: 'staff' } });
    assert.equal(p.status, 200);
    assert.equal(p.body.topic, 'staff');
    assert.equal(p.body.topic_confidence, 1);
    assert.equal(p.body.needs_review, false);
    const full = await api(server.base, 'GET', `/api/v1/requests/${r.body.id}`, { token });
    const corr = full.body.events.find((e) => e.type === 'request.topic_corrected');
    assert.equal(corr.data.to, 'staff');
    assert.equal(corr.data.from, r.body.topic);
    assert.equal(corr.actor, 'token:test-admin');
  });

  it('retrains from the corrections of the database, beside it', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await post(`Охранник на входе нагрубил мне, случай ${i}`);
      // A correction is a different topic from the one the model gave.
      const topic = r.body.topic === 'store_condition' ? 'other' : 'store_condition';
      const p = await api(server.base, 'PATCH', `/api/v1/requests/${r.body.id}`, { token: adminToken, body: { topic } });
      assert.equal(p.body.topic, topic);
    }
    const out = cli(['classify', 'retrain', '--db', `${dir}/otklik.db`, '--seed', '../models/topic_seed.tsv', '--model', '../models/topic.bin']);
    assert.equal(out.status, 0, out.stderr);
    const m = /corrections=(\d+)/.exec(out.stdout);
    assert.ok(m && Number(m[1]) >= 6, out.stdout);
    assert.ok(existsSync(`${dir}/otklik.db.topic.bin`));
    const bad = cli(['classify', 'retrain', '--db', `${dir}/otklik.db`, '--corrections', 'x.tsv']);
    assert.equal(bad.status, 2);
  });
});
