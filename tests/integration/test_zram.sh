#!/usr/bin/env bash
# The compression rung (src/host/compress.c) on this host's real /sys, /proc
# and /dev, through a small driver built here from the module itself:
#  1. no swap: compress_decide asks for zram only when critical;
#     compress_apply creates a 64 MiB zram swap device (hot_add, algorithm,
#     disksize, our own swap header, swapon at priority 100); a process in a
#     16 MiB memory cgroup pushes 48 MiB through it and reads it all back
#     intact; compress_sample reports it; compress_restore removes it.
#  2. with a 64 MiB swap file: zswap is enabled from tight on (and no zram
#     is made), pages go through its pool, compress_restore puts the host's
#     zswap settings back.
# The host's zswap parameters and swap are restored whatever happens.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source tests/lib/guest.sh
source tests/lib/daemon.sh

ZSWAP=/sys/module/zswap/parameters
ZRAM_MIB=64 LIMIT_MIB=16 FILL_MIB=48 MIB=1048576

[ "$(id -u)" -eq 0 ] || fail "needs root (zram, swapon, zswap)"
[ -d "$ZSWAP" ] || fail "no zswap in this kernel ($ZSWAP)"
if [ ! -e /sys/class/zram-control ] && ! modinfo zram >/dev/null 2>&1; then
    fail "no zram in this kernel: neither /sys/class/zram-control nor a zram module"
fi
test_begin zram 0

# ---- the host's settings, and their restoration ----
declare -A zswap_saved
for f in "$ZSWAP"/*; do zswap_saved[${f##*/}]=$(cat "$f"); done
swaps_before=$(awk 'NR > 1 { print $1 }' /proc/swaps | sort)
ZRAM_ID='' SWAPFILE='' FILLER_PID='' DRV_PID='' DRV_IN='' DRV_OUT='' FCG=''

zswap_unchanged() {
    local k
    for k in "${!zswap_saved[@]}"; do
        [ "$(cat "$ZSWAP/$k")" = "${zswap_saved[$k]}" ] || { echo "  zswap $k: $(cat "$ZSWAP/$k"), was ${zswap_saved[$k]}"; return 1; }
    done
}

test_cleanup_extra() {
    local k
    # The filler first: swapoff would have to fault its pages back into a
    # cgroup too small for them.
    if [ -n "$FILLER_PID" ]; then kill -KILL "$FILLER_PID" 2>/dev/null; wait "$FILLER_PID" 2>/dev/null; fi
    [ -n "$FCG" ] && cgroup_remove "$FCG"
    drv_stop
    # Whatever the module left behind (it should be nothing).
    if [ -n "$ZRAM_ID" ] && [ -e "/sys/block/zram$ZRAM_ID" ]; then
        grep -q "^/dev/zram$ZRAM_ID " /proc/swaps && swapoff "/dev/zram$ZRAM_ID"
        echo 1 >"/sys/block/zram$ZRAM_ID/reset"
        echo "$ZRAM_ID" >/sys/class/zram-control/hot_remove
        echo "  cleanup: zram$ZRAM_ID was left behind, removed"
    fi
    if [ -n "$SWAPFILE" ]; then
        swapoff "$SWAPFILE" 2>/dev/null
        rm -f "$SWAPFILE"
    fi
    # Compressor and limit before enabled, as the module does.
    for k in compressor max_pool_percent "${!zswap_saved[@]}" enabled; do
        [ -n "${zswap_saved[$k]:-}" ] || continue
        if [ "$(cat "$ZSWAP/$k")" != "${zswap_saved[$k]}" ]; then
            echo "${zswap_saved[$k]}" >"$ZSWAP/$k" && echo "  cleanup: zswap $k put back to ${zswap_saved[$k]}"
        fi
    done
    [ "$(awk 'NR > 1 { print $1 }' /proc/swaps | sort)" = "$swaps_before" ] ||
        echo "  cleanup: WARNING: /proc/swaps differs from before the test" >&2
}

