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
    e.mem_total_bytes = s->mem.total_kib * 1024;
    e.mem_used_bytes = (s->mem.total_kib - min_u64(s->mem.total_kib, s->mem.avail_kib)) * 1024;
    e.mem_free_bytes = (s->mem.free_kib + s->mem.buffers_kib + s->mem.cached_kib) * 1024;
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

uint64_t estimate_history_burst(const struct vm_history *h, uint64_t now_s)
{
    uint64_t age_s = now_s > h->burst_t_s ? now_s - h->burst_t_s : 0;
    uint64_t halvings = age_s > ESTIMATE_BURST_KEEP_S ? (age_s - ESTIMATE_BURST_KEEP_S) / ESTIMATE_BURST_HALFLIFE_S : 0;

    return halvings >= 64 ? 0 : h->burst_bytes >> halvings;
}

/* Adds the growth since the newest report to the current run of fast
 * growth (see ESTIMATE_BURST_BYTES_PER_S), or ends the run. A run held at
 * the floor goes on at any pace (ESTIMATE_FLOOR_BYTES) until use falls. */
static uint64_t history_run(const struct vm_history *h, uint64_t t_s, uint64_t used_bytes, bool at_floor)
{
    unsigned newest = (h->head + ESTIMATE_HISTORY - 1) % ESTIMATE_HISTORY;
    uint64_t was, dt_s, rate;

    if (h->n == 0)
        return 0;
    was = h->at[newest].used_bytes;
    dt_s = t_s - h->at[newest].t_s;
    if (h->run_bytes && (h->at_floor || at_floor) && used_bytes >= was)
        return h->run_bytes + (used_bytes - was);
    if (used_bytes <= was)
        return 0;
    rate = (used_bytes - was) / dt_s;
    if (h->run_bytes ? rate < ESTIMATE_BURST_BYTES_PER_S / 2 : rate <= ESTIMATE_BURST_BYTES_PER_S)
        return 0;
    return h->run_bytes + (used_bytes - was);
}

void estimate_history_push(struct vm_history *h, uint64_t t_s, uint64_t used_bytes)
{
    estimate_history_push_avail(h, t_s, used_bytes, false);
}

