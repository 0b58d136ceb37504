#!/usr/bin/env bash
# Runs every benchmark (each part's bench/<part>/run.sh) and prints their figures.
# Not part of `make check`: `make bench` installs wrk and fasttext first.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for b in bench/*/run.sh; do
    echo "== $b"
    bash "$b" "$@" || status=1
done
exit $status
