/* runner.c: see runner.h. The daemon's side of each tick is the daemon's
 * own code: the guest model's reports go through core/observe.h as QMP's
 * do in src/backend/qmp/qmp_vm.c, and the decision is core/tick.h's tick_decide(), as in
 * src/mgr.c; only the models and the measuring are the simulator's. */
#include "runner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe.h"
#include "tick.h"
#include "util.h"

/* The clocks never start at 0, which the daemon's code reads as "never". */
#define MONO0_MS 1000000ULL
#define WALL0_S 1700000000ULL
#define TICK_MS 1000

struct sim_setup *sim_setup_new(size_t n_vms)
{
    struct sim_setup *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->vms = calloc(n_vms ? n_vms : 1, sizeof(*s->vms));
    if (!s->vms) {
        free(s);
        return NULL;
    }
    s->n_vms = n_vms;
    /* balloond's defaults, from the daemon's own table. */
    struct conf *c = conf_new_default();
    if (!c) {
        free(s->vms);
        free(s);
        return NULL;
    }
    s->reserve = c->host.reserve;
    s->step_bytes = c->host.step_bytes;
    s->idle_tax_pct = c->host.idle_tax_pct;
    conf_free(c);
    s->stats_lag_s = 1;
    /* Measured by bench/density.sh: QEMU's own memory per 512 MiB TCG guest. */
    s->host.qemu_overhead_bytes = 72 * MIB;
    return s;
}

void sim_setup_free(struct sim_setup *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_pts; i++)
        free(s->pts[i]);
    free(s->pts);
    trace_free(s->trace);
    free(s->vms);
    free(s);
}

void sim_vm_spec_default(struct sim_vm_spec *v, const char *name, uint64_t size_bytes)
{
    struct conf *c = conf_new_default();
    struct conf_vm d = c ? c->defaults : (struct conf_vm){0};

    conf_free(c);
    *v = (struct sim_vm_spec){
        .max_bytes = conf_size_resolve(&d.max, size_bytes),
        .buffer_pct = d.buffer_pct,
        .shares = d.shares,
    };
    /* Not conf_size_resolve(): the golden runs were made with this
     * rounding (bytes below the daemon's by up to 24: 3 on 512 MiB). */
    v->min_bytes = d.min.is_pct ? v->max_bytes / 100 * d.min.pct : d.min.bytes;
    snprintf(v->name, sizeof(v->name), "%s", name);
    guest_params_default(&v->guest, size_bytes);
}

void sim_result_clear(struct sim_result *r)
{
    free(r->events);
    memset(r, 0, sizeof(*r));
}

/* ---- the models ---------------------------------------------------------- */

static void model_step(struct sim *s, struct sim_vm *v, size_t i)
{
    const struct sim_vm_spec *sp = v->spec;
    uint64_t anon = 0, cache = 0;

    /* Drawn every second under every policy: the same demand for all. */
    v->wanted = workload_at(&v->wl, s->t_s, &anon, &cache);
    if (s->t_s == sp->start_s && v->g.state == GUEST_OFF)
        guest_start(&v->g, &sp->guest, s->now_ms);
    if (sp->reset_s && s->t_s == sp->reset_s && guest_alive(&v->g)) {
        guest_reset(&v->g, s->now_ms);
        /* The RESET event: the old stats mean nothing now. */
        observe_reset(&v->obs);
        v->have_report = false;
    }
    v->want_anon = anon;
    v->want_cache = cache;
    guest_step(&v->g, s->now_ms, TICK_MS, anon, cache);
    (void)i;
}

/* The largest QEMU goes first, as the kernel's OOM killer picks it. */
static void host_step(struct sim *s)
{
    size_t n = s->setup->n_vms;
    uint64_t ram = 0;
    size_t alive = 0;

    hostmodel_tick(&s->host, TICK_MS);
    for (size_t i = 0; i < n; i++)
        if (guest_alive(&s->vms[i].g)) {
            ram += guest_ram_bytes(&s->vms[i].g);
            alive++;
        }
    while (hostmodel_charge(&s->host, ram, alive) > 0 && alive > 0) {
        size_t big = n;
        for (size_t i = 0; i < n; i++)
            if (guest_alive(&s->vms[i].g) &&
                (big == n || guest_ram_bytes(&s->vms[i].g) > guest_ram_bytes(&s->vms[big].g)))
                big = i;
        ram -= guest_ram_bytes(&s->vms[big].g);
        alive--;
        guest_kill(&s->vms[big].g);
        s->res.host_oom_kills++;
    }
}

