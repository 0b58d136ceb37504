// Local fakes of a mail server: an SMTP server that records the messages it
// accepts (and can refuse a recipient or fail temporarily), and a minimal
// IMAP server holding a mailbox that otklik polls with libcurl.
import { createServer } from 'node:net';

/** Start a fake SMTP server; resolves to {url, messages, failNext(code), stop()}. */
export function startSmtpFake() {
  const messages = [];
  const failures = [];
  const server = createServer((sock) => {
    let buf = '';
    let inData = false;
    let cur = { from: null, to: [], data: '' };
    sock.write('220 fake.smtp ESMTP ready\r\n');
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          cur.data = buf.slice(0, end).replace(/\r\n\.\./g, '\r\n.');
          buf = buf.slice(end + 5);
          inData = false;
          messages.push(cur);
          cur = { from: null, to: [], data: '' };
          sock.write('250 2.0.0 queued\r\n');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const cmd = line.slice(0, 4).toUpperCase();
        if (cmd === 'EHLO' || cmd === 'HELO') sock.write('250-fake.smtp\r\n250 8BITMIME\r\n');
        else if (cmd === 'MAIL') {
          const f = failures.shift();
          if (f) { sock.write(`${f} fake failure\r\n`); continue; }
          cur.from = line.slice(10).trim();
          sock.write('250 2.1.0 ok\r\n');
        } else if (cmd === 'RCPT') {
          const addr = line.slice(8).trim();
          if (addr.includes('nobody@')) { sock.write('550 5.1.1 no such user\r\n'); continue; }
          cur.to.push(addr);
          sock.write('250 2.1.5 ok\r\n');
        } else if (cmd === 'DATA') { inData = true; sock.write('354 go ahead\r\n'); }
        else if (cmd === 'RSET' || cmd === 'NOOP') sock.write('250 ok\r\n');
        else if (cmd === 'QUIT') { sock.write('221 bye\r\n'); sock.end(); }
        else sock.write('502 unknown\r\n');
      }
    });
    sock.on('error', () => {});
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `smtp://127.0.0.1:${server.address().port}`,
        messages: () => messages,
        failNext: (code) => failures.push(code),
        stop: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

/** Start a fake IMAP server with a mailbox of raw messages; add(raw) appends one. */
export function startImapFake({ user = 'support', pass = 'pw' } = {}) {
  const box = []; // {uid, raw}
  let nextUid = 1;
  const server = createServer((sock) => {
    let buf = '';
    sock.write('* OK [CAPABILITY IMAP4rev1] fake ready\r\n');
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      for (;;) {
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const [tag, ...rest] = line.split(' ');
        const cmd = (rest[0] ?? '').toUpperCase();
        if (cmd === 'CAPABILITY') sock.write(`* CAPABILITY IMAP4rev1\r\n${tag} OK done\r\n`);
        else if (cmd === 'LOGIN') {
          const ok = rest[1]?.replace(/"/g, '') === user && rest[2]?.replace(/"/g, '') === pass;
          sock.write(ok ? `${tag} OK logged in\r\n` : `${tag} NO bad credentials\r\n`);
        } else if (cmd === 'SELECT' || cmd === 'EXAMINE') {
          sock.write(`* ${box.length} EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n${tag} OK [READ-WRITE] done\r\n`);
        } else if (cmd === 'UID' && (rest[1] ?? '').toUpperCase() === 'SEARCH') {
          const m = /UID (\d+):\*/i.exec(line);
          const from = m ? Number(m[1]) : 1;
          let uids = box.filter((x) => x.uid >= from).map((x) => x.uid);
          if (uids.length === 0 && box.length) uids = [box[box.length - 1].uid];
          sock.write(`* SEARCH${uids.map((u) => ` ${u}`).join('')}\r\n${tag} OK done\r\n`);
        } else if (cmd === 'UID' && (rest[1] ?? '').toUpperCase() === 'FETCH') {
          const uid = Number(rest[2]);
          const msg = box.find((x) => x.uid === uid);
          if (msg) {
            const bytes = Buffer.from(msg.raw);
            sock.write(`* 1 FETCH (UID ${uid} BODY[] {${bytes.length}}\r\n`);
            sock.write(bytes);
            sock.write(`)\r\n${tag} OK done\r\n`);
          } else sock.write(`${tag} OK nothing\r\n`);
        } else if (cmd === 'LOGOUT') { sock.write(`* BYE\r\n${tag} OK bye\r\n`); sock.end(); }
        else sock.write(`${tag} OK ignored\r\n`);
      }
    });
    sock.on('error', () => {});
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `imap://127.0.0.1:${server.address().port}/INBOX`,
        add: (raw) => { box.push({ uid: nextUid, raw }); nextUid += 1; },
        stop: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}
