/* ksmdrive: drives the host's real KSM with one controller for the KSM
 * benchmark (bench/ksm.sh), one decision a second, and prints a line per
 * second. Not part of the daemon.
 *
 *   ksmdrive CONTROLLER SECONDS BUDGET_MIB PID...
 *
 * CONTROLLER: balloond (ksm_decide, its own rate law), balloond-advisor
 * (ksm_decide preferring the kernel's advisor, if present), ksmtuned-reimpl
 * (ksmtuned_decide with its defaults: the re-implementation; "ksmtuned" is
 * accepted for it too), fixed:PAGES/SLEEP_MS (for calibration), or observe
 * (decide and write nothing: another process, Debian's real ksmtuned in
 * bench/ksm.sh, drives KSM; ksmdrive only samples and keeps the emulated
 * host's /proc/meminfo up to date, see KSM_MEMINFO_OUT).
 *
 * The host both controllers see is a budget of BUDGET_MIB holding the
 * PIDs (the QEMU guests), like balloond's budget cgroup:
 *   used  = sum of their RSS - pages_sharing pages (what KSM saved; RSS
 *           still counts a merged page in every process that maps it)
 *   free  = BUDGET - used
 *   state = critical above the budget, tight from 90% of it until back
 *           under 85% (src/core/estimate.c, no reserve), else plenty
 *   ksmtuned: MemTotal = BUDGET, committed = sum of RSS, free as above.
 *
 * Every knob changed is restored at the end, and on SIGINT/SIGTERM/SIGHUP.
 * Environment: KSM_SYS_ROOT (default /sys), KSM_PROC_ROOT (default /proc),
 * KSM_MEMINFO_OUT: a file rewritten in place every second (same size, one
 * pwrite, so a reader never sees it empty) in /proc/meminfo's format with
 * that emulated host: MemTotal = BUDGET, MemFree = free, Buffers = Cached
 * = 0. bench/ksm.sh bind-mounts it over /proc/meminfo for the real
 * ksmtuned only, in a private mount namespace. */
#include <fcntl.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ksm.h"
#include "util.h"

#define MAX_PIDS 16

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = sig;
}

static const char *state_str(enum host_state s)
{
    return s == HOST_PLENTY ? "plenty" : s == HOST_TIGHT ? "tight" : "critical";
}

static uint64_t rss_bytes(const char *proc, int pid)
{
    char path[512], buf[8192], *p;
    uint64_t kib = 0;

    snprintf(path, sizeof(path), "%s/%d/status", proc, pid);
    if (read_file(path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, "\nVmRSS:")))
        return 0;
    sscanf(p + 7, "%" SCNu64, &kib);
    return kib * 1024;
}

/* The emulated host as /proc/meminfo says it (fixed width: same size). */
static int write_meminfo(int fd, uint64_t total, uint64_t free_b)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf),
                     "MemTotal:       %12" PRIu64 " kB\nMemFree:        %12" PRIu64 " kB\n"
                     "MemAvailable:   %12" PRIu64 " kB\nBuffers:        %12d kB\n"
                     "Cached:         %12d kB\n",
                     total / 1024, free_b / 1024, free_b / 1024, 0, 0);

    return pwrite(fd, buf, (size_t)n, 0) == n ? 0 : -errno;
}

