/* The tick (core/tick.h) driven with struct literals: the gating order
 * (reset, readiness, adoption, paused, no driver, guard, pin, policy), the
 * staleness, settling and cooldown gates, a stall, dry runs, and a
 * thousand VMs through the heap scratch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "observe.h"
#include "peers.h"
#include "tick.h"

#define M(x) ((uint64_t)(x) << 20)
#define T0 1000000ULL
#define W0 1700000000ULL

/* One VM's state, owned by the test. */
struct one {
    struct vm_observed obs;
    struct control ctl;
    struct vm_estimate est;
};

static const struct host_estimate plenty = {
    .budget_bytes = M(8192), .reserve_bytes = M(400), .used_bytes = M(2048),
    .headroom_bytes = (int64_t)M(5744), .state = HOST_PLENTY,
};
static const struct tick_params params = {
    .kind = POLICY_KIND_BALLOOND, .step_bytes = M(128), .idle_tax_pct = 75,
    .now_ms = T0, .wall_s = W0,
};

/* A running 512 MiB guest, idle (112 MiB used), fresh stats, on target
 * 512 MiB for a minute, its balloon still for a minute. */
static void idle(struct one *o)
{
    *o = (struct one){0};
    o->obs = (struct vm_observed){
        .running = true, .size_bytes = M(512), .have_actual = true, .actual_bytes = M(512),
        .actual_moved_ms = T0 - 60000, .stats_seen = true, .have_stats = true,
        .stats = {.last_update_s = W0, .total_bytes = M(512), .avail_bytes = M(400),
                  .free_bytes = M(300), .oom_kills = QMP_UNKNOWN, .alloc_stalls = QMP_UNKNOWN},
    };
    o->ctl = (struct control){.target_set = true, .target_bytes = M(512), .last_change_ms = T0 - 60000,
                              .guard_actual_bytes = M(512)};
}

static struct tick_vm tv(struct one *o)
{
    return (struct tick_vm){.ready = true, .min_bytes = M(128), .max_bytes = M(512), .shares = 1000,
                            .buffer_pct = 20, .obs = &o->obs, .ctl = &o->ctl, .est = &o->est};
}

/* Runs one tick of one VM on a host; returns the number of actions. */
static size_t run_on(const struct tick_params *p, const struct host_estimate *host, struct tick_vm *v,
                     struct tick_scratch *s)
{
    assert_int_equal(tick_decide(p, host, &(struct policy_round){0}, v, 1, s), 0);
    return s->n_acts;
}

static size_t run(const struct tick_params *p, struct tick_vm *v, struct tick_scratch *s)
{
    return run_on(p, &plenty, v, s);
}

static void test_adopt(void **state)
{
    struct tick_scratch s = {0};
    struct one o;
    struct tick_vm v;

    idle(&o);
    o.ctl = (struct control){0};
    o.obs.actual_bytes = M(480);
    v = tv(&o);
    assert_int_equal(run(&params, &v, &s), 1);
    assert_int_equal(s.acts[0].kind, TICK_ADOPT);
    assert_false(s.acts[0].restored);
    assert_false(s.acts[0].moves); /* adopted where it is: nothing sent */
    assert_int_equal(o.ctl.target_bytes, M(480));
    /* Below its min (a VM found squeezed by someone else): brought up to
     * min, and that is sent (it once was only held, issue 13's note). */
    o.ctl = (struct control){0};
    o.obs.actual_bytes = M(100);
    v = tv(&o);
    run(&params, &v, &s);
    assert_int_equal(s.acts[0].kind, TICK_ADOPT);
    assert_true(s.acts[0].moves);
    assert_int_equal(s.acts[0].target_bytes, M(128));
    o.obs.actual_bytes = M(480);
    /* A saved target (same QEMU) is restored, held within [min, max];
     * a peer's absurd actual too. (The policy then decides in the same
     * tick: the guest needs more than 128 MiB.) */
    o.ctl = (struct control){0};
    v = tv(&o);
    v.have_saved = true;
    v.saved_bytes = M(64);
    v.have_saved_burst = true;
    v.saved_burst_bytes = M(4096); /* an edited file: bounded by the size */
    v.saved_burst_t_s = W0 - 60;
    run(&params, &v, &s);
    assert_true(s.acts[0].restored);
    assert_int_equal(s.acts[0].target_bytes, M(128));
    assert_int_equal(o.obs.history.burst_bytes, M(512));
    assert_int_equal(o.obs.history.burst_t_s, W0 - 60);
    o.ctl = (struct control){0};
    o.obs.actual_bytes = UINT64_MAX - 1;
    v = tv(&o);
    run(&params, &v, &s);
    assert_int_equal(s.acts[0].target_bytes, M(512));
    assert_true(s.acts[0].moves);
    tick_scratch_free(&s);
}