/* ---- what the daemon samples (src/backend/qmp/qmp_vm.c, through core/observe.h) ------ */

static void observe(struct sim *s, struct sim_vm *v)
{
    struct vm_observed *o = &v->obs;
    struct qmp_guest_stats st;

    o->running = guest_alive(&v->g);
    o->size_bytes = v->spec->guest.size_bytes;
    if (v->g.state != GUEST_UP) {
        observe_no_actual(o); /* DeviceNotActive until the driver loads */
        return;
    }
    observe_actual(o, v->g.actual_bytes, s->now_ms);
    /* The report read now is the one made stats_lag_s ago. */
    guest_stats(&v->g, s->wall_s, &st);
    if (s->setup->stats_lag_s) {
        struct qmp_guest_stats fresh = st;
        if (!v->have_report) {
            /* The driver reported as it bound (the guest is up): the
             * daemon knows the driver speaks, though the report is read
             * only a second later. */
            o->stats_seen = true;
            v->report = fresh;
            v->have_report = true;
            return;
        }
        st = v->report;
        v->report = fresh;
    }
    observe_stats(o, &st, s->now_ms, s->wall_s);
}

static void host_observe(struct sim *s)
{
    struct host_sample hs;
    enum host_state was = s->have_he ? s->he.state : HOST_PLENTY;

    hostmodel_sample(&s->host, &hs);
    estimate_host(&hs, 0, &s->setup->reserve, was, hostmodel_swap_pages_per_s(&s->host, TICK_MS),
                  &s->he);
    s->have_he = true;
}

/* ---- what the daemon decides (core/tick.h, as src/mgr.c) ------------- */

/* The daemon drops VMs whose QEMU is gone when their socket goes: only
 * running QEMUs are ready. */
static struct tick_vm tick_vm(struct sim_vm *v)
{
    const struct sim_vm_spec *sp = v->spec;

    return (struct tick_vm){
        .ready = guest_alive(&v->g),
        .min_bytes = sp->min_bytes,
        .max_bytes = sp->max_bytes,
        .shares = sp->shares,
        .buffer_pct = sp->buffer_pct,
        .obs = &v->obs,
        .ctl = &v->ctl,
        .est = &v->est,
    };
}

/* The tick's target changes go to the guests (the adoption is the
 * daemon's own bookkeeping: nothing is sent). */
