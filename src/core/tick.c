/* tick.c: see tick.h. */
#include "tick.h"

#include <errno.h>
#include <stdlib.h>

#include "peers.h"
#include "util.h"
#include "vmem.h"

void tick_scratch_free(struct tick_scratch *s)
{
    if (!s)
        return;
    free(s->pv);
    free(s->out);
    free(s->active);
    free(s->acts);
    policy_scratch_free(&s->policy);
    *s = (struct tick_scratch){0};
}

/* Room for n VMs: at most two actions each (adopt, then one change). */
static int scratch_reserve(struct tick_scratch *s, size_t n)
{
    size_t cap = s->cap ? s->cap : 16;

    if (n <= s->cap && s->pv)
        return 0;
    while (cap < n)
        cap *= 2;
    struct policy_vm *pv = realloc(s->pv, cap * sizeof(*pv));
    if (pv)
        s->pv = pv;
    struct policy_decision *out = realloc(s->out, cap * sizeof(*out));
    if (out)
        s->out = out;
    size_t *active = realloc(s->active, cap * sizeof(*active));
    if (active)
        s->active = active;
    struct tick_action *acts = realloc(s->acts, 2 * cap * sizeof(*acts));
    if (acts)
        s->acts = acts;
    if (!pv || !out || !active || !acts)
        return -ENOMEM;
    s->cap = cap;
    return 0;
}

uint64_t tick_clamp(uint64_t min_bytes, uint64_t max_bytes, uint64_t target_bytes)
{
    if (max_bytes == 0)
        return 0;
    return clamp_u64(target_bytes, max_u64(min_bytes, 1), max_bytes);
}

static bool is_peer(const struct tick_params *p)
{
    return p->kind != POLICY_KIND_BALLOOND;
}

/* balloond's targets stay within [min, max]; a peer's within what QEMU
 * takes (its own arithmetic decides the rest). */
static uint64_t bound(const struct tick_params *p, const struct tick_vm *v, uint64_t target_bytes)
{
    if (is_peer(p))
        return tick_clamp(1, v->obs->size_bytes ? v->obs->size_bytes : v->max_bytes, target_bytes);
    return tick_clamp(v->min_bytes, v->max_bytes, target_bytes);
}

static struct control_limits limits(const struct tick_vm *v)
{
    return (struct control_limits){v->min_bytes, v->max_bytes, v->shares, v->pin_bytes > 0};
}

/* A new target: held (within the VM's bounds), unless in a dry run. */
static void record(const struct tick_params *p, struct tick_scratch *s, size_t i, struct tick_vm *v,
                   struct tick_action a)
{
    a.vm = i;
    a.from_bytes = v->ctl->target_bytes;
    if (p->dry_run) {
        v->ctl->last_change_ms = p->now_ms;
    } else {
        /* Virtio-mem alone moves whole blocks: rounded up, so that the
         * target held is one the VM can reach (no false stall). */
        uint64_t held = vmem_round_target(&v->obs->vmem, v->obs->has_balloon,
                                          bound(p, v, a.target_bytes), v->max_bytes);
        a.held = held != 0;
        if (a.held)
            control_set_target(v->ctl, held, p->now_ms);
    }
    s->acts[s->n_acts++] = a;
}

/* Guest protection; true when it set the target. */
static bool guard(const struct tick_params *p, struct tick_scratch *s, size_t i, struct tick_vm *v)
{
    struct control_limits l = limits(v);
    uint64_t target;
    enum guard_action a = control_guard(v->ctl, v->obs, v->obs->actual_moved_ms, &l, p->now_ms, &target);

    if (a == GUARD_NONE)
        return false;
    record(p, s, i, v, (struct tick_action){.kind = TICK_GUARD, .guard = a, .target_bytes = target});
    return true;
}

/* The first target: saved before a restart (with the burst learned then),
 * or the size it has now.
 * actual is the peer's word (it may say 2^64-2): held within bounds. */
static void adopt(const struct tick_params *p, struct tick_scratch *s, size_t i, struct tick_vm *v)
{
    uint64_t t = bound(p, v, v->have_saved ? v->saved_bytes : v->obs->actual_bytes);

    /* The burst learned of the same QEMU process, bounded by the VM's
     * size (the state file may be edited). */
    if (v->have_saved && v->have_saved_burst) {
        v->obs->history.burst_bytes = min_u64(v->saved_burst_bytes, v->obs->size_bytes);
        v->obs->history.burst_t_s = v->saved_burst_t_s;
    }

    s->acts[s->n_acts++] = (struct tick_action){.vm = i, .kind = TICK_ADOPT, .restored = v->have_saved,
                                                .moves = t != v->obs->actual_bytes,
                                                .from_bytes = v->ctl->target_bytes, .target_bytes = t,
                                                .held = true};
    control_set_target(v->ctl, t, p->now_ms);
}

