/* policy.c: policy v1 (see policy.h).
 *
 * Each VM's wanted size is its need clamped to [min, max]. Memory is given
 * back to a guest at once (it hurts now); it is taken away in bounded steps
 * while the host has plenty (inputs lag, and a mistake should be small),
 * and at once, from the VMs with the most unused memory first, when the
 * host is tight or critical. A VM is never inflated on stats we cannot
 * trust, while paused, or while the guest has not caught up with the last
 * step: the next step starts from the observed actual, not the request. */
#include "policy.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peers.h"

/* A first opinion for one VM, without regard to the others. */
static struct policy_decision decide_one(const struct policy_host *h, const struct policy_vm *v)
{
    uint64_t held = clamp_u64(v->target_bytes, v->min_bytes, v->max_bytes);
    uint64_t want, floor;

    if (!v->running)
        return (struct policy_decision){v->target_bytes, POLICY_NOT_RUNNING};
    if (!v->known)
        return (struct policy_decision){held, held != v->target_bytes ? POLICY_CLAMP
                                                                      : POLICY_UNKNOWN_STATS};
    want = clamp_u64(v->need_bytes, v->min_bytes, v->max_bytes);
    if (v->pressure) {
        /* The guest is hurting now: at least its need, and at least
         * grow_bytes above what it has, so that a guest whose need we
         * underestimate (page-cache thrash) still gets room. */
        want = clamp_u64(max_u64(want, v->actual_bytes + v->grow_bytes), v->min_bytes,
                         v->max_bytes);
        if (want > held)
            return (struct policy_decision){want, POLICY_DEFLATE_PRESSURE};
    }
    if (want > held) {
        /* Growth is triggered by today's need, then sized by the window's
         * peak: after a short host took back down to today's use, the
         * peak alone must not give it straight back (that would flap).
         * The room for a burst is given back once the host has plenty
         * again: a deflation costs the host nothing until the guest
         * touches the pages (issue 9: the simulator's bursty guests were
         * OOM-killed by their first burst after a tight spell). */
        uint64_t now = clamp_u64(v->need_now_bytes + (h->state == HOST_PLENTY ? v->burst_bytes : 0),
                                 v->min_bytes, v->max_bytes);
        if (held != v->target_bytes && now <= held)
            return (struct policy_decision){held, POLICY_CLAMP};
        if (now <= held || (now - held < h->deadband_bytes && held == v->target_bytes))
            return (struct policy_decision){held, POLICY_STEADY};
        return (struct policy_decision){want, POLICY_DEFLATE_NEED};
    }
    if (held != v->target_bytes)
        return (struct policy_decision){held, POLICY_CLAMP};
    if (held - want < h->deadband_bytes)
        return (struct policy_decision){held, POLICY_STEADY};
    if (v->cooldown)
        return (struct policy_decision){held, POLICY_COOLDOWN};
    if (v->settling)
        return (struct policy_decision){held, POLICY_SETTLING};
    /* Never ask for more than one step below what the guest has shown. */
    floor = v->actual_bytes > h->step_bytes ? v->actual_bytes - h->step_bytes : 0;
    want = min_u64(held, max_u64(want, floor));
    if (held - want < h->deadband_bytes)
        return (struct policy_decision){held, POLICY_INFLATING};
    return (struct policy_decision){want, POLICY_INFLATE_IDLE};
}

static uint64_t unused_bytes(const struct policy_vm *v)
{
    uint64_t want = clamp_u64(min_u64(v->need_now_bytes, v->need_bytes), v->min_bytes, v->max_bytes);
    uint64_t have = min_u64(v->actual_bytes, v->target_bytes);

    return have > want ? have - want : 0;
}

/* Which VM gives first: the most unused memory per share (a VM with twice
 * the shares is asked as if it had half the unused memory). */
static uint64_t reclaim_key(const struct policy_vm *v)
{
    return unused_bytes(v) / (v->shares ? v->shares : 1);
}

/* Steady counts too: a guest that freed memory a moment ago is steady
 * by its window's peak, but a short host takes back what it does not use
 * today. Cooldown, settling, pressure and blind VMs never give; nor does
 * one already chosen (its reason is POLICY_INFLATE_RECLAIM then). */
static bool reclaim_candidate(const struct policy_host *h, const struct policy_vm *v,
                              const struct policy_decision *d)
{
    return (d->reason == POLICY_INFLATE_IDLE || d->reason == POLICY_INFLATING || d->reason == POLICY_STEADY) &&
           !v->pressure && unused_bytes(v) >= h->deadband_bytes;
}

