/* Estimates: host state with hysteresis, and a VM's need from its stats,
 * including unknown and stale stats, deflate-on-oom, the demand window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "estimate.h"

#define M(x) ((uint64_t)(x) << 20)
#define NOW 1764000000ULL

static struct host_sample host_with_cgroup(uint64_t limit, uint64_t usage, uint64_t inactive)
{
    return (struct host_sample){
        .mem = {.total_kib = 24ULL << 20, .avail_kib = 20ULL << 20},
        .has_cgroup = true,
        .cgroup = {.limit_bytes = limit, .usage_bytes = usage, .inactive_file_bytes = inactive},
    };
}

static void test_host_states(void **state)
{
    const struct conf_size reserve = {.set = true, .bytes = M(100)};
    static const struct {
        uint64_t usage_mib;
        enum host_state prev, want;
        int64_t headroom_mib;
    } cases[] = {
        /* budget 1100 - reserve 100 = 1000 usable; tight at 900, plenty below 850 */
        {500, HOST_PLENTY, HOST_PLENTY, 500},
        {899, HOST_PLENTY, HOST_PLENTY, 101},
        {900, HOST_PLENTY, HOST_TIGHT, 100},
        {870, HOST_TIGHT, HOST_TIGHT, 130},   /* hysteresis: stays tight */
        {870, HOST_PLENTY, HOST_PLENTY, 130},
        {849, HOST_TIGHT, HOST_PLENTY, 151},
        {1001, HOST_PLENTY, HOST_CRITICAL, -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct host_sample s = host_with_cgroup(M(1100), M(cases[i].usage_mib) + M(50), M(50));
        struct host_estimate e;
        estimate_host(&s, 0, &reserve, cases[i].prev, 0, &e);
        assert_int_equal(e.budget_bytes, M(1100));
        assert_int_equal(e.used_bytes, M(cases[i].usage_mib));
        assert_int_equal(e.state, cases[i].want);
        assert_int_equal(e.headroom_bytes, cases[i].headroom_mib * (int64_t)M(1));
        if (e.state != HOST_PLENTY && cases[i].usage_mib > 850)
            assert_int_equal(e.reclaim_bytes, M(cases[i].usage_mib - 850));
    }
}

static void test_host_budget_sources(void **state)
{
    const struct conf_size pct = {.set = true, .is_pct = true, .pct = 10};
    struct host_sample s = {.mem = {.total_kib = 1024 * 1024, .avail_kib = 256 * 1024}};
    struct host_estimate e;

    /* No cgroup: the host's MemTotal, used = total - available. */
    estimate_host(&s, 0, &pct, HOST_PLENTY, 0, &e);
    assert_int_equal(e.budget_bytes, M(1024));
    assert_int_equal(e.used_bytes, M(768));
    assert_int_equal(e.reserve_bytes, M(1024) / 10);
    /* A configured budget below MemTotal wins. */
    estimate_host(&s, M(512), &pct, HOST_PLENTY, 0, &e);
    assert_int_equal(e.budget_bytes, M(512));
    assert_int_equal(e.state, HOST_CRITICAL);
    /* An unlimited cgroup: MemTotal. */
    s = host_with_cgroup(UINT64_MAX, M(100), 0);
    estimate_host(&s, 0, &pct, HOST_PLENTY, 0, &e);
    assert_int_equal(e.budget_bytes, 24ULL << 30);
    /* PSI alone can make the host tight or critical. */
    s.has_psi = true;
    s.psi.some.avg10 = 12.0;
    estimate_host(&s, 0, &pct, HOST_PLENTY, 0, &e);
    assert_int_equal(e.state, HOST_TIGHT);
    s.psi.full.avg10 = 6.0;
    estimate_host(&s, 0, &pct, HOST_PLENTY, 0, &e);
    assert_int_equal(e.state, HOST_CRITICAL);
    /* So can the host's own swapping: the last resort is in use. */
    s.has_psi = false;
    estimate_host(&s, 0, &pct, HOST_PLENTY, ESTIMATE_SWAP_TIGHT_PAGES_S - 1, &e);
    assert_int_equal(e.state, HOST_PLENTY);
    estimate_host(&s, 0, &pct, HOST_PLENTY, ESTIMATE_SWAP_TIGHT_PAGES_S, &e);
    assert_int_equal(e.state, HOST_TIGHT);
    estimate_host(&s, 0, &pct, HOST_PLENTY, ESTIMATE_SWAP_CRITICAL_PAGES_S, &e);
    assert_int_equal(e.state, HOST_CRITICAL);
}

