# bench/core/server.sh - sourced by the core benchmark scripts: start `otklik
# serve` and wait for its steady state.  Needs BIN (the binary) and OUT (a
# directory for its log).

caught_up() { # port: wait until rules, rollups and surveys have processed every event
    for _ in $(seq 1 1200); do
        lag=$(curl -s "http://127.0.0.1:$1/healthz" | grep -o '"consumers_lag":{[^}]*}' | grep -o ':[0-9]*' | tr -d ':' | sort -n | tail -1)
        [ -n "$lag" ] && [ "$lag" -le 100 ] && return 0
        sleep 0.5
    done
    echo "workers did not catch up (lag $lag)"
}

start_server() { # db port -> sets PID; returns once the workers have caught up
    "$BIN" serve --db "$1" --listen "127.0.0.1:$2" --log_level warn 2>"$OUT/serve-$2.log" &
    PID=$!
    for _ in $(seq 1 200); do
        curl -s "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && break
        sleep 0.05
    done
    curl -s "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 || { echo "server did not start"; cat "$OUT/serve-$2.log"; exit 1; }
    # Measure the steady state: wait until rules, rollups and surveys have
    # processed the events written before the start (a fresh demo's history).
    caught_up "$2"
}
