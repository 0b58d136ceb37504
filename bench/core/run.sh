#!/usr/bin/env bash
# Benchmarks of the core (issue 2), on loopback, durable commits, demo data loaded:
#   intake     single-request POST /api/v1/requests, 32 keep-alive connections (wrk)
#   lookup     GET /api/v1/customers/lookup?phone=..., 32 connections (wrk)
#   import     POST /api/v1/import of the demo data set as NDJSON, rows/s
#   rss        server RSS with 1,000,000 requests stored, after a mixed workload
#   startup    exec to "listening" with 1,000,000 requests stored
# Usage: bench/core/run.sh [--quick]   (--quick: 100,000 stored requests, shorter runs)
# Prints one line per figure; needs wrk (installed by scripts/deps.sh --bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s build/otklik
BIN=$PWD/build/otklik
OUT=${OTKLIK_BENCH_DIR:-$(mktemp -d /tmp/otklik-bench.XXXXXX)}
DURATION=20s
BIG=1000000
if [ "${1:-}" = "--quick" ]; then DURATION=5s; BIG=100000; fi
mkdir -p "$OUT"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); sqlite $(pkg-config --modversion sqlite3)"
echo "command: bench/core/run.sh $*   (data in $OUT)"

# caught_up, start_server
. bench/core/server.sh

percentile_line() { # wrk output -> "req/s p50 p99"
    awk '/Requests\/sec/{rps=$2} /^ +50%/{p50=$2} /^ +99%/{p99=$2} END{printf "%s req/s, p50 %s, p99 %s", rps, p50, p99}'
}

# ---- demo database and its NDJSON -------------------------------------------
"$BIN" demo --ndjson "$OUT/demo.ndjson"
rm -f "$OUT/demo.db"*
"$BIN" demo --db "$OUT/demo.db" >/dev/null
TOKEN=$("$BIN" token create --db "$OUT/demo.db" --name bench --role integration)
grep -o '"type":"store","code":"[^"]*"' "$OUT/demo.ndjson" | sed 's/.*"code":"//; s/"$//' >"$OUT/stores.txt"
grep '"type":"customer"' "$OUT/demo.ndjson" | grep -o '"phone":"+[0-9]*"' | sed 's/"phone":"//; s/"$//' >"$OUT/phones.txt"
# The files just made are still being written back by the kernel: let that
# finish first, so that it does not slow the fsyncs of the measured server.
sync

# ---- intake and lookup --------------------------------------------------------
start_server "$OUT/demo.db" 18480
OTKLIK_TOKEN=$TOKEN OTKLIK_STORES="$OUT/stores.txt" wrk -t2 -c32 -d5s -s bench/core/intake.lua http://127.0.0.1:18480 >/dev/null # warm-up
r=$(OTKLIK_TOKEN=$TOKEN OTKLIK_STORES="$OUT/stores.txt" wrk -t2 -c32 -d$DURATION --latency -s bench/core/intake.lua http://127.0.0.1:18480)
echo "$r" | grep -E '^intake:' || true
echo "intake (32 connections, $DURATION): $(echo "$r" | percentile_line)"
t0=$(date +%s%N)
caught_up 18480
echo "workers (rules, rollups, surveys) caught up with that intake $(( ($(date +%s%N) - t0) / 1000000 )) ms after it ended"
r=$(OTKLIK_TOKEN=$TOKEN OTKLIK_PHONES="$OUT/phones.txt" wrk -t2 -c32 -d$DURATION --latency -s bench/core/lookup.lua http://127.0.0.1:18480)
echo "$r" | grep -E '^lookup:' || true
echo "lookup (32 connections, $DURATION): $(echo "$r" | percentile_line)"
kill -TERM $PID; wait $PID || true

# ---- import ---------------------------------------------------------------------
rm -f "$OUT/import.db"*
"$BIN" migrate --db "$OUT/import.db" >/dev/null
ITOKEN=$("$BIN" token create --db "$OUT/import.db" --name bench --role integration)
sync # the intake's server just wrote its files: their write-back is not the import's
start_server "$OUT/import.db" 18481
rows=$(wc -l <"$OUT/demo.ndjson")
t0=$(date +%s%N)
curl -s -XPOST -H "Authorization: Bearer $ITOKEN" -H 'Content-Type: application/x-ndjson' \
    --data-binary @"$OUT/demo.ndjson" http://127.0.0.1:18481/api/v1/import -o "$OUT/import.json"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
echo "import (demo data set, $rows rows, $(du -m "$OUT/demo.ndjson" | cut -f1) MB): $ms ms, $(( rows * 1000 / ms )) rows/s; $(head -c 120 "$OUT/import.json")"
kill -TERM $PID; wait $PID || true

# ---- a large store: RSS and start-up --------------------------------------------
if [ ! -f "$OUT/big.db" ]; then # kept between runs in the same OTKLIK_BENCH_DIR: it takes minutes
    "$BIN" demo --db "$OUT/big.db" --customers 200000 --requests "$BIG" >/dev/null
fi
BTOKEN=$("$BIN" token create --db "$OUT/big.db" --name bench --role integration)
grep -o '"phone":"+[0-9]*"' <("$BIN" demo --ndjson - --customers 200000 --requests 1 | grep '"type":"customer"') | sed 's/"phone":"//; s/"$//' >"$OUT/big-phones.txt"
best=999999
for _ in 1 2 3; do
    t0=$(date +%s%N)
    "$BIN" serve --db "$OUT/big.db" --listen 127.0.0.1:18482 2>"$OUT/start.log" &
    SPID=$!
    while ! grep -q listening "$OUT/start.log" 2>/dev/null; do sleep 0.001; done
    t1=$(date +%s%N)
    kill -TERM $SPID; wait $SPID || true
    ms=$(( (t1 - t0) / 1000000 ))
    [ $ms -lt $best ] && best=$ms
done
echo "startup ($BIG requests stored, $(du -m "$OUT/big.db" | cut -f1) MB database): $best ms (best of 3, exec to listening)"
# The mixed load runs on a copy: big.db stays as the demo made it, so a later
# run starts up with the same pending SLA timers, not those of every intake before.
cp "$OUT/big.db" "$OUT/big-load.db"
cp "$OUT/big.db.channels-key" "$OUT/big-load.db.channels-key" 2>/dev/null || true
sync
start_server "$OUT/big-load.db" 18483
OTKLIK_TOKEN=$BTOKEN OTKLIK_STORES="$OUT/stores.txt" wrk -t1 -c16 -d5s -s bench/core/intake.lua http://127.0.0.1:18483 >/dev/null
OTKLIK_TOKEN=$BTOKEN OTKLIK_PHONES="$OUT/big-phones.txt" wrk -t1 -c16 -d5s -s bench/core/lookup.lua http://127.0.0.1:18483 >/dev/null
for q in "status=new" "channel=telegram" "q=%D0%BE%D1%87%D0%B5%D1%80%D0%B5%D0%B4%D1%8C" "store=MSK-001"; do
    for _ in $(seq 1 20); do curl -s -H "Authorization: Bearer $BTOKEN" "http://127.0.0.1:18483/api/v1/requests?$q&limit=50" >/dev/null; done
done
echo "rss ($BIG requests stored, after intake, lookup and list load): $(awk '/VmRSS/{printf "%d MB", $2/1024}' /proc/$PID/status) (peak $(awk '/VmHWM/{printf "%d MB", $2/1024}' /proc/$PID/status))"
kill -TERM $PID; wait $PID || true
rm -f "$OUT/big-load.db"*

# ---- classification on arrival (issue 3): in-process, one thread ----------------
make -s build/bench/core/enrich_bench
build/bench/core/enrich_bench "$OUT/demo.db" models "$OUT/demo.ndjson" 20000