/* Host tight or critical: reclaim what the host asks for from the VMs
 * with the most unused memory (per share) first, each down to its want at
 * once; on critical, everything unused. The others keep their step. */
static void reclaim(const struct policy_host *h, size_t n, const struct policy_vm *vms,
                    struct policy_decision *out)
{
    uint64_t deficit = h->reclaim_bytes;

    while (deficit > 0 || h->state == HOST_CRITICAL) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (reclaim_candidate(h, &vms[i], &out[i]) &&
                (best == n || reclaim_key(&vms[i]) > reclaim_key(&vms[best])))
                best = i;
        if (best == n)
            break;
        deficit -= min_u64(deficit, unused_bytes(&vms[best]));
        /* The window's peak protects a guest from a burst it just had;
         * a host that is short now takes back down to today's use. */
        out[best].target_bytes = clamp_u64(min_u64(vms[best].need_now_bytes, vms[best].need_bytes),
                                           vms[best].min_bytes, vms[best].max_bytes);
        out[best].reason = POLICY_INFLATE_RECLAIM;
    }
}

/* What a new target costs the host beyond what the guest holds now. */
static int64_t growth_bytes(const struct policy_vm *v, const struct policy_decision *d)
{
    uint64_t holds = max_u64(v->actual_bytes, clamp_u64(v->target_bytes, v->min_bytes, v->max_bytes));

    return d->target_bytes > holds ? (int64_t)(d->target_bytes - holds) : 0;
}

/* Growth is paid from headroom: guests under pressure first, and they
 * may also take the reserve (a guest OOM now is certain harm, the reserve
 * is there for it) but not more: beyond it the budget's OOM killer takes a
 * whole QEMU, which is worse. Plain need only while it fits. Memory being
 * reclaimed this tick is not counted: it is not free until the guests
 * have inflated. */
static void grant_growth(const struct policy_host *h, const struct policy_vm *vms, size_t n,
                         struct policy_decision *out)
{
    int64_t budget = h->headroom_bytes, rescue = h->headroom_bytes + (int64_t)h->reserve_bytes;

    for (size_t i = 0; i < n; i++) {
        int64_t grow;

        if (out[i].reason != POLICY_DEFLATE_PRESSURE)
            continue;
        grow = growth_bytes(&vms[i], &out[i]);
        if (grow > rescue) {
            /* What is left, if anything: a smaller rescue is still one. */
            uint64_t holds = max_u64(vms[i].actual_bytes, clamp_u64(vms[i].target_bytes, vms[i].min_bytes,
                                                                    vms[i].max_bytes));
            grow = rescue > 0 ? rescue : 0;
            out[i].target_bytes = max_u64(holds + (uint64_t)grow, vms[i].target_bytes);
        }
        rescue -= grow;
        budget -= grow;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t grow;

        if (out[i].reason != POLICY_DEFLATE_NEED && out[i].reason != POLICY_ENTITLED)
            continue;
        grow = growth_bytes(&vms[i], &out[i]);
        if (grow <= budget) {
            budget -= grow;
        } else if (grow > 0) {
            out[i].target_bytes = clamp_u64(vms[i].target_bytes, vms[i].min_bytes, vms[i].max_bytes);
            out[i].reason = POLICY_DEFLATE_DEFERRED;
        }
    }
}

/* What claim c holds at a water level L, in weighted bytes per share: its
 * weighted size is L * shares, where active bytes weigh 1 and the rest k;
 * then clamped to [min, want]. Increasing in L. */
static double alloc_at(const struct policy_claim *c, double k, double level)
{
    double w = level * (double)c->shares, a = (double)c->active_bytes;
    double p = w <= a ? w : a + (w - a) / k;
    double lo = (double)min_u64(c->min_bytes, c->want_bytes), hi = (double)c->want_bytes;

    return p < lo ? lo : p > hi ? hi : p;
}

/* Water-filling: the level at which the allocations add up to the
 * supply, by bisection (64 halvings of a double: exact to the byte for
 * any host), so a thousand VMs cost 64k steps, not a loop per chunk. */
