#!/usr/bin/env bash
# Figures of the rules part (see bench_rules.c): evaluation throughput through 200
# rules on one core, start-up with 1,000,000 pending timers, and the latency from a
# QR signal to the store director's notification event.  Builds what it needs.
#   bench/rules/run.sh            (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory build/otklik >/dev/null
PKGS="libmicrohttpd jansson sqlite3 libsodium libutf8proc libcurl gmime-3.0 libqrencode libpng"
CFLAGS="-std=c17 -D_GNU_SOURCE -O2 -g -pthread -Isrc -Ibuild/gen $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lstemmer -llinear -lm -pthread"
mkdir -p build/bench
make --no-print-directory -s build/bench/rules/bench_rules
tmp=$(mktemp -d /tmp/otklik-bench-rules-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(uname -srm), $(nproc) CPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "command: bench/rules/run.sh"
taskset -c 0 build/bench/rules/bench_rules "$tmp" 2>/dev/null || build/bench/rules/bench_rules "$tmp"
