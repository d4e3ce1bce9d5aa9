/* observe.c: see observe.h. */
#include "observe.h"

#include "util.h"

void observe_actual(struct vm_observed *o, uint64_t actual_bytes, uint64_t now_ms)
{
    if (!o->have_actual || actual_bytes != o->actual_bytes)
        o->actual_moved_ms = now_ms;
    o->actual_bytes = actual_bytes;
    o->have_actual = true;
    o->actual_at_ms = now_ms;
}

void observe_no_actual(struct vm_observed *o)
{
    o->have_actual = false;
}

static bool stats_believable(const struct qmp_guest_stats *st)
{
    return st->last_update_s && st->total_bytes != QMP_UNKNOWN && st->avail_bytes != QMP_UNKNOWN &&
           st->avail_bytes <= st->total_bytes;
}

void observe_stats(struct vm_observed *o, const struct qmp_guest_stats *st, uint64_t now_ms,
                   uint64_t now_wall_s)
{
    if (o->have_stats && st->last_update_s > o->stats.last_update_s) {
        o->prev = o->stats;
        o->have_prev = true;
    }
    o->stats = *st;
    o->have_stats = true;
    if (st->last_update_s) /* QEMU's 0: the driver never sent any */
        o->stats_seen = true;
    if (!stats_believable(st))
        return;
    /* Settled: actual stood still, and the report was made (QEMU stamps
     * it on receipt) a while after it last moved. */
    uint64_t still_ms = now_ms - o->actual_moved_ms;
    estimate_observe(o, still_ms >= OBSERVE_SETTLED_MS &&
                            st->last_update_s + still_ms / 1000 >= now_wall_s + OBSERVE_SETTLED_MS / 1000);
}

bool observe_no_stats(struct vm_observed *o)
{
    bool had = o->have_stats;

    o->have_stats = false;
    return had;
}

static void forget_stats(struct vm_observed *o)
{
    o->have_stats = false;
    o->have_prev = false;
    estimate_history_clear(&o->history);
    o->reserved_bytes = 0;
}

void observe_reset(struct vm_observed *o)
{
    forget_stats(o);
    o->reset_seen = true;
}

void observe_lost(struct vm_observed *o)
{
    o->running = false;
    o->stats_seen = false;
    o->have_actual = false;
    forget_stats(o);
}
