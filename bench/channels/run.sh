#!/usr/bin/env bash
# bench/channels/run.sh - the channel figures:
#   1. webhook intake: wrk (2 threads, 32 connections) posting Telegram-format
#      Updates with the secret-token header to the real server; each 2xx means
#      the update is durable in channel_inbox.  Then the time the inbox worker
#      takes to turn the backlog into requests.
#   2. outbox delivery: N queued replies sent to a local fake Bot API.
#   3. e-mail parsing: a typical 20 KB multipart message through GMime.
# Prints the machine, the commands and the figures.  Needs wrk, node, sqlite3.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
make -s build/otklik
BIN=$ROOT/build/otklik
DUR=${DUR:-10}
N_OUT=${N_OUT:-50000}
W=$(mktemp -d)
SRV=""; FAKE=""
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; [ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

echo "machine: $(nproc) CPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"

"$BIN" demo --db "$W/b.db" --customers 2000 --requests 2000 >/dev/null
ADMIN=$("$BIN" token create --db "$W/b.db" --name bench-admin --role admin)

node --input-type=module -e "
  const m = await import('$ROOT/tests/api/fakes/platform.mjs');
  const f = await m.startPlatformFake();
  console.log(f.url);
  setInterval(() => f.clear(), 2000);
" > "$W/fake.url" &
FAKE=$!

start_server() {
  "$BIN" serve --db "$W/b.db" --listen 127.0.0.1:0 2>"$W/serve.log" &
  SRV=$!
  for _ in $(seq 100); do
    grep -q 'listening=' "$W/serve.log" 2>/dev/null && break
    sleep 0.1
  done
  BASE=$(grep -o 'listening=http://[0-9.:]*' "$W/serve.log" | head -1 | cut -d= -f2)
}
stop_server() { kill "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=""; }

for _ in $(seq 50); do [ -s "$W/fake.url" ] && break; sleep 0.1; done
FAKE_URL=$(cat "$W/fake.url")
start_server
curl -s -o /dev/null -w '' -X POST "$BASE/api/v1/admin/channels" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' \
  -d "{\"adapter\":\"telegram\",\"name\":\"bench\",\"secrets\":{\"bot_token\":\"1:bench\",\"secret_token\":\"bench-secret\"},\"settings\":{\"api_base\":\"$FAKE_URL\",\"rate_per_s\":100000000}}"

echo
echo "== 1. webhook intake (Telegram Updates, secret token checked) =="
echo "command: HOOK_PATH=/hooks/telegram/bench wrk -t2 -c32 -d${DUR}s -s bench/channels/telegram.lua $BASE"
HOOK_PATH=/hooks/telegram/bench HOOK_SECRET=bench-secret wrk -t2 -c32 -d"${DUR}s" -s bench/channels/telegram.lua "$BASE" | tee "$W/wrk.txt"
t0=$(date +%s.%N)
while [ "$(sqlite3 "$W/b.db" 'SELECT count(*) FROM channel_inbox WHERE processed_at_ms IS NULL')" != 0 ]; do sleep 0.2; done
t1=$(date +%s.%N)
acc=$(sqlite3 "$W/b.db" 'SELECT count(*) FROM channel_inbox')
made=$(sqlite3 "$W/b.db" "SELECT count(*) FROM requests WHERE source_id LIKE 'tg:%'")
joined=$(sqlite3 "$W/b.db" "SELECT count(*) FROM messages m JOIN requests r ON r.id = m.request_id WHERE r.source_id LIKE 'tg:%'")
echo "accepted into the inbox: $acc updates; backlog drained $(echo "$t1 - $t0" | bc) s after wrk ended"
echo "became $made requests holding $joined messages (follow-ups of a chat join its request)"

echo
echo "== 2. outbox delivery to a local fake Bot API =="
stop_server
CH=$(sqlite3 "$W/b.db" "SELECT id FROM channels WHERE name = 'bench'")
sqlite3 "$W/b.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N_OUT)
  INSERT INTO outbox (channel_id, recipient, body, kind, status, next_at_ms, created_at_ms, updated_at_ms)
  SELECT $CH, CAST(5000000000 + i % 5000 AS TEXT), 'Ваш заказ ' || i || ' передан в доставку', 'reply', 'queued', 0, 0, 0 FROM n;"
t0=$(date +%s.%N)
start_server
while [ "$(sqlite3 "$W/b.db" "SELECT count(*) FROM outbox WHERE status = 'sent'")" -lt "$N_OUT" ]; do sleep 0.1; done
t1=$(date +%s.%N)
secs=$(echo "$t1 - $t0" | bc)
echo "command: $N_OUT queued rows, otklik serve started, time until all are 'sent' (includes start-up)"
echo "outbox: $N_OUT messages delivered in $secs s: $(echo "$N_OUT / $secs" | bc) messages/s"
stop_server

echo
echo "== 3. e-mail parsing (GMime) =="
make -s build/bench/channels/mail_bench
echo "command: mail_bench 20000"
build/bench/channels/mail_bench 20000