# ---- the driver: compress.c, driven line by line over a pipe ----
cat >"$RUN/drv.c" <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "compress.h"
#include "util.h"

/* A page: 1/3 pseudo-random bytes, 2/3 text; about 3:1 for lz4/lzo. */
static void page_fill(unsigned char *p, size_t n, uint64_t i)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ULL + 1;
    size_t k;
    for (k = 0; k < n / 3; k++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        p[k] = (unsigned char)x;
    }
    while (k < n)
        k += (size_t)snprintf((char *)p + k, n - k, "balloond zram test page %llu ", (unsigned long long)i) ;
}

/* fill MIB: fill, say so, wait for SIGUSR1, read everything back. */
static int fill(uint64_t mib)
{
    size_t page = 4096, n = mib * MIB / page;
    unsigned char *mem = mmap(NULL, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char want[4096];
    sigset_t set;
    uint64_t t0 = now_ms(), t1;
    size_t bad = 0;
    int sig;

    if (mem == MAP_FAILED)
        return 2;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (size_t i = 0; i < n; i++)
        page_fill(mem + i * page, page, i);
    printf("filled %zu pages in %llu ms\n", n, (unsigned long long)(now_ms() - t0));
    fflush(stdout);
    sigwait(&set, &sig);
    t1 = now_ms();
    for (size_t i = 0; i < n; i++) {
        page_fill(want, page, i);
        bad += memcmp(mem + i * page, want, page) != 0;
    }
    printf("verified %zu pages in %llu ms, %zu bad\n", n, (unsigned long long)(now_ms() - t1), bad);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct compress_conf conf = { 0 };
    struct compress *c;
    struct compress_decision d = { .why = "none yet" };
    char line[256], state[32];
    uint64_t v;

    if (argc == 3 && strcmp(argv[1], "fill") == 0 && parse_u64(argv[2], &v) == 0)
        return fill(v);
    if (argc != 6) {
        fprintf(stderr, "usage: drv ZRAM_BYTES ZRAM_ALG ZSWAP(0/1) ZSWAP_COMPRESSOR ZSWAP_POOL_PCT | fill MIB\n");
        return 2;
    }
    parse_u64(argv[1], &conf.zram_bytes);
    conf.zram_algorithm = argv[2];
    conf.zswap = strcmp(argv[3], "1") == 0;
    conf.zswap_compressor = argv[4];
    conf.zswap_max_pool_pct = (unsigned)atoi(argv[5]);
    log_setup(LOG_DEBUG, false);
    if (compress_new("/sys", "/proc", "/dev", &conf, &c) < 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof(line), stdin)) {
        if (sscanf(line, "observe %31s", state) == 1) {
            struct compress_input in = { 0 };
            enum host_state s = strcmp(state, "critical") == 0 ? HOST_CRITICAL
                              : strcmp(state, "tight") == 0  ? HOST_TIGHT : HOST_PLENTY;
            int r = compress_observe(c, s, &in);
            if (r == 0)
                compress_decide(&in, &d);
            printf("observe r=%d disk_swap=%d zswap=%s zram_bytes=%llu priority=%d why=%s\n", r,
                   in.disk_swap, compress_zswap_action_name(d.zswap),
                   (unsigned long long)d.zram_create_bytes, d.zram_priority, d.why);
        } else if (strcmp(line, "apply\n") == 0) {
            printf("apply r=%d\n", compress_apply(c, &d));
        } else if (strcmp(line, "sample\n") == 0) {
            struct compress_stats st = { 0 };
            int r = compress_sample(c, &st);
            printf("sample r=%d zswap_enabled=%d zswap_known=%d zswap_pool=%llu zswap_stored=%llu "
                   "zswap_ratio=%.2f zram_id=%d zram_disk=%llu zram_used=%llu zram_orig=%llu "
                   "zram_compr=%llu zram_mem=%llu zram_ratio=%.2f saved=%llu\n",
                   r, st.zswap_enabled, st.zswap_known, (unsigned long long)st.zswap_pool_bytes,
                   (unsigned long long)st.zswap_stored_bytes, st.zswap_ratio, st.zram_id,
                   (unsigned long long)st.zram_disk_bytes, (unsigned long long)st.zram_used_bytes,
                   (unsigned long long)st.zram.orig_bytes, (unsigned long long)st.zram.compr_bytes,
                   (unsigned long long)st.zram.mem_used_bytes, st.zram_ratio,
                   (unsigned long long)st.saved_bytes);
        } else if (strcmp(line, "restore\n") == 0) {
            printf("restore r=%d\n", compress_restore(c));
        } else {
            printf("unknown command\n");
        }
    }
    /* The test went away: restore, as the daemon does on exit. */
    compress_restore(c);
    compress_free(c);
    return 0;
}
EOF
# shellcheck disable=SC2046
gcc -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE $(find src -type d -printf "-I%p ") -O1 -g \
    -o "$RUN/drv" "$RUN/drv.c" src/host/compress.c src/host/zswap.c src/host/zram.c \
    src/host/swaps.c src/host/sysfs.c src/util.c \
    $(pkg-config --cflags --libs libsystemd) -lm || fail "cannot build the driver"