static struct vm_observed guest(uint64_t actual, uint64_t total, uint64_t avail)
{
    struct vm_observed o = {
        .running = true, .have_actual = true, .actual_bytes = actual, .size_bytes = M(512),
        .have_stats = true,
        .stats = {.last_update_s = NOW, .total_bytes = total, .avail_bytes = avail,
                  .swap_in_bytes = 0, .major_faults = 0, .oom_kills = QMP_UNKNOWN},
    };
    /* Watched for the whole window, at the same use. */
    for (uint64_t t = NOW - ESTIMATE_WINDOW_S; t <= NOW; t++)
        estimate_history_push(&o.history, t, total - avail);
    return o;
}

static void test_vm_need(void **state)
{
    struct vm_observed o = guest(M(512), M(457), M(400));
    struct vm_estimate e;

    estimate_vm(&o, 20, NOW, &e);
    assert_true(e.known);
    assert_false(e.settling);
    assert_int_equal(e.used_bytes, M(57));
    assert_int_equal(e.buffer_bytes, ESTIMATE_BUFFER_MIN_BYTES); /* 20% of 57 is below the floor */
    assert_int_equal(e.need_bytes, M(57) + M(64) + M(55));       /* + the kernel's reserve */
    assert_false(e.pressure);

    /* Measured reserve is used instead of this report's view. */
    o.reserved_bytes = M(50);
    estimate_vm(&o, 20, NOW, &e);
    assert_int_equal(e.need_bytes, M(57) + M(64) + M(50));

    /* A big guest: 20% of used. */
    o = guest(M(4096), M(4000), M(1000));
    estimate_vm(&o, 20, NOW, &e);
    assert_int_equal(e.buffer_bytes, M(3000) / 100 * 20);
}

static void test_vm_unknown(void **state)
{
    struct vm_observed o = guest(M(512), M(457), M(400));
    struct vm_estimate e;

    o.stats.last_update_s = 0;
    estimate_vm(&o, 20, NOW, &e);
    assert_false(e.known);
    assert_string_equal(e.why_unknown, "guest has not reported stats yet");

    o = guest(M(512), M(457), M(400));
    o.stats.avail_bytes = QMP_UNKNOWN;
    estimate_vm(&o, 20, NOW, &e);
    assert_false(e.known);

    o = guest(M(512), M(457), M(400));
    o.stats.avail_bytes = M(900); /* a guest that lies */
    estimate_vm(&o, 20, NOW, &e);
    assert_false(e.known);

    o = guest(M(512), M(457), M(400));
    estimate_vm(&o, 20, NOW + ESTIMATE_STATS_STALE_S + 1, &e);
    assert_false(e.known);
    assert_string_equal(e.why_unknown, "guest stats are stale");

    o.have_actual = false;
    estimate_vm(&o, 20, NOW, &e);
    assert_false(e.known);
}

static void test_vm_deflate_on_oom(void **state)
{
    /* Balloon of 312 MiB inside a guest that still counts it in MemTotal. */
    struct vm_observed o = guest(M(200), M(457), M(50));
    struct vm_estimate e;

    o.deflate_on_oom = true;
    estimate_history_clear(&o.history);
    estimate_observe(&o, true);
    estimate_vm(&o, 20, NOW, &e);
    assert_int_equal(e.used_bytes, M(407) - M(312));
    /* The kernel's reserve is size - MemTotal: 55 MiB. */
    assert_int_equal(o.reserved_bytes, M(55));
    assert_int_equal(e.need_bytes, M(95) + M(64) + M(55));
}

