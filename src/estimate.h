/* estimate.h: from raw samples to what the policy reasons about. Pure:
 * the clock is an argument. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "host.h"
#include "policy.h"
#include "qmp.h"

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
    int64_t headroom_bytes;    /* budget - reserve - used */
    double psi_some_avg10;
    double psi_full_avg10;
    enum host_state state;
    uint64_t reclaim_bytes;    /* to get back to plenty */
};

/* conf_budget_bytes 0 means the host's MemTotal (or the cgroup's limit).
 * prev is the last state, for hysteresis. */
void estimate_host(const struct host_sample *s, uint64_t conf_budget_bytes,
                   const struct conf_size *reserve, enum host_state prev, struct host_estimate *out);

struct vm_observed {
    bool running;
    bool have_actual;
    uint64_t actual_bytes;
    bool have_stats;
    struct qmp_guest_stats stats;
    bool have_prev;            /* an earlier, distinct report, for rates */
    struct qmp_guest_stats prev;
};

struct vm_estimate {
    bool known;
    const char *why_unknown;   /* when !known */
    uint64_t used_bytes;
    uint64_t avail_bytes;
    uint64_t buffer_bytes;
    uint64_t need_bytes;       /* in logical-size units, see policy.h */
    bool pressure;
    const char *pressure_why;  /* when pressure */
};

void estimate_vm(const struct vm_observed *o, unsigned buffer_pct, uint64_t now_wall_s,
                 struct vm_estimate *out);