void policy_entitle(uint64_t supply_bytes, unsigned idle_tax_pct, size_t n,
                    const struct policy_claim *c, uint64_t *out)
{
    double k = 100.0 / (double)(100 - (idle_tax_pct > 99 ? 99 : idle_tax_pct));
    double lo = 0, hi = 0, supply = (double)supply_bytes;
    uint64_t sum = 0;

    for (size_t i = 0; i < n; i++) {
        double a = (double)c[i].active_bytes, want = (double)c[i].want_bytes;
        double w = want <= a ? want : a + k * (want - a);
        double level = w / (double)(c[i].shares ? c[i].shares : 1);
        if (level > hi)
            hi = level;
    }
    for (int it = 0; it < 64; it++) {
        double mid = (lo + hi) / 2, total = 0;
        for (size_t i = 0; i < n; i++)
            total += alloc_at(&c[i], k, mid);
        if (total > supply)
            hi = mid;
        else
            lo = mid;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint64_t)(alloc_at(&c[i], k, lo) + 0.5);
        sum += out[i];
    }
    /* Rounding may overshoot by a few bytes: take them from the largest
     * above its floor. (Below the mins, everyone is at min: nothing to do.) */
    while (sum > supply_bytes) {
        size_t big = n;
        for (size_t i = 0; i < n; i++)
            if (out[i] > min_u64(c[i].min_bytes, c[i].want_bytes) && (big == n || out[i] > out[big]))
                big = i;
        if (big == n)
            break;
        uint64_t cut = min_u64(sum - supply_bytes, out[big] - min_u64(c[big].min_bytes, c[big].want_bytes));
        out[big] -= cut;
        sum -= cut;
    }
}

/* A tight or critical host whose VMs want more than it can hold: each VM
 * is held to its entitlement. Supply is what the deciding VMs hold now
 * plus headroom. No VM is entitled to less than its min, nor less than
 * its current use with half its buffer on top (need_now - buffer / 2),
 * and POLICY_FLOOR_MARGIN_BYTES more: below that the guest would be under
 * pressure at once, and answering that pressure is what would then
 * overrun the host. A guest under
 * pressure is capped at its entitlement but never cut below what it
 * holds. On a host with plenty, growth that does not fit merely waits
 * (grant_growth). */
static void entitle(const struct policy_host *h, struct policy_scratch *s, size_t n,
                    const struct policy_vm *vms, struct policy_decision *out)
{
    struct policy_claim *claim = s->claim;
    uint64_t *ent = s->ent, *holds = s->holds;
    int64_t supply = h->headroom_bytes;
    uint64_t wants = 0;
    size_t m = 0;
    size_t *idx = s->idx;

    for (size_t i = 0; i < n; i++) {
        const struct policy_vm *v = &vms[i];
        if (!v->running || !v->known)
            continue;
        holds[m] = max_u64(v->actual_bytes, clamp_u64(v->target_bytes, v->min_bytes, v->max_bytes));
        supply += (int64_t)holds[m];
        wants += out[i].target_bytes;
        uint64_t below = v->grow_bytes / 2 - min_u64(v->grow_bytes / 2, POLICY_FLOOR_MARGIN_BYTES);
        uint64_t floor = v->need_now_bytes - min_u64(v->need_now_bytes, below);
        claim[m] = (struct policy_claim){clamp_u64(max_u64(v->min_bytes, floor), 0, v->max_bytes),
                                         out[i].target_bytes, v->used_bytes, v->shares ? v->shares : 1};
        idx[m++] = i;
    }
    if (supply < 0)
        supply = 0;
    if (m == 0 || wants <= (uint64_t)supply)
        return;
    policy_entitle((uint64_t)supply, h->idle_tax_pct, m, claim, ent);
    for (size_t j = 0; j < m; j++) {
        struct policy_decision *d = &out[idx[j]];
        if (ent[j] + h->deadband_bytes > d->target_bytes)
            continue;
        if (d->reason == POLICY_DEFLATE_PRESSURE) {
            d->target_bytes = max_u64(ent[j], holds[j]);
        } else {
            d->target_bytes = ent[j];
            d->reason = POLICY_ENTITLED;
        }
    }
}

int policy_scratch_reserve(struct policy_scratch *s, size_t n)
{
    size_t cap = s->cap ? s->cap : 16;

    if (n <= s->cap)
        return 0;
    while (cap < n)
        cap *= 2;
    struct policy_claim *claim = realloc(s->claim, cap * sizeof(*claim));
    if (claim)
        s->claim = claim;
    uint64_t *ent = realloc(s->ent, cap * sizeof(*ent));
    if (ent)
        s->ent = ent;
    uint64_t *holds = realloc(s->holds, cap * sizeof(*holds));
    if (holds)
        s->holds = holds;
    size_t *idx = realloc(s->idx, cap * sizeof(*idx));
    if (idx)
        s->idx = idx;
    if (!claim || !ent || !holds || !idx)
        return -ENOMEM;
    s->cap = cap;
    return 0;
}

