/* Policy v1, table-driven, exact numbers. Sizes in MiB for reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy.h"

/* VM() sets running and known; a case may override them. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define M(x) ((uint64_t)(x) << 20)
#define VM(min_, max_, need_, actual_, target_, ...)                                          \
    {.min_bytes = M(min_), .max_bytes = M(max_), .need_bytes = M(need_), .need_now_bytes = M(need_), \
     .actual_bytes = M(actual_), .target_bytes = M(target_), .shares = 1000, .running = true, \
     .known = true, \
     __VA_ARGS__}


/* policy_decide() with its scratch on the heap, as the tick gives it. */
static void decide(const struct policy_host *h, size_t n, const struct policy_vm *vms,
                   struct policy_decision *out)
{
    struct policy_scratch s = {0};

    assert_int_equal(policy_scratch_reserve(&s, n), 0);
    policy_decide(h, &s, n, vms, out);
    policy_scratch_free(&s);
}

static const struct policy_host plenty = {
    .state = HOST_PLENTY, .headroom_bytes = (int64_t)M(1024), .reserve_bytes = M(64),
    .step_bytes = M(128), .deadband_bytes = M(16)};

struct one_case {
    const char *what;
    struct policy_vm vm;
    uint64_t want_mib;
    enum policy_reason want_reason;
};

static const struct one_case one_cases[] = {
    {"idle guest: one bounded step below actual", VM(128, 512, 100, 512, 512), 384, POLICY_INFLATE_IDLE},
    {"last step not reached yet: wait", VM(128, 512, 128, 500, 384), 384, POLICY_INFLATING},
    {"step never goes below the need", VM(128, 512, 300, 350, 350), 300, POLICY_INFLATE_IDLE},
    {"need under min: min wins", VM(256, 512, 50, 300, 300), 256, POLICY_INFLATE_IDLE},
    {"unknown stats: hold", VM(128, 512, 100, 512, 300, .known = false), 300, POLICY_UNKNOWN_STATS},
    {"unknown stats, target above max: clamp", VM(128, 512, 0, 512, 600, .known = false), 512, POLICY_CLAMP},
    {"paused: hold", VM(128, 512, 100, 512, 512, .running = false), 512, POLICY_NOT_RUNNING},
    {"needs more: deflate at once", VM(128, 512, 400, 256, 256), 400, POLICY_DEFLATE_NEED},
    {"needs a little more: dead band", VM(128, 512, 266, 256, 256), 256, POLICY_STEADY},
    {"on target: steady", VM(128, 512, 250, 256, 256), 256, POLICY_STEADY},
    {"pressure: need and one step more", VM(128, 512, 300, 256, 256, .pressure = true, .grow_bytes = M(128)), 384, POLICY_DEFLATE_PRESSURE},
    {"pressure: up to max only", VM(128, 512, 500, 480, 480, .pressure = true, .grow_bytes = M(128)), 512, POLICY_DEFLATE_PRESSURE},
    {"pressure at max: nothing left to give", VM(128, 512, 300, 512, 512, .pressure = true, .grow_bytes = M(128)), 512, POLICY_STEADY},
    {"cooldown: no inflation", VM(128, 512, 128, 400, 400, .cooldown = true), 400, POLICY_COOLDOWN},
    {"settling: no inflation", VM(128, 512, 128, 400, 400, .settling = true), 400, POLICY_SETTLING},
    {"settling does not stop deflation", VM(128, 512, 450, 400, 400, .settling = true), 450, POLICY_DEFLATE_NEED},
    {"pressure: small grow, need wins", VM(128, 512, 300, 256, 256, .pressure = true, .grow_bytes = M(16)), 300, POLICY_DEFLATE_PRESSURE},
    {"cooldown does not stop deflation", VM(128, 512, 450, 400, 400, .cooldown = true), 450, POLICY_DEFLATE_NEED},
    {"target above a lowered max: clamp", VM(128, 512, 300, 600, 600), 512, POLICY_CLAMP},
    {"min above max: max wins", VM(600, 512, 100, 512, 512), 512, POLICY_STEADY},
};