static void sleep_until_ms(uint64_t t_ms)
{
    uint64_t now = now_ms();

    if (t_ms > now) {
        struct timespec ts = { (time_t)((t_ms - now) / 1000), (long)((t_ms - now) % 1000) * 1000000 };
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    const char *sys = getenv("KSM_SYS_ROOT"), *proc = getenv("KSM_PROC_ROOT");
    struct ksmtuned_conf tuned = KSMTUNED_CONF_DEFAULT;
    struct ksm_counters first, prev, cur;
    struct ksm_decision d = { .mode = KSM_MODE_START };
    enum host_state state = HOST_PLENTY;
    uint64_t budget, seconds, npages = 0, fixed_pages = 0, fixed_sleep = 0, t0, prev_ms;
    int pids[MAX_PIDS], npids = 0, r, rr, meminfo = -1;
    bool advisor = false, is_tuned = false, is_fixed = false, observe = false;
    const char *meminfo_out = getenv("KSM_MEMINFO_OUT");
    struct ksm *k;

    if (argc < 5 || parse_u64(argv[2], &seconds) < 0 || parse_u64(argv[3], &budget) < 0) {
        fprintf(stderr, "usage: ksmdrive balloond|balloond-advisor|ksmtuned-reimpl|fixed:P/MS|"
                        "observe SECONDS BUDGET_MIB PID...\n");
        return 2;
    }
    budget *= MIB;
    if (strcmp(argv[1], "balloond-advisor") == 0)
        advisor = true;
    else if (strcmp(argv[1], "ksmtuned-reimpl") == 0 || strcmp(argv[1], "ksmtuned") == 0)
        is_tuned = true;
    else if (strcmp(argv[1], "observe") == 0)
        observe = true;
    else if (sscanf(argv[1], "fixed:%" SCNu64 "/%" SCNu64, &fixed_pages, &fixed_sleep) == 2)
        is_fixed = true;
    else if (strcmp(argv[1], "balloond") != 0) {
        fprintf(stderr, "ksmdrive: unknown controller %s\n", argv[1]);
        return 2;
    }
    for (int i = 4; i < argc && npids < MAX_PIDS; i++)
        pids[npids++] = atoi(argv[i]);
    sys = sys ? sys : "/sys";
    proc = proc ? proc : "/proc";
    if ((r = ksm_new(sys, proc, &k)) < 0) {
        fprintf(stderr, "ksmdrive: no KSM under %s: %s\n", sys, strerror(-r));
        return 1;
    }
    if (meminfo_out && (meminfo = open(meminfo_out, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        fprintf(stderr, "ksmdrive: KSM_MEMINFO_OUT %s: %s\n", meminfo_out, strerror(errno));
        ksm_free(k);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    if ((r = ksm_sample(k, &first)) < 0)
        goto out;
    prev = first;
    t0 = prev_ms = now_ms();
    printf("# t_s sharing shared unshared volatile full_scans ksmd_cpu_ms pages_to_scan sleep_ms "
           "advisor used_mib state mode yield reason\n");
    for (uint64_t t = 0; t <= seconds && !stop; t++) {
        uint64_t rss = 0, used, free_b, saved;
        sleep_until_ms(t0 + t * 1000);
        if ((r = ksm_sample(k, &cur)) < 0)
            break;
        for (int i = 0; i < npids; i++)
            rss += rss_bytes(proc, pids[i]);
        saved = cur.pages_sharing * 4096;
        used = rss - min_u64(rss, saved);
        free_b = budget - min_u64(budget, used);
        if (used > budget)
            state = HOST_CRITICAL;
        else if (used >= budget / 100 * 90 || (state != HOST_PLENTY && used >= budget / 100 * 85))
            state = HOST_TIGHT;
        else
            state = HOST_PLENTY;
        if (meminfo >= 0 && (r = write_meminfo(meminfo, budget, free_b)) < 0) {
            fprintf(stderr, "ksmdrive: writing %s: %s\n", meminfo_out, strerror(-r));
            break;
        }
        if (observe) {
            d = (struct ksm_decision){ .mode = d.mode, .reason = "observe" };
        } else if (is_fixed) {
            d = (struct ksm_decision){ .run = 1, .pages_to_scan = fixed_pages,
                                       .sleep_ms = fixed_sleep, .reason = "fixed" };
        } else if (is_tuned) {
            struct ksmtuned_input in = { budget / 1024, free_b / 1024, rss / 1024 };
            ksmtuned_decide(&tuned, &in, &npages, &d);
        } else {
            struct ksm_input in = {
                .state = state, .prev = &prev, .cur = &cur,
                .interval_ms = now_ms() - prev_ms, .page_bytes = 4096, .free_bytes = free_b,
                .reclaim_bytes = state == HOST_PLENTY || used < budget / 100 * 85
                                     ? 0 : used - budget / 100 * 85,
                .has_advisor = cur.advisor != KSM_ADVISOR_ABSENT,
                .prefer_advisor = advisor,
                .last_mode = d.mode,
            };
            ksm_decide(&in, &d);
            if (!d.keep_prev) {
                prev = cur;
                prev_ms = now_ms();
            }
        }
        printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
               " %" PRIu64 " %" PRIu64 " %s %" PRIu64 " %s %s %s \"%s\"\n",
               t, cur.pages_sharing, cur.pages_shared, cur.pages_unshared, cur.pages_volatile,
               cur.full_scans, cur.has_ksmd_cpu ? cur.ksmd_cpu_ms - first.ksmd_cpu_ms : 0,
               cur.pages_to_scan, cur.sleep_ms,
               cur.advisor == KSM_ADVISOR_SCAN_TIME ? "scan-time" : "none", (uint64_t)(used / MIB),
               state_str(state), ksm_mode_str(d.mode),
               d.yield_known ? "known" : "-", d.reason ? d.reason : "");
        if (d.yield_known)
            printf("#   yield %" PRIu64 " pages/cpu-s\n", d.yield_pages_per_cpu_s);
        fflush(stdout);
        if (t < seconds && !observe && (r = ksm_apply(k, &d)) < 0)
            break;
    }
    for (int i = 0; i < npids; i++) {
        uint64_t merging = 0;
        int64_t profit = 0;
        int s = ksm_proc_savings(proc, pids[i], &merging, &profit);
        if (s >= 0)
            printf("# pid %d ksm_merging_pages %" PRIu64 " (%" PRIu64 " MiB) profit %s%" PRId64
                   " MiB\n", pids[i], merging, (uint64_t)(merging * 4096 / MIB), s == 0 ? "" : "unknown ",
                   profit / (int64_t)MIB);
    }
out:
    if (meminfo >= 0)
        close(meminfo);
    rr = ksm_restore(k);
    ksm_free(k);
    if (stop)
        fprintf(stderr, "ksmdrive: stopped by signal %d, KSM settings restored\n", (int)stop);
    return r < 0 || rr < 0 ? 1 : 0;
}
