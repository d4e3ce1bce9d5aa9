/* estimate.c: see estimate.h. */
#include "estimate.h"
#include "util.h"

/* Host state thresholds, as fractions of (budget - reserve). Tight starts
 * at 90% and ends below 85%, so one tick's noise does not flap it. */
#define TIGHT_ENTER_PCT 90
#define TIGHT_LEAVE_PCT 85
/* PSI: "some" above 10% means tasks wait on memory a tenth of the time;
 * "full" above 5% means the whole host stalls. */
#define PSI_TIGHT_SOME 10.0
#define PSI_CRITICAL_FULL 5.0

void estimate_host(const struct host_sample *s, uint64_t conf_budget_bytes,
                   const struct conf_size *reserve, enum host_state prev,
                   uint64_t swap_pages_per_s, struct host_estimate *out)
{
    struct host_estimate e = {0};
    const struct host_psi *psi = NULL;
    uint64_t usable, tight_at, plenty_below;

    e.budget_bytes = s->mem.total_kib * 1024;
    if (s->has_cgroup) {
        e.budget_bytes = min_u64(e.budget_bytes, s->cgroup.limit_bytes);
        e.used_bytes = s->cgroup.usage_bytes - min_u64(s->cgroup.usage_bytes,
                                                      s->cgroup.inactive_file_bytes);
        if (s->cgroup.has_psi)
            psi = &s->cgroup.psi;
    } else {
        e.used_bytes = (s->mem.total_kib - min_u64(s->mem.total_kib, s->mem.avail_kib)) * 1024;
    }
    if (!psi && s->has_psi)
        psi = &s->psi;
    if (conf_budget_bytes)
        e.budget_bytes = min_u64(e.budget_bytes, conf_budget_bytes);
    e.reserve_bytes = min_u64(conf_size_resolve(reserve, e.budget_bytes), e.budget_bytes);
    if (s->has_cgroup)
        e.free_bytes = e.budget_bytes - min_u64(e.budget_bytes, e.used_bytes);
    else
        e.free_bytes = (s->mem.free_kib + s->mem.buffers_kib + s->mem.cached_kib) * 1024;
    usable = e.budget_bytes - e.reserve_bytes;
    e.headroom_bytes = (int64_t)usable - (int64_t)e.used_bytes;
    if (psi) {
        e.psi_some_avg10 = psi->some.avg10;
        e.psi_full_avg10 = psi->full.avg10;
    }

    tight_at = usable / 100 * TIGHT_ENTER_PCT;
    plenty_below = usable / 100 * TIGHT_LEAVE_PCT;
    e.swap_pages_per_s = swap_pages_per_s;
    if (e.headroom_bytes < 0 || e.psi_full_avg10 >= PSI_CRITICAL_FULL ||
        swap_pages_per_s >= ESTIMATE_SWAP_CRITICAL_PAGES_S)
        e.state = HOST_CRITICAL;
    else if (e.used_bytes >= tight_at || e.psi_some_avg10 >= PSI_TIGHT_SOME ||
             swap_pages_per_s >= ESTIMATE_SWAP_TIGHT_PAGES_S)
        e.state = HOST_TIGHT;
    else if (prev != HOST_PLENTY && e.used_bytes >= plenty_below)
        e.state = HOST_TIGHT;
    else
        e.state = HOST_PLENTY;
    if (e.state != HOST_PLENTY && e.used_bytes > plenty_below)
        e.reclaim_bytes = e.used_bytes - plenty_below;
    *out = e;
}

void estimate_history_clear(struct vm_history *h)
{
    h->n = h->head = 0;
}

void estimate_history_push(struct vm_history *h, uint64_t t_s, uint64_t used_bytes)
{
    unsigned newest = (h->head + ESTIMATE_HISTORY - 1) % ESTIMATE_HISTORY;

    if (h->n > 0 && t_s <= h->at[newest].t_s)
        return;
    h->at[h->head].t_s = t_s;
    h->at[h->head].used_bytes = used_bytes;
    h->head = (h->head + 1) % ESTIMATE_HISTORY;
    if (h->n < ESTIMATE_HISTORY)
        h->n++;
}

uint64_t estimate_history_peak(const struct vm_history *h, uint64_t now_s, uint64_t window_s,
                               uint64_t *span_s)
{
    unsigned newest = (h->head + ESTIMATE_HISTORY - 1) % ESTIMATE_HISTORY;
    unsigned oldest = (h->head + ESTIMATE_HISTORY - h->n) % ESTIMATE_HISTORY;
    uint64_t peak = 0;

    *span_s = h->n > 0 ? h->at[newest].t_s - h->at[oldest].t_s : 0;
    for (unsigned i = 0; i < h->n; i++) {
        unsigned k = (newest + ESTIMATE_HISTORY - i) % ESTIMATE_HISTORY;
        if (h->at[k].t_s + window_s <= now_s)
            break;
        if (h->at[k].used_bytes > peak)
            peak = h->at[k].used_bytes;
    }
    return peak;
}