static void test_one_vm(void **state)
{
    for (size_t i = 0; i < sizeof(one_cases) / sizeof(one_cases[0]); i++) {
        const struct one_case *c = &one_cases[i];
        struct policy_decision d;

        decide(&plenty, 1, &c->vm, &d);
        print_message("  %-45s -> %4llu MiB, %s\n", c->what, (unsigned long long)(d.target_bytes >> 20),
                      policy_reason_str(d.reason));
        assert_int_equal(d.target_bytes, M(c->want_mib));
        assert_int_equal(d.reason, c->want_reason);
    }
}

/* Growth beyond headroom: pressure is served, plain need waits. */
static void test_headroom(void **state)
{
    struct policy_host h = plenty;
    struct policy_vm vms[] = {
        VM(128, 512, 400, 256, 256),                   /* wants +144 */
        VM(128, 512, 300, 256, 256, .pressure = true, .grow_bytes = M(128)), /* wants +128 */
        VM(128, 512, 140, 128, 128),                   /* dead band */
    };
    struct policy_decision d[3];

    h.headroom_bytes = (int64_t)M(100);
    decide(&h, 3, vms, d);
    assert_int_equal(d[0].target_bytes, M(256));
    assert_int_equal(d[0].reason, POLICY_DEFLATE_DEFERRED);
    assert_int_equal(d[1].target_bytes, M(384));
    assert_int_equal(d[1].reason, POLICY_DEFLATE_PRESSURE);
    assert_int_equal(d[2].reason, POLICY_STEADY);

    /* With room for both, both grow; a guest still holding memory from
     * before (actual above target) costs only what it does not hold. */
    h.headroom_bytes = (int64_t)M(300);
    decide(&h, 3, vms, d);
    assert_int_equal(d[0].target_bytes, M(400));
    assert_int_equal(d[0].reason, POLICY_DEFLATE_NEED);
    vms[0].actual_bytes = M(380);
    h.headroom_bytes = (int64_t)M(150); /* pressure takes 128, 20 left for [0] */
    decide(&h, 3, vms, d);
    assert_int_equal(d[0].target_bytes, M(400));

    /* Pressure may take the reserve, not more: headroom 20 + reserve 64
     * gives 84 of the 128 asked. */
    h.headroom_bytes = (int64_t)M(20);
    decide(&h, 3, vms, d);
    assert_int_equal(d[1].target_bytes, M(256 + 84));
    assert_int_equal(d[1].reason, POLICY_DEFLATE_PRESSURE);
    /* Into the reserve already: nothing more, the target stays. */
    h.headroom_bytes = -(int64_t)M(80);
    decide(&h, 3, vms, d);
    assert_int_equal(d[1].target_bytes, M(256));
}

/* Tight: the deficit comes from the VM with the most unused memory, at
 * once; the others keep their bounded step. */
static void test_tight_reclaim(void **state)
{
    struct policy_host h = plenty;
    struct policy_vm vms[] = {
        VM(128, 512, 200, 300, 300), /* unused 100 */
        VM(64, 512, 128, 512, 512),  /* unused 384 */
        VM(64, 512, 400, 512, 512, .pressure = true, .grow_bytes = M(128)),
    };
    struct policy_decision d[3];

    h.state = HOST_TIGHT;
    h.reclaim_bytes = M(200);
    h.headroom_bytes = (int64_t)M(50);
    decide(&h, 3, vms, d);
    assert_int_equal(d[1].target_bytes, M(128));
    assert_int_equal(d[1].reason, POLICY_INFLATE_RECLAIM);
    assert_int_equal(d[0].target_bytes, M(200));
    assert_int_equal(d[0].reason, POLICY_INFLATE_IDLE);
    assert_int_equal(d[2].target_bytes, M(512)); /* under pressure: never reclaimed */

    /* A deficit larger than the biggest: the next one is taken too. */
    h.reclaim_bytes = M(450);
    decide(&h, 3, vms, d);
    assert_int_equal(d[1].target_bytes, M(128));
    assert_int_equal(d[0].target_bytes, M(200));
    assert_int_equal(d[0].reason, POLICY_INFLATE_RECLAIM);
}

