/* ksm_decide.h: the KSM controller, pure: from the host's state and two
 * samples of KSM's counters (ksm_sample(), ksm.h) to the knobs ksmd should
 * run with (ksm_apply()); and ksmtuned's algorithm, re-implemented for
 * comparison. No I/O: the tests and bench/ksm.sh drive it with numbers. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "types.h"

/* advisor_mode (Linux 6.8+), "[none] scan-time" in sysfs. */
enum ksm_advisor {
    KSM_ADVISOR_ABSENT,     /* older kernel: no advisor_mode file */
    KSM_ADVISOR_NONE,       /* present, off: pages_to_scan is ours to set */
    KSM_ADVISOR_SCAN_TIME,  /* the kernel sets pages_to_scan itself */
    KSM_ADVISOR_OTHER,      /* a mode this code does not know */
};

struct ksm_counters {
    uint64_t run;             /* 0 stopped, 1 merging, 2 stopped and unmerged */
    uint64_t pages_to_scan;   /* per batch */
    uint64_t sleep_ms;        /* sleep_millisecs, between batches */
    uint64_t pages_shared;    /* KSM pages in use (one copy each) */
    uint64_t pages_sharing;   /* further mappings of them: the pages saved */
    uint64_t pages_unshared;  /* checked, unique so far */
    uint64_t pages_volatile;  /* changing too fast to be merged */
    uint64_t full_scans;      /* passes over all mergeable memory since boot */
    bool has_pages_scanned;   /* Linux 6.8+ */
    uint64_t pages_scanned;
    bool has_general_profit;  /* Linux 6.4+; bytes saved minus KSM's own
                               * metadata, negative when KSM costs more */
    int64_t general_profit_bytes;
    enum ksm_advisor advisor;
    /* When advisor != KSM_ADVISOR_ABSENT. */
    uint64_t advisor_target_scan_time_s;
    uint64_t advisor_max_cpu_pct;
    bool has_ksmd_cpu;        /* ksmd was found in <proc> */
    uint64_t ksmd_cpu_ms;     /* its utime + stime */
};

/* What the previous decision was, handed back by the caller: the state of
 * the controller lives outside it. */
enum ksm_mode {
    KSM_MODE_START,       /* no decision yet */
    KSM_MODE_SLOW,        /* host has plenty: on, but slow */
    KSM_MODE_SCAN,        /* tight: scan at the pressure's rate */
    KSM_MODE_BOOST,       /* tight, merging pays well: faster */
    KSM_MODE_NOT_PAYING,  /* tight, but merging stopped paying: slow */
    KSM_MODE_FASTEST,     /* critical */
    KSM_MODE_ADVISOR,     /* the kernel's advisor sets the rate */
    KSM_MODE_OFF,         /* ksmtuned only: stopped */
};

struct ksm_input {
    enum host_state state;
    const struct ksm_counters *prev; /* NULL on the first call */
    const struct ksm_counters *cur;
    uint64_t interval_ms;            /* between prev and cur */
    uint64_t page_bytes;
    uint64_t free_bytes;             /* host (or budget) free memory; the law
                                      * below does not need it: it never
                                      * unmerges (see ksm_unmerge_fits) */
    uint64_t reclaim_bytes;          /* what the host wants back to be at
                                      * plenty (host_estimate.reclaim_bytes) */
    bool has_advisor;                /* the kernel has the advisor */
    /* Let the advisor set the rate when it exists. Off by default: when
     * the advisor is switched on it resets its context to zero and, at the
     * end of its first pass, divides ksmd's CPU time since boot by that
     * pass's length; on a host where ksmd has run before (33 s of CPU on
     * the test host) that reads as >100% CPU and caps the next pass, the
     * one in which pages merge, at advisor_max_cpu pages per batch (20).
     * Measured (bench/ksm.md): 39 MiB saved in 120 s, against 86 MiB by
     * the law below on the same guests. */
    bool prefer_advisor;
    enum ksm_mode last_mode;         /* the previous decision's mode */
};

struct ksm_decision {
    unsigned run;                    /* 0 or 1, never 2 */
    bool use_advisor;
    uint64_t pages_to_scan;          /* without the advisor; 0 = leave it */
    uint64_t sleep_ms;               /* 0 = leave it */
    uint64_t advisor_target_scan_time_s; /* with the advisor */
    uint64_t advisor_max_cpu_pct;
    enum ksm_mode mode;
    bool yield_known;                /* the interval measured a yield */
    uint64_t yield_pages_per_cpu_s;  /* pages newly shared per ksmd CPU-second */
    /* The interval was too short to judge the yield (too little ksmd CPU,
     * or no full scan finished yet): call again with the same prev. */
    bool keep_prev;
    const char *reason;              /* static, for the event log */
};

/* Rates are nominal, pages_to_scan * 1000 / sleep_ms: what ksmd would scan
 * per second if scanning took no time. Measured on this project's 2-core
 * test host (Linux 6.18, three 512 MiB TCG guests, bench/ksm.md): ksmd
 * scans 450000-500000 pages per CPU-second of its own (2.2 us a page), so
 * a batch of P pages also takes P / 450000 s. */