static uint64_t buffer_for(uint64_t used_bytes, unsigned buffer_pct)
{
    uint64_t b = used_bytes / 100 * buffer_pct;

    return b < ESTIMATE_BUFFER_MIN_BYTES ? ESTIMATE_BUFFER_MIN_BYTES : b;
}

static bool known(uint64_t v)
{
    return v != QMP_UNKNOWN;
}

static void vm_pressure(const struct vm_observed *o, struct vm_estimate *e)
{
    const struct qmp_guest_stats *a = &o->prev, *b = &o->stats;
    uint64_t dt_s;

    if (e->avail_bytes < e->buffer_bytes / 2) {
        e->pressure = true;
        e->pressure_why = "available memory below half the buffer";
        return;
    }
    if (!o->have_prev || b->last_update_s <= a->last_update_s)
        return;
    dt_s = b->last_update_s - a->last_update_s;
    if (known(a->swap_in_bytes) && known(b->swap_in_bytes) && b->swap_in_bytes > a->swap_in_bytes) {
        e->pressure = true;
        e->pressure_why = "guest is swapping in";
    } else if (known(a->major_faults) && known(b->major_faults) &&
               b->major_faults > a->major_faults &&
               (b->major_faults - a->major_faults) / dt_s >= ESTIMATE_MAJFLT_PER_S) {
        e->pressure = true;
        e->pressure_why = "major faults rising";
    } else if (known(a->oom_kills) && known(b->oom_kills) && b->oom_kills > a->oom_kills) {
        e->pressure = true;
        e->pressure_why = "guest OOM kill";
    } else if (known(a->alloc_stalls) && known(b->alloc_stalls) && b->alloc_stalls > a->alloc_stalls) {
        /* Direct-reclaim stalls (QEMU >= 9.2): the guest's allocations
         * already wait for reclaim. */
        e->pressure = true;
        e->pressure_why = "guest allocations stalling";
    }
}

void estimate_vm(const struct vm_observed *o, unsigned buffer_pct, uint64_t now_wall_s,
                 struct vm_estimate *out)
{
    const struct qmp_guest_stats *st = &o->stats;
    struct vm_estimate e = {0};
    uint64_t overhead = 0, span_s;

    if (!o->have_actual)
        e.why_unknown = "balloon not active yet";
    else if (!o->have_stats || st->last_update_s == 0)
        e.why_unknown = "guest has not reported stats yet";
    else if (!known(st->total_bytes) || !known(st->avail_bytes))
        e.why_unknown = "guest does not report available memory";
    else if (st->avail_bytes > st->total_bytes)
        e.why_unknown = "guest stats are not believable (available > total)";
    else if (now_wall_s > st->last_update_s + ESTIMATE_STATS_STALE_S)
        e.why_unknown = "guest stats are stale";
    if (e.why_unknown) {
        *out = e;
        return;
    }
    e.known = true;
    e.used_bytes = st->total_bytes - st->avail_bytes;
    e.avail_bytes = st->avail_bytes;
    e.peak_used_bytes = estimate_history_peak(&o->history, now_wall_s, ESTIMATE_WINDOW_S, &span_s);
    if (e.peak_used_bytes < e.used_bytes)
        e.peak_used_bytes = e.used_bytes;
    e.settling = span_s < ESTIMATE_WINDOW_S;
    if (o->deflate_on_oom) {
        /* With deflate-on-oom the guest keeps the balloon's pages in its
         * MemTotal: they show as used, and are not. */
        uint64_t balloon = o->size_bytes - min_u64(o->size_bytes, o->actual_bytes);
        e.used_bytes -= min_u64(e.used_bytes, balloon);
        e.peak_used_bytes -= min_u64(e.peak_used_bytes, balloon);
    } else if (o->reserved_bytes) {
        overhead = o->reserved_bytes;
    } else if (o->actual_bytes > st->total_bytes) {
        /* Not measured yet: this report's view, which lags a moving
         * balloon by up to a second. */
        overhead = o->actual_bytes - st->total_bytes;
    }
    if (o->have_prev && st->last_update_s > o->prev.last_update_s && known(o->prev.total_bytes) &&
        known(o->prev.avail_bytes) && o->prev.avail_bytes <= o->prev.total_bytes) {
        uint64_t was = o->prev.total_bytes - o->prev.avail_bytes;
        uint64_t now = st->total_bytes - st->avail_bytes;
        if (now > was)
            e.rise_bytes_per_s = (now - was) / (st->last_update_s - o->prev.last_update_s);
    }
    e.buffer_bytes = buffer_for(e.peak_used_bytes, buffer_pct);
    e.need_bytes = e.peak_used_bytes + e.buffer_bytes + overhead + e.rise_bytes_per_s * ESTIMATE_LEAD_S;
    e.need_now_bytes = e.used_bytes + buffer_for(e.used_bytes, buffer_pct) + overhead +
                       e.rise_bytes_per_s * ESTIMATE_LEAD_S;
    vm_pressure(o, &e);
    *out = e;
}
