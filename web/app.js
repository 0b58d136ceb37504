/*
 * app.js - the otklik operator page: log in, the inbox with filters and
 * live updates (SSE), the request view with its controls, and the customer
 * 360 beside it.  Plain DOM, no framework, no build step.  Every text that
 * comes from the server goes through textContent (customer input is
 * untrusted); the page's CSP forbids inline scripts and eval.
 */
'use strict';

(function () {
  const I18N = window.OTKLIK_I18N;
  const LOCALES = ['ru', 'en'];
  const PAGE = 50;
  const FLASH_MS = 4000;
  /* Event types the page listens to; any of them refreshes the request's row. */
  const STREAM_TYPES = [
    'request.created', 'request.classified', 'request.status_changed', 'request.reopened',
    'request.assigned', 'request.priority_changed', 'request.topic_corrected',
    'request.queue_changed', 'message.in', 'message.out', 'message.note',
    'order.status_changed', 'customer.merge_suggested'
  ];

  const S = {
    locale: 'ru',
    me: null,            /* the /auth/me answer */
    csrf: null,
    vocab: null,
    stores: [],
    users: new Map(),    /* user id -> name, when the role may list users */
    filters: { q: '', status: '', channel: '', topic: '', store: '' },
    items: [],           /* the inbox rows in display order */
    rows: new Map(),     /* request id -> <li> */
    cursor: null,
    listSeq: 0,          /* drops answers of superseded list loads */
    current: null,       /* the open request (with messages and events) */
    customer: null,      /* the customer 360 beside it */
    replyMode: 'out',
    es: null,
    refreshTimers: new Map()
  };

  const $ = (id) => document.getElementById(id);

  /* ---------- texts ---------- */

  function t(key, params) {
    const dict = I18N[S.locale].text;
    let s = dict[key] !== undefined ? dict[key] : (I18N.en.text[key] !== undefined ? I18N.en.text[key] : key);
    if (params) for (const k of Object.keys(params)) s = s.split('{' + k + '}').join(String(params[k]));
    return s;
  }

  function label(kind, value) {
    if (value === null || value === undefined || value === '') return '—';
    const v = I18N[S.locale].vocab[kind];
    return (v && v[value]) || (I18N.en.vocab[kind] && I18N.en.vocab[kind][value]) || String(value);
  }

  function applyStaticTexts() {
    document.documentElement.lang = S.locale;
    document.title = t('app.title');
    for (const n of document.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
    for (const n of document.querySelectorAll('[data-i18n-ph]')) n.placeholder = t(n.dataset.i18nPh);
    for (const b of document.querySelectorAll('[data-lang]'))
      b.classList.toggle('active', b.dataset.lang === S.locale);
  }

  function setLocale(loc) {
    if (!LOCALES.includes(loc)) return;
    S.locale = loc;
    try { localStorage.setItem('otklik.locale', loc); } catch (e) { /* private mode */ }
    applyStaticTexts();
    if (!S.me) return;
    renderWho();
    fillFilterSelects();
    renderAllRows();
    setLive(S.es && S.es.readyState === EventSource.OPEN);
    renderDetail();
    renderCustomer();
  }

  /* ---------- DOM helpers ---------- */

  /* h('div', {class: 'x', text: '...', onclick: fn, title: '...'}, child, ...) */
  function h(tag, props, ...children) {
    const n = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') n.className = v;
        else if (k === 'text') n.textContent = v;
        else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
        else if (k === 'dataset') Object.assign(n.dataset, v);
        else if (k in n && typeof v !== 'string') n[k] = v;
        else n.setAttribute(k, v === true ? '' : v);
      }
    }
    append(n, children);
    return n;
  }

  function append(n, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(n, c);
      else n.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
  }

  function clear(n) { while (n.firstChild) n.removeChild(n.firstChild); return n; }

  function badge(kind, value, extra) {
    return h('span', { class: 'badge ' + kind + '-' + value + (extra ? ' ' + extra : ''), text: label(kind, value) });
  }

  function toast(text, detail, kind) {
    const box = h('div', { class: 'toast ' + (kind || 'error'), role: kind === 'ok' ? 'status' : 'alert' },
      h('strong', { text }), detail ? h('div', { class: 'toast-detail', text: detail }) : null);
    $('toasts').appendChild(box);
    setTimeout(() => box.classList.add('gone'), kind === 'ok' ? 2000 : 6000);
    setTimeout(() => box.remove(), kind === 'ok' ? 2400 : 6400);
  }

  /* ---------- time and numbers ---------- */

  function relTime(iso) {
    if (!iso) return '—';
    const ms = Date.parse(iso);
    if (Number.isNaN(ms)) return iso;
    const d = Date.now() - ms;
    const future = d < 0;
    const a = Math.abs(d) / 60000;
    if (a < 1) return t('time.now');
    if (a < 60) return t(future ? 'time.in_min' : 'time.min', { n: Math.floor(a) });
    if (a < 24 * 60) return t(future ? 'time.in_hour' : 'time.hour', { n: Math.floor(a / 60) });
    if (a < 7 * 24 * 60) return t(future ? 'time.in_day' : 'time.day', { n: Math.floor(a / 1440) });
    return new Date(ms).toLocaleDateString(S.locale, { day: 'numeric', month: 'short',
      year: new Date(ms).getFullYear() === new Date().getFullYear() ? undefined : 'numeric' });
  }

  function fullTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(S.locale, { dateStyle: 'medium', timeStyle: 'short' });
  }

  /* A <time> that keeps itself current (see tickTimes). */
  function timeEl(iso, cls) {
    return h('time', { class: 'rel ' + (cls || ''), datetime: iso || '', title: fullTime(iso), text: relTime(iso) });
  }

  function tickTimes() {
    for (const n of document.querySelectorAll('time.rel')) {
      const iso = n.getAttribute('datetime');
      if (iso) n.textContent = relTime(iso);
    }
  }

  function money(x) {
    if (x === null || x === undefined) return '—';
    return new Intl.NumberFormat(S.locale, { style: 'currency', currency: 'RUB', currencyDisplay: 'narrowSymbol', maximumFractionDigits: 2 }).format(x);
  }

  function num(x) { return new Intl.NumberFormat(S.locale).format(x); }

  /* ---------- API ---------- */

  class ApiError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || ('HTTP ' + status));
      this.status = status;
      this.code = e.code || (status === 0 ? 'network' : 'generic');
      this.field = e.field || null;
    }
    /* A localised headline for the error; the server's message is the detail. */
    get title() {
      const key = 'err.' + this.code;
      return I18N[S.locale].text[key] !== undefined ? t(key) : t('err.generic');
    }
  }

  async function api(method, path, body, opts) {
    const headers = { Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin' };
    if (method !== 'GET') {
      headers['Content-Type'] = 'application/json';
      if (S.csrf) headers['X-CSRF-Token'] = S.csrf;
      init.body = JSON.stringify(body || {});
    }
    let resp;
    try {
      resp = await fetch('/api/v1' + path, init);
    } catch (e) {
      throw new ApiError(0, { error: { code: 'network', message: String(e.message || e) } });
    }
    let data = null;
    const text = await resp.text();
    if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
    if (!resp.ok) {
      const err = new ApiError(resp.status, data);
      if (resp.status === 401 && !(opts && opts.quiet401)) sessionLost();
      throw err;
    }
    return data;
  }

  function showError(err) {
    if (err instanceof ApiError) toast(err.title, err.message);
    else toast(t('err.generic'), String(err));
  }

  /* ---------- session ---------- */

  async function boot() {
    try { S.locale = localStorage.getItem('otklik.locale') || 'ru'; } catch (e) { S.locale = 'ru'; }
    if (!LOCALES.includes(S.locale)) S.locale = 'ru';
    applyStaticTexts();
    wireStatic();
    try { S.csrf = sessionStorage.getItem('otklik.csrf'); } catch (e) { S.csrf = null; }
    try {
      const me = await api('GET', '/auth/me', null, { quiet401: true });
      await startSession(me);
    } catch (e) {
      showLogin();
      if (!(e instanceof ApiError && e.status === 401)) showError(e);
    }
  }

  function showLogin(message) {
    S.me = null;
    stopStream();
    $('app-view').hidden = true;
    $('login-view').hidden = false;
    $('logout').hidden = true;
    $('who').hidden = true;
    $('live').hidden = true;
    const err = $('login-error');
    err.hidden = !message;
    err.textContent = message || '';
    $('login-login').focus();
  }

  function sessionLost() {
    if (!S.me) return;
    try { sessionStorage.removeItem('otklik.csrf'); } catch (e) { /* ignore */ }
    S.csrf = null;
    showLogin(t('session.expired'));
  }

  async function onLogin(ev) {
    ev.preventDefault();
    const login = $('login-login').value.trim();
    const password = $('login-password').value;
    const err = $('login-error');
    const btn = $('login-submit');
    err.hidden = true;
    btn.disabled = true;
    btn.textContent = t('login.busy');
    try {
      const me = await api('POST', '/auth/login', { login, password }, { quiet401: true });
      $('login-password').value = '';
      await startSession(me);
    } catch (e) {
      clear(err);
      if (e instanceof ApiError) {
        err.appendChild(h('strong', { text: e.title }));
        if (e.message && e.code !== 'network') err.appendChild(h('span', { class: 'err-detail', text: e.message }));
      } else {
        err.textContent = String(e);
      }
      err.hidden = false;
      $('login-password').select();
    } finally {
      btn.disabled = false;
      btn.textContent = t('login.submit');
    }
  }

  async function startSession(me) {
    S.me = me;
    S.csrf = me.csrf_token || S.csrf;
    try { sessionStorage.setItem('otklik.csrf', S.csrf || ''); } catch (e) { /* ignore */ }
    $('login-view').hidden = true;
    $('app-view').hidden = false;
    $('logout').hidden = false;
    renderWho();
    const [vocab, stores] = await Promise.all([
      api('GET', '/vocabulary'),
      S.me.scope === 'store' ? Promise.resolve({ items: [] }) : api('GET', '/stores').catch(() => ({ items: [] }))
    ]);
    S.vocab = vocab;
    S.stores = stores.items || [];
    if ((me.permissions || []).includes('users.read')) {
      api('GET', '/users').then((u) => {
        for (const x of u.items || []) S.users.set(x.id, x.name || x.login);
      }).catch(() => {});
    }
    fillFilterSelects();
    startStream();
    S.current = null;
    S.customer = null;
    renderDetail();
    renderCustomer();
    await loadList(true);
  }

  async function logout() {
    try { await api('POST', '/auth/logout', {}, { quiet401: true }); } catch (e) { /* the session is gone anyway */ }
    try { sessionStorage.removeItem('otklik.csrf'); } catch (e) { /* ignore */ }
    S.csrf = null;
    showLogin();
  }

  function canWrite() { return !!(S.me && (S.me.permissions || []).includes('requests.write')); }

  function renderWho() {
    const w = clear($('who'));
    w.hidden = false;
    w.appendChild(h('span', { class: 'who-name', text: S.me.name || S.me.login }));
    w.appendChild(h('span', { class: 'who-role', text: label('roles', S.me.role) }));
  }

  /* ---------- filters and the inbox ---------- */

  function fillSelect(sel, allKey, values, kind, current) {
    clear(sel);
    sel.appendChild(h('option', { value: '', text: t(allKey) }));
    for (const v of values) {
      const o = h('option', { value: typeof v === 'string' ? v : v.value, text: typeof v === 'string' ? label(kind, v) : v.text });
      sel.appendChild(o);
    }
    sel.value = current || '';
  }

  function fillFilterSelects() {
    if (!S.vocab) return;
    fillSelect($('f-status'), 'filters.all_statuses', S.vocab.statuses, 'statuses', S.filters.status);
    fillSelect($('f-channel'), 'filters.all_channels', S.vocab.channels, 'channels', S.filters.channel);
    const topics = S.vocab.topics.slice().sort((a, b) => label('topics', a).localeCompare(label('topics', b), S.locale));
    fillSelect($('f-topic'), 'filters.all_topics', topics, 'topics', S.filters.topic);
    const st = $('f-store');
    st.hidden = S.stores.length === 0;
    fillSelect(st, 'filters.all_stores',
      S.stores.map((s) => ({ value: s.code, text: s.code + ' · ' + (s.city || '') + (s.name ? ', ' + s.name : '') })),
      null, S.filters.store);
  }

  function readFilters() {
    S.filters = {
      q: $('f-q').value.trim(),
      status: $('f-status').value,
      channel: $('f-channel').value,
      topic: $('f-topic').value,
      store: $('f-store').hidden ? '' : $('f-store').value
    };
    $('f-reset').hidden = !Object.values(S.filters).some(Boolean);
  }

  function listQuery(extra) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(S.filters)) if (v) p.set(k, v);
    p.set('limit', String(PAGE));
    for (const [k, v] of Object.entries(extra || {})) p.set(k, String(v));
    return '/requests?' + p.toString();
  }

  async function loadList(reset) {
    const seq = ++S.listSeq;
    const status = $('inbox-status');
    if (reset) {
      S.cursor = null;
      status.textContent = t('inbox.loading');
    }
    $('more').disabled = true;
    let page;
    try {
      page = await api('GET', listQuery(!reset && S.cursor ? { cursor: S.cursor } : null));
    } catch (e) {
      if (seq !== S.listSeq) return;
      $('more').disabled = false;
      if (reset) {
        /* Do not leave the rows of other filters on screen. */
        S.items = [];
        S.rows.clear();
        S.cursor = null;
        clear($('inbox-list'));
        $('more').hidden = true;
        updateCount();
      }
      status.textContent = (e instanceof ApiError ? e.title + ': ' + e.message : String(e));
      return;
    }
    if (seq !== S.listSeq) return;
    if (reset) {
      S.items = [];
      S.rows.clear();
      clear($('inbox-list'));
      $('inbox-scroll').scrollTop = 0;
    }
    for (const it of page.items || []) {
      if (S.rows.has(it.id)) continue;
      S.items.push(it);
      const li = renderRow(it);
      S.rows.set(it.id, li);
      $('inbox-list').appendChild(li);
    }
    S.cursor = page.next_cursor || null;
    $('more').hidden = !S.cursor;
    $('more').disabled = false;
    status.textContent = S.items.length ? '' : t('inbox.empty');
    updateCount();
  }

  function updateCount() {
    $('inbox-count').textContent = t('inbox.shown', { n: num(S.items.length) + (S.cursor ? '+' : '') });
  }

  function renderAllRows() {
    for (const it of S.items) replaceRow(it, false);
    updateCount();
    if (!S.items.length) $('inbox-status').textContent = t('inbox.empty');
  }

  function excerpt(s, n) {
    if (!s) return '';
    const one = s.replace(/\s+/g, ' ').trim();
    return one.length > n ? one.slice(0, n - 1) + '…' : one;
  }

  function renderRow(it) {
    const mine = S.me && it.assignee_id && it.assignee_id === S.me.user_id;
    const who = it.customer_name || (it.customer_id ? '#' + it.customer_id : t('inbox.no_customer'));
    const li = h('li', {
      class: 'row' + (S.current && S.current.id === it.id ? ' selected' : '') + (it.status === 'new' ? ' unread' : ''),
      tabindex: '0', dataset: { id: String(it.id), status: it.status }
    },
    h('div', { class: 'row-top' },
      h('span', { class: 'sent-dot sent-' + (it.sentiment || 'none'), title: it.sentiment ? label('sentiments', it.sentiment) : '' }),
      h('span', { class: 'row-who', text: who }),
      h('span', { class: 'row-id', text: '#' + it.id }),
      h('span', { class: 'row-fill' }),
      it.store ? h('span', { class: 'tag store', text: it.store }) : null,
      timeEl(it.created_at, 'row-time')),
    h('div', { class: 'row-subject' },
      it.subject ? h('span', { class: 'subj', text: it.subject }) : null,
      h('span', { class: 'row-text', text: excerpt(it.text, 160) })),
    h('div', { class: 'row-tags' },
      badge('statuses', it.status),
      it.priority && it.priority !== 'normal' ? badge('priorities', it.priority) : null,
      h('span', { class: 'tag ch', text: label('channels', it.channel) }),
      it.topic ? h('span', { class: 'tag', text: label('topics', it.topic) }) : null,
      mine ? h('span', { class: 'tag mine', text: t('inbox.mine') }) : null));
    li.addEventListener('click', () => openRequest(it.id));
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') openRequest(it.id);
      else if (e.key === 'ArrowDown' && li.nextElementSibling) { e.preventDefault(); li.nextElementSibling.focus(); }
      else if (e.key === 'ArrowUp' && li.previousElementSibling) { e.preventDefault(); li.previousElementSibling.focus(); }
    });
    return li;
  }

  function replaceRow(it, flash) {
    const old = S.rows.get(it.id);
    if (!old) return;
    const i = S.items.findIndex((x) => x.id === it.id);
    if (i >= 0) S.items[i] = it;
    const li = renderRow(it);
    if (flash) flashRow(li);
    old.replaceWith(li);
    S.rows.set(it.id, li);
  }

  function flashRow(li) {
    li.classList.add('flash');
    setTimeout(() => li.classList.remove('flash'), FLASH_MS);
  }

  function insertTop(it) {
    if (S.rows.has(it.id)) { replaceRow(it, true); return; }
    /* Keep the id-descending order even if events arrive out of order. */
    let before = null;
    for (const x of S.items) if (x.id < it.id) { before = x; break; }
    const li = renderRow(it);
    if (before) {
      S.items.splice(S.items.indexOf(before), 0, it);
      S.rows.get(before.id).before(li);
    } else if (S.cursor) {
      return; /* older than everything loaded: "load more" will bring it */
    } else {
      S.items.push(it);
      $('inbox-list').appendChild(li);
    }
    S.rows.set(it.id, li);
    flashRow(li);
    $('inbox-status').textContent = '';
    updateCount();
  }

  /* Does a request belong in the inbox under the current filters? The
   * enumerated filters are checked here; full-text search asks the server. */
  async function matchesFilters(it) {
    const f = S.filters;
    if ((f.status && it.status !== f.status) || (f.channel && it.channel !== f.channel) ||
        (f.topic && it.topic !== f.topic) || (f.store && it.store !== f.store))
      return false;
    if (!f.q) return true;
    const page = await api('GET', listQuery({ cursor: it.id + 1, limit: 1 }));
    return !!(page.items && page.items[0] && page.items[0].id === it.id);
  }

  /* ---------- live stream ---------- */

  function startStream() {
    stopStream();
    const es = new EventSource('/api/v1/stream');
    S.es = es;
    let wasDown = false;
    es.onopen = () => {
      setLive(true);
      if (wasDown) {
        /* Events may have been missed while offline: refetch what is shown. */
        wasDown = false;
        loadList(true);
        if (S.current) refreshDetail(S.current.id);
      }
    };
    es.onerror = () => {
      if (S.es !== es) return;
      setLive(false);
      wasDown = true;
      if (es.readyState === EventSource.CLOSED) {
        /* The server refused (e.g. the session expired): check, then retry. */
        setTimeout(() => {
          if (S.es !== es || !S.me) return;
          api('GET', '/auth/me').then(() => { if (S.es === es) startStream(); }).catch(() => {});
        }, 3000);
      }
    };
    for (const type of STREAM_TYPES) es.addEventListener(type, onStreamEvent);
  }

  function stopStream() {
    if (S.es) S.es.close();
    S.es = null;
    setLive(false);
  }

  function setLive(on) {
    const n = $('live');
    n.hidden = !S.me;
    n.classList.toggle('on', !!on);
    n.title = t(on ? 'live.title.on' : 'live.title.off');
    n.querySelector('.live-text').textContent = t(on ? 'live.on' : 'live.off');
  }

  function onStreamEvent(msg) {
    let ev;
    try { ev = JSON.parse(msg.data); } catch (e) { return; }
    const id = ev.request_id;
    if (id && ev.type === 'request.created') {
      onRequestCreated(id);
    } else if (id) {
      if (S.rows.has(id)) scheduleRowRefresh(id);
      if (S.current && S.current.id === id) scheduleDetailRefresh(id);
    }
    /* Orders, bonus and new requests of the customer on screen. */
    if (S.customer && ev.customer_id && ev.customer_id === S.customer.id) scheduleCustomerRefresh(S.customer.id);
  }

  async function onRequestCreated(id) {
    try {
      const it = await api('GET', '/requests/' + id);
      delete it.messages;
      delete it.events;
      if (await matchesFilters(it)) insertTop(it);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) console.warn('otklik: live insert', e);
    }
  }

  /* Several events of one change (status + assignee) arrive together:
   * coalesce them into one fetch per request. */
  function debounce(key, fn, ms) {
    clearTimeout(S.refreshTimers.get(key));
    S.refreshTimers.set(key, setTimeout(() => { S.refreshTimers.delete(key); fn(); }, ms));
  }

  function scheduleRowRefresh(id) {
    debounce('row' + id, async () => {
      try {
        const it = await api('GET', '/requests/' + id);
        delete it.messages;
        delete it.events;
        replaceRow(it, true);
      } catch (e) { /* gone out of scope: leave the row */ }
    }, 150);
  }

  function scheduleDetailRefresh(id) { debounce('detail', () => refreshDetail(id), 150); }
  function scheduleCustomerRefresh(id) { debounce('customer', () => loadCustomer(id, true), 300); }

  /* ---------- the request view ---------- */

  async function openRequest(id) {
    for (const li of document.querySelectorAll('.row.selected')) li.classList.remove('selected');
    const li = S.rows.get(id);
    if (li) li.classList.add('selected');
    const detail = $('detail');
    detail.classList.add('loading');
    try {
      const r = await api('GET', '/requests/' + id);
      S.current = r;
      renderDetail(true);
      loadCustomer(r.customer_id, false);
    } catch (e) {
      showError(e);
    } finally {
      detail.classList.remove('loading');
    }
  }

  async function refreshDetail(id) {
    try {
      const r = await api('GET', '/requests/' + id);
      if (!S.current || S.current.id !== id) return;
      S.current = r;
      renderDetail(false);
    } catch (e) { /* keep what is shown */ }
  }

  function assigneeName(id) {
    if (!id) return t('detail.nobody');
    if (S.me && id === S.me.user_id) return t('detail.me') + ' (' + (S.me.name || S.me.login) + ')';
    return S.users.get(id) || '#' + id;
  }

  function metaItem(key, value) {
    return h('div', { class: 'meta-item' }, h('dt', { text: t(key) }), h('dd', null, value));
  }

  function controlSelect(field, values, kind, current, withEmpty) {
    const sel = h('select', { class: 'ctl-' + field, 'aria-label': t('detail.' + field), disabled: !canWrite() });
    if (withEmpty || current === null) sel.appendChild(h('option', { value: '', text: t('detail.no_topic'), disabled: true }));
    for (const v of values) sel.appendChild(h('option', { value: v, text: label(kind, v) }));
    sel.value = current || '';
    sel.addEventListener('change', () => patchCurrent({ [field]: sel.value }, sel, current));
    return h('label', { class: 'ctl' }, h('span', { text: t('detail.' + field) }), sel);
  }

  async function patchCurrent(change, control, previous) {
    const r = S.current;
    if (!r) return;
    const err = $('detail-error');
    if (err) err.hidden = true;
    try {
      const updated = await api('PATCH', '/requests/' + r.id, change);
      if (!S.current || S.current.id !== r.id) return;
      Object.assign(S.current, updated);
      renderDetail(false);
      replaceRow(Object.assign({}, updated), false);
      refreshDetail(r.id); /* brings the new history entries */
    } catch (e) {
      if (control && previous !== undefined) control.value = previous || '';
      const box = $('detail-error');
      if (box && e instanceof ApiError) {
        clear(box);
        box.appendChild(h('strong', { text: e.title }));
        box.appendChild(h('span', { class: 'err-detail', text: e.message }));
        box.hidden = false;
      } else {
        showError(e);
      }
    }
  }

  function renderDetail(fresh) {
    const box = $('detail');
    const r = S.current;
    /* A live re-render of the same request keeps the half-written reply,
     * its focus and caret, and the scroll position. */
    const oldText = $('reply-text');
    const draft = !fresh && oldText ? oldText.value : '';
    const hadFocus = !fresh && oldText && document.activeElement === oldText;
    const caret = hadFocus ? [oldText.selectionStart, oldText.selectionEnd] : null;
    const pane = box.parentElement;
    const scroll = fresh ? [0, 0] : [box.scrollTop, pane.scrollTop];
    const oldHist = box.querySelector('.history-box');
    const histOpen = fresh || !oldHist || oldHist.open;
    clear(box);
    if (!r) {
      box.appendChild(h('div', { class: 'empty' },
        h('div', { class: 'empty-icon', 'aria-hidden': 'true', text: '✉' }),
        h('p', { text: t('detail.empty') }),
        h('p', { class: 'muted', text: t('detail.empty_hint') })));
      return;
    }
    const title = r.subject || excerpt(r.text, 90) || '#' + r.id;
    const mine = S.me && r.assignee_id === S.me.user_id;
    box.appendChild(h('header', { class: 'detail-head' },
      h('div', { class: 'detail-title' },
        h('span', { class: 'detail-id', text: '#' + r.id }),
        h('h2', { text: title })),
      h('div', { class: 'detail-badges' },
        badge('statuses', r.status, 'big'),
        badge('priorities', r.priority),
        r.sentiment ? badge('sentiments', r.sentiment) : null,
        r.topic ? h('span', {
          class: 'tag', text: label('topics', r.topic),
          title: r.topic_confidence != null ? t('detail.confidence', { p: Math.round(r.topic_confidence * 100) }) : null
        }) : null,
        r.needs_review ? h('span', { class: 'tag warn', text: t('detail.needs_review') }) : null)));

    box.appendChild(h('dl', { class: 'meta' },
      metaItem('detail.channel', label('channels', r.channel)),
      metaItem('detail.kind', label('kinds', r.kind)),
      metaItem('detail.store', r.store || '—'),
      r.order ? metaItem('detail.order', r.order) : null,
      metaItem('detail.created', timeEl(r.created_at)),
      metaItem('detail.first_response', r.first_response_at ? timeEl(r.first_response_at) : '—'),
      metaItem('detail.assignee', assigneeName(r.assignee_id)),
      r.queue ? metaItem('detail.queue', r.queue) : null));

    const v = S.vocab || { statuses: [], priorities: [], topics: [] };
    const controls = h('div', { class: 'controls' },
      controlSelect('status', v.statuses, 'statuses', r.status),
      controlSelect('priority', v.priorities, 'priorities', r.priority),
      h('span', { title: t('detail.topic_hint') }, controlSelect('topic', v.topics, 'topics', r.topic, !r.topic)),
      canWrite() && S.me.user_id ? h('button', {
        type: 'button', class: 'assign' + (mine ? '' : ' primary-outline'),
        text: t(mine ? 'detail.unassign' : 'detail.assign_me'),
        onclick: () => patchCurrent({ assignee: mine ? null : S.me.user_id })
      }) : null,
      canWrite() ? null : h('span', { class: 'tag', text: t('detail.read_only') }));
    box.appendChild(controls);
    box.appendChild(h('div', { id: 'detail-error', class: 'form-error', role: 'alert', hidden: true }));

    box.appendChild(h('h3', { class: 'section', text: t('detail.conversation') }));
    const conv = h('ol', { class: 'conversation' });
    for (const m of r.messages || []) {
      const dir = m.direction || 'in';
      conv.appendChild(h('li', { class: 'msg msg-' + dir },
        h('div', { class: 'msg-head' },
          h('span', { class: 'msg-kind', text: t('msg.' + dir) }),
          h('span', { class: 'msg-author', text: m.author_name || '' }),
          m.channel && dir !== 'note' ? h('span', { class: 'muted', text: label('channels', m.channel) }) : null,
          timeEl(m.created_at, 'msg-time')),
        h('div', { class: 'msg-body', text: m.body || '' })));
    }
    box.appendChild(conv);

    if (canWrite()) box.appendChild(renderReplyBox(draft));

    const hist = h('ol', { class: 'history' });
    const events = (r.events || []).slice().reverse();
    for (const e of events) hist.appendChild(renderEvent(e));
    box.appendChild(h('details', { class: 'history-box', open: histOpen },
      h('summary', { class: 'section', text: t('detail.history') + ' (' + events.length + ')' }), hist));
    box.scrollTop = scroll[0];
    pane.scrollTop = scroll[1];
    const ta = $('reply-text');
    if (hadFocus && ta) {
      ta.focus({ preventScroll: true });
      ta.setSelectionRange(caret[0], caret[1]);
    }
  }

  function renderReplyBox(draft) {
    const mode = S.replyMode;
    const ta = h('textarea', {
      id: 'reply-text', rows: '3', class: mode === 'note' ? 'note' : '',
      placeholder: t(mode === 'note' ? 'detail.note_ph' : 'detail.reply_ph')
    });
    ta.value = draft || '';
    const send = h('button', { type: 'submit', class: 'primary', text: t(mode === 'note' ? 'detail.save_note' : 'detail.send') });
    const tab = (m, key) => h('button', {
      type: 'button', class: 'tab' + (mode === m ? ' active' : ''), text: t(key),
      'aria-pressed': mode === m ? 'true' : 'false',
      onclick: () => { S.replyMode = m; renderDetail(false); const x = $('reply-text'); if (x) x.focus(); }
    });
    const form = h('form', { class: 'reply' + (mode === 'note' ? ' note-mode' : '') },
      h('div', { class: 'tabs' }, tab('out', 'detail.reply'), tab('note', 'detail.note')),
      ta,
      h('div', { class: 'reply-actions' }, send));
    const submit = async (e) => {
      if (e) e.preventDefault();
      const text = ta.value.trim();
      const r = S.current;
      if (!text || !r) return;
      send.disabled = true;
      try {
        await api('POST', '/requests/' + r.id + '/messages', { text, direction: S.replyMode });
        ta.value = '';
        toast(t(S.replyMode === 'note' ? 'detail.saved' : 'detail.sent'), null, 'ok');
        await refreshDetail(r.id);
      } catch (err) {
        showError(err);
      } finally {
        send.disabled = false;
      }
    };
    form.addEventListener('submit', submit);
    ta.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) submit(e); });
    return form;
  }

  function actorName(a) {
    if (!a) return '';
    const i = a.indexOf(':');
    return i >= 0 ? a.slice(i + 1) : a;
  }

  function changeText(e) {
    const d = e.data || {};
    const field = d.field;
    const kinds = { status: 'statuses', priority: 'priorities', topic: 'topics' };
    if (field === 'assignee') return (d.from ? assigneeName(d.from) + ' → ' : '→ ') + assigneeName(d.to);
    if (field && kinds[field]) return label(kinds[field], d.from) + ' → ' + label(kinds[field], d.to);
    if (field) return (d.from || '—') + ' → ' + (d.to || '—');
    if (e.type === 'request.created')
      return [label('channels', d.channel), label('statuses', d.status)].filter((x) => x !== '—').join(' · ');
    if (e.type === 'request.classified' && d.topic) return label('topics', d.topic) + (d.sentiment ? ' · ' + label('sentiments', d.sentiment) : '');
    return '';
  }

  function renderEvent(e) {
    return h('li', { class: 'ev ev-' + String(e.type || '').replace(/\W/g, '_') },
      h('span', { class: 'ev-type', text: label('events', e.type) }),
      h('span', { class: 'ev-change', text: changeText(e) }),
      h('span', { class: 'ev-actor muted', text: actorName(e.actor) }),
      timeEl(e.at, 'ev-time'));
  }

  /* ---------- the customer 360 ---------- */

  async function loadCustomer(id, quiet) {
    if (!id) { S.customer = null; renderCustomer(); return; }
    if (!quiet) $('customer').classList.add('loading');
    try {
      const c = await api('GET', '/customers/' + id);
      if (!S.current || S.current.customer_id !== id) return;
      S.customer = c;
      renderCustomer();
    } catch (e) {
      if (!quiet) showError(e);
    } finally {
      $('customer').classList.remove('loading');
    }
  }

  function card(titleText, aside, ...body) {
    return h('section', { class: 'card' },
      h('h4', null, h('span', { text: titleText }), aside ? h('span', { class: 'card-aside', text: aside }) : null),
      body);
  }

  function isOpenOrder(s) { return !['delivered', 'cancelled', 'returned'].includes(s); }

  function renderCustomer() {
    const box = clear($('customer'));
    const r = S.current;
    if (!r) return;
    const c = S.customer;
    if (!r.customer_id) {
      box.appendChild(h('div', { class: 'empty small' },
        h('p', { text: t('cust.none') }), h('p', { class: 'muted', text: t('cust.none_hint') })));
      return;
    }
    if (!c || c.id !== r.customer_id) return;

    box.appendChild(h('header', { class: 'cust-head' },
      h('div', { class: 'avatar', 'aria-hidden': 'true', text: initials(c.name) }),
      h('div', null,
        h('h3', { text: c.name || '#' + c.id }),
        h('div', { class: 'cust-sub' },
          c.tier ? badge('tiers', c.tier) : null,
          h('span', { class: 'muted', text: '#' + c.id }),
          c.created_at ? h('span', { class: 'muted', text: t('cust.since', { t: fullTime(c.created_at) }) }) : null))));

    if (c.merge_suggestions && c.merge_suggestions.length)
      box.appendChild(h('div', { class: 'notice', text: t('cust.merge', { n: c.merge_suggestions.length }) }));

    const ids = h('ul', { class: 'identities' });
    for (const x of c.identities || [])
      ids.appendChild(h('li', null, h('span', { class: 'id-kind', text: label('identities', x.kind) }),
        h('span', { class: 'id-value', text: x.value })));
    box.appendChild(card(t('cust.identities'), null, ids));

    const bonus = c.bonus || { balance: 0, ledger: [] };
    const ledger = h('ul', { class: 'ledger' });
    for (const m of (bonus.ledger || []).slice(0, 5)) {
      ledger.appendChild(h('li', null,
        h('span', { class: 'amount ' + (m.amount >= 0 ? 'plus' : 'minus'), text: (m.amount > 0 ? '+' : '') + num(m.amount) }),
        h('span', { class: 'ledger-reason', text: label('reasons', m.reason), title: m.ref || '' }),
        timeEl(m.at, 'muted')));
    }
    if (!(bonus.ledger || []).length) ledger.appendChild(h('li', { class: 'muted', text: t('cust.ledger_empty') }));
    box.appendChild(card(t('cust.bonus'), null,
      h('div', { class: 'balance' }, h('span', { class: 'balance-label', text: t('cust.balance') }),
        h('span', { class: 'balance-value', id: 'bonus-balance', text: t('cust.points', { n: num(bonus.balance || 0) }) })),
      ledger));

    const orders = (c.orders || []).slice().sort((a, b) => (isOpenOrder(b.status) - isOpenOrder(a.status)) || (Date.parse(b.created_at) - Date.parse(a.created_at)));
    const nOpen = orders.filter((o) => isOpenOrder(o.status)).length;
    const ol = h('ul', { class: 'orders' });
    for (const o of orders.slice(0, 5)) {
      const hist = h('ol', { class: 'order-history' });
      for (const s of o.history || [])
        hist.appendChild(h('li', null, badge('order_statuses', s.status, 'tiny'), s.note ? h('span', { text: s.note }) : null, timeEl(s.at, 'muted')));
      ol.appendChild(h('li', { class: isOpenOrder(o.status) ? 'open' : '' },
        h('details', null,
          h('summary', null,
            h('span', { class: 'order-id', text: o.id }),
            badge('order_statuses', o.status),
            h('span', { class: 'order-total', text: money(o.total) })),
          h('div', { class: 'order-meta muted' },
            o.store ? h('span', { text: o.store }) : null,
            o.promised_at ? h('span', { text: t('cust.promised', { t: fullTime(o.promised_at) }) }) : null),
          hist)));
    }
    if (!orders.length) ol.appendChild(h('li', { class: 'muted', text: t('cust.orders_empty') }));
    else if (orders.length > 5) ol.appendChild(h('li', { class: 'muted', text: t('cust.more', { n: orders.length - 5 }) }));
    box.appendChild(card(t('cust.orders'), orders.length ? t('cust.open_orders', { n: nOpen }) : null, ol));

    const pl = h('ul', { class: 'purchases' });
    for (const p of (c.purchases || []).slice(0, 5))
      pl.appendChild(h('li', null,
        h('span', { class: 'p-total', text: money(p.total) }),
        h('span', { class: 'muted', text: t('cust.items', { n: p.items }) + (p.store ? ' · ' + p.store : '') }),
        timeEl(p.at, 'muted')));
    if (!(c.purchases || []).length) pl.appendChild(h('li', { class: 'muted', text: t('cust.purchases_empty') }));
    box.appendChild(card(t('cust.purchases'), null, pl));

    const reqs = (c.requests || []).filter((x) => x.id !== r.id);
    const rl = h('ul', { class: 'cust-requests' });
    for (const x of reqs.slice(0, 8))
      rl.appendChild(h('li', { tabindex: '0', onclick: () => openRequest(x.id), onkeydown: (e) => { if (e.key === 'Enter') openRequest(x.id); } },
        h('div', { class: 'cr-top' }, badge('statuses', x.status, 'tiny'), h('span', { class: 'cr-subj', text: x.subject || label('topics', x.topic) }), timeEl(x.created_at, 'muted')),
        h('div', { class: 'muted cr-sub', text: '#' + x.id + ' · ' + label('channels', x.channel) + (x.store ? ' · ' + x.store : '') })));
    if (!reqs.length) rl.appendChild(h('li', { class: 'muted', text: t('cust.requests_empty') }));
    else if (reqs.length > 8) rl.appendChild(h('li', { class: 'muted', text: t('cust.more', { n: reqs.length - 8 }) }));
    box.appendChild(card(t('cust.requests'), String(reqs.length), rl));
  }

  function initials(name) {
    if (!name) return '?';
    return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
  }

  /* ---------- wiring ---------- */

  function wireStatic() {
    $('login-form').addEventListener('submit', onLogin);
    $('logout').addEventListener('click', logout);
    for (const b of document.querySelectorAll('[data-lang]')) b.addEventListener('click', () => setLocale(b.dataset.lang));
    let qTimer = null;
    $('f-q').addEventListener('input', () => {
      clearTimeout(qTimer);
      qTimer = setTimeout(() => { readFilters(); loadList(true); }, 300);
    });
    $('filters').addEventListener('submit', (e) => { e.preventDefault(); readFilters(); loadList(true); });
    for (const id of ['f-status', 'f-channel', 'f-topic', 'f-store'])
      $(id).addEventListener('change', () => { readFilters(); loadList(true); });
    $('f-reset').addEventListener('click', () => {
      $('f-q').value = '';
      for (const id of ['f-status', 'f-channel', 'f-topic', 'f-store']) $(id).value = '';
      readFilters();
      loadList(true);
    });
    $('more').addEventListener('click', () => loadList(false));
    setInterval(tickTimes, 30000);
  }

  document.addEventListener('DOMContentLoaded', boot);
})();