void estimate_history_push_avail(struct vm_history *h, uint64_t t_s, uint64_t used_bytes, bool at_floor)
{
    unsigned newest = (h->head + ESTIMATE_HISTORY - 1) % ESTIMATE_HISTORY;

    if (h->n > 0 && t_s <= h->at[newest].t_s)
        return;
    h->run_bytes = history_run(h, t_s, used_bytes, at_floor);
    h->at_floor = at_floor;
    if (h->run_bytes > estimate_history_burst(h, t_s)) {
        h->burst_bytes = h->run_bytes;
        h->burst_t_s = t_s;
    }
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

void estimate_observe(struct vm_observed *o, bool balloon_settled)
{
    const struct qmp_guest_stats *st = &o->stats;
    uint64_t used, balloon;

    if (!o->have_stats || !st->last_update_s || st->total_bytes == QMP_UNKNOWN ||
        st->avail_bytes == QMP_UNKNOWN || st->avail_bytes > st->total_bytes)
        return;
    used = st->total_bytes - st->avail_bytes;
    if (!o->deflate_on_oom) {
        estimate_history_push_avail(&o->history, st->last_update_s, used, st->avail_bytes < ESTIMATE_FLOOR_BYTES);
        if (o->have_actual && balloon_settled && o->actual_bytes > st->total_bytes)
            o->reserved_bytes = o->actual_bytes - st->total_bytes;
        return;
    }
    /* MemTotal keeps the balloon: the kernel's reserve is size - MemTotal. */
    if (o->size_bytes > st->total_bytes)
        o->reserved_bytes = o->size_bytes - st->total_bytes;
    if (!o->have_actual || !balloon_settled || !o->size_bytes)
        return;
    balloon = o->size_bytes - min_u64(o->size_bytes, o->actual_bytes);
    estimate_history_push(&o->history, st->last_update_s, used - min_u64(used, balloon));
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

/* Growth per second between the last two reports. With deflate-on-oom
 * the raw reports move with the balloon: the history's settled samples
 * are used instead, and only when they are a second apart. */
static uint64_t rise_per_s(const struct vm_observed *o)
{
    const struct qmp_guest_stats *st = &o->stats, *p = &o->prev;
    const struct vm_history *h = &o->history;

    if (o->deflate_on_oom) {
        unsigned a = (h->head + ESTIMATE_HISTORY - 1) % ESTIMATE_HISTORY;
        unsigned b = (h->head + ESTIMATE_HISTORY - 2) % ESTIMATE_HISTORY;
        if (h->n < 2 || h->at[a].t_s != st->last_update_s || h->at[a].t_s - h->at[b].t_s != 1 ||
            h->at[a].used_bytes <= h->at[b].used_bytes)
            return 0;
        return h->at[a].used_bytes - h->at[b].used_bytes;
    }
    if (!o->have_prev || st->last_update_s <= p->last_update_s || !known(p->total_bytes) ||
        !known(p->avail_bytes) || p->avail_bytes > p->total_bytes)
        return 0;
    uint64_t was = p->total_bytes - p->avail_bytes, now = st->total_bytes - st->avail_bytes;
    return now > was ? (now - was) / (st->last_update_s - p->last_update_s) : 0;
}

/* Use now. With deflate-on-oom: the newest settled sample while it is
 * fresh (a report taken while the balloon moved is off by the move),
 * else the report minus the balloon as it stands. */
static uint64_t used_now(const struct vm_observed *o, uint64_t now_wall_s)
{
    const struct qmp_guest_stats *st = &o->stats;
    const struct vm_history *h = &o->history;
    uint64_t used = st->total_bytes - st->avail_bytes, balloon;
    unsigned newest = (h->head + ESTIMATE_HISTORY - 1) % ESTIMATE_HISTORY;

    if (!o->deflate_on_oom)
        return used;
    if (h->n > 0 && h->at[newest].t_s + ESTIMATE_STATS_STALE_S >= now_wall_s)
        return h->at[newest].used_bytes;
    balloon = o->size_bytes - min_u64(o->size_bytes, o->actual_bytes);
    return used - min_u64(used, balloon);
}

/* Room for a burst beyond the buffer: the burst and the kernel's slack
 * (issue 9's guest, 28 MiB used, was OOM-killed allocating 200 MiB with
 * 201 MiB available; with 232 it was not, bench/burst.md). */
static uint64_t burst_room(uint64_t burst_bytes, uint64_t buffer_bytes)
{
    if (burst_bytes <= buffer_bytes)
        return 0; /* the buffer covers it */
    return burst_bytes + ESTIMATE_BURST_SLACK_BYTES - buffer_bytes;
}

static const char *why_unknown(const struct vm_observed *o, uint64_t now_wall_s)
{
    const struct qmp_guest_stats *st = &o->stats;

    if (!o->have_actual)
        return "balloon not active yet";
    if (!o->have_stats || st->last_update_s == 0)
        return "guest has not reported stats yet";
    if (!known(st->total_bytes) || !known(st->avail_bytes))
        return "guest does not report available memory";
    if (st->avail_bytes > st->total_bytes)
        return "guest stats are not believable (available > total)";
    if (now_wall_s > st->last_update_s + ESTIMATE_STATS_STALE_S)
        return "guest stats are stale";
    return NULL;
}

void estimate_vm(const struct vm_observed *o, unsigned buffer_pct, uint64_t now_wall_s,
                 struct vm_estimate *out)
{
    const struct qmp_guest_stats *st = &o->stats;
    struct vm_estimate e = {0};
    uint64_t overhead = 0, span_s, lead;

    e.why_unknown = why_unknown(o, now_wall_s);
    if (e.why_unknown) {
        *out = e;
        return;
    }
    e.known = true;
    e.used_bytes = used_now(o, now_wall_s);
    e.avail_bytes = st->avail_bytes;
    e.peak_used_bytes = estimate_history_peak(&o->history, now_wall_s, ESTIMATE_WINDOW_S, &span_s);
    if (e.peak_used_bytes < e.used_bytes)
        e.peak_used_bytes = e.used_bytes;
    e.settling = span_s < ESTIMATE_WINDOW_S;
    if (o->reserved_bytes)
        overhead = o->reserved_bytes;
    else if (!o->deflate_on_oom && o->actual_bytes > st->total_bytes)
        /* Not measured yet: this report's view, which lags a moving
         * balloon by up to a second. */
        overhead = o->actual_bytes - st->total_bytes;
    e.rise_bytes_per_s = rise_per_s(o);
    lead = e.rise_bytes_per_s * ESTIMATE_LEAD_S;
    e.buffer_bytes = buffer_for(e.peak_used_bytes, buffer_pct);
    /* A guest that has grown faster than the daemon can react keeps room
     * for that burst while the host has plenty (a tight host takes it:
     * need_now has none). */
    e.burst_bytes = estimate_history_burst(&o->history, now_wall_s);
    e.burst_room_bytes = burst_room(e.burst_bytes, e.buffer_bytes);
    e.need_bytes = e.peak_used_bytes + e.buffer_bytes + e.burst_room_bytes + overhead + lead;
    e.need_now_bytes = e.used_bytes + buffer_for(e.used_bytes, buffer_pct) + overhead + lead;
    vm_pressure(o, &e);
    *out = e;
}
