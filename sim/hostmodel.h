/* hostmodel.h: the simulated host: a memory budget (the budget cgroup's
 * limit) that every QEMU is charged to, KSM as a flat saving, and
 * optionally a swap device that takes what does not fit at a given rate.
 * What still does not fit OOM-kills a QEMU, as the cgroup would. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "host.h"

struct hostmodel_params {
    uint64_t budget_bytes;         /* the limit every QEMU is charged to */
    uint64_t qemu_overhead_bytes;  /* per running QEMU, beyond guest RAM */
    unsigned ksm_pct;              /* guest RAM saved by page sharing, flat */
    uint64_t swap_bytes;           /* 0: no swap */
    uint64_t swap_bytes_per_s;     /* how fast it takes (or gives back) pages */
};

struct hostmodel {
    struct hostmodel_params p;
    uint64_t usage_bytes;      /* charged now */
    uint64_t peak_bytes;       /* highest charge (never above the limit) */
    uint64_t swapped_bytes;
    uint64_t swap_left_bytes;  /* what swap may still move this second */
    uint64_t moved_bytes;      /* what it moved this second */
    uint64_t pswpin, pswpout;  /* pages, since start (like /proc/vmstat) */
};

void hostmodel_init(struct hostmodel *h, const struct hostmodel_params *p);
/* A new second of dt_ms begins. */
void hostmodel_tick(struct hostmodel *h, uint64_t dt_ms);
/* Charges ram_bytes of guest RAM held by n_qemu QEMUs. Returns how much
 * is over the limit after KSM and swap: 0 fits, else a QEMU must die
 * (call again after killing it). */
uint64_t hostmodel_charge(struct hostmodel *h, uint64_t ram_bytes, size_t n_qemu);
/* What the QEMUs cost the host: ram_bytes after KSM, plus overheads. */
uint64_t hostmodel_cost(const struct hostmodel *h, uint64_t ram_bytes, size_t n_qemu);
/* The host as balloond's sampler would see it: a budget cgroup. */
void hostmodel_sample(const struct hostmodel *h, struct host_sample *out);
/* Swap traffic this second, in pages per second. */
uint64_t hostmodel_swap_pages_per_s(const struct hostmodel *h, uint64_t dt_ms);
