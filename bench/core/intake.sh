#!/usr/bin/env bash
# The intake figure alone, for alternating two builds: a server on a fresh copy
# of a demo database, a warm-up, then single-request intake with 32 keep-alive
# connections; prints req/s, p50, p99, the server's CPU per request (all its
# threads and the writer's, from /proc) and the share of requests it answered
# in more than 10 ms (its own histogram, /metrics).
# Usage: bench/core/intake.sh DEMO_DB [BIN] [SECONDS] [WARMUP_SECONDS]
#   DEMO_DB: made once with `otklik demo --db FILE` (kept unchanged: each run
#   works on a copy).  Needs wrk (scripts/deps.sh --bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
DEMO=${1:?usage: bench/core/intake.sh DEMO_DB [BIN] [SECONDS] [WARMUP_SECONDS]}
BIN=${2:-$PWD/build/otklik}
SECS=${3:-15}
WARM=${4:-5}
PORT=18495
OUT=$(mktemp -d /tmp/otklik-intake.XXXXXX)
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID"; rm -rf "$OUT"' EXIT

cp "$DEMO" "$OUT/db"
TOKEN=$("$BIN" token create --db "$OUT/db" --name bench --role integration)
"$BIN" demo --ndjson "$OUT/demo.ndjson" >/dev/null
grep -o '"type":"store","code":"[^"]*"' "$OUT/demo.ndjson" | sed 's/.*"code":"//; s/"$//' >"$OUT/stores.txt"
sync # the copy just made is not written back while the server is measured
. bench/core/server.sh
start_server "$OUT/db" "$PORT"

load() { # seconds [--latency]
    OTKLIK_TOKEN=$TOKEN OTKLIK_STORES="$OUT/stores.txt" wrk -t2 -c32 -d"$1"s ${2:-} \
        -s bench/core/intake.lua "http://127.0.0.1:$PORT"
}
cpu_ticks() { # [thread name]: user+system ticks of the server, or of its threads of that name
    if [ -z "${1:-}" ]; then awk '{print $14 + $15}' "/proc/$PID/stat"; return; fi
    local t=0
    for d in /proc/"$PID"/task/*; do
        [ "$(cat "$d/comm")" = "$1" ] && t=$((t + $(awk '{print $14 + $15}' "$d/stat")))
    done
    echo "$t"
}
metric() { # name with labels -> value
    curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/metrics" | grep -F "$1 " | awk '{print $2}'
}

[ "$WARM" -gt 0 ] && load "$WARM" >/dev/null
all0=$(cpu_ticks); w0=$(cpu_ticks otklik-writer)
n0=$(metric otklik_http_request_duration_seconds_count)
f0=$(metric 'otklik_http_request_duration_seconds_bucket{le="0.01"}')
out=$(load "$SECS" --latency)
all1=$(cpu_ticks); w1=$(cpu_ticks otklik-writer)
n1=$(metric otklik_http_request_duration_seconds_count)
f1=$(metric 'otklik_http_request_duration_seconds_bucket{le="0.01"}')
n=$(echo "$out" | awk '/^intake:/{print $2}')
hz=$(getconf CLK_TCK)
echo "$out" | awk '/Requests\/sec/{r=$2} /^ +50%/{p50=$2} /^ +99%/{p99=$2} END{printf "%s req/s p50 %s p99 %s", r, p50, p99}'
awk -v a=$((all1 - all0)) -v w=$((w1 - w0)) -v n="$n" -v hz="$hz" -v dn=$((n1 - n0)) -v df=$((f1 - f0)) \
    'BEGIN{printf "  server %d us/req, writer %d us/req, over 10 ms %.2f%%\n", a * 1e6 / hz / n, w * 1e6 / hz / n, 100 * (dn - df) / dn}'