drv_start() {
    mkfifo "$RUN/drv.in" "$RUN/drv.out" || fail "mkfifo"
    "$RUN/drv" "$@" <"$RUN/drv.in" >"$RUN/drv.out" 2>>"$RUN/drv.log" &
    DRV_PID=$!
    exec {DRV_IN}>"$RUN/drv.in" {DRV_OUT}<"$RUN/drv.out"
    rm -f "$RUN/drv.in" "$RUN/drv.out"
}

# drv COMMAND: send one command, the answer in $ANS.
drv() {
    echo "$*" >&"$DRV_IN" || fail "driver gone"
    read -r -t 120 ANS <&"$DRV_OUT" || fail "driver: no answer to '$*' (log: $(tail -3 "$RUN/drv.log"))"
    echo "    $* -> $ANS"
}

# Closing its input makes the driver restore and exit; after 60 s it is
# killed and test_cleanup_extra undoes what it left.
drv_stop() {
    [ -n "$DRV_PID" ] || return 0
    exec {DRV_IN}>&- {DRV_OUT}<&-
    for _ in $(seq 600); do kill -0 "$DRV_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$DRV_PID" 2>/dev/null && { echo "  driver stuck, killed" >&2; kill -KILL "$DRV_PID"; }
    wait "$DRV_PID"
    DRV_PID=
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$ANS"; }
expect() { [ "$(field "$1")" = "$2" ] || fail "$1 is '$(field "$1")', expected '$2' in: $ANS"; }

# fill_start: a process in a $LIMIT_MIB MiB cgroup writes $FILL_MIB MiB,
# so the rest goes to swap; fill_check reads it all back.
fill_start() {
    FCG=$(cgroup_create "balloond-test-zram-$$" $((LIMIT_MIB * MIB))) || fail "cannot create the cgroup"
    [ -f "$FCG/memory.swappiness" ] && echo 100 >"$FCG/memory.swappiness"
    # Without the driver's pipe: it would never see EOF while we live.
    (exec {DRV_IN}>&- {DRV_OUT}<&- && echo "$BASHPID" >"$FCG/cgroup.procs" &&
        exec "$RUN/drv" fill "$FILL_MIB") >"$RUN/fill.out" 2>&1 &
    FILLER_PID=$!
    for _ in $(seq 600); do
        grep -q filled "$RUN/fill.out" && break
        kill -0 "$FILLER_PID" 2>/dev/null || fail "the filler died: $(cat "$RUN/fill.out")"
        sleep 0.1
    done
    grep -q filled "$RUN/fill.out" || fail "the filler did not finish in 60 s"
    echo "    filler: $(head -1 "$RUN/fill.out")"
}

fill_check() {
    kill -USR1 "$FILLER_PID"
    wait "$FILLER_PID" || fail "the filler read back wrong data: $(tail -1 "$RUN/fill.out")"
    FILLER_PID=
    echo "    filler: $(tail -1 "$RUN/fill.out")"
    cgroup_remove "$FCG" && FCG=
}

other_swap=$(awk 'NR > 1 && $1 !~ /\/zram[0-9]+$/' /proc/swaps | wc -l)
zram_swap=$(awk 'NR > 1 && $1 ~ /\/zram[0-9]+$/' /proc/swaps | wc -l)

# ---- 1. zram on a host without swap ----
alg=lzo
grep -qw lz4 /sys/block/zram*/comp_algorithm 2>/dev/null && alg=lz4
echo "  phase 1: zram ($ZRAM_MIB MiB, $alg)"
drv_start $((ZRAM_MIB * MIB)) "$alg" 1 lzo-rle 15
if [ "$other_swap" -gt 0 ] || [ "$zram_swap" -gt 0 ]; then
    drv observe critical
    expect zram_bytes 0
    pass "the host has swap already: no zram is made (phase 1 cannot run here)"
else
    for s in plenty tight; do
        drv observe "$s"
        expect zram_bytes 0
        expect zswap none
    done
    pass "no zram while plenty or tight"
    drv observe critical
    expect zram_bytes $((ZRAM_MIB * MIB))
    expect priority 100
    expect zswap none
    pass "critical without swap: a $ZRAM_MIB MiB zram at priority 100"
    drv apply
    expect r 0
    drv sample
    ZRAM_ID=$(field zram_id)
    [[ $ZRAM_ID =~ ^[0-9]+$ ]] || fail "no zram id in the sample"
    line=$(awk -v d="/dev/zram$ZRAM_ID" '$1 == d' /proc/swaps)
    echo "    /proc/swaps: $line"
    [ -n "$line" ] || fail "/dev/zram$ZRAM_ID is not in /proc/swaps"
    read -r _ type size _ prio <<<"$line"
    if [ "$type" != partition ] || [ "$size" -ne $((ZRAM_MIB * 1024 - 4)) ] || [ "$prio" -ne 100 ]; then
        fail "zram$ZRAM_ID: type $type, size $size KiB, priority $prio"
    fi
    grep -q "\[$alg\]" "/sys/block/zram$ZRAM_ID/comp_algorithm" ||
        fail "algorithm: $(cat "/sys/block/zram$ZRAM_ID/comp_algorithm")"
    [ "$(cat "/sys/block/zram$ZRAM_ID/disksize")" -eq $((ZRAM_MIB * MIB)) ] || fail "disksize"
    pass "zram$ZRAM_ID is swap: $((ZRAM_MIB * 1024 - 4)) KiB (the header page aside), priority 100, $alg"
    drv observe critical
    expect zram_bytes 0
    pass "made once: the next critical tick asks for nothing"

    fill_start
    drv sample
    used=$(awk -v d="/dev/zram$ZRAM_ID" '$1 == d { print $4 }' /proc/swaps)
    echo "    zram$ZRAM_ID mm_stat: $(cat "/sys/block/zram$ZRAM_ID/mm_stat")"
    [ "$used" -gt $(((FILL_MIB - LIMIT_MIB) * 1024 / 2)) ] || fail "only $used KiB went to zram$ZRAM_ID"
    [ "$(field zram_used)" -eq $((used * 1024)) ] || fail "zram_used is not /proc/swaps' Used"
    [ "$(field zram_orig)" -gt $(((FILL_MIB - LIMIT_MIB) * MIB / 2)) ] || fail "zram_orig too small"
    awk -v r="$(field zram_ratio)" 'BEGIN { exit !(r > 1.5) }' || fail "compression ratio $(field zram_ratio)"
    [ "$(field saved)" -gt 0 ] || fail "nothing saved"
    pass "$((used / 1024)) MiB swapped to zram$ZRAM_ID, ratio $(field zram_ratio), $(( $(field saved) / MIB )) MiB saved"
    fill_check
    pass "every page came back intact from zram"

    drv restore
    expect r 0
    awk -v d="/dev/zram$ZRAM_ID" '$1 == d { exit 1 }' /proc/swaps || fail "zram$ZRAM_ID still swap"
    [ ! -e "/sys/block/zram$ZRAM_ID" ] || fail "zram$ZRAM_ID still exists"
    ZRAM_ID=
    zswap_unchanged || fail "zswap parameters changed"
    pass "restored: no swap on zram, the device is gone, zswap untouched"
fi
drv_stop

# ---- 2. zswap in front of a swap file ----
echo "  phase 2: zswap"
comp=
cur=${zswap_saved[compressor]}
for c in lz4 lzo-rle zstd lzo 842; do
    [ "$c" != "$cur" ] && grep -Eq "^name +: $c\$" /proc/crypto && { comp=$c; break; }
done
[ -n "$comp" ] || comp=$cur
pct=15
[ "${zswap_saved[max_pool_percent]}" = 15 ] && pct=16
if [ "$other_swap" -eq 0 ]; then
    SWAPFILE=$RUN/swapfile
    if ! { dd if=/dev/zero of="$SWAPFILE" bs=1M count=64 status=none && chmod 600 "$SWAPFILE" &&
           mkswap "$SWAPFILE" >/dev/null && swapon -p -5 "$SWAPFILE"; }; then
        fail "cannot add a swap file"
    fi
    echo "    swap file $SWAPFILE, 64 MiB, priority -5"
fi
drv_start $((ZRAM_MIB * MIB)) "$alg" 1 "$comp" "$pct"
drv observe plenty
expect zswap none
drv observe tight
expect disk_swap 1
expect zswap enable
drv observe critical
expect zswap enable
expect zram_bytes 0
pass "tight or critical with disk swap: zswap on, and no zram even though one is configured"
drv apply
expect r 0
if [ "$(cat $ZSWAP/enabled)" != Y ] || [ "$(cat $ZSWAP/compressor)" != "$comp" ] ||
    [ "$(cat $ZSWAP/max_pool_percent)" != "$pct" ]; then
    fail "zswap: enabled $(cat $ZSWAP/enabled), $(cat $ZSWAP/compressor), $(cat $ZSWAP/max_pool_percent) %"
fi
pass "zswap enabled with $comp, pool at most $pct %"
fill_start
drv sample
expect zswap_enabled 1
expect zswap_known 1
if [ "$(field zswap_pool)" -eq 0 ] || [ "$(field zswap_stored)" -le "$(field zswap_pool)" ]; then
    fail "zswap pool $(field zswap_pool), stored $(field zswap_stored)"
fi
pass "zswap pool $(( $(field zswap_pool) / 1024 )) KiB holds $(( $(field zswap_stored) / 1024 )) KiB, ratio $(field zswap_ratio)"
drv observe plenty
expect zswap none
pass "plenty while swap holds pages: zswap stays on"
fill_check
pass "every page came back intact through zswap"
drv restore
expect r 0
zswap_unchanged || fail "zswap parameters not restored"
pass "restored: zswap parameters as before (enabled ${zswap_saved[enabled]}, ${zswap_saved[compressor]}, ${zswap_saved[max_pool_percent]} %)"
drv_stop
if [ -n "$SWAPFILE" ]; then
    swapoff "$SWAPFILE" && rm -f "$SWAPFILE" && SWAPFILE=
fi
[ "$(awk 'NR > 1 { print $1 }' /proc/swaps | sort)" = "$swaps_before" ] || fail "/proc/swaps differs from before"
pass "swap as before the test"