/* A decision (pin or policy): recorded, and acted on when it changes the target. */
static void decided(const struct tick_params *p, struct tick_scratch *s, size_t i, struct tick_vm *v,
                    enum tick_kind kind, const struct policy_decision *d)
{
    if (control_decided(v->ctl, d, p->now_ms, p->wall_s))
        record(p, s, i, v, (struct tick_action){.kind = kind, .reason = d->reason,
                                                .target_bytes = d->target_bytes});
}

/* The operator's pin, held within [min, max] before it is compared, so
 * that a pin below min is not taken for a new decision every tick. */
static void pin(const struct tick_params *p, struct tick_scratch *s, size_t i, struct tick_vm *v)
{
    uint64_t bytes = tick_clamp(v->min_bytes, v->max_bytes, v->pin_bytes);
    struct policy_decision d = {control_pin_target(v->ctl, bytes, p->now_ms), POLICY_PINNED};

    decided(p, s, i, v, TICK_PIN, &d);
}

/* One VM up to the policy: returns the step it reached. */
static enum tick_step gate(const struct tick_params *p, struct tick_scratch *s, size_t i, struct tick_vm *v)
{
    struct control *c = v->ctl;

    /* The backend saw the reset; the control state keeps it until handled. */
    if (v->obs->reset_seen) {
        c->reset_seen = true;
        v->obs->reset_seen = false;
    }
    /* A reset is handled at once: the rebooting guest's driver has no
     * balloon to report yet, and will read the size we set now. */
    if (is_peer(p))
        c->reset_seen = false; /* a peer's run has no guard */
    if (v->ready && c->reset_seen && c->target_set && !v->paused && !v->pin_bytes && guard(p, s, i, v))
        return TICK_RESET;
    if (!v->ready || !v->obs->have_actual || v->obs->size_bytes == 0)
        return TICK_SKIPPED;
    /* No balloon stats ever: a target would not be reached, and would
     * squeeze the guest's boot when its driver loads. Not even adopted:
     * a target held for a guest without a driver would be shown (and
     * clamped) but never reached. */
    if (!v->obs->stats_seen) {
        c->reason = POLICY_UNKNOWN_STATS;
        return TICK_NO_DRIVER;
    }
    if (!c->target_set)
        adopt(p, s, i, v);
    if (v->paused) {
        c->reason = POLICY_PAUSED;
        return TICK_PAUSED;
    }
    if (!is_peer(p) && guard(p, s, i, v))
        return TICK_GUARDED;
    if (v->pin_bytes) {
        pin(p, s, i, v);
        return TICK_PINNED;
    }
    return TICK_POLICY;
}

static struct policy_host policy_host(const struct tick_params *p, const struct host_estimate *he)
{
    return (struct policy_host){
        .state = he->state,
        .headroom_bytes = he->headroom_bytes,
        .reserve_bytes = he->reserve_bytes,
        .reclaim_bytes = he->reclaim_bytes,
        .step_bytes = p->step_bytes,
        .deadband_bytes = CONTROL_DEADBAND_BYTES,
        .now_ms = p->now_ms,
        .budget_bytes = p->peer_budget ? he->budget_bytes : he->mem_total_bytes,
        .used_bytes = p->peer_budget ? he->used_bytes : he->mem_used_bytes,
        .free_bytes = p->peer_budget ? he->free_bytes : he->mem_free_bytes,
        .idle_tax_pct = p->idle_tax_pct,
    };
}

/* MOM's guest monitor: balloon_cur and mem_unused every 5 s, when the
 * guest reported (a guest without stats gives MOM no sample); the
 * policy reads their average. */
static void mom_samples(const struct tick_params *p, struct control *c, struct policy_vm *pv)
{
    if (p->kind != POLICY_KIND_MOM)
        return;
    if (pv->known)
        peer_sample(&c->mom, p->now_ms, pv->actual_bytes, pv->free_bytes);
    pv->n_avg = c->mom.n;
    pv->avg_actual_bytes = peer_avg_a(&c->mom);
    pv->avg_free_bytes = peer_avg_b(&c->mom);
}

int tick_decide(const struct tick_params *p, const struct host_estimate *he, struct policy_round *round,
                struct tick_vm *vms, size_t n, struct tick_scratch *s)
{
    size_t k = 0;

    if (scratch_reserve(s, n) < 0 || policy_scratch_reserve(&s->policy, n) < 0)
        return -ENOMEM;
    s->n_acts = 0;
    for (size_t i = 0; i < n; i++) {
        struct tick_vm *v = &vms[i];
        struct control_limits l = limits(v);
        v->step = gate(p, s, i, v);
        if (v->step != TICK_POLICY)
            continue;
        estimate_vm(v->obs, v->buffer_pct, p->wall_s, v->est);
        control_input(v->ctl, v->obs, v->est, &l, p->now_ms, &s->pv[k]);
        mom_samples(p, v->ctl, &s->pv[k]);
        s->active[k++] = i;
    }
    struct policy_host ph = policy_host(p, he);
    policy_run(p->kind, &ph, round, &s->policy, k, s->pv, s->out);
    for (size_t j = 0; j < k; j++)
        decided(p, s, s->active[j], &vms[s->active[j]], TICK_POLICY_SET, &s->out[j]);
    return 0;
}
