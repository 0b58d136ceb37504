/* otklik chat widget: one tag on the retailer's site opens a chat with the
 * care centre.  <script src="https://OTKLIK/widget.js" data-channel="site"
 * data-title="Поддержка" async></script>.  No framework, no cookies: a
 * random visitor id in localStorage keeps the conversation across pages;
 * replies arrive by long polling /hooks/webchat/<channel>. */
(function () {
  'use strict';
  var me = document.currentScript;
  if (!me || window.__otklikChat) return;
  window.__otklikChat = true;
  var base = new URL(me.src, location.href).origin;
  var channel = me.getAttribute('data-channel') || 'site';
  var title = me.getAttribute('data-title') || 'Поддержка';
  var color = me.getAttribute('data-color') || '#2b6cb0';
  var hook = base + '/hooks/webchat/' + encodeURIComponent(channel);
  var store = window.localStorage;
  var key = 'otklik.chat.' + channel;

  function rnd(n) {
    var a = new Uint8Array(n);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }
  var visitor = store.getItem(key + '.visitor');
  if (!visitor) { visitor = rnd(16); store.setItem(key + '.visitor', visitor); }
  var last = 0;
  var shown = {};

  function el(tag, css, text) {
    var e = document.createElement(tag);
    for (var k in css) e.style[k] = css[k];
    if (text) e.textContent = text;
    return e;
  }
  var button = el('button', { position: 'fixed', right: '20px', bottom: '20px', zIndex: 2147483000,
    background: color, color: '#fff', border: '0', borderRadius: '24px', padding: '12px 18px',
    font: '15px system-ui, sans-serif', cursor: 'pointer', boxShadow: '0 2px 8px rgba(0,0,0,.3)' }, title);
  button.setAttribute('aria-label', title);
  var panel = el('div', { position: 'fixed', right: '20px', bottom: '76px', zIndex: 2147483000,
    width: '320px', maxWidth: 'calc(100vw - 40px)', height: '420px', background: '#fff',
    border: '1px solid #ccd', borderRadius: '10px', display: 'none', flexDirection: 'column',
    font: '14px system-ui, sans-serif', boxShadow: '0 4px 16px rgba(0,0,0,.25)', overflow: 'hidden' });
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('data-otklik', 'panel');
  var head = el('div', { background: color, color: '#fff', padding: '10px 12px', fontWeight: '600' }, title);
  var list = el('div', { flex: '1', overflowY: 'auto', padding: '8px' });
  list.setAttribute('data-otklik', 'messages');
  var contact = el('input', { margin: '0 8px 6px', padding: '6px', border: '1px solid #ccd', borderRadius: '6px' });
  contact.placeholder = 'Телефон или e-mail (необязательно)';
  contact.value = store.getItem(key + '.contact') || '';
  contact.setAttribute('data-otklik', 'contact');
  var row = el('div', { display: 'flex', gap: '6px', padding: '0 8px 8px' });
  var input = el('textarea', { flex: '1', resize: 'none', height: '48px', padding: '6px',
    border: '1px solid #ccd', borderRadius: '6px', font: 'inherit' });
  input.placeholder = 'Сообщение…';
  input.setAttribute('data-otklik', 'input');
  var send = el('button', { background: color, color: '#fff', border: '0', borderRadius: '6px',
    padding: '0 12px', cursor: 'pointer' }, '➤');
  send.setAttribute('aria-label', 'Отправить');
  send.setAttribute('data-otklik', 'send');
  var status = el('div', { color: '#a00', fontSize: '12px', padding: '0 8px 6px', minHeight: '14px' });
  status.setAttribute('data-otklik', 'status');
  status.setAttribute('role', 'status');
  row.appendChild(input);
  row.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(list);
  panel.appendChild(status);
  panel.appendChild(contact);
  panel.appendChild(row);

  function show(m) {
    if (shown[m.id]) return;
    shown[m.id] = true;
    var mine = m.direction === 'in';
    var b = el('div', { margin: '4px 0', padding: '6px 10px', borderRadius: '10px', maxWidth: '80%',
      whiteSpace: 'pre-wrap', wordWrap: 'break-word', background: mine ? '#e8f0fe' : '#f1f1f1',
      marginLeft: mine ? 'auto' : '0' }, m.text);
    b.setAttribute('data-direction', m.direction);
    list.appendChild(b);
    list.scrollTop = list.scrollHeight;
    if (m.id > last) last = m.id;
  }

  var polling = false;
  function poll(wait) {
    if (polling) return;
    polling = true;
    fetch(hook + '?visitor=' + visitor + '&after=' + last + '&wait_s=' + wait)
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (d) { d.messages.forEach(show); polling = false; poll(20); })
      .catch(function () { polling = false; setTimeout(function () { poll(20); }, 3000); });
  }

  function submit() {
    var text = input.value.trim();
    if (!text) return;
    var body = { visitor: visitor, id: rnd(8), text: text };
    var c = contact.value.trim();
    if (c) { if (c.indexOf('@') > 0) body.email = c; else body.phone = c; store.setItem(key + '.contact', c); }
    send.disabled = true;
    status.textContent = '';
    /* text/plain keeps it a "simple" cross-origin request: no preflight. */
    fetch(hook, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, d: d }; }); })
      .then(function (x) {
        send.disabled = false;
        if (!x.ok) { status.textContent = (x.d.error && x.d.error.message) || 'Ошибка'; return; }
        input.value = '';
        poll(0);
      })
      .catch(function () { send.disabled = false; status.textContent = 'Нет связи, попробуйте ещё раз'; });
  }
  send.addEventListener('click', submit);
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); submit(); }
  });
  button.addEventListener('click', function () {
    var open = panel.style.display === 'none';
    panel.style.display = open ? 'flex' : 'none';
    store.setItem(key + '.open', open ? '1' : '');
    if (open) input.focus();
  });
  function start() {
    document.body.appendChild(panel);
    document.body.appendChild(button);
    if (store.getItem(key + '.open')) panel.style.display = 'flex';
    poll(0);
  }
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);
})();
