#!/usr/bin/env bash
# Runs the unit tests (cmocka, under ASan+UBSan) and then the integration
# tests on real guests; prints one closing line "N passed, N failed".
# Usage: tests/run.sh [--unit-only] BUILD_DIR
set -uo pipefail
cd "$(dirname "$0")/.."
unit_only=0
if [ "${1:-}" = "--unit-only" ]; then unit_only=1; shift; fi
build=${1:-build}
export BUILD="$build"
passed=0 failed=0 failures=()

for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] && [ -z "$f" ]; then failed=$((failed + 1)); fi
    [ "$rc" -ne 0 ] && failures+=("$(basename "$t")")
done

if [ "$unit_only" -eq 0 ]; then
    for t in tests/integration/test_*.sh; do
        echo "=== $t"
        start=$(date +%s)
        if bash "$t"; then
            passed=$((passed + 1)); echo "=== PASS $t ($(( $(date +%s) - start )) s)"
        else
            failed=$((failed + 1)); failures+=("$t"); echo "=== FAIL $t ($(( $(date +%s) - start )) s)"
        fi
    done
fi

((${#failures[@]})) && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
