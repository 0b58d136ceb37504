/* charts.js - small SVG charts for the dashboards, no libraries: a line
 * chart with confidence bands, stacked bars and horizontal bars.  Only
 * presentation attributes are used (the pages' CSP forbids inline styles).
 * Each function empties its container and draws into it. */
(function () {
  'use strict';
  const NS = 'http://www.w3.org/2000/svg';
  const PALETTE = ['#0f766e', '#2563eb', '#c2410c', '#7c3aed', '#be123c', '#0891b2', '#65a30d',
    '#b45309', '#4b5563', '#db2777', '#0d9488', '#9333ea', '#ea580c', '#475569', '#16a34a'];

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function text(parent, x, y, s, attrs) {
    const t = el('text', Object.assign({ x, y, 'font-size': 11, fill: '#6b7785' }, attrs || {}), parent);
    t.textContent = s;
    return t;
  }

  function svgIn(container, width, height) {
    container.textContent = '';
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', height, role: 'img',
      class: 'chart', preserveAspectRatio: 'none' }, container);
    return svg;
  }

  /* Round numbers for the axis: about n ticks between lo and hi. */
  function ticks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    const raw = (hi - lo) / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toFixed(6));
    return out;
  }

  function fmt(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return '—';
    const a = Math.abs(v);
    return a >= 1000 ? Math.round(v).toLocaleString('ru-RU') : a >= 10 ? v.toFixed(0) : v.toFixed(1);
  }

  function legend(container, names) {
    const box = document.createElement('div');
    box.className = 'legend';
    names.forEach((n, i) => {
      const item = document.createElement('span');
      item.className = 'legend-item';
      const sw = el('svg', { width: 10, height: 10 }, item);
      el('rect', { width: 10, height: 10, rx: 2, fill: n.color || PALETTE[i % PALETTE.length] }, sw);
      item.appendChild(document.createTextNode(' ' + n.name));
      box.appendChild(item);
    });
    container.appendChild(box);
  }

  /**
   * Line chart: opts = {labels: [..x labels..], series: [{name, color, values: [y|null],
   * lo: [..], hi: [..]}], yMin, yMax, unit}.  Bands are drawn where lo/hi exist.
   */
  function line(container, opts) {
    const W = 640, H = 220, L = 44, R = 12, T = 12, B = 28;
    const svg = svgIn(container, W, H);
    const n = opts.labels.length;
    let lo = opts.yMin, hi = opts.yMax;
    const all = [];
    opts.series.forEach((s) => s.values.concat(s.lo || [], s.hi || []).forEach((v) => { if (v !== null && v !== undefined) all.push(v); }));
    if (lo === undefined) lo = all.length ? Math.min(...all) : 0;
    if (hi === undefined) hi = all.length ? Math.max(...all) : 1;
    if (hi === lo) { hi += 1; lo -= 1; }
    const ys = ticks(lo, hi, 4);
    lo = Math.min(lo, ys[0]); hi = Math.max(hi, ys[ys.length - 1]);
    const x = (i) => L + (n <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (n - 1));
    const y = (v) => T + ((hi - v) * (H - T - B)) / (hi - lo);
    ys.forEach((v) => {
      el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e3e7ec', 'stroke-width': 1 }, svg);
      text(svg, L - 6, y(v) + 4, fmt(v), { 'text-anchor': 'end' });
    });
    const every = Math.max(1, Math.ceil(n / 8));
    opts.labels.forEach((lab, i) => { if (i % every === 0) text(svg, x(i), H - 8, lab.slice(5), { 'text-anchor': 'middle' }); });
    opts.series.forEach((s, si) => {
      const color = s.color || PALETTE[si % PALETTE.length];
      if (s.lo && s.hi) {
        const up = [], down = [];
        s.values.forEach((v, i) => {
          if (s.lo[i] === null || s.hi[i] === null || s.lo[i] === undefined) return;
          up.push(`${x(i)},${y(s.hi[i])}`);
          down.unshift(`${x(i)},${y(s.lo[i])}`);
        });
        if (up.length) el('polygon', { points: up.concat(down).join(' '), fill: color, 'fill-opacity': 0.15, class: 'band' }, svg);
      }
      let d = '';
      s.values.forEach((v, i) => { if (v !== null && v !== undefined) d += (d ? 'L' : 'M') + x(i) + ',' + y(v); });
      if (d) el('path', { d, fill: 'none', stroke: color, 'stroke-width': 2, class: 'series' }, svg);
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        const c = el('circle', { cx: x(i), cy: y(v), r: 3, fill: color, class: 'point' }, svg);
        const t = el('title', {}, c);
        t.textContent = `${s.name} ${opts.labels[i]}: ${fmt(v)}${opts.unit || ''}` +
          (s.lo && s.lo[i] !== null && s.lo[i] !== undefined ? ` [${fmt(s.lo[i])}; ${fmt(s.hi[i])}]` : '');
      });
    });
    legend(container, opts.series.map((s, i) => ({ name: s.name, color: s.color || PALETTE[i % PALETTE.length] })));
  }

  /** Stacked bars: opts = {labels, series: [{name, values}]}. */
  function stacked(container, opts) {
    const W = 640, H = 220, L = 44, R = 12, T = 12, B = 28;
    const svg = svgIn(container, W, H);
    const n = opts.labels.length;
    const totals = opts.labels.map((_, i) => opts.series.reduce((a, s) => a + (s.values[i] || 0), 0));
    const ys = ticks(0, Math.max(1, ...totals), 4);
    const hi = ys[ys.length - 1];
    const y = (v) => T + ((hi - v) * (H - T - B)) / hi;
    ys.forEach((v) => {
      el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e3e7ec' }, svg);
      text(svg, L - 6, y(v) + 4, fmt(v), { 'text-anchor': 'end' });
    });
    const slot = (W - L - R) / Math.max(1, n), bw = Math.max(2, slot * 0.7);
    const every = Math.max(1, Math.ceil(n / 8));
    opts.labels.forEach((lab, i) => {
      let acc = 0;
      const x0 = L + i * slot + (slot - bw) / 2;
      opts.series.forEach((s, si) => {
        const v = s.values[i] || 0;
        if (!v) return;
        const r = el('rect', { x: x0, y: y(acc + v), width: bw, height: y(acc) - y(acc + v), fill: s.color || PALETTE[si % PALETTE.length], class: 'bar' }, svg);
        el('title', {}, r).textContent = `${s.name} ${lab}: ${fmt(v)}`;
        acc += v;
      });
      if (i % every === 0) text(svg, x0 + bw / 2, H - 8, lab.slice(5), { 'text-anchor': 'middle' });
    });
    legend(container, opts.series.map((s, i) => ({ name: s.name, color: s.color || PALETTE[i % PALETTE.length] })));
  }

  /** Horizontal bars: items = [{label, value, note}] largest first. */
  function hbars(container, items, opts) {
    const rowH = 22, W = 640, L = 170, R = 90;
    const H = Math.max(rowH, items.length * rowH) + 4;
    const svg = svgIn(container, W, H);
    const max = Math.max(1, ...items.map((it) => it.value));
    items.forEach((it, i) => {
      const yy = 2 + i * rowH;
      text(svg, L - 8, yy + 15, it.label, { 'text-anchor': 'end', fill: '#1d2733', 'font-size': 12 });
      const w = ((W - L - R) * it.value) / max;
      const r = el('rect', { x: L, y: yy + 3, width: Math.max(1, w), height: rowH - 8, rx: 3, fill: (opts && opts.color) || PALETTE[0], class: 'bar' }, svg);
      el('title', {}, r).textContent = `${it.label}: ${fmt(it.value)}`;
      text(svg, L + w + 6, yy + 15, fmt(it.value) + (it.note ? '  ' + it.note : ''), { fill: '#1d2733' });
    });
  }

  window.Charts = { line, stacked, hbars, fmt, PALETTE };
})();
