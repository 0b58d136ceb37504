// calc.test.mjs - black-box tests of `otklik calc` on the real binary.
//
// Runs build/otklik-san when it exists (sanitizers catch what the output
// cannot show), else build/otklik; OTKLIK_BIN overrides both.  Each
// subcommand must print one JSON object, or exit 2 with a message on stderr.
// Run from anywhere: node --test tests/api/calc.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin =
  process.env.OTKLIK_BIN ||
  [join(root, 'build/otklik-san'), join(root, 'build/otklik')].find((p) => existsSync(p));

function calc(...args) {
  assert.ok(bin, 'no otklik binary: run `make build/otklik` first');
  const r = spawnSync(bin, ['calc', ...args], { encoding: 'utf8', timeout: 20000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// One JSON object on one line, exit 0.
function ok(...args) {
  const r = calc(...args);
  assert.equal(r.status, 0, `calc ${args.join(' ')} failed: ${r.stderr}`);
  assert.equal(r.stderr, '');
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'one JSON object on one line');
  const obj = JSON.parse(lines[0]);
  assert.equal(typeof obj, 'object');
  return obj;
}

// Exit 2 with a message naming the problem, nothing on stdout.
function bad(pattern, ...args) {
  const r = calc(...args);
  assert.equal(r.status, 2, `calc ${args.join(' ')} should exit 2, got ${r.status}: ${r.stdout}`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, pattern);
}

const near = (got, want, eps, what = '') =>
  assert.ok(Math.abs(got - want) <= eps, `${what} ${got} not within ${eps} of ${want}`);

test('nps: issue example, Wald 95%', () => {
  const r = ok('nps', 'promoters=50', 'passives=30', 'detractors=20');
  assert.equal(r.nps, 30);
  assert.equal(r.n, 100);
  // se = sqrt((0.7 - 0.09) / 100) = 0.0781025; 30 +- 1.96 * 7.81025
  near(r.ci_low, 14.6919, 1e-4, 'ci_low');
  near(r.ci_high, 45.3081, 1e-4, 'ci_high');
  assert.equal(r.method, 'wald');
  assert.equal(r.promoters_pct, 50);
  assert.equal(r.detractors_pct, 20);
});

test('nps: adjusted-Wald and a custom z', () => {
  const a = ok('nps', 'promoters=50', 'passives=30', 'detractors=20', 'method=adjusted-wald');
  assert.equal(a.nps, 30);
  near(a.ci_low, 14.0509, 1e-4, 'ci_low');
  near(a.ci_high, 44.2016, 1e-4, 'ci_high');
  const z = ok('nps', 'promoters=50', 'passives=30', 'detractors=20', 'z=1.645');
  near(z.ci_low, 17.1521, 1e-4, 'ci_low');
});

test('nps: edges (no answers, all promoters)', () => {
  const none = ok('nps', 'promoters=0', 'passives=0', 'detractors=0');
  assert.equal(none.n, 0);
  assert.equal(none.nps, null);
  assert.equal(none.ci_low, null);
  const all = ok('nps', 'promoters=10', 'passives=0', 'detractors=0');
  assert.equal(all.nps, 100);
  assert.equal(all.ci_high, 100);
  const adj = ok('nps', 'promoters=10', 'passives=0', 'detractors=0', 'method=adjusted-wald');
  assert.equal(adj.ci_high, 100); // clamped
  near(adj.ci_low, 47.503, 1e-3);
});

test('enps: same arithmetic as nps', () => {
  const e = ok('enps', 'promoters=12', 'passives=5', 'detractors=3');
  const n = ok('nps', 'promoters=12', 'passives=5', 'detractors=3');
  assert.equal(e.nps, n.nps);
  assert.equal(e.ci_low, n.ci_low);
  near(e.nps, 45, 1e-9);
});

test('nps: bad arguments exit 2 with a message', () => {
  bad(/promoters/, 'nps', 'promoters=abc', 'passives=1', 'detractors=1');
  bad(/missing passives/, 'nps', 'promoters=1', 'detractors=1');
  bad(/unknown argument 'foo'/, 'nps', 'promoters=1', 'passives=1', 'detractors=1', 'foo=2');
  bad(/method/, 'nps', 'promoters=1', 'passives=1', 'detractors=1', 'method=exact');
  bad(/z/, 'nps', 'promoters=1', 'passives=1', 'detractors=1', 'z=0');
  bad(/promoters/, 'nps', 'promoters=-5', 'passives=1', 'detractors=1');
  bad(/given twice/, 'nps', 'promoters=1', 'promoters=2', 'passives=1', 'detractors=1');
  bad(/not key=value/, 'nps', 'promoters');
});

test('csat and loyalty', () => {
  assert.equal(ok('csat', 'satisfied=60', 'total=100').csat, 60);
  assert.equal(ok('csat', 'satisfied=0', 'total=0').csat, null);
  bad(/exceeds total/, 'csat', 'satisfied=101', 'total=100');
  bad(/missing total/, 'csat', 'satisfied=1');
  assert.equal(ok('loyalty', 'positive=30', 'negative=10').index, 0.5);
  assert.equal(ok('loyalty', 'positive=0', 'negative=4').index, -1);
  const zero = ok('loyalty', 'positive=0', 'negative=0');
  assert.ok('index' in zero);
  assert.equal(zero.index, null);
  bad(/negative/, 'loyalty', 'positive=1', 'negative=x');
});

test('service-level: abandoned before T are excluded by default', () => {
  const r = ok('service-level', 'answered=900', 'answered_within=720', 'abandoned=100',
    'abandoned_within=40');
  near(r.service_level, 0.75, 1e-12);
  near(r.abandon_rate, 0.1, 1e-12);
  const all = ok('service-level', 'answered=900', 'answered_within=720', 'abandoned=100',
    'abandoned_within=40', 'abandoned_rule=all-missed');
  near(all.service_level, 0.72, 1e-12);
  bad(/answered_within exceeds/, 'service-level', 'answered=1', 'answered_within=2');
});

test('erlang-c: figures for 14 agents (A = 10 Erlangs)', () => {
  const r = ok('erlang-c', 'calls=100', 'period=1800', 'aht=180', 'answer=20', 'agents=14');
  near(r.traffic, 10, 1e-9, 'traffic');
  near(r.p_wait, 0.174132, 1e-6, 'p_wait');
  near(r.service_level, 0.888350, 1e-6, 'service_level');
  near(r.asa, 7.835937, 1e-5, 'asa');
  near(r.occupancy, 10 / 14, 1e-9, 'occupancy');
  assert.equal(r.agents, 14);
});

test('erlang-c: solve for 80/20 with occupancy cap and shrinkage', () => {
  const r = ok('erlang-c', 'calls=100', 'period=1800', 'aht=180', 'answer=20', 'target=0.8');
  assert.equal(r.agents, 14); // 13 agents give 0.7956
  assert.ok(!('scheduled_agents' in r));
  const s = ok('erlang-c', 'calls=100', 'period=1800', 'aht=180', 'answer=20', 'target=0.8',
    'max_occupancy=0.85', 'shrinkage=0.3');
  assert.equal(s.agents, 14);
  assert.equal(s.scheduled_agents, 20); // ceil(14 / 0.7)
  assert.ok(s.service_level >= 0.8);
  const occ = ok('erlang-c', 'calls=100', 'period=1800', 'aht=180', 'answer=20', 'target=0.8',
    'max_occupancy=0.65');
  assert.equal(occ.agents, 16);
  const asa = ok('erlang-c', 'calls=100', 'period=1800', 'aht=180', 'answer=20',
    'target_asa=20');
  assert.equal(asa.agents, 13);
  assert.ok(asa.asa <= 20);
});

test('erlang-c: overload and zero volume', () => {
  const r = ok('erlang-c', 'calls=100', 'period=1800', 'aht=180', 'answer=20', 'agents=10');
  assert.equal(r.p_wait, 1);
  assert.equal(r.service_level, 0);
  assert.equal(r.asa, null);
  assert.equal(r.overloaded, true);
  const q = ok('erlang-c', 'calls=0', 'period=1800', 'aht=180', 'answer=20', 'agents=2');
  assert.equal(q.p_wait, 0);
  assert.equal(q.service_level, 1);
  const big = ok('erlang-c', 'calls=9000', 'period=3600', 'aht=180', 'answer=20', 'target=0.9');
  assert.ok(big.agents > 450 && big.agents < 520, `agents ${big.agents}`);
});

test('erlang-c: bad arguments', () => {
  bad(/period/, 'erlang-c', 'calls=100', 'period=0', 'aht=180', 'answer=20', 'agents=14');
  bad(/missing aht/, 'erlang-c', 'calls=100', 'period=1800', 'answer=20', 'agents=14');
  bad(/agents=N/, 'erlang-c', 'calls=100', 'period=1800', 'aht=180', 'answer=20');
  bad(/not both/, 'erlang-c', 'calls=100', 'period=1800', 'aht=180', 'answer=20', 'agents=14',
    'target=0.8');
  bad(/target/, 'erlang-c', 'calls=100', 'period=1800', 'aht=180', 'answer=20', 'target=1.5');
  bad(/shrinkage/, 'erlang-c', 'calls=100', 'period=1800', 'aht=180', 'answer=20', 'target=0.8',
    'shrinkage=1');
});

test('due: business hours, holidays, pauses and errors', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'otklik-calc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const day = [['09:00', '18:00']];
  const cal = join(dir, 'cal.json');
  writeFileSync(cal, JSON.stringify({
    time_zone: 'Europe/Moscow',
    week: { mon: day, tue: day, wed: day, thu: day, fri: day, sat: [], sun: [] },
    holidays: ['2024-05-13'],
  }));
  const r = ok('due', 'start=2024-05-10T17:30:00', 'minutes=240', `calendar=${cal}`);
  assert.equal(r.due, '2024-05-14T12:30:00+03:00');
  assert.equal(r.due_utc, '2024-05-14T09:30:00Z');
  // Exactly at closing time is due at closing time.
  const c = ok('due', 'start=2024-05-10T17:30:00', 'minutes=30', `calendar=${cal}`);
  assert.equal(c.due, '2024-05-10T18:00:00+03:00');
  // Absolute start.
  assert.equal(ok('due', 'start=2024-05-10T14:30:00Z', 'minutes=240', `calendar=${cal}`).due,
    '2024-05-14T12:30:00+03:00');
  // Pauses stop the clock (local and absolute times).
  const p = ok('due', 'start=2024-05-14T09:00:00', 'minutes=120', `calendar=${cal}`,
    'pauses=2024-05-14T10:00:00/2024-05-14T10:30:00,2024-05-14T08:00:00Z/2024-05-14T08:15:00Z');
  assert.equal(p.due, '2024-05-14T11:45:00+03:00');
  // A long target is instant and lands on a working day.
  const long = ok('due', 'start=2024-05-10T17:30:00', 'minutes=10000', `calendar=${cal}`);
  assert.equal(long.due, '2024-06-07T13:10:00+03:00');

  // Another zone with a lunch break.
  const ekb = join(dir, 'ekb.json');
  const lunch = [['09:00', '13:00'], ['14:00', '18:00']];
  writeFileSync(ekb, JSON.stringify({
    time_zone: 'Asia/Yekaterinburg',
    week: { mon: lunch, tue: lunch, wed: lunch, thu: lunch, fri: lunch },
  }));
  const l = ok('due', 'start=2024-06-10T12:30:00', 'minutes=60', `calendar=${ekb}`);
  assert.equal(l.due, '2024-06-10T14:30:00+05:00');
  assert.equal(l.due_utc, '2024-06-10T09:30:00Z');

  // Bad input.
  const write = (name, obj) => {
    const f = join(dir, name);
    writeFileSync(f, typeof obj === 'string' ? obj : JSON.stringify(obj));
    return f;
  };
  const start = 'start=2024-05-10T17:30:00';
  bad(/unknown day 'funday'/, 'due', start, 'minutes=60',
    `calendar=${write('d.json', { time_zone: 'Europe/Moscow', week: { funday: day } })}`);
  bad(/'25:00'/, 'due', start, 'minutes=60',
    `calendar=${write('h.json', { time_zone: 'Europe/Moscow', week: { mon: [['09:00', '25:00']] } })}`);
  bad(/before it starts/, 'due', start, 'minutes=60',
    `calendar=${write('e.json', { time_zone: 'Europe/Moscow', week: { mon: [['18:00', '09:00']] } })}`);
  bad(/unknown time zone/, 'due', start, 'minutes=60',
    `calendar=${write('z.json', { time_zone: 'Europe/Nowhere', week: { mon: day } })}`);
  bad(/not valid JSON/, 'due', start, 'minutes=60', `calendar=${write('j.json', '{"time_zone": ')}`);
  bad(/cannot open calendar file/, 'due', start, 'minutes=60', `calendar=${join(dir, 'none.json')}`);
  bad(/start/, 'due', 'start=tomorrow', 'minutes=60', `calendar=${cal}`);
  bad(/minutes/, 'due', start, 'minutes=-5', `calendar=${cal}`);
  bad(/ends before it starts/, 'due', start, 'minutes=60', `calendar=${cal}`,
    'pauses=2024-05-14T10:00:00/2024-05-14T09:00:00');
  bad(/pauses/, 'due', start, 'minutes=60', `calendar=${cal}`, 'pauses=2024-05-14T10:00:00');
  bad(/missing calendar/, 'due', start, 'minutes=60');
});

test('--help on calc and on every subcommand', () => {
  for (const sub of ['nps', 'enps', 'csat', 'loyalty', 'service-level', 'erlang-c', 'due']) {
    const r = calc(sub, '--help');
    assert.equal(r.status, 0, sub);
    assert.match(r.stdout, new RegExp(`usage: otklik calc ${sub}`));
  }
  const top = calc('--help');
  assert.equal(top.status, 0);
  assert.match(top.stdout, /erlang-c/);
  const unknown = calc('median', 'x=1');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown subcommand 'median'/);
});