/* Issue 9's flapping guest: 512 MiB, MemTotal 457, using 30 MiB, target
 * 128 -> 204 -> 168 -> 132 -> 168 ... with "used 0" samples. Its reports
 * lag the balloon by a second: a report taken while the balloon moved is
 * off by the whole move. Only settled reports count, so use and need
 * hold still (on 6bdabea: used 106, 0, 0, 36 and need 225, 119, 119, 155). */
static void test_vm_deflate_on_oom_lag(void **state)
{
    static const struct {
        uint64_t actual_mib, raw_used_mib; /* the report's total - available */
        bool settled;
    } steps[] = {
        {128, 414, true},  /* balloon 384 + 30 used */
        {204, 414, false}, /* deflated to 204; the report still shows 384 */
        {204, 338, false},
        {168, 338, false}, /* inflated to 168 (balloon 344): "used 0" */
        {132, 374, false}, /* balloon 380; the report shows 344 */
        {132, 410, true},
    };
    struct vm_observed o = guest(M(128), M(457), M(457 - 414));
    struct vm_estimate e;

    o.deflate_on_oom = true;
    estimate_history_clear(&o.history);
    for (uint64_t t = NOW - 10; t < NOW; t++) {
        o.stats.last_update_s = t;
        estimate_observe(&o, true);
    }
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        o.actual_bytes = M(steps[i].actual_mib);
        o.stats.last_update_s = NOW + i;
        o.stats.avail_bytes = M(457) - M(steps[i].raw_used_mib);
        estimate_observe(&o, steps[i].settled);
        estimate_vm(&o, 20, NOW + i, &e);
        assert_true(e.known);
        assert_int_equal(e.used_bytes, M(30));
        assert_int_equal(e.peak_used_bytes, M(30));
        assert_int_equal(e.rise_bytes_per_s, 0);
        assert_int_equal(e.need_bytes, M(30) + M(64) + M(55));
        assert_int_equal(e.need_now_bytes, M(30) + M(64) + M(55));
    }
}

/* A run of growth faster than 32 MiB/s (then at least 16) is a burst; one the 64 MiB
 * buffer does not cover gets room for itself and 32 MiB of slack, kept
 * while the host has plenty. Issue 9's guest: 200 MiB at full speed
 * after 15 s idle. */