static void test_not_ready(void **state)
{
    struct tick_scratch s = {0};
    struct one o;
    struct tick_vm v;

    idle(&o);
    v = tv(&o);
    v.ready = false;
    assert_int_equal(run(&params, &v, &s), 0);
    assert_int_equal(v.step, TICK_SKIPPED);
    idle(&o);
    o.obs.have_actual = false; /* DeviceNotActive */
    v = tv(&o);
    assert_int_equal(run(&params, &v, &s), 0);
    assert_int_equal(v.step, TICK_SKIPPED);
    idle(&o);
    o.obs.size_bytes = 0; /* QEMU has not said */
    v = tv(&o);
    assert_int_equal(run(&params, &v, &s), 0);
    assert_int_equal(v.step, TICK_SKIPPED);
    tick_scratch_free(&s);
}

static void test_paused_and_no_driver(void **state)
{
    struct tick_scratch s = {0};
    struct one o;
    struct tick_vm v;

    idle(&o);
    o.ctl.target_bytes = M(300); /* would be a stall, were it not paused */
    v = tv(&o);
    v.paused = true;
    assert_int_equal(run(&params, &v, &s), 0);
    assert_int_equal(v.step, TICK_PAUSED);
    assert_int_equal(o.ctl.reason, POLICY_PAUSED);
    idle(&o);
    o.obs.stats_seen = false;
    o.ctl.target_bytes = M(300);
    v = tv(&o);
    assert_int_equal(run(&params, &v, &s), 0);
    assert_int_equal(v.step, TICK_NO_DRIVER);
    assert_int_equal(o.ctl.reason, POLICY_UNKNOWN_STATS);
    /* Nor is a VM without a driver adopted: it holds no target. */
    idle(&o);
    o.obs.stats_seen = false;
    o.ctl = (struct control){0};
    v = tv(&o);
    assert_int_equal(run(&params, &v, &s), 0);
    assert_false(o.ctl.target_set);
    tick_scratch_free(&s);
}

/* A reset comes first, even before the readiness of its actual; not for
 * a paused or pinned VM. */
static void test_reset(void **state)
{
    struct tick_scratch s = {0};
    struct one o;
    struct tick_vm v;

    idle(&o);
    o.ctl.target_bytes = M(300);
    observe_reset(&o.obs); /* what a backend does on the guest's RESET */
    o.obs.have_actual = false;
    v = tv(&o);
    v.max_bytes = M(2048);
    assert_int_equal(run(&params, &v, &s), 1);
    assert_int_equal(v.step, TICK_RESET);
    assert_int_equal(s.acts[0].kind, TICK_GUARD);
    assert_int_equal(s.acts[0].guard, GUARD_RESET);
    assert_int_equal(s.acts[0].from_bytes, M(300));
    assert_int_equal(o.ctl.target_bytes, M(1024));
    assert_false(o.ctl.reset_seen);
    assert_false(o.obs.reset_seen); /* taken by the tick, handled by the guard */
    idle(&o);
    o.ctl.reset_seen = true;
    o.ctl.target_bytes = M(300);
    o.obs.actual_bytes = M(300);
    v = tv(&o);
    v.paused = true;
    assert_int_equal(run(&params, &v, &s), 0);
    assert_int_equal(v.step, TICK_PAUSED);
    assert_true(o.ctl.reset_seen);
    /* Still held for when the VM is resumed, in the control state. */
    assert_int_equal(run(&params, &v, &s), 0);
    assert_true(o.ctl.reset_seen);
    tick_scratch_free(&s);
}

/* Asked for 300 MiB 20 s ago, still at 512. */
static struct tick_vm stalled(struct one *o)
{
    idle(o);
    o->ctl.target_bytes = M(300);
    o->ctl.last_change_ms = T0 - 20000;
    return tv(o);
}

