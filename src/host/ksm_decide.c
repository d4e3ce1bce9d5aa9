/* ksm_decide.c: how hard ksmd should scan, and ksmtuned's answer to the
 * same question (see ksm_decide.h). Pure: no I/O, no clock. */
#include "ksm_decide.h"

#include "util.h"

/* The yield: pages newly shared per CPU-second of ksmd, between prev and
 * cur, against the thresholds. */
enum verdict { YIELD_UNKNOWN, YIELD_LOW, YIELD_MID, YIELD_HIGH };

static enum verdict yield_judge(const struct ksm_input *in, struct ksm_decision *d)
{
    const struct ksm_counters *p = in->prev, *c = in->cur;
    uint64_t cpu_ms, gained, yield;

    if (!p || !p->has_ksmd_cpu || !c->has_ksmd_cpu || c->ksmd_cpu_ms < p->ksmd_cpu_ms)
        return YIELD_UNKNOWN;
    cpu_ms = c->ksmd_cpu_ms - p->ksmd_cpu_ms;
    if (cpu_ms < KSM_YIELD_MIN_CPU_MS) {
        d->keep_prev = true;
        return YIELD_UNKNOWN;
    }
    /* Pages that unmerge (a guest wrote to them, or exited) are not the
     * scan's doing: a fall counts as nothing gained. */
    gained = c->pages_sharing > p->pages_sharing ? c->pages_sharing - p->pages_sharing : 0;
    yield = gained * 1000 / cpu_ms;
    if (yield < KSM_YIELD_LOW_PAGES_PER_CPU_S && c->full_scans < p->full_scans + 2) {
        /* KSM merges a page only when its checksum is unchanged since the
         * previous pass, so the first pass over new memory merges nothing:
         * a low yield is only believed over an interval that holds one
         * whole pass (two ends of passes), a second look at every page
         * that was there when it began. */
        d->keep_prev = true;
        return YIELD_UNKNOWN;
    }
    d->yield_known = true;
    d->yield_pages_per_cpu_s = yield;
    return yield < KSM_YIELD_LOW_PAGES_PER_CPU_S    ? YIELD_LOW
           : yield < KSM_YIELD_HIGH_PAGES_PER_CPU_S ? YIELD_MID
                                                    : YIELD_HIGH;
}

static void set_slow(struct ksm_decision *d)
{
    d->pages_to_scan = KSM_PLENTY_PAGES;
    d->sleep_ms = KSM_PLENTY_SLEEP_MS;
}

static void set_rate(struct ksm_decision *d, uint64_t pages_per_s)
{
    d->sleep_ms = KSM_FAST_SLEEP_MS;
    d->pages_to_scan = max_u64(1, pages_per_s * KSM_FAST_SLEEP_MS / 1000);
}

static uint64_t rate_now(const struct ksm_counters *c)
{
    if (c->run != 1 || c->advisor == KSM_ADVISOR_SCAN_TIME)
        return 0;
    return c->pages_to_scan * 1000 / max_u64(c->sleep_ms, 1);
}

static void decide_tight(const struct ksm_input *in, enum verdict v, struct ksm_decision *d)
{
    uint64_t page = max_u64(in->page_bytes, 1);
    /* Pressure: at least the host's deficit over the horizon. */
    uint64_t floor = clamp_u64(in->reclaim_bytes / page / KSM_TIGHT_HORIZON_S,
                               KSM_TIGHT_MIN_PAGES_PER_S, KSM_MAX_PAGES_PER_S);

    if (v == YIELD_LOW || (v == YIELD_UNKNOWN && in->last_mode == KSM_MODE_NOT_PAYING)) {
        d->mode = KSM_MODE_NOT_PAYING;
        d->reason = v == YIELD_LOW ? "tight: merging stopped paying, slow scan"
                                   : "tight: merging did not pay, slow scan until it does";
        set_slow(d);
        return;
    }
    if (in->has_advisor && in->prefer_advisor) {
        /* The deficit shortens the pass: the floor rate's share of the
         * minimum rate, 60 s at the minimum, never under 10 s. */
        d->mode = KSM_MODE_ADVISOR;
        d->use_advisor = true;
        d->sleep_ms = KSM_FAST_SLEEP_MS;
        d->advisor_target_scan_time_s =
            clamp_u64(KSM_ADVISOR_TIGHT_SCAN_S * KSM_TIGHT_MIN_PAGES_PER_S / floor,
                      KSM_ADVISOR_CRITICAL_SCAN_S, KSM_ADVISOR_TIGHT_SCAN_S);
        d->advisor_max_cpu_pct =
            v == YIELD_HIGH ? KSM_ADVISOR_BOOST_CPU_PCT : KSM_ADVISOR_TIGHT_CPU_PCT;
        d->reason = v == YIELD_HIGH ? "tight: advisor, merging pays well: more CPU"
                                    : "tight: advisor sets the rate";
        return;
    }
    if (v == YIELD_HIGH) {
        d->mode = KSM_MODE_BOOST;
        d->reason = "tight: merging pays well, scan twice as fast";
        set_rate(d, clamp_u64(2 * rate_now(in->cur), floor, KSM_MAX_PAGES_PER_S));
        return;
    }
    d->mode = KSM_MODE_SCAN;
    d->reason = "tight: scan at the pressure's rate";
    set_rate(d, clamp_u64(rate_now(in->cur), floor, KSM_MAX_PAGES_PER_S));
}

