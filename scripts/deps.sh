#!/usr/bin/env bash
# Installs what otklik needs on Debian 12, and only what is missing.
# Idempotent: a second run installs nothing and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
    build-essential pkg-config
    libmicrohttpd-dev libjansson-dev libcjson-dev libsqlite3-dev libsodium-dev
    libutf8proc-dev libstemmer-dev liblinear-dev libcmocka-dev tzdata
    libcurl4-openssl-dev libgmime-3.0-dev libqrencode-dev libpng-dev libtcmalloc-minimal4
    chromium
)

# --bench: also what the benchmarks drive and compare with.
if [ "${1:-}" = "--bench" ]; then
    PACKAGES+=(wrk fasttext curl)
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

# Node.js may come from Debian or elsewhere; only its absence matters.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "deps: all Debian packages present"
fi

# Browser and API tests drive Debian's chromium with playwright-core (no browser download).
if [ ! -d tests/node_modules/playwright-core ]; then
    echo "deps: installing playwright-core into tests/node_modules"
    (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi
