#!/usr/bin/env bash
# bench/analytics/run.sh - figures of the analytics part:
#   1. fill a database with N requests and M survey answers (straight SQL, no HTTP)
#   2. full rebuild of the rollups from the event log (events/s)
#   3. p50/p99 of every dashboard query over HTTP against `otklik serve`
#   4. intake throughput with and without the rollup consumer beside it
# Usage: bench/analytics/run.sh [N_REQUESTS] [N_ANSWERS] [DIR]
#        (defaults 10000000 2000000 /tmp/otklik-bench-analytics)
set -euo pipefail
cd "$(dirname "$0")/../.."
N_REQ=${1:-10000000}
N_ANS=${2:-2000000}
DIR=${3:-/tmp/otklik-bench-analytics}
mkdir -p "$DIR"
echo "machine: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "command: bench/analytics/run.sh $N_REQ $N_ANS $DIR"

make -s build/otklik build/bench/analytics/bench_analytics
cp build/bench/analytics/bench_analytics "$DIR/bench_analytics"

DB="$DIR/bench.db"
if [ ! -f "$DB" ]; then
    echo "== fill"
    "$DIR/bench_analytics" fill "$DB" "$N_REQ" "$N_ANS"
fi
echo "== rebuild (full, from the event log)"
build/otklik analytics rebuild --db "$DB"
ls -lL "$DB" | awk '{printf "database size: %.1f GB\n", $5 / 1e9}'

echo "== dashboard queries (100 each, over HTTP)"
TOKEN=$(build/otklik token create --db "$DB" --name "bench-$$" --role admin | tail -1)
build/otklik serve --db "$DB" --listen 127.0.0.1:0 2>"$DIR/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening= "$DIR/serve.log" && break; sleep 0.2; done
BASE=$(grep -o 'listening=http://[0-9.:]*' "$DIR/serve.log" | head -1 | cut -d= -f2)
BASE="$BASE" TOKEN="$TOKEN" node bench/analytics/queries.mjs
kill $SERVER; wait $SERVER 2>/dev/null || true
trap - EXIT

echo "== intake with and without rollup maintenance (200000 requests, 8 threads)"
rm -f "$DIR"/intake-*.db*
"$DIR/bench_analytics" intake "$DIR/intake-off.db" 200000
"$DIR/bench_analytics" intake "$DIR/intake-on.db" 200000 rollup
