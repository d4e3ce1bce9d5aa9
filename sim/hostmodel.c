/* hostmodel.c: see hostmodel.h. */
#include "hostmodel.h"

#include "util.h"

#define PAGE_BYTES 4096

void hostmodel_init(struct hostmodel *h, const struct hostmodel_params *p)
{
    *h = (struct hostmodel){.p = *p};
}

void hostmodel_tick(struct hostmodel *h, uint64_t dt_ms)
{
    h->swap_left_bytes = h->p.swap_bytes_per_s * dt_ms / 1000;
    h->moved_bytes = 0;
}

uint64_t hostmodel_cost(const struct hostmodel *h, uint64_t ram_bytes, size_t n_qemu)
{
    uint64_t kept = ram_bytes - ram_bytes / 100 * min_u64(h->p.ksm_pct, 100);

    return kept + n_qemu * h->p.qemu_overhead_bytes;
}

/* Swap takes what is over the limit, and gives pages back (the guests
 * touch them) when there is room, both at its rate. */
static void swap_move(struct hostmodel *h, uint64_t want)
{
    uint64_t over = want > h->p.budget_bytes ? want - h->p.budget_bytes : 0, d;

    if (over > h->swapped_bytes) {
        d = min_u64(min_u64(over - h->swapped_bytes, h->swap_left_bytes),
                    h->p.swap_bytes - min_u64(h->p.swap_bytes, h->swapped_bytes));
        h->swapped_bytes += d;
        h->pswpout += d / PAGE_BYTES;
    } else {
        d = min_u64(h->swapped_bytes - over, h->swap_left_bytes);
        h->swapped_bytes -= d;
        h->pswpin += d / PAGE_BYTES;
    }
    h->swap_left_bytes -= d;
    h->moved_bytes += d;
    /* What was swapped out of a guest that is gone (killed, ballooned
     * away) is freed, not read back. */
    h->swapped_bytes = min_u64(h->swapped_bytes, want);
}

uint64_t hostmodel_charge(struct hostmodel *h, uint64_t ram_bytes, size_t n_qemu)
{
    uint64_t want = hostmodel_cost(h, ram_bytes, n_qemu);

    swap_move(h, want);
    h->usage_bytes = want - h->swapped_bytes;
    h->peak_bytes = max_u64(h->peak_bytes, min_u64(h->usage_bytes, h->p.budget_bytes));
    return h->usage_bytes > h->p.budget_bytes ? h->usage_bytes - h->p.budget_bytes : 0;
}

void hostmodel_sample(const struct hostmodel *h, struct host_sample *out)
{
    *out = (struct host_sample){
        /* The host's own RAM is larger than the budget cgroup, which is
         * what estimate_host takes as the budget. */
        .mem = {.total_kib = h->p.budget_bytes / KIB * 2, .avail_kib = h->p.budget_bytes / KIB},
        .vmstat = {.pswpin = h->pswpin, .pswpout = h->pswpout},
        .has_cgroup = true,
        .cgroup = {.limit_bytes = h->p.budget_bytes, .usage_bytes = h->usage_bytes},
    };
}

uint64_t hostmodel_swap_pages_per_s(const struct hostmodel *h, uint64_t dt_ms)
{
    return dt_ms ? h->moved_bytes / PAGE_BYTES * 1000 / dt_ms : 0;
}
