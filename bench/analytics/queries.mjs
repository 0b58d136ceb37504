// queries.mjs - p50/p99 latency of every dashboard query (as dashboard.js
// makes them) against a running server: BASE and TOKEN from the environment.
const base = process.env.BASE, token = process.env.TOKEN;
const today = new Date(), day = (d) => d.toISOString().slice(0, 10);
const from90 = day(new Date(Date.now() - 89 * 86400000)), from365 = day(new Date(Date.now() - 364 * 86400000));
const q = [
  `/reports/overview?from=${from90}`, `/reports/surveys?from=${from90}`, `/reports/volumes?from=${from90}`,
  `/reports/sla?from=${from90}`, `/reports/reasons?from=${from90}`, `/reports/alerts?from=${from90}`,
  `/reports/operators?from=${from90}`, `/reports/matrix?from=${from90}`,
  `/reports/surveys?from=${from365}&bucket=month`, `/reports/volumes?from=${from365}`,
  `/reports/sla?from=${from90}&store=B-007`, `/reports/sla?from=${from90}&region=Урал`,
  `/reports/reasons?from=${from90}&channel=phone`, `/reports/sla?from=${from90}&channel=phone&topic=delivery`,
  `/reports/volumes?from=${from90}&format=csv`,
];
let worst = 0;
for (const path of q) {
  const times = [];
  for (let i = 0; i < 100; i++) {
    const t0 = process.hrtime.bigint();
    const r = await fetch(base + '/api/v1' + path, { headers: { Authorization: `Bearer ${token}` } });
    await r.text();
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const p50 = times[49], p99 = times[98];
  worst = Math.max(worst, p99);
  console.log(`${path.padEnd(70)} p50 ${p50.toFixed(1).padStart(6)} ms  p99 ${p99.toFixed(1).padStart(6)} ms`);
}
console.log(`worst p99: ${worst.toFixed(1)} ms (today ${day(today)})`);
