/* dashboard.js - the analytics pages: the chain (executive) view, a store's
 * view for its director, operator performance for supervisors, and the
 * department x reason task matrix.  Reads /api/v1/reports/* with the
 * session cookie; every figure has its CSV link.  Text goes into the page
 * through textContent only. */
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const S = { me: null, stores: [], view: 'exec' };
  const TOPICS = {
    checkout_queue: 'Очереди на кассе', product_quality: 'Качество товара', price: 'Цены',
    out_of_stock: 'Нет в наличии', delivery: 'Доставка', return_refund: 'Возвраты',
    loyalty: 'Бонусы', staff: 'Персонал', store_condition: 'Состояние магазина',
    website_app: 'Сайт и приложение', payment: 'Оплата', gratitude: 'Благодарности',
    suggestion: 'Предложения', other: 'Другое',
  };
  const CHANNELS = ['phone', 'callback', 'web', 'chat', 'email', 'telegram', 'viber', 'vk',
    'whatsapp', 'sms', 'qr', 'app', 'review', 'social', 'internal'];

  async function api(path) {
    const r = await fetch('/api/v1' + path, { credentials: 'same-origin' });
    if (r.status === 401) { const e = new Error('login'); e.auth = true; throw e; }
    const body = await r.json();
    if (!r.ok) { const e = new Error(body.error ? body.error.message : r.status); e.status = r.status; throw e; }
    return body;
  }

  function node(tag, cls, txt) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (txt !== undefined) e.textContent = txt;
    return e;
  }

  function day(d) { return d.toISOString().slice(0, 10); }

  function query(extra) {
    const p = new URLSearchParams();
    const f = { from: $('f-from').value, to: $('f-to').value, region: $('f-region').value,
      store: $('f-store').value, channel: $('f-channel').value };
    Object.assign(f, extra || {});
    for (const k in f) if (f[k]) p.set(k, f[k]);
    return p;
  }

  function setCsvLinks() {
    document.querySelectorAll('a.csv').forEach((a) => {
      const name = a.dataset.report;
      const p = query();
      if (name === 'operators' || name === 'matrix' || name === 'alerts' || name === 'sla') p.delete('channel');
      p.set('format', 'csv');
      a.href = `/api/v1/reports/${name}?${p}`;
      a.setAttribute('download', name + '.csv');
    });
  }

  function showError(e) {
    $('dash-error').hidden = false;
    $('dash-error').textContent = 'Не удалось загрузить: ' + e.message;
  }

  function card(label, value, sub, cls) {
    const c = node('div', 'card ' + (cls || ''));
    c.appendChild(node('div', 'card-label', label));
    c.appendChild(node('div', 'card-value', value));
    if (sub) c.appendChild(node('div', 'card-sub', sub));
    return c;
  }

  const fmt = (v, d) => (v === null || v === undefined ? '—' : Number(v).toFixed(d === undefined ? 1 : d));

  async function renderExec() {
    const q = query();
    const noCh = query({ channel: '' });
    const [ov, sv, vol, sla, rs, al] = await Promise.all([
      api('/reports/overview?' + q), api('/reports/surveys?' + q), api('/reports/volumes?' + q),
      api('/reports/sla?' + noCh), api('/reports/reasons?' + q), api('/reports/alerts?' + noCh),
    ]);
    const m = {};
    ov.rows.forEach((r) => { m[r.metric] = r; });
    const cards = $('cards');
    cards.textContent = '';
    const ci = (r) => (r && r.ci_low !== null && r.ci_low !== undefined ? `95%: ${fmt(r.ci_low)} … ${fmt(r.ci_high)} · n=${r.n}` : r && r.n !== undefined ? `n=${r.n}` : '');
    cards.appendChild(card('NPS', fmt(m.nps && m.nps.value), ci(m.nps), 'nps'));
    cards.appendChild(card('CSAT, %', fmt(m.csat && m.csat.value), ci(m.csat), 'csat'));
    cards.appendChild(card('CES (1–7)', fmt(m.ces && m.ces.value, 2), ci(m.ces)));
    cards.appendChild(card('eNPS', m.enps && m.enps.withheld ? 'скрыт' : fmt(m.enps && m.enps.value), ci(m.enps)));
    cards.appendChild(card('Обращений', Charts.fmt(m.requests ? m.requests.value : 0), 'индекс лояльности ' + fmt(m.loyalty_index && m.loyalty_index.value, 2)));
    cards.appendChild(card('Ответ за 24 ч', fmt(m.frt_24h_pct && m.frt_24h_pct.value) + '%', 'решено за день ' + fmt(m.solved_1d_pct && m.solved_1d_pct.value) + '%'));

    const series = (kind) => {
      const rows = sv.rows.filter((r) => r.kind === kind);
      return { labels: rows.map((r) => r.period), values: rows.map((r) => r.score), lo: rows.map((r) => r.ci_low), hi: rows.map((r) => r.ci_high) };
    };
    const nps = series('nps'), enps = series('enps'), csat = series('csat');
    Charts.line($('chart-nps'), { labels: nps.labels, yMin: -100, yMax: 100, unit: ' п.',
      series: [{ name: 'NPS', values: nps.values, lo: nps.lo, hi: nps.hi },
        { name: 'eNPS', color: '#7c3aed', values: nps.labels.map((l) => { const i = enps.labels.indexOf(l); return i >= 0 ? enps.values[i] : null; }) }] });
    Charts.line($('chart-csat'), { labels: csat.labels, yMin: 0, yMax: 100, unit: '%',
      series: [{ name: 'CSAT', color: '#2563eb', values: csat.values, lo: csat.lo, hi: csat.hi }] });

    const periods = [...new Set(vol.rows.map((r) => r.period))];
    const chans = vol.by_channel.slice().sort((a, b) => b.created - a.created).map((c) => c.channel);
    Charts.stacked($('chart-volumes'), { labels: periods, series: chans.map((ch) => ({ name: ch,
      values: periods.map((p) => { const r = vol.rows.find((x) => x.period === p && x.channel === ch); return r ? r.created : 0; }) })) });

    Charts.line($('chart-sla'), { labels: sla.rows.map((r) => r.period), yMin: 0, yMax: 100, unit: '%',
      series: [{ name: 'ответ за 24 ч', values: sla.rows.map((r) => r.frt_24h_pct) },
        { name: 'решено за 1 день', color: '#c2410c', values: sla.rows.map((r) => r.solved_1d_pct) },
        { name: 'решено с первого контакта', color: '#7c3aed', values: sla.rows.map((r) => r.fcr_pct) }] });

    Charts.hbars($('chart-reasons'), rs.rows.slice(0, 10).map((r) => ({ label: TOPICS[r.topic] || r.topic, value: r.created,
      /* a change against a nearly empty previous period says nothing */
      note: r.change_pct === null || r.previous < 20 ? '' : (r.change_pct > 0 ? '▲' : '▼') + Math.abs(r.change_pct).toFixed(0) + '%' })));

    const ul = $('alerts');
    ul.textContent = '';
    if (!al.rows.length) ul.appendChild(node('li', 'muted', 'Необычного не найдено'));
    al.rows.slice(0, 12).forEach((a) => {
      const li = node('li', 'alert ' + a.kind + ' ' + a.polarity);
      const where = a.scope === 'store' ? a.store : a.scope === 'region' ? a.region : 'вся сеть';
      li.appendChild(node('span', 'alert-kind', a.kind === 'spike' ? 'всплеск' : 'растёт'));
      li.appendChild(node('span', 'alert-what', `${TOPICS[a.topic] || a.topic} — ${where}`));
      const ev = a.evidence || {};
      const detail = a.kind === 'spike' ? `${ev.from}…${ev.to}, база ${fmt(ev.baseline)}/день`
        : `×${fmt(ev.rate_ratio)} за 6 недель`;
      li.appendChild(node('span', 'alert-detail', `${detail}, p=${Number(a.p_value).toExponential(1)}`));
      ul.appendChild(li);
    });
  }

  async function renderOperators() {
    const rep = await api('/reports/operators?' + query({ channel: '' }));
    Charts.hbars($('chart-operators'), rep.rows.slice(0, 15).map((r) => ({ label: r.name || r.login || ('#' + r.operator_id), value: r.handled })), { color: '#2563eb' });
    const t = $('operators-table');
    t.textContent = '';
    const head = t.createTHead().insertRow();
    ['Оператор', 'Обращений', 'Среднее время ответа, мин', 'Ответ за 24 ч, %', 'Решено', 'Решено за день, %', 'FCR, %'].forEach((h) => head.appendChild(node('th', '', h)));
    const body = t.createTBody();
    if (!rep.rows.length) body.insertRow().appendChild(node('td', 'muted', 'Нет назначенных обращений за период'));
    rep.rows.forEach((r) => {
      const tr = body.insertRow();
      [r.name || r.login, r.handled, r.frt_avg_s === null ? '—' : (r.frt_avg_s / 60).toFixed(1), fmt(r.frt_24h_pct), r.solved, fmt(r.solved_1d_pct), fmt(r.fcr_pct)]
        .forEach((v) => tr.appendChild(node('td', '', String(v))));
    });
  }

  async function renderMatrix() {
    const rep = await api('/reports/matrix?' + query({ channel: '' }));
    const t = $('matrix-table');
    t.textContent = '';
    const head = t.createTHead().insertRow();
    ['Отдел', 'Причина', 'Низких оценок', 'Всего ответов', 'Было', 'Динамика'].forEach((h) => head.appendChild(node('th', '', h)));
    const body = t.createTBody();
    const max = Math.max(1, ...rep.rows.map((r) => r.low));
    rep.rows.slice().sort((a, b) => a.department.localeCompare(b.department) || b.low - a.low).forEach((r) => {
      const tr = body.insertRow();
      tr.appendChild(node('td', '', r.department_name));
      tr.appendChild(node('td', '', r.reason_label));
      tr.appendChild(node('td', 'heat h' + Math.min(4, Math.floor((r.low * 5) / (max + 1))), String(r.low)));
      tr.appendChild(node('td', '', String(r.answers)));
      tr.appendChild(node('td', '', String(r.previous_low)));
      tr.appendChild(node('td', 'trend ' + r.trend, (r.trend === 'up' ? '▲ +' : r.trend === 'down' ? '▼ ' : '· ') + r.change));
    });
  }

  async function render() {
    $('dash-error').hidden = true;
    const v = (location.hash || '#exec').slice(1);
    S.view = ['exec', 'store', 'operators', 'matrix'].includes(v) ? v : 'exec';
    document.querySelectorAll('.dash-nav a[data-view]').forEach((a) => a.classList.toggle('active', a.dataset.view === S.view));
    if (S.view === 'store' && !$('f-store').value && S.stores.length) $('f-store').value = S.stores[0].code;
    const st = S.stores.find((s) => s.code === $('f-store').value);
    $('dash-title').textContent = S.view === 'operators' ? 'Работа операторов'
      : S.view === 'matrix' ? 'Что исправить: задачи отделов'
      : S.me.scope === 'store' ? 'Мой магазин'
      : S.view === 'store' && st ? `${st.name} (${st.code}), ${st.city}` : 'Вся сеть';
    $('view-exec').hidden = !(S.view === 'exec' || S.view === 'store');
    $('view-operators').hidden = S.view !== 'operators';
    $('view-matrix').hidden = S.view !== 'matrix';
    setCsvLinks();
    try {
      if (S.view === 'operators') await renderOperators();
      else if (S.view === 'matrix') await renderMatrix();
      else await renderExec();
      document.body.dataset.ready = S.view;
    } catch (e) {
      if (e.status === 403) { $('dash-error').hidden = false; $('dash-error').textContent = 'Этот раздел недоступен вашей роли.'; document.body.dataset.ready = S.view; }
      else showError(e);
    }
  }

  async function init() {
    try {
      S.me = await api('/auth/me');
    } catch (e) {
      $('need-login').hidden = false;
      return;
    }
    $('who').textContent = `${S.me.name} · ${S.me.role}`;
    const to = new Date(), from = new Date(Date.now() - 89 * 86400000);
    $('f-from').value = day(from);
    $('f-to').value = day(to);
    const stores = (await api('/stores')).items;
    const regions = [...new Set(stores.map((s) => s.region))].sort();
    S.stores = S.me.scope === 'store' ? [] : stores; /* a director's reports are scoped by the server */
    regions.forEach((r) => $('f-region').appendChild(new Option(r, r)));
    S.stores.forEach((s) => $('f-store').appendChild(new Option(`${s.code} ${s.name}`, s.code)));
    CHANNELS.forEach((c) => $('f-channel').appendChild(new Option(c, c)));
    if (S.me.scope === 'region') { $('f-region').value = S.me.region; $('f-region').disabled = true; }
    if (S.me.scope === 'store') { $('f-region').parentElement.hidden = true; $('f-store').parentElement.hidden = true; }
    $('dash-filters').hidden = false;
    $('dash-filters').addEventListener('submit', (e) => { e.preventDefault(); render(); });
    window.addEventListener('hashchange', render);
    await render();
  }

  document.addEventListener('DOMContentLoaded', init);
})();
