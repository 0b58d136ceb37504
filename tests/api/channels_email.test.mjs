// E-mail end to end: `otklik mail-in` with real messages in several
// charsets and encodings (exit codes an MTA understands), threading by
// In-Reply-To/References and by a subject tag, attachments kept, replies
// over SMTP to a local fake with proper threading headers, IMAP polling.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, cli, login, prepareDb, removeDir, startServer, tempDir } from './helpers.mjs';
import { startImapFake, startSmtpFake } from './fakes/mail.mjs';
import { addChannel, fixture, getRequest, outboxOf, waitFor, waitRequests } from './fakes/channels.mjs';
import { spawnSync } from 'node:child_process';
import { binary } from './helpers.mjs';

let dir, db, token, adminToken, server, smtp, imap, op;

function mailIn(raw, channel = 'support') {
  const r = spawnSync(binary(), ['mail-in', '--db', db, '--channel', channel], { input: raw, timeout: 60000 });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

async function bySource(sourceId) {
  const items = await waitRequests(server.base, token, 'email', (xs) => xs.some((x) => x.source_id === sourceId),
    `request from ${sourceId}`);
  return items.find((x) => x.source_id === sourceId);
}

before(async () => {
  dir = tempDir();
  ({ db, token, adminToken } = prepareDb(dir, { customers: 50, requests: 50 }));
  smtp = await startSmtpFake();
  imap = await startImapFake();
  server = await startServer(db);
  await addChannel(server.base, adminToken, 'email', 'support', { smtp_password: 'smtp-pw-secret' },
    { address: 'support@shop.example', smtp_url: smtp.url, smtp_user: 'support', retry_base_ms: 50 });
  op = await login(server.base, 'operator');
});

after(async () => {
  await server?.stop();
  await smtp?.stop();
  await imap?.stop();
  removeDir(dir);
});

test('mail-in exit codes: usage 2, not mail 65, unknown channel 75, accepted 0', () => {
  assert.equal(cli(['mail-in', '--db', db]).status, 2);
  assert.equal(mailIn(fixture('email/not_a_message.eml', true)).status, 65);
  assert.equal(mailIn(fixture('email/no_from.eml', true)).status, 65);
  assert.equal(mailIn(fixture('email/utf8_plain.eml', true), 'no-such-box').status, 75);
  const ok = mailIn(fixture('email/utf8_plain.eml', true));
  assert.equal(ok.status, 0, ok.stderr);
  const dup = mailIn(fixture('email/utf8_plain.eml', true));
  assert.equal(dup.status, 0);
  assert.match(dup.stdout, /duplicate/);
});

test('messages in UTF-8, KOI8-R, windows-1251, HTML-only and broken MIME become requests', async () => {
  const cases = [
    ['utf8_plain.eml', '20240510143000.1111@mail.example.ru', 'Просроченный творог', 'срок годности истёк'],
    ['koi8r_base64.eml', 'koi8-0001@example.org', 'Бонусы не начислены', 'Бонусы за покупку от 3 мая'],
    ['cp1251_qp.eml', 'cp1251-qp-0001@example.com', 'Жалоба на кассира', 'Кассир нагрубил мне'],
    ['html_only.eml', 'html-only-1@example.net', 'Доставка', 'Заказ № 555 задерживается'],
    ['broken_mime.eml', 'broken-1@example.com', 'broken', 'Цена на полке 99, на кассе 149'],
  ];
  for (const [f] of cases) assert.equal(mailIn(fixture(`email/${f}`, true)).status, 0, f);
  for (const [f, sid, subject, text] of cases) {
    const r = await bySource(sid);
    assert.equal(r.subject, subject, f);
    assert.ok(r.text.includes(text), `${f}: ${r.text}`);
    assert.equal(r.kind, 'complaint');
  }
});

test('attachments are kept and listed on the request', async () => {
  assert.equal(mailIn(fixture('email/multipart_attachment.eml', true)).status, 0);
  const r = await bySource('multi-att-1@example.ru');
  const full = await getRequest(server.base, token, r.id);
  assert.equal(full.messages[0].body, 'Прикладываю чек, бутылка была разбита.');
  const ev = full.events.find((e) => e.type === 'message.attachments');
  assert.ok(ev, 'attachments event');
  const names = ev.data.attachments.map((a) => a.file_name).sort();
  assert.deepEqual(names, ['receipt.pdf', 'чек.png']);
  assert.ok(ev.data.attachments.every((a) => a.is_stored === true && a.sha256 && !a.data_b64));
});

test('a reply goes out over SMTP with threading headers, and the answer threads back', async () => {
  const r = await bySource('20240510143000.1111@mail.example.ru');
  const res = await api(server.base, 'POST', `/api/v1/requests/${r.id}/messages`,
    { cookie: op.cookie, csrf: op.csrf, body: { text: 'Ольга, деньги вернём в течение 3 дней.' } });
  assert.equal(res.status, 201);
  const mail = await waitFor(() => smtp.messages().find((m) => m.to.includes('<olga.petrova@example.ru>')),
    { what: 'SMTP message' });
  assert.equal(mail.from, '<support@shop.example>');
  assert.match(mail.data, /^In-Reply-To: <20240510143000\.1111@mail\.example\.ru>\r$/m);
  assert.match(mail.data, /^References: <20240510143000\.1111@mail\.example\.ru>\r$/m);
  const mid = /^Message-ID: <([^>]+)>\r$/m.exec(mail.data)[1];
  const head = mail.data.split('\r\n\r\n')[0].replace(/\r\n[ \t]/g, ' ');
  const subj = /^Subject: (.*)$/m.exec(head)[1].replace(/\r$/, '');
  const decoded = subj.split(/\s+/).map((w) => {
    const m = /=\?UTF-8\?B\?([^?]+)\?=/.exec(w);
    return m ? Buffer.from(m[1], 'base64').toString('utf8') : w;
  }).join('');
  assert.equal(decoded, `Re: Просроченный творог [#${r.id}]`);
  const body = Buffer.from(mail.data.split('\r\n\r\n')[1].replace(/\r\n/g, ''), 'base64').toString('utf8');
  assert.equal(body, 'Ольга, деньги вернём в течение 3 дней.');
  const rows = await waitFor(async () => {
    const o = await outboxOf(server.base, adminToken, r.id);
    return o[0]?.status === 'sent' ? o : null;
  }, { what: 'outbox sent' });
  assert.equal(rows[0].external_id, mid);
  // The customer answers the reply: In-Reply-To names our Message-ID.
  const answer = fixture('email/reply_in_reply_to.eml').replaceAll('OUTBOX_ID_PLACEHOLDER', mid);
  assert.equal(mailIn(Buffer.from(answer)).status, 0);
  const full = await waitFor(async () => {
    const q = await getRequest(server.base, token, r.id);
    return q.messages.some((m) => m.body.startsWith('Спасибо, жду возврат.')) ? q : null;
  }, { what: 'answer threaded into the request' });
  assert.equal(full.messages.filter((m) => m.direction === 'in').length, 2);
  // A tag in the subject threads too, when the sender is the same.
  const tagged = fixture('email/subject_tag.eml').replace('REQUEST_ID', String(r.id));
  assert.equal(mailIn(Buffer.from(tagged)).status, 0);
  await waitFor(async () => {
    const q = await getRequest(server.base, token, r.id);
    return q.messages.some((m) => m.body === 'Ещё вопрос по тому же заказу.');
  }, { what: 'tagged mail threaded' });
  // The same tag from a stranger starts a new request instead.
  const stranger = tagged.replace('From: olga.petrova@example.ru', 'From: someone@else.example')
    .replace('tag-only-1@', 'tag-only-2@');
  assert.equal(mailIn(Buffer.from(stranger)).status, 0);
  const other = await bySource('tag-only-2@mail.example.ru');
  assert.notEqual(other.id, r.id);
});

test('SMTP refusals: a rejected recipient is dead, a temporary failure is retried', async () => {
  const r = await bySource('koi8-0001@example.org');
  smtp.failNext('451');
  await api(server.base, 'POST', `/api/v1/requests/${r.id}/messages`,
    { cookie: op.cookie, csrf: op.csrf, body: { text: 'Бонусы начислены.' } });
  await waitFor(async () => {
    const o = await outboxOf(server.base, adminToken, r.id);
    return o.find((x) => x.status === 'sent' && x.attempts === 2);
  }, { what: 'sent on the second attempt' });
});

test('an IMAP mailbox is polled and each message taken once', async () => {
  const ch = await addChannel(server.base, adminToken, 'email', 'imap-box', { imap_password: 'pw' },
    { address: 'shop@shop.example', imap_url: imap.url, imap_user: 'support', poll_interval_ms: 300 });
  assert.ok(ch.id);
  imap.add(fixture('email/cp1251_qp.eml').replace('cp1251-qp-0001@', 'imap-1@'));
  imap.add(fixture('email/html_only.eml').replace('html-only-1@', 'imap-2@'));
  await bySource('imap-1@example.com');
  await bySource('imap-2@example.net');
  imap.add(fixture('email/utf8_plain.eml').replace('20240510143000.1111@', 'imap-3@'));
  await bySource('imap-3@mail.example.ru');
  const list = await api(server.base, 'GET', '/api/v1/requests?channel=email&limit=200', { token });
  assert.equal(list.body.items.filter((x) => x.source_id === 'imap-1@example.com').length, 1);
});

test('otklik channel add|list sets channels up from the shell, secrets on stdin', () => {
  assert.equal(cli(['channel', '--help']).status, 0);
  assert.equal(cli(['mail-in', '--help']).status, 0);
  assert.equal(cli(['channel', 'frobnicate']).status, 2);
  assert.equal(cli(['channel', 'add', '--db', db, '--adapter', 'nope', '--name', 'x'], '{}').status, 2);
  const missing = cli(['channel', 'add', '--db', db, '--adapter', 'telegram', '--name', 'cli-bot'], '{"bot_token":"1:x"}');
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /secret_token/);
  const ok = cli(['channel', 'add', '--db', db, '--adapter', 'telegram', '--name', 'cli-bot',
    '--settings', '{"api_base":"http://127.0.0.1:9"}'], '{"bot_token":"1:cli-secret","secret_token":"cli-tok"}');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /webhook \/hooks\/telegram\/cli-bot/);
  const list = cli(['channel', 'list', '--db', db]);
  assert.equal(list.status, 0);
  assert.match(list.stdout, /telegram\tcli-bot\tactive/);
  assert.ok(!list.stdout.includes('cli-secret'));
});