static int decide(struct sim *s)
{
    struct tick_params p = {
        .kind = s->kind,
        .step_bytes = s->setup->step_bytes,
        .idle_tax_pct = s->setup->idle_tax_pct,
        /* The model's host is the budget: the peers see it as theirs. */
        .peer_budget = true,
        .now_ms = s->now_ms,
        .wall_s = s->wall_s,
    };
    size_t n = s->setup->n_vms;

    for (size_t i = 0; i < n; i++)
        s->tv[i] = tick_vm(&s->vms[i]);
    if (tick_decide(&p, &s->he, &s->round, s->tv, n, &s->scratch) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        s->vms[i].estimated = s->tv[i].step == TICK_POLICY;
    for (size_t k = 0; k < s->scratch.n_acts; k++) {
        const struct tick_action *a = &s->scratch.acts[k];
        struct sim_vm *v = &s->vms[a->vm];
        if ((a->kind == TICK_ADOPT && !a->moves) || !a->held)
            continue;
        if (a->kind == TICK_GUARD)
            s->res.guard[a->guard]++;
        s->res.changes++;
        guest_set_target(&v->g, v->ctl.target_bytes, s->now_ms + TICK_DECIDE_DELAY_MS);
    }
    return 0;
}

/* ---- what the benchmark measures (bench/density.sh's header) --------- */

static int event_open(struct sim *s, struct sim_vm *v, size_t i, uint64_t freed)
{
    struct sim_result *r = &s->res;
    size_t slot = 0;

    if (r->n_events == r->cap_events) {
        size_t cap = r->cap_events ? r->cap_events * 2 : 64;
        struct sim_event *p = realloc(r->events, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        r->events = p;
        r->cap_events = cap;
    }
    r->events[r->n_events] = (struct sim_event){
        .vm = (uint32_t)i,
        .free_no = ++v->n_frees,
        .t_free_s = s->t_s,
        .freed_bytes = freed,
        .actual_at_free_bytes = v->g.actual_bytes,
        .t_reclaimed_s = -1,
    };
    /* A VM with every slot busy lets its oldest wait unresolved. */
    while (slot < ARRAY_SIZE(v->open) - 1 && v->open[slot])
        slot++;
    v->open[slot] = ++r->n_events;
    return 0;
}

static int measure(struct sim *s)
{
    for (size_t i = 0; i < s->setup->n_vms; i++) {
        struct sim_vm *v = &s->vms[i];
        if (v->estimated && v->est.pressure)
            s->res.pressure_s++;
        if (v->g.state == GUEST_UP && v->obs.have_actual)
            s->res.reclaimed_mib_s += (v->spec->guest.size_bytes -
                                       min_u64(v->spec->guest.size_bytes, v->g.actual_bytes)) >> 20;
        if (v->obs.have_stats && v->obs.have_actual && v->g.state == GUEST_UP &&
            v->obs.stats.avail_bytes < v->obs.actual_bytes / 20)
            s->res.low_avail_s++;
        for (size_t k = 0; k < ARRAY_SIZE(v->open); k++) {
            struct sim_event *e;
            if (!v->open[k])
                continue;
            e = &s->res.events[v->open[k] - 1];
            if (v->g.state == GUEST_UP &&
                v->g.actual_bytes + e->freed_bytes / 10 * 8 <= e->actual_at_free_bytes) {
                e->t_reclaimed_s = (int64_t)s->t_s;
                v->open[k] = 0;
            }
        }
    }
    return 0;
}

/* Free events: anon demand that falls by SIM_FREE_EVENT_MIN_BYTES in a
 * second, in a guest that is up (memload's free phases). */
static int detect_frees(struct sim *s, const uint64_t *anon_before)
{
    for (size_t i = 0; i < s->setup->n_vms; i++) {
        struct sim_vm *v = &s->vms[i];
        if (v->g.state == GUEST_UP && !v->g.workload_dead &&
            anon_before[i] >= v->want_anon + SIM_FREE_EVENT_MIN_BYTES &&
            event_open(s, v, i, anon_before[i] - v->want_anon) < 0)
            return -ENOMEM;
    }
    return 0;
}

static void sim_free_scratch(struct sim *s)
{
    free(s->vms);
    free(s->tv);
    tick_scratch_free(&s->scratch);
}

int sim_run(const struct sim_setup *setup, enum policy_kind kind, uint64_t seed,
            sim_tick_fn on_tick, void *userdata, struct sim_result *res)
{
    size_t n = setup->n_vms;
    struct sim s = {.setup = setup, .kind = kind};
    uint64_t *anon_before = calloc(n + 1, sizeof(*anon_before));
    int r = 0;

    s.vms = calloc(n + 1, sizeof(*s.vms));
    s.tv = calloc(n + 1, sizeof(*s.tv));
    if (!anon_before || !s.vms || !s.tv) {
        r = -ENOMEM;
        goto out;
    }
    hostmodel_init(&s.host, &setup->host);
    for (size_t i = 0; i < n; i++) {
        s.vms[i].spec = &setup->vms[i];
        s.vms[i].wl = setup->vms[i].wl;
        workload_reset(&s.vms[i].wl, seed, i);
    }
    s.res.kind = kind;
    s.res.limit_bytes = setup->host.budget_bytes;
    for (s.t_s = 0; s.t_s <= setup->duration_s && r == 0; s.t_s++) {
        s.now_ms = MONO0_MS + s.t_s * TICK_MS;
        s.wall_s = WALL0_S + s.t_s;
        for (size_t i = 0; i < n; i++) {
            anon_before[i] = s.vms[i].wanted ? s.vms[i].want_anon : 0;
            model_step(&s, &s.vms[i], i);
        }
        host_step(&s);
        for (size_t i = 0; i < n; i++)
            observe(&s, &s.vms[i]);
        host_observe(&s);
        r = decide(&s);
        if (r == 0)
            r = detect_frees(&s, anon_before);
        if (r == 0)
            r = measure(&s);
        if (on_tick)
            on_tick(&s, userdata);
    }
    for (size_t i = 0; i < n; i++) {
        s.res.guest_oom_kills += s.vms[i].g.oom_kills;
        if (s.vms[i].g.state == GUEST_DEAD)
            s.res.qemus_lost++;
    }
    s.res.peak_bytes = s.host.peak_bytes;
out:
    free(anon_before);
    sim_free_scratch(&s);
    if (r < 0) {
        sim_result_clear(&s.res);
        return r;
    }
    *res = s.res;
    return 0;
}