static void test_vm_burst(void **state)
{
    static const struct {
        const char *what;
        uint64_t step_mib_per_s; /* the rise, from 30 MiB idle */
        uint64_t steps;
        uint64_t later_s;        /* estimated this long after the rise */
        uint64_t burst_mib, room_mib;
    } cases[] = {
        {"200 MiB at once", 200, 1, 20, 200, 200 + 32 - 64},
        {"kept in full for 80 min", 200, 1, ESTIMATE_BURST_KEEP_S + ESTIMATE_BURST_HALFLIFE_S - 1, 200, 168},
        {"then halved", 200, 1, ESTIMATE_BURST_KEEP_S + ESTIMATE_BURST_HALFLIFE_S, 100, 68},
        {"and halved again: the buffer covers it", 200, 1, ESTIMATE_BURST_KEEP_S + 2 * ESTIMATE_BURST_HALFLIFE_S, 50, 0},
        {"100 MiB/s for 3 s: the whole run", 100, 3, 20, 300, 268},
        {"50 MiB/s for 2 s", 50, 2, 20, 100, 68},
        {"32 MiB/s for 10 s: followed", 32, 10, 20, 0, 0},
        {"25 MiB/s for 12 s (test_reclaim_idle): followed", 25, 12, 20, 0, 0},
        {"65 MiB at once: just beyond the buffer", 65, 1, 20, 65, 33},
        {"22 MiB/s for 10 s (density's cache): followed", 22, 10, 20, 0, 0},
        {"idle", 0, 0, 20, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vm_observed o = guest(M(512), M(457), M(427));
        struct vm_estimate e;
        uint64_t t = NOW, used = M(30);

        for (uint64_t k = 0; k < cases[i].steps; k++)
            estimate_history_push(&o.history, ++t, used += M(cases[i].step_mib_per_s));
        /* then freed, and idle at 30 MiB */
        for (uint64_t k = 1; k <= cases[i].later_s; k++)
            estimate_history_push(&o.history, t + k, M(30));
        o.stats.last_update_s = t + cases[i].later_s;
        estimate_vm(&o, 20, t + cases[i].later_s, &e);
        print_message("%s\n", cases[i].what);
        assert_int_equal(e.burst_bytes, M(cases[i].burst_mib));
        assert_int_equal(e.burst_room_bytes, M(cases[i].room_mib));
        assert_int_equal(e.peak_used_bytes, M(30));
        /* Plenty keeps the room, a tight host takes back to today's use
         * and the plain buffer. */
        assert_int_equal(e.need_bytes, M(30) + M(64) + M(cases[i].room_mib) + M(55));
        assert_int_equal(e.need_now_bytes, M(30) + M(64) + M(55));
    }
}

/* A burst held back at the floor is one burst: the guest grows 200 ->
 * 460 MiB at once and stops with 4 MiB available (what fitted), stays
 * there a second while the rescue deflates, then takes the rest, 736 MiB
 * (the simulator's bursty guests, whose restarted workload refills what
 * it lost). Read through estimate_observe, as the daemon reads reports. */
static void test_vm_burst_at_floor(void **state)
{
    static const struct {
        const char *what;
        uint64_t avail_mib[4];   /* available at 200, 460, 460, 736 MiB used */
        uint64_t burst_mib;
    } cases[] = {
        {"held at the floor, then the rest: one burst", {300, 4, 4, 200}, 536},
        {"just under the floor (31 MiB)", {300, 31, 31, 200}, 536},
        {"at 32 MiB available it had room: two runs, the larger kept", {300, 32, 32, 200}, 276},
        {"room left and a pause: two runs", {300, 100, 100, 200}, 276},
    };
    static const uint64_t used_mib[4] = {200, 460, 460, 736};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vm_observed o = {.running = true, .have_actual = true, .actual_bytes = M(1024),
                                .size_bytes = M(1024), .have_stats = true};
        print_message("%s\n", cases[i].what);
        for (unsigned k = 0; k < 4; k++) {
            uint64_t avail = M(cases[i].avail_mib[k]);
            o.stats = (struct qmp_guest_stats){.last_update_s = NOW + k, .total_bytes = M(used_mib[k]) + avail,
                                               .avail_bytes = avail, .oom_kills = QMP_UNKNOWN};
            estimate_observe(&o, true);
        }
        assert_int_equal(estimate_history_burst(&o.history, NOW + 4), M(cases[i].burst_mib));
    }
    /* A run that falls back at the floor (the guest's OOM killer freed
     * what it took) ends there. */
    struct vm_history h = {0};
    estimate_history_push_avail(&h, NOW, M(200), false);
    estimate_history_push_avail(&h, NOW + 1, M(460), true);
    estimate_history_push_avail(&h, NOW + 2, M(210), true);
    estimate_history_push_avail(&h, NOW + 3, M(300), false);
    assert_int_equal(estimate_history_burst(&h, NOW + 3), M(260));
}

static void test_vm_window_and_rise(void **state)
{
    struct vm_observed o = guest(M(512), M(457), M(400));
    struct vm_estimate e;

    /* 300 MiB used 5 s ago: still in the window, the need covers it. */
    o.history.n = 0;
    o.history.head = 0;
    for (uint64_t t = NOW - 12; t <= NOW; t++)
        estimate_history_push(&o.history, t, t == NOW - 5 ? M(300) : M(57));
    estimate_vm(&o, 20, NOW, &e);
    assert_int_equal(e.peak_used_bytes, M(300));
    /* 20% of 300 is 60, the floor 64; and 57 -> 300 in a second is a
     * burst of 243 MiB: the guest keeps room for another, 243 + 32 in
     * all. */
    assert_int_equal(e.burst_bytes, M(243));
    assert_int_equal(e.need_bytes, M(300) + M(243) + M(32) + M(55));
    /* 11 s later it has left the window. */
    estimate_history_push(&o.history, NOW + 6, M(57));
    o.stats.last_update_s = NOW + 6;
    estimate_vm(&o, 20, NOW + 6, &e);
    assert_int_equal(e.peak_used_bytes, M(57));

    /* Watched for 3 s only: settling. */
    o = guest(M(512), M(457), M(400));
    o.history.n = 0;
    estimate_history_push(&o.history, NOW - 3, M(57));
    estimate_history_push(&o.history, NOW, M(57));
    estimate_vm(&o, 20, NOW, &e);
    assert_true(e.settling);

    /* Rising by 20 MiB/s: served two seconds ahead. */
    o = guest(M(512), M(457), M(380));
    o.have_prev = true;
    o.prev = o.stats;
    o.prev.last_update_s = NOW - 1;
    o.prev.avail_bytes = M(400);
    estimate_vm(&o, 20, NOW, &e);
    assert_int_equal(e.rise_bytes_per_s, M(20));
    assert_int_equal(e.need_bytes, M(77) + M(64) + M(55) + M(40));
}

