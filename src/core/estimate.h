/* estimate.h: from raw samples to what the policy reasons about. Pure:
 * the clock is an argument. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "host.h"
#include "policy.h"
#include "qmp.h"
#include "vmem.h"

/* Guest stats older than this are not believed. The daemon asks for them
 * every second; a TCG guest under load was seen 2 s late, never 5. */
#define ESTIMATE_STATS_STALE_S 5
/* Smallest free headroom kept in any guest. A 512 MiB Debian guest has
 * min_free_kbytes around 4 MiB and needs tens of MiB for allocation bursts
 * of its own; 20% of a 40 MiB working set would leave it 8 MiB. */
#define ESTIMATE_BUFFER_MIN_BYTES (64ULL << 20)
/* Major faults per second that mean a guest is refaulting its working
 * set (an idle Debian guest shows 0-5/s). */
#define ESTIMATE_MAJFLT_PER_S 200

struct host_estimate {
    uint64_t budget_bytes;     /* what the VMs may use in all */
    uint64_t reserve_bytes;
    uint64_t used_bytes;       /* what they (or the host) use now */
    uint64_t free_bytes;       /* MemFree + Buffers + Cached, or the cgroup's
                                * limit - usage + inactive file: MOM's mem_free
                                * on a host emulated at the budget's size */
    int64_t headroom_bytes;    /* budget - reserve - used */
    /* /proc/meminfo as the peers' own daemons read it: MemTotal,
     * MemTotal - MemAvailable (pvestatd's memused), MemFree + Buffers +
     * Cached (MOM's mem_free). */
    uint64_t mem_total_bytes, mem_used_bytes, mem_free_bytes;
    double psi_some_avg10;
    double psi_full_avg10;
    enum host_state state;
    uint64_t reclaim_bytes;    /* to get back to plenty */
    uint64_t swap_pages_per_s; /* host swap-in + swap-out */
};

/* Host swapping, in pages per second (swap-in + swap-out), that makes the
 * host tight: 1 MiB/s, beyond the odd page a quiet host moves; and
 * critical: 64 MiB/s, a disk's worth of thrashing. Swap is the last
 * resort: before it goes on, balloond takes idle guests' memory. */
#define ESTIMATE_SWAP_TIGHT_PAGES_S 256
#define ESTIMATE_SWAP_CRITICAL_PAGES_S 16384

/* conf_budget_bytes 0 means the host's MemTotal (or the cgroup's limit).
 * prev is the last state, for hysteresis; swap_pages_per_s the host's
 * swap traffic since the last sample. */
void estimate_host(const struct host_sample *s, uint64_t conf_budget_bytes,
                   const struct conf_size *reserve, enum host_state prev,
                   uint64_t swap_pages_per_s, struct host_estimate *out);

/* A guest's recent demand. Memory is only taken back below the highest
 * use of the last ESTIMATE_WINDOW_S seconds, and only once that long has
 * been watched: a guest seen for one second at boot, or between two
 * bursts, looks idle and is not. The window must outlast our reaction to
 * a guest that grows again (stats up to 1 s old + 0.3 s to decide + a
 * 1 s tick, about 2.3 s) with margin; 6 s rather than 10 s changed the
 * simulator's bursty scenario by 0.25% in guest-pressure seconds and no
 * OOM (sim/README.md), and reclaims 4 s sooner after every free. */
#define ESTIMATE_WINDOW_S 6
/* How far ahead a rising guest is served: its stats are up to a second
 * old and a decision takes another tick to act, so two seconds of growth. */
#define ESTIMATE_LEAD_S 2
#define ESTIMATE_HISTORY 32

/* Growth faster than this starts a burst, which the guest must survive
 * on the memory it holds: balloond sees a rise 1-2.3 s late (stats a
 * second old, a decision 0.3 s after the tick), and the 64 MiB buffer
 * covers about 25 MiB/s of onset (sim/README.md). Slower growth is
 * followed by deflating: the pressure test's 20 MiB/s, the density
 * benchmark's 10-22 MiB/s ramps. A burst lasts while the guest grows at
 * half that rate or more, and counts whole: a "full-speed" 100 MiB took
 * 2 s in one of three TCG guests on two cores, and at 64 MiB/s it was
 * not seen as one and OOM-killed (bench/burst.md). */
#define ESTIMATE_BURST_BYTES_PER_S (32ULL << 20)
/* A guest's largest burst is remembered at full size for
 * ESTIMATE_BURST_KEEP_S + ESTIMATE_BURST_HALFLIFE_S, then halves every
 * ESTIMATE_BURST_HALFLIFE_S; a larger burst replaces it. Issue 9's guest
 * bursts every 25 s; the simulator's bursty guests every 20 min on
 * average, exponentially: 5% of gaps exceed an hour. Remembered for
 * 20 min only, the room was gone by the next burst half the time (sim
 * bursty, with an earlier burst measure: 2295 guest OOM kills, 2239 with
 * the hour). */
#define ESTIMATE_BURST_KEEP_S 3600
/* A guest survives a burst with this much more than the burst available:
 * its watermarks (about 4 MiB in a 512 MiB guest), page tables and the
 * page cache it cannot drop. Half the minimum buffer. */