/* A stalled VM: the target becomes actual. */
static void test_stall(void **state)
{
    struct tick_scratch s = {0};
    struct one o;
    struct tick_vm v = stalled(&o);

    assert_int_equal(run(&params, &v, &s), 1);
    assert_int_equal(v.step, TICK_GUARDED);
    assert_int_equal(s.acts[0].guard, GUARD_STALL);
    assert_int_equal(o.ctl.target_bytes, M(512));
    assert_true(o.ctl.stalled);
    tick_scratch_free(&s);
}

/* A host whose /proc/meminfo puts Proxmox's goal at -50.4 MiB (80% of
 * 8192 MiB minus 6604 used), while its budget view is at plenty (goal
 * +4505 MiB); MOM's free (MemFree + Buffers + Cached) is 50%. */
static const struct host_estimate meminfo_short = {
    .budget_bytes = M(8192), .reserve_bytes = M(400), .used_bytes = M(2048),
    .free_bytes = M(6144), .headroom_bytes = (int64_t)M(5744), .state = HOST_PLENTY,
    .mem_total_bytes = M(8192), .mem_used_bytes = M(6604), .mem_free_bytes = M(4096),
};

static size_t run_peer(enum policy_kind kind, bool peer_budget, struct tick_vm *v, struct tick_scratch *s)
{
    struct tick_params p = params;

    p.kind = kind;
    p.peer_budget = peer_budget;
    return run_on(&p, &meminfo_short, v, s);
}

/* A run of a peer is that peer: balloond's guard does not act (a stall,
 * a reset), its [min, max] does not bound the peer's target, and the
 * peer sees /proc/meminfo unless told the budget stands for the host. */
static void test_peer_run(void **state)
{
    struct tick_scratch s = {0};
    struct one o;
    struct tick_vm v;

    /* test_stall's VM under proxmox: shrunk by the goal, from actual
     * (512 MiB - 52848230 bytes), no stall taken. */
    v = stalled(&o);
    assert_int_equal(run_peer(POLICY_KIND_PROXMOX, false, &v, &s), 1);
    assert_int_equal(v.step, TICK_POLICY);
    assert_int_equal(s.acts[0].kind, TICK_POLICY_SET);
    assert_int_equal(o.ctl.target_bytes, M(512) - 52848230);
    assert_false(o.ctl.stalled);
    /* The same host seen as its budget: plenty, a grow; at max, nothing. */
    idle(&o);
    v = tv(&o);
    assert_int_equal(run_peer(POLICY_KIND_PROXMOX, true, &v, &s), 0);
    assert_int_equal(o.ctl.target_bytes, M(512));
    /* Above a lowered max (400): 100 MiB a round, held at 412, not 400. */
    idle(&o);
    v = tv(&o);
    v.max_bytes = M(400);
    assert_int_equal(run_peer(POLICY_KIND_PROXMOX, false, &v, &s), 1);
    assert_int_equal(o.ctl.target_bytes, M(412));
    /* A reset under mom: no boot-safe raise; MOM (50% free: grow) finds
     * the guest at its max and leaves the target where it was. */
    idle(&o);
    o.ctl.target_bytes = M(300);
    observe_reset(&o.obs);
    v = tv(&o);
    assert_int_equal(run_peer(POLICY_KIND_MOM, false, &v, &s), 0);
    assert_int_equal(v.step, TICK_POLICY);
    assert_int_equal(o.ctl.target_bytes, M(300));
    assert_false(o.ctl.reset_seen);
    /* MOM's guest monitor: a sample of balloon_cur and mem_unused every
     * 5 s (the tick runs every second). */
    idle(&o);
    v = tv(&o);
    for (uint64_t t = 0; t <= 10000; t += 1000) {
        struct tick_params p = params;
        p.kind = POLICY_KIND_MOM;
        p.now_ms = T0 + t;
        assert_int_equal(tick_decide(&p, &meminfo_short, &(struct policy_round){0}, &v, 1, &s), 0);
    }
    assert_int_equal(o.ctl.mom.n, 3);
    assert_int_equal(peer_avg_a(&o.ctl.mom), M(512));
    assert_int_equal(peer_avg_b(&o.ctl.mom), M(300));
    tick_scratch_free(&s);
}