/* Shares order the reclaim: 300 unused at 3000 shares gives after 150
 * unused at 1000. */
/* A guest that freed memory a moment ago is steady by its window's peak;
 * a tight host still takes it back down to today's use, once: the peak
 * alone does not give it back on the next tick. */
static void test_tight_reclaims_recent_free(void **state)
{
    struct policy_host h = plenty;
    struct policy_vm v = VM(64, 512, 410, 420, 420, .need_now_bytes = M(150));
    struct policy_decision d;

    decide(&h, 1, &v, &d); /* plenty: the peak holds */
    assert_int_equal(d.reason, POLICY_STEADY);
    assert_int_equal(d.target_bytes, M(420));
    h.state = HOST_TIGHT;
    h.reclaim_bytes = M(100);
    decide(&h, 1, &v, &d);
    assert_int_equal(d.reason, POLICY_INFLATE_RECLAIM);
    assert_int_equal(d.target_bytes, M(150));
    v.target_bytes = M(150);
    v.actual_bytes = M(150);
    h.state = HOST_PLENTY;
    decide(&h, 1, &v, &d);
    assert_int_equal(d.reason, POLICY_STEADY);
    assert_int_equal(d.target_bytes, M(150));
    v.need_now_bytes = M(200); /* today's need rises: given, up to the peak */
    decide(&h, 1, &v, &d);
    assert_int_equal(d.reason, POLICY_DEFLATE_NEED);
    assert_int_equal(d.target_bytes, M(410));
}

static void test_tight_reclaim_by_shares(void **state)
{
    struct policy_host h = plenty;
    struct policy_vm vms[] = {
        VM(64, 512, 100, 400, 400, .shares = 3000), /* unused 300, 100 per 1000 shares */
        VM(64, 512, 100, 250, 250),                 /* unused 150 */
    };
    struct policy_decision d[2];

    h.state = HOST_TIGHT;
    h.reclaim_bytes = M(100);
    decide(&h, 2, vms, d);
    assert_int_equal(d[1].target_bytes, M(100));
    assert_int_equal(d[1].reason, POLICY_INFLATE_RECLAIM);
    assert_int_equal(d[0].target_bytes, M(400) - M(128)); /* its usual step only */
    assert_int_equal(d[0].reason, POLICY_INFLATE_IDLE);
}

static void test_critical_takes_all_unused(void **state)
{
    struct policy_host h = plenty;
    struct policy_vm vms[] = {
        VM(128, 512, 200, 300, 300),
        VM(64, 512, 128, 512, 512),
        VM(64, 512, 100, 512, 512, .known = false), /* blind: never */
        VM(64, 512, 100, 512, 512, .cooldown = true),
    };
    struct policy_decision d[4];

    h.state = HOST_CRITICAL;
    h.headroom_bytes = -(int64_t)M(10);
    decide(&h, 4, vms, d);
    assert_int_equal(d[0].target_bytes, M(200));
    assert_int_equal(d[1].target_bytes, M(128));
    assert_int_equal(d[2].target_bytes, M(512));
    assert_int_equal(d[2].reason, POLICY_UNKNOWN_STATS);
    assert_int_equal(d[3].target_bytes, M(512));
    assert_int_equal(d[3].reason, POLICY_COOLDOWN);
}