void policy_scratch_free(struct policy_scratch *s)
{
    if (!s)
        return;
    free(s->claim);
    free(s->ent);
    free(s->holds);
    free(s->idx);
    *s = (struct policy_scratch){0};
}

void policy_decide(const struct policy_host *h, struct policy_scratch *s, size_t n,
                   const struct policy_vm *vms, struct policy_decision *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = decide_one(h, &vms[i]);
    if (h->state != HOST_PLENTY)
        reclaim(h, n, vms, out);
    if (h->state != HOST_PLENTY)
        entitle(h, s, n, vms, out);
    grant_growth(h, vms, n, out);
}

const char *policy_reason_str(enum policy_reason r)
{
    switch (r) {
    case POLICY_STEADY: return "steady";
    case POLICY_NOT_RUNNING: return "not running";
    case POLICY_UNKNOWN_STATS: return "no fresh guest stats";
    case POLICY_INFLATE_IDLE: return "reclaiming unused memory";
    case POLICY_INFLATE_RECLAIM: return "host tight: reclaiming unused memory";
    case POLICY_INFLATING: return "waiting for the guest to inflate";
    case POLICY_COOLDOWN: return "cooldown after pressure";
    case POLICY_SETTLING: return "watching demand before reclaiming";
    case POLICY_DEFLATE_NEED: return "guest needs more memory";
    case POLICY_DEFLATE_PRESSURE: return "guest under pressure";
    case POLICY_DEFLATE_DEFERRED: return "needs more, host has no headroom";
    case POLICY_CLAMP: return "target outside [min, max]";
    case POLICY_PEER: return "peer policy";
    case POLICY_ENTITLED: return "contention: held to its entitlement";
    case POLICY_PINNED: return "pinned by the operator";
    case POLICY_PAUSED: return "management paused by the operator";
    }
    return "?";
}

const char *policy_reason_key(enum policy_reason r)
{
    static const char *const keys[POLICY_REASON_COUNT] = {
        [POLICY_STEADY] = "steady",
        [POLICY_NOT_RUNNING] = "not_running",
        [POLICY_UNKNOWN_STATS] = "unknown_stats",
        [POLICY_INFLATE_IDLE] = "inflate_idle",
        [POLICY_INFLATE_RECLAIM] = "inflate_reclaim",
        [POLICY_INFLATING] = "inflating",
        [POLICY_COOLDOWN] = "cooldown",
        [POLICY_SETTLING] = "settling",
        [POLICY_DEFLATE_NEED] = "deflate_need",
        [POLICY_DEFLATE_PRESSURE] = "deflate_pressure",
        [POLICY_DEFLATE_DEFERRED] = "deflate_deferred",
        [POLICY_CLAMP] = "clamp",
        [POLICY_PEER] = "peer",
        [POLICY_ENTITLED] = "entitled",
        [POLICY_PINNED] = "pinned",
        [POLICY_PAUSED] = "paused",
    };
    return (unsigned)r < POLICY_REASON_COUNT && keys[r] ? keys[r] : "unknown";
}

const char *host_state_str(enum host_state s)
{
    switch (s) {
    case HOST_PLENTY: return "plenty";
    case HOST_TIGHT: return "tight";
    case HOST_CRITICAL: return "critical";
    }
    return "?";
}

void policy_run(enum policy_kind kind, const struct policy_host *host, struct policy_round *round,
                struct policy_scratch *s, size_t n, const struct policy_vm *vms,
                struct policy_decision *out)
{
    switch (kind) {
    case POLICY_KIND_BALLOOND:
        policy_decide(host, s, n, vms, out);
        return;
    case POLICY_KIND_PROXMOX:
        peer_proxmox(host, round, n, vms, out);
        return;
    case POLICY_KIND_MOM:
        peer_mom(host, round, n, vms, out);
        return;
    case POLICY_KIND_STATIC:
        peer_static(host, n, vms, out);
        return;
    }
}

static const char *const kind_names[] = {
    [POLICY_KIND_BALLOOND] = "balloond",
    [POLICY_KIND_PROXMOX] = "proxmox",
    [POLICY_KIND_MOM] = "mom",
    [POLICY_KIND_STATIC] = "static",
};

const char *policy_kind_str(enum policy_kind k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "?";
}

int policy_kind_parse(const char *s, enum policy_kind *out)
{
    for (unsigned i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (enum policy_kind)i;
            return 0;
        }
    return -EINVAL;
}