/* A pin is set once; a pin below min is held at min, and not resent. */
static void test_pinned(void **state)
{
    struct tick_scratch s = {0};
    struct tick_params p = params;
    struct one o;
    struct tick_vm v;

    idle(&o);
    v = tv(&o);
    v.pin_bytes = M(64);
    assert_int_equal(run(&p, &v, &s), 1);
    assert_int_equal(v.step, TICK_PINNED);
    assert_int_equal(s.acts[0].kind, TICK_PIN);
    assert_int_equal(s.acts[0].target_bytes, M(128));
    assert_int_equal(o.ctl.target_bytes, M(128));
    p.now_ms += 1000;
    o.obs.actual_bytes = M(128);
    o.obs.actual_moved_ms = p.now_ms;
    v = tv(&o);
    v.pin_bytes = M(64);
    assert_int_equal(run(&p, &v, &s), 0);
    tick_scratch_free(&s);
}

/* The policy's gates on one idle VM: stale stats, settling, cooldown. */
static void test_policy_gates(void **state)
{
    struct tick_scratch s = {0};
    struct one o;
    struct tick_vm v;

    idle(&o);
    o.obs.stats.last_update_s = W0 - 600;
    v = tv(&o);
    assert_int_equal(run(&params, &v, &s), 0);
    assert_int_equal(v.step, TICK_POLICY);
    assert_false(o.est.known);
    assert_int_equal(o.ctl.reason, POLICY_UNKNOWN_STATS);
    idle(&o);
    v = tv(&o);
    assert_int_equal(run(&params, &v, &s), 0);
    assert_true(o.est.known);
    assert_int_equal(o.ctl.reason, POLICY_SETTLING);
    idle(&o);
    o.ctl.pressure_ms = T0 - 1000;
    v = tv(&o);
    assert_int_equal(run(&params, &v, &s), 0);
    assert_int_equal(o.ctl.reason, POLICY_COOLDOWN);
    tick_scratch_free(&s);
}

/* A dry run decides and says so, but holds no new target. */
static void test_dry_run(void **state)
{
    struct tick_scratch s = {0};
    struct tick_params p = params;
    struct one o;
    struct tick_vm v;

    p.dry_run = true;
    idle(&o);
    o.ctl.target_bytes = M(300);
    o.ctl.last_change_ms = T0 - 20000;
    v = tv(&o);
    assert_int_equal(run(&p, &v, &s), 1);
    assert_false(s.acts[0].held);
    assert_int_equal(o.ctl.target_bytes, M(300));
    assert_int_equal(o.ctl.last_change_ms, T0);
    tick_scratch_free(&s);
}

/* A thousand VMs, half of them new: the scratch grows on the heap, and
 * every adoption and policy decision is for its own VM. */
static void test_many(void **state)
{
    enum { N = 1000 };
    struct tick_scratch s = {0};
    struct one *o = calloc(N, sizeof(*o));
    struct tick_vm *v = calloc(N, sizeof(*v));

    assert_non_null(o);
    assert_non_null(v);
    for (size_t i = 0; i < N; i++) {
        idle(&o[i]);
        if (i % 2)
            o[i].ctl = (struct control){0};
        v[i] = tv(&o[i]);
    }
    assert_int_equal(tick_decide(&params, &plenty, &(struct policy_round){0}, v, N, &s), 0);
    assert_int_equal(s.n_acts, N / 2);
    for (size_t k = 0; k < s.n_acts; k++) {
        assert_int_equal(s.acts[k].kind, TICK_ADOPT);
        assert_int_equal(s.acts[k].vm % 2, 1);
    }
    for (size_t i = 0; i < N; i++)
        assert_int_equal(v[i].step, TICK_POLICY);
    tick_scratch_free(&s);
    free(o);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adopt),         cmocka_unit_test(test_not_ready),
        cmocka_unit_test(test_paused_and_no_driver), cmocka_unit_test(test_reset),
        cmocka_unit_test(test_stall),         cmocka_unit_test(test_pinned),
        cmocka_unit_test(test_peer_run),
        cmocka_unit_test(test_policy_gates),  cmocka_unit_test(test_dry_run),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
