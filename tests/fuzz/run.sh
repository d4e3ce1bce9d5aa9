#!/usr/bin/env bash
# make fuzz: runs each libFuzzer harness for SECONDS, one after the other,
# on tests/fuzz/corpus/NAME (seeded from tests/fuzz/seeds/NAME), keeping
# new crashes in tests/fuzz/crashes/NAME. Prints per harness the last
# libFuzzer status line (executions, cov, ft) and the crashes found.
# Usage: tests/fuzz/run.sh BUILD SECONDS NAME...
# FUZZ_JOBS=N runs N harnesses at once (default 1: the machine is shared).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=$1 secs=$2; shift 2
out="$build/fuzz/logs"
mkdir -p "$out"
status=0

run_one() {
    local name=$1 corpus=tests/fuzz/corpus/$1 crashes=tests/fuzz/crashes/$1
    mkdir -p "$corpus" "$crashes"
    # A run starts from the committed corpus and the seeds; libFuzzer adds
    # to the first directory only. At nice 19 beside busy guests, an input
    # of 40 ms of CPU took 15 s of wall time: hence the generous timeout.
    # A 16 MiB quarantine instead of 256: a use-after-free within an input
    # is still caught (no input frees that much), and memory is reused
    # while it is still mapped and in cache (fuzz_vm: 25% more exec/s).
    ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16} \
    nice -n 19 "$build/fuzz/fuzz_$name" -max_total_time="$secs" -max_len=4096 -timeout=60 \
        -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$crashes/" \
        "$corpus" tests/fuzz/seeds/"$name" >"$out/$name.log" 2>&1
    local rc=$?
    local last; last=$(grep -E '^#[0-9]+' "$out/$name.log" | tail -1)
    local execs; execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log")
    local rate; rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$name.log")
    echo "fuzz $name: rc $rc, $execs executions, $rate exec/s; $last"
    if [ "$rc" -ne 0 ]; then
        grep -E 'ERROR|SUMMARY|Test unit written' "$out/$name.log" | head -5
        return 1
    fi
}

for name in "$@"; do
    run_one "$name" || status=1
done
exit $status