static void test_vm_pressure(void **state)
{
    struct vm_observed o = guest(M(200), M(150), M(20));
    struct vm_estimate e;

    estimate_vm(&o, 20, NOW, &e);
    assert_true(e.pressure);
    assert_string_equal(e.pressure_why, "available memory below half the buffer");

    o = guest(M(512), M(457), M(300));
    o.have_prev = true;
    o.prev = o.stats;
    o.prev.last_update_s = NOW - 1;
    o.stats.swap_in_bytes = 4096;
    estimate_vm(&o, 20, NOW, &e);
    assert_true(e.pressure);
    assert_string_equal(e.pressure_why, "guest is swapping in");

    o.stats.swap_in_bytes = 0;
    o.stats.major_faults = ESTIMATE_MAJFLT_PER_S - 1;
    estimate_vm(&o, 20, NOW, &e);
    assert_false(e.pressure);
    o.stats.major_faults = ESTIMATE_MAJFLT_PER_S;
    estimate_vm(&o, 20, NOW, &e);
    assert_true(e.pressure);
    assert_string_equal(e.pressure_why, "major faults rising");

    o.stats.major_faults = 0;
    o.prev.oom_kills = 0;
    o.stats.oom_kills = 1;
    estimate_vm(&o, 20, NOW, &e);
    assert_string_equal(e.pressure_why, "guest OOM kill");
    o.stats.oom_kills = 0;
    o.prev.alloc_stalls = 5;
    o.stats.alloc_stalls = 9;
    estimate_vm(&o, 20, NOW, &e);
    assert_string_equal(e.pressure_why, "guest allocations stalling");
    o.stats.alloc_stalls = QMP_UNKNOWN;

    /* Unknown counters are never a signal. */
    o.stats.major_faults = QMP_UNKNOWN;
    o.prev.major_faults = QMP_UNKNOWN;
    o.stats.swap_in_bytes = QMP_UNKNOWN;
    estimate_vm(&o, 20, NOW, &e);
    assert_false(e.pressure);
}

static void test_history_ring(void **state)
{
    struct vm_history h = {0};
    uint64_t span;

    assert_int_equal(estimate_history_peak(&h, NOW, 10, &span), 0);
    assert_int_equal(span, 0);
    for (uint64_t t = 0; t < 3 * ESTIMATE_HISTORY; t++)
        estimate_history_push(&h, NOW + t, t);
    assert_int_equal(h.n, ESTIMATE_HISTORY);
    estimate_history_push(&h, NOW, 999999); /* not newer: ignored */
    assert_int_equal(estimate_history_peak(&h, NOW + 3 * ESTIMATE_HISTORY - 1, 10, &span),
                     3 * ESTIMATE_HISTORY - 1);
    assert_int_equal(span, ESTIMATE_HISTORY - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_states),     cmocka_unit_test(test_host_budget_sources),
        cmocka_unit_test(test_vm_need),         cmocka_unit_test(test_vm_unknown),
        cmocka_unit_test(test_vm_deflate_on_oom), cmocka_unit_test(test_vm_window_and_rise),
        cmocka_unit_test(test_vm_pressure),     cmocka_unit_test(test_history_ring),
        cmocka_unit_test(test_vm_deflate_on_oom_lag), cmocka_unit_test(test_vm_burst), cmocka_unit_test(test_vm_burst_at_floor),
    };
    return cmocka_run_group_tests_name("estimate", tests, NULL, NULL);
}