#define KSM_SCAN_PAGES_PER_CPU_S 450000
/* Plenty: the "on but slow", 100 pages every 200 ms: 500 pages/s,
 * 0.1% of a CPU, still a first pass over three guests (300000 pages) in
 * 10 minutes. */
#define KSM_PLENTY_PAGES 100
#define KSM_PLENTY_SLEEP_MS 200
/* Tight and critical: ksmd wakes every 20 ms (the kernel's default). */
#define KSM_FAST_SLEEP_MS 20
/* Tight: at least 200 pages / 20 ms, so that two passes over the test
 * host's three guests (300000 pages) fit in the horizon below: KSM only
 * checksums a page on its first look and merges it on the second. About
 * 1.3% of a CPU (measured 12-13 ms a second). */
#define KSM_TIGHT_MIN_PAGES_PER_S 10000
/* Tight: scan at least the host's deficit over this horizon; each page
 * scanned can save at most one page, so a slower scan cannot close it. */
#define KSM_TIGHT_HORIZON_S 60
/* The fastest: 9000 pages every 20 ms keeps ksmd busy half of the time,
 * half a CPU on the 2-core host, the rest left to the guests. */
#define KSM_MAX_PAGES_PER_S KSM_SCAN_PAGES_PER_CPU_S
/* Yield: pages newly shared per ksmd CPU-second. Measured while three
 * fresh guests merged: 24800 in the first 10 s at 50000 pages/s, 12800 in
 * the next 10 s; once merged, pages_sharing only churns by +-2700 pages
 * per 10 s (about 3000 per CPU-second at most). Below LOW, merging has
 * stopped paying; at HIGH it is in full swing. */
#define KSM_YIELD_LOW_PAGES_PER_CPU_S 5000
#define KSM_YIELD_HIGH_PAGES_PER_CPU_S 20000
/* Less ksmd CPU than this in an interval is not a measurement: /proc
 * counts in 10 ms ticks, so two reads may be 10% off. At the tight
 * minimum that is an 8 s window. */
#define KSM_YIELD_MIN_CPU_MS 100
/* The advisor: a full pass in this many seconds, within this CPU share. */
#define KSM_ADVISOR_TIGHT_SCAN_S 60
#define KSM_ADVISOR_CRITICAL_SCAN_S 10
#define KSM_ADVISOR_TIGHT_CPU_PCT 20
#define KSM_ADVISOR_BOOST_CPU_PCT 40
#define KSM_ADVISOR_CRITICAL_CPU_PCT 50

void ksm_decide(const struct ksm_input *in, struct ksm_decision *out);
const char *ksm_mode_str(enum ksm_mode m);

/* ---- ksmtuned, for comparison (pure) ---------------------------------------
 * Re-implemented from the documented behaviour of ksmtuned (Dan
 * Kenigsberg, Red Hat, 2009; shipped by Fedora's qemu and Debian's ksmtuned
 * package, /usr/sbin/ksmtuned and /etc/ksmtuned.conf). Every
 * KSM_MONITOR_INTERVAL seconds it:
 *   - stops KSM (run=0) when the QEMU processes' RSS + thres < MemTotal
 *     and free (MemFree + Buffers + Cached) > thres, where
 *     thres = max(MemTotal * KSM_THRES_COEF / 100, KSM_THRES_CONST);
 *   - otherwise adds KSM_NPAGES_BOOST to its npages (starting at 0) when
 *     free < thres, else KSM_NPAGES_DECAY (negative), clamps npages to
 *     [KSM_NPAGES_MIN, KSM_NPAGES_MAX], and starts KSM with
 *     pages_to_scan = npages and sleep_millisecs =
 *     max(10, KSM_SLEEP_MSEC * 16 GiB / MemTotal). */
struct ksmtuned_conf {
    uint64_t npages_boost;    /* KSM_NPAGES_BOOST, 300 */
    int64_t npages_decay;     /* KSM_NPAGES_DECAY, -50 */
    uint64_t npages_min;      /* KSM_NPAGES_MIN, 64 */
    uint64_t npages_max;      /* KSM_NPAGES_MAX, 1250 */
    uint64_t sleep_msec;      /* KSM_SLEEP_MSEC, 10 (for a 16 GiB host) */
    uint64_t thres_coef_pct;  /* KSM_THRES_COEF, 20 */
    uint64_t thres_const_kib; /* KSM_THRES_CONST, 2048 */
};
#define KSMTUNED_CONF_DEFAULT { 300, -50, 64, 1250, 10, 20, 2048 }

struct ksmtuned_input {
    uint64_t total_kib;       /* MemTotal */
    uint64_t free_kib;        /* MemFree + Buffers + Cached */
    uint64_t committed_kib;   /* RSS of the QEMU processes */
};

/* *npages is ksmtuned's state (0 at start), updated in place. */
void ksmtuned_decide(const struct ksmtuned_conf *c, const struct ksmtuned_input *in,
                     uint64_t *npages, struct ksm_decision *out);

