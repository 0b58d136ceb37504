#!/usr/bin/env bash
# Runs every test suite and ends with one line "N passed, N failed".
#   unit tests   build/san/tests/test_*   (cmocka, ASan + UBSan)
#   API tests    tests/api/*.test.mjs     (node --test, against build/otklik-san)
#   browser      tests/browser/*.test.mjs (node --test, playwright-core + Debian chromium)
# Exits non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export OTKLIK_BIN="${OTKLIK_BIN:-$PWD/build/otklik-san}"
export OTKLIK_DATA_DIR="${OTKLIK_DATA_DIR:-$PWD/../shared/data}"

passed=0
failed=0
failed_suites=()
log_dir=build/test-logs
mkdir -p "$log_dir"

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:".
for t in build/san/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    start_ms=$(($(date +%s%N) / 1000000))
    "$t" >"$log_dir/$name.log" 2>&1
    rc=$?
    p=$(grep -oE '^\[  PASSED  \] [0-9]+' "$log_dir/$name.log" | grep -oE '[0-9]+$' | tail -1)
    f=$(grep -oE '^\[  FAILED  \] [0-9]+' "$log_dir/$name.log" | grep -oE '[0-9]+$' | tail -1)
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed or sanitizer report
    passed=$((passed + p))
    failed=$((failed + f))
    elapsed_ms=$(($(date +%s%N) / 1000000 - start_ms))
    printf '%-28s %4d passed %3d failed  %6d ms\n' "$name" "$p" "$f" "$elapsed_ms"
    if [ "$f" -ne 0 ]; then
        failed_suites+=("$name")
        tail -n 40 "$log_dir/$name.log"
    fi
done

# node --test ends with "# pass N" and "# fail N".
run_node() {
    local label=$1
    shift
    local files=("$@")
    [ ${#files[@]} -gt 0 ] || return 0
    local log="$log_dir/$label.log"
    (cd tests && node --test --test-concurrency=1 "${files[@]}") >"$log" 2>&1
    local rc=$?
    local p f
    p=$(grep -E '^# pass [0-9]+' "$log" | grep -oE '[0-9]+' | tail -1)
    f=$(grep -E '^# fail [0-9]+' "$log" | grep -oE '[0-9]+' | tail -1)
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p))
    failed=$((failed + f))
    printf '%-28s %4d passed %3d failed\n' "$label" "$p" "$f"
    if [ "$f" -ne 0 ]; then
        failed_suites+=("$label")
        grep -E '^not ok|# Subtest|error:|expected|actual|Error' "$log" | head -n 60
    fi
}

mapfile -t api_tests < <(cd tests && ls api/*.test.mjs 2>/dev/null)
mapfile -t browser_tests < <(cd tests && ls browser/*.test.mjs 2>/dev/null)
run_node api "${api_tests[@]}"
run_node browser "${browser_tests[@]}"

if [ ${#failed_suites[@]} -gt 0 ]; then
    echo "failing suites: ${failed_suites[*]} (logs in $log_dir/)"
fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
