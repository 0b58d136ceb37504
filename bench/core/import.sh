#!/usr/bin/env bash
# The import figure alone, for alternating two builds: a server on a new
# database, then POST /api/v1/import of an NDJSON file (the demo data set);
# prints the time, rows/s, the server's CPU (all its threads) and the writer's,
# and when the search backlog of the imported messages was moved into the index.
# Usage: bench/core/import.sh NDJSON [BIN]
#   NDJSON: made once with `otklik demo --ndjson FILE`.
set -euo pipefail
cd "$(dirname "$0")/../.."
NDJSON=${1:?usage: bench/core/import.sh NDJSON [BIN]}
BIN=${2:-$PWD/build/otklik}
PORT=18496
OUT=$(mktemp -d /tmp/otklik-import.XXXXXX)
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID"; rm -rf "$OUT"' EXIT

"$BIN" migrate --db "$OUT/db" >/dev/null
TOKEN=$("$BIN" token create --db "$OUT/db" --name bench --role integration)
sync
. bench/core/server.sh
start_server "$OUT/db" "$PORT"
cpu() { awk '{print $14 + $15}' "$1"; } # utime + stime, clock ticks
writer=$(grep -l otklik-writer /proc/$PID/task/*/comm | head -1 | xargs dirname)
p0=$(cpu /proc/$PID/stat)
w0=$(cpu "$writer/stat")
rows=$(wc -l <"$NDJSON")
t0=$(date +%s%N)
curl -s -XPOST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/x-ndjson' \
    --data-binary @"$NDJSON" "http://127.0.0.1:$PORT/api/v1/import" -o "$OUT/report.json"
t1=$(date +%s%N)
hz=$(getconf CLK_TCK)
ms=$(( (t1 - t0) / 1000000 ))
echo "import $rows rows: $ms ms, $(( rows * 1000 / ms )) rows/s; server CPU $(( ($(cpu /proc/$PID/stat) - p0) * 1000 / hz )) ms, writer $(( ($(cpu "$writer/stat") - w0) * 1000 / hz )) ms; $(head -c 60 "$OUT/report.json")"
# The search terms of imported messages reach the index after the answer
# (the search reads them from the backlog meanwhile): how long until then.
t2=$(date +%s%N)
for _ in $(seq 1 600); do
    n=$(curl -s "http://127.0.0.1:$PORT/healthz" | grep -o '"search_backlog":[0-9]*' | cut -d: -f2)
    [ "${n:-1}" = 0 ] && break
    sleep 0.02
done
echo "search backlog moved into the index $(( ($(date +%s%N) - t2) / 1000000 )) ms after the answer"