/* Entitlement, in MiB with 1 MiB chunks. */
static void entitle_mib(uint64_t supply, unsigned tax, size_t n, const struct policy_claim *c,
                        uint64_t *out_mib)
{
    struct policy_claim cm[8] = {0};
    uint64_t out[8] = {0};

    for (size_t i = 0; i < n; i++)
        cm[i] = (struct policy_claim){M(c[i].min_bytes), M(c[i].want_bytes), M(c[i].active_bytes),
                                      c[i].shares};
    policy_entitle(M(supply), tax, n, cm, out);
    for (size_t i = 0; i < n; i++)
        out_mib[i] = (out[i] + M(1) / 2) >> 20; /* to the nearest MiB */
}

static void test_entitle(void **state)
{
    static const struct {
        const char *what;
        uint64_t supply_mib;
        unsigned tax;
        struct policy_claim c[2]; /* min, want, active (MiB), shares */
        uint64_t want[2];
    } cases[] = {
        {"no tax, equal shares: equal split", 1000, 0, {{100, 800, 600, 1000}, {100, 800, 100, 1000}}, {500, 500}},
        /* Idle bytes weigh 4: equal weighted size at 600 + 4 (A - 600) =
         * 100 + 4 (B - 100), A + B = 1000: A = 687.5, B = 312.5. */
        {"75% tax: the busy VM keeps more", 1000, 75, {{100, 800, 600, 1000}, {100, 800, 100, 1000}}, {688, 313}},
        {"shares 2:1, no tax", 900, 0, {{0, 2000, 2000, 2000}, {0, 2000, 2000, 1000}}, {600, 300}},
        {"a small want is met, the rest goes on", 1000, 75, {{100, 200, 200, 1000}, {100, 900, 900, 1000}}, {200, 800}},
        {"supply below the mins: the mins", 150, 75, {{100, 800, 600, 1000}, {100, 800, 100, 1000}}, {100, 100}},
        {"min above want: want", 1000, 0, {{300, 200, 200, 1000}, {100, 900, 900, 1000}}, {200, 800}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t out[2];
        entitle_mib(cases[i].supply_mib, cases[i].tax, 2, cases[i].c, out);
        print_message("  %-40s -> %llu, %llu MiB\n", cases[i].what, (unsigned long long)out[0],
                      (unsigned long long)out[1]);
        assert_int_equal(out[0], cases[i].want[0]);
        assert_int_equal(out[1], cases[i].want[1]);
    }
}

/* Contention in policy_decide: wants beyond what the VMs hold plus
 * headroom are cut to the entitlements; growth within it still waits for
 * headroom unless the guest is under pressure. */
static void test_decide_contention(void **state)
{
    struct policy_host h = plenty;
    struct policy_vm vms[] = {
        /* busy: wants +388; floor = need_now - buffer / 2 + margin = 850 - 50 + 8 */
        VM(128, 1024, 900, 512, 512, .used_bytes = M(800), .need_now_bytes = M(850), .grow_bytes = M(100)),
        /* idle-ish: its step is 384; floor 164 - 32 + 8 = 140 */
        VM(128, 1024, 300, 512, 512, .used_bytes = M(100), .need_now_bytes = M(164), .grow_bytes = M(64)),
    };
    struct policy_decision d[2];

    h.idle_tax_pct = 75;
    h.headroom_bytes = 0;
    decide(&h, 2, vms, d); /* plenty: no entitlement, the growth waits */
    assert_int_equal(d[0].reason, POLICY_DEFLATE_DEFERRED);
    assert_int_equal(d[1].target_bytes, M(384));
    assert_int_equal(d[1].reason, POLICY_INFLATE_IDLE);

    h.state = HOST_TIGHT; /* supply 1024 (what both hold) < wants 900 + 384 */
    decide(&h, 2, vms, d);
    print_message("  contention: %llu (%s), %llu (%s)\n", (unsigned long long)(d[0].target_bytes >> 20),
                  policy_reason_str(d[0].reason), (unsigned long long)(d[1].target_bytes >> 20),
                  policy_reason_str(d[1].reason));
    /* Equal shares per weighted byte would give A 800 and B 275 (A = 100
     * + 4 (B - 100)), 51 too many: A is at its floor (808, its use plus
     * half its buffer and the margin), so B gives: 1024 - 808 = 216. A's
     * growth to 808 waits for headroom. */
    assert_int_equal(d[0].target_bytes, M(512));
    assert_int_equal(d[0].reason, POLICY_DEFLATE_DEFERRED);
    assert_int_equal(d[1].reason, POLICY_ENTITLED);
    assert_int_equal(d[1].target_bytes, M(216));

    /* Supply below the floors: nobody is squeezed under use + half a
     * buffer + the margin; what is over waits for the host's own reclaim. */
    h.headroom_bytes = -(int64_t)M(200);
    decide(&h, 2, vms, d);
    assert_int_equal(d[1].target_bytes, M(140));
    /* A buffer under twice the margin: the floor is need_now itself. */
    vms[1].grow_bytes = M(10);
    decide(&h, 2, vms, d);
    assert_int_equal(d[1].target_bytes, M(164));
}

/* Issue 9's guest: 512 MiB, 30 MiB used, a 200 MiB burst learned: need
 * 30 + 64 buffer + 168 room (200 + 32 slack - 64) + 55 reserve = 317,
 * need_now (no room) 149. Plenty keeps the burst's room, and gives it
 * back after a tight host took it; tight and critical take it (need
 * only). */
static void test_burst_room(void **state)
{
    static const struct {
        const char *what;
        enum host_state host;
        uint64_t reclaim_mib, actual_mib, target_mib;
        uint64_t want_mib;
        enum policy_reason want_reason;
    } cases[] = {
        {"plenty, idle at max: one step, not below 384", HOST_PLENTY, 0, 512, 512, 384, POLICY_INFLATE_IDLE},
        {"plenty, next step stops at the burst's room", HOST_PLENTY, 0, 384, 384, 317, POLICY_INFLATE_IDLE},
        {"plenty, at the burst's room: steady", HOST_PLENTY, 0, 317, 317, 317, POLICY_STEADY},
        {"tight: the room is taken, down to need_now", HOST_TIGHT, 256, 317, 317, 149, POLICY_INFLATE_RECLAIM},
        {"critical: the same", HOST_CRITICAL, 0, 317, 317, 149, POLICY_INFLATE_RECLAIM},
        {"tight, after the reclaim: stays", HOST_TIGHT, 256, 149, 149, 149, POLICY_STEADY},
        {"plenty again: the room is given back", HOST_PLENTY, 0, 149, 149, 317, POLICY_DEFLATE_NEED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct policy_host h = plenty;
        struct policy_vm vm = VM(128, 512, 317, cases[i].actual_mib, cases[i].target_mib,
                                 .need_now_bytes = M(149), .burst_bytes = M(168));
        struct policy_decision d;

        h.state = cases[i].host;
        h.reclaim_bytes = M(cases[i].reclaim_mib);
        decide(&h, 1, &vm, &d);
        print_message("%s\n", cases[i].what);
        assert_int_equal(d.target_bytes, M(cases[i].want_mib));
        assert_int_equal(d.reason, cases[i].want_reason);
    }
}

static void test_reason_strings(void **state)
{
    for (int r = POLICY_STEADY; r < POLICY_REASON_COUNT; r++) {
        assert_string_not_equal(policy_reason_key(r), "unknown");
        assert_string_not_equal(policy_reason_str(r), "?");
    }
    assert_string_equal(host_state_str(HOST_TIGHT), "tight");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_vm),
        cmocka_unit_test(test_headroom),
        cmocka_unit_test(test_tight_reclaim),
        cmocka_unit_test(test_tight_reclaims_recent_free),
        cmocka_unit_test(test_tight_reclaim_by_shares),
        cmocka_unit_test(test_critical_takes_all_unused),
        cmocka_unit_test(test_entitle),
        cmocka_unit_test(test_decide_contention),
        cmocka_unit_test(test_burst_room),
        cmocka_unit_test(test_reason_strings),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