#define ESTIMATE_BURST_SLACK_BYTES (32ULL << 20)
#define ESTIMATE_BURST_HALFLIFE_S 1200
/* A guest with less than this available has no room left to grow: a burst
 * that stops there was held back, not finished (the second the rescue
 * takes splits it in two), and its run goes on. Half the minimum buffer:
 * where the estimate's pressure begins. */
#define ESTIMATE_FLOOR_BYTES (ESTIMATE_BUFFER_MIN_BYTES / 2)

struct vm_history {
    unsigned n, head;  /* ring of the newest reports */
    struct {
        uint64_t t_s;
        uint64_t used_bytes;
    } at[ESTIMATE_HISTORY];
    /* The largest burst seen, and when; the current run of fast growth.
     * Survive estimate_history_clear(): a guest that reboots runs the
     * same workloads again. */
    uint64_t burst_bytes;
    uint64_t burst_t_s;
    uint64_t run_bytes;
    bool at_floor;     /* the newest report had under ESTIMATE_FLOOR_BYTES available */
};

/* Records one guest report (total - available at time t_s), and learns
 * bursts (ESTIMATE_BURST_BYTES_PER_S); a report with a time not after the
 * newest is ignored. */
void estimate_history_push(struct vm_history *h, uint64_t t_s, uint64_t used_bytes);
/* The same, knowing whether the guest had room left (at_floor: under
 * ESTIMATE_FLOOR_BYTES available): a run of fast growth that pauses at the
 * floor, or the report after it, goes on instead of ending. */
void estimate_history_push_avail(struct vm_history *h, uint64_t t_s, uint64_t used_bytes, bool at_floor);
void estimate_history_clear(struct vm_history *h);
/* The largest burst seen, decayed to now_s (see ESTIMATE_BURST_HALFLIFE_S). */
uint64_t estimate_history_burst(const struct vm_history *h, uint64_t now_s);
/* The highest use reported in (now - window, now], and how many seconds
 * of history there are; 0 and 0 when there is none. */
uint64_t estimate_history_peak(const struct vm_history *h, uint64_t now_s, uint64_t window_s,
                               uint64_t *span_s);

struct vm_observed {
    bool running;
    bool deflate_on_oom;       /* the balloon device's property */
    bool has_balloon;          /* the VM has a balloon (else virtio-mem alone) */
    bool free_page_reporting;  /* the balloon device's free-page-reporting */
    struct vmem_obs vmem;      /* its virtio-mem device, if any (vmem.h) */
    uint64_t size_bytes;       /* the VM's configured RAM */
    /* actual - MemTotal, measured while the balloon stood still: what the
     * guest kernel keeps for itself. 0 until measured. */
    uint64_t reserved_bytes;
    bool have_actual;
    uint64_t actual_bytes;
    uint64_t actual_at_ms;     /* CLOCK_MONOTONIC of the last actual */
    uint64_t actual_moved_ms;  /* ... of the last change of actual */
    bool stats_seen;           /* the guest's driver has sent stats since connecting */
    bool reset_seen;           /* a guest reset, not yet taken by the tick (ctl) */
    bool have_stats;
    struct qmp_guest_stats stats;
    bool have_prev;            /* an earlier, distinct report, for rates */
    struct qmp_guest_stats prev;
    struct vm_history history;
};

/* A new guest stats report st (already in o->stats): records its use in
 * the history and measures the kernel's reserve. balloon_settled: actual
 * has not moved for long enough that the report saw the same balloon.
 * With deflate-on-oom the balloon's pages are in the guest's MemTotal and
 * count as used: the use recorded is the guest's minus the balloon, and
 * only from settled reports; a report that lags a moving balloon by a
 * second is off by the whole move (issue 9: "used 0" samples, then a
 * target that changed every second). The daemon (through observe.c) and the simulator
 * call this. */
void estimate_observe(struct vm_observed *o, bool balloon_settled);

struct vm_estimate {
    bool known;
    const char *why_unknown;   /* when !known */
    uint64_t used_bytes;
    uint64_t avail_bytes;
    uint64_t buffer_bytes;     /* also what a guest under pressure gets on top */
    uint64_t burst_bytes;      /* the largest burst it has shown (decayed) */
    uint64_t burst_room_bytes; /* kept for it beyond the buffer, in need_bytes:
                                * burst + ESTIMATE_BURST_SLACK_BYTES - buffer */
    uint64_t peak_used_bytes;  /* highest use in the window */
    uint64_t rise_bytes_per_s; /* growth since the previous report */
    uint64_t need_bytes;       /* in logical-size units, see policy.h */
    uint64_t need_now_bytes;   /* from the current use and the plain buffer:
                                * what a tight host takes back down to */
    bool settling;             /* not watched long enough to take memory back */
    bool pressure;
    const char *pressure_why;  /* when pressure */
};

void estimate_vm(const struct vm_observed *o, unsigned buffer_pct, uint64_t now_wall_s,
                 struct vm_estimate *out);