void ksm_decide(const struct ksm_input *in, struct ksm_decision *out)
{
    struct ksm_decision d = { .run = 1 };
    enum verdict v = yield_judge(in, &d);

    switch (in->state) {
    case HOST_PLENTY:
        d.mode = KSM_MODE_SLOW;
        d.reason = "plenty: slow background scan";
        set_slow(&d);
        break;
    case HOST_TIGHT:
        decide_tight(in, v, &d);
        break;
    case HOST_CRITICAL:
        d.mode = KSM_MODE_FASTEST;
        d.reason = "critical: fastest scan";
        d.sleep_ms = KSM_FAST_SLEEP_MS;
        if (in->has_advisor && in->prefer_advisor) {
            d.mode = KSM_MODE_ADVISOR;
            d.reason = "critical: advisor, shortest pass";
            d.use_advisor = true;
            d.advisor_target_scan_time_s = KSM_ADVISOR_CRITICAL_SCAN_S;
            d.advisor_max_cpu_pct = KSM_ADVISOR_CRITICAL_CPU_PCT;
        } else {
            set_rate(&d, KSM_MAX_PAGES_PER_S);
        }
        break;
    }
    *out = d;
}

const char *ksm_mode_str(enum ksm_mode m)
{
    static const char *const names[] = {
        [KSM_MODE_START] = "start",     [KSM_MODE_SLOW] = "slow",
        [KSM_MODE_SCAN] = "scan",       [KSM_MODE_BOOST] = "boost",
        [KSM_MODE_NOT_PAYING] = "not-paying", [KSM_MODE_FASTEST] = "fastest",
        [KSM_MODE_ADVISOR] = "advisor", [KSM_MODE_OFF] = "off",
    };
    return (unsigned)m < ARRAY_SIZE(names) && names[m] ? names[m] : "?";
}

void ksmtuned_decide(const struct ksmtuned_conf *c, const struct ksmtuned_input *in,
                     uint64_t *npages, struct ksm_decision *out)
{
    struct ksm_decision d = {0};
    /* sleep_millisecs: KSM_SLEEP_MSEC for 16 GiB (in KiB), more on
     * smaller hosts, never under 10. */
    uint64_t sleep_ms = in->total_kib ? c->sleep_msec * 16 * 1024 * 1024 / in->total_kib : 0;
    uint64_t thres_kib = max_u64(in->total_kib * c->thres_coef_pct / 100, c->thres_const_kib);
    int64_t n;

    if (in->committed_kib + thres_kib < in->total_kib && in->free_kib > thres_kib) {
        d.mode = KSM_MODE_OFF;
        d.reason = "ksmtuned: committed + thres < total and free > thres: stop";
        *out = d;
        return;
    }
    if (in->free_kib < thres_kib) {
        n = (int64_t)*npages + (int64_t)c->npages_boost;
        d.mode = KSM_MODE_BOOST;
        d.reason = "ksmtuned: free < thres: boost";
    } else {
        n = (int64_t)*npages + c->npages_decay;
        d.mode = KSM_MODE_SCAN;
        d.reason = "ksmtuned: free >= thres: decay";
    }
    *npages = n < (int64_t)c->npages_min ? c->npages_min : min_u64((uint64_t)n, c->npages_max);
    d.run = 1;
    d.pages_to_scan = *npages;
    d.sleep_ms = max_u64(sleep_ms, 10);
    *out = d;
}

