/* Peer policies (Proxmox, MOM, static), table-driven, exact numbers.
 *
 * Proxmox's own cases (pve-manager test/balloontest.pl) are in MB of
 * 1000 * 1000 bytes, as there; pvestatd's per-round cap is 100 MiB, so
 * a case that hits the cap expects 100 MiB where balloontest.pl (which
 * passes MB(100) as maxchange) expects 100 MB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "peers.h"

#pragma GCC diagnostic ignored "-Woverride-init"

#define MB(x) ((uint64_t)(x) * 1000000)
#define MIB(x) ((uint64_t)(x) << 20)

/* A running VM with fresh stats, its target where the guest is. */
#define VM(min_mb, max_mb, actual_mb, free_mb, shares_, ...)                                    \
    {.min_bytes = MB(min_mb), .max_bytes = MB(max_mb), .actual_bytes = MB(actual_mb),             \
     .target_bytes = MB(actual_mb), .free_bytes = MB(free_mb), .shares = shares_, .running = true, \
     .known = true, __VA_ARGS__}

#define NVM 3
#define KEEP POLICY_STEADY
#define PEER POLICY_PEER

struct peer_case {
    const char *what;
    struct policy_host host;
    size_t n;
    struct policy_vm vms[NVM];
    uint64_t want[NVM];
    enum policy_reason why[NVM];
};

typedef void peer_fn(const struct policy_host *, struct policy_round *, size_t,
                     const struct policy_vm *, struct policy_decision *);

static void run_cases(peer_fn *fn, const struct peer_case *cases, size_t ncases)
{
    for (size_t c = 0; c < ncases; c++) {
        const struct peer_case *k = &cases[c];
        struct policy_round round = {0};
        struct policy_decision d[NVM];

        fn(&k->host, &round, k->n, k->vms, d);
        print_message("  %s\n", k->what);
        for (size_t i = 0; i < k->n; i++) {
            print_message("    vm%zu -> %llu, %s\n", i, (unsigned long long)d[i].target_bytes,
                          policy_reason_str(d[i].reason));
            assert_int_equal(d[i].target_bytes, k->want[i]);
            assert_int_equal(d[i].reason, k->why[i]);
        }
        assert_int_equal(round.last_ms, k->host.now_ms);
    }
}

/* Proxmox: a host of 10000 MB whose goal (80% of it minus used) is g. */
#define GOAL(g) {.now_ms = 1, .budget_bytes = MB(10000), .used_bytes = MB(8000) - (g)}

/* balloontest.pl's test_status1..3 (min and max from there). */
#define S1_100 VM(1000, 2000, 1000, 0, 2000)
#define S1_101 VM(1000, 2000, 1000, 0, 1000)
#define S2_100 VM(2000, 2000, 2000, 0, 2000)
#define S3_101 VM(1000, 2000, 1007, 0, 1000)
#define S3_102 VM(1000, 2000, 1000, 512, 1000)

static const struct peer_case pve_cases[] = {
    {"published: goal 0 does nothing", GOAL(0), 2, {S1_100, S1_101},
     {MB(1000), MB(1000)}, {KEEP, KEEP}},
    {"published: +90 MB split 2:1 by shares", GOAL(MB(90)), 2, {S1_100, S1_101},
     {MB(1060), MB(1030)}, {PEER, PEER}},
    {"published: +150 MB", GOAL(MB(150)), 2, {S1_100, S1_101},
     {MB(1100), MB(1050)}, {PEER, PEER}},
    {"published: a VM at its max is done, the other takes all", GOAL(MB(18)), 2,
     {S2_100, S1_101}, {MB(2000), MB(1018)}, {KEEP, PEER}},
    {"cap: +500 MB gives 100 MiB in one round", GOAL(MB(500)), 2, {S2_100, S1_101},
     {MB(2000), MB(1000) + MIB(100)}, {KEEP, PEER}},
    {"published: pressure VMs first, the roomy one untouched", GOAL(MB(11)), 3,
     {S2_100, S3_101, VM(1000, 2000, 1000, 512, 1000, .target_bytes = MB(1100))},
     {MB(2000), MB(1018), MB(1100)}, {KEEP, PEER, KEEP}},
    {"published: +80 MB", GOAL(MB(80)), 3, {S2_100, S3_101, S3_102},
     {MB(2000), MB(1087), MB(1000)}, {KEEP, PEER, KEEP}},
    {"+200 MB: pressure VM capped, the rest stays unplaced", GOAL(MB(200)), 3,
     {S2_100, S3_101, S3_102}, {MB(2000), MB(1007) + MIB(100), MB(1000)}, {KEEP, PEER, KEEP}},
    /* 300 MB free is more than 25% of balloon_min (250), though less
     * than 25% of maxmem (500): roomy, so the grow goes to the other. */
    {"pressure means free <= 25% of balloon_min", GOAL(MB(90)), 2,
     {VM(1000, 2000, 1000, 300, 2000), S1_101}, {MB(1000), MB(1090)}, {KEEP, PEER}},
    {"nobody under pressure: all VMs share the grow", GOAL(MB(90)), 2,
     {VM(1000, 2000, 1000, 512, 2000), VM(1000, 2000, 1000, 512, 1000)},
     {MB(1060), MB(1030)}, {PEER, PEER}},
    {"dead band: +10 MiB does nothing", GOAL(MIB(10)), 2, {S1_100, S1_101},
     {MB(1000), MB(1000)}, {KEEP, KEEP}},
    {"dead band: -10 MiB does nothing", GOAL(-(int64_t)MIB(10)), 2,
     {VM(1000, 2000, 1300, 512, 1000), VM(1000, 2000, 1300, 512, 1000)},
     {MB(1300), MB(1300)}, {KEEP, KEEP}},
    /* 10485763 * 2/3 = 6990508.67 and * 1/3 = 3495254.33: truncated. */
    {"+10 MiB + 3: past the dead band, shares truncated", GOAL(MIB(10) + 3), 2,
     {S1_100, S1_101}, {MB(1000) + 6990508, MB(1000) + 3495254}, {PEER, PEER}},
    {"shrink -200 MB: the roomy VM first, 100 MiB at most", GOAL(-(int64_t)MB(200)), 2,
     {VM(1000, 2000, 1300, 0, 1000), VM(1000, 2000, 1300, 512, 1000)},
     {MB(1300), MB(1300) - MIB(100)}, {KEEP, PEER}},
    /* Desired 1360 and 1180 first: the 2000-share VM is above its
     * actual (done, no growing in a shrink); the other gives it all. */
    {"shrink -60 MB, none roomy: fewer shares give", GOAL(-(int64_t)MB(60)), 2,
     {VM(1000, 2000, 1300, 0, 2000), VM(1000, 2000, 1300, 0, 1000)},
     {MB(1300), MB(1240)}, {KEEP, PEER}},
    /* pvestatd has no freemem for a VM without stats: under pressure,
     * it takes part (2000 + 1000 shares of 90 MB). */
    {"not running: left alone; no stats: takes part", GOAL(MB(90)), 3,
     {S1_100, VM(1000, 2000, 1000, 0, 1000, .running = false, .target_bytes = MB(1500)),
      VM(1000, 2000, 1000, 0, 1000, .known = false)},
     {MB(1060), MB(1500), MB(1030)}, {PEER, KEEP, PEER}},
    /* The stale 512 MB free does not count: the no-stats VM is in the
     * pressure list and gets the whole grow; the roomy one nothing. */
    {"no stats counts as pressure, stale free ignored", GOAL(MB(90)), 2,
     {VM(1000, 2000, 1000, 512, 1000, .known = false), VM(1000, 2000, 1000, 512, 1000)},
     {MB(1090), MB(1000)}, {PEER, KEEP}},
    {"shares 0 and no min: left alone", GOAL(MB(90)), 3,
     {S1_100, VM(1000, 2000, 1000, 0, 0), VM(0, 2000, 1000, 0, 1000)},
     {MB(1090), MB(1000), MB(1000)}, {PEER, KEEP, KEEP}},
    /* Desired is max (1000), one 100 MiB step from 1200 is 1095.14 MB:
     * upstream moves by maxchange, it does not clamp at once. */
    {"above max: 100 MiB a round, not clamped", GOAL(-(int64_t)MB(50)), 1,
     {VM(500, 1000, 1200, 0, 1000)}, {MB(1200) - MIB(100)}, {PEER}},
    {"above max: shrunk 100 MiB even in a grow", GOAL(MB(90)), 1,
     {VM(500, 1000, 1200, 0, 1000)}, {MB(1200) - MIB(100)}, {PEER}},
    /* alloc 90 - 200 MB: desired below min, raised to min (1000); one
     * step of 100 MiB from 800. */
    {"below min: grown 100 MiB a round in a grow", GOAL(MB(90)), 1,
     {VM(1000, 2000, 800, 0, 1000)}, {MB(800) + MIB(100)}, {PEER}},
    {"below min: left there in a shrink", GOAL(-(int64_t)MB(200)), 1,
     {VM(1000, 2000, 800, 0, 1000)}, {MB(800)}, {KEEP}},
};

static void test_proxmox(void **state)
{
    run_cases(peer_proxmox, pve_cases, sizeof(pve_cases) / sizeof(pve_cases[0]));
}

/* MOM: a host of 10000 MB with f MB free (MemFree + Buffers + Cached). */
#define FREE(f) {.now_ms = 1, .budget_bytes = MB(10000), .free_bytes = MB(f)}

static const struct peer_case mom_cases[] = {
    {"15% host free: shrink by 5%", FREE(1500), 1, {VM(250, 2000, 1000, 500, 1000)},
     {MB(950)}, {PEER}},
    /* used 820 + 15% of 1000 = 970 */
    {"shrink stops at used + host-free% of balloon_cur", FREE(1500), 1,
     {VM(250, 2000, 1000, 180, 1000)}, {MB(970)}, {PEER}},
    {"shrink: floor above actual, nothing", FREE(1500), 1, {VM(250, 2000, 1000, 100, 1000)},
     {MB(1000)}, {KEEP}},
    /* normal: 980 + 50 > 1000, nothing; critical: 980 + 50 - 50 = 980 */
    {"5% host free is critical: squeezed to its use", FREE(500), 1,
     {VM(250, 2000, 1000, 20, 1000)}, {MB(980)}, {PEER}},
    {"4% host free: pushed below its use", FREE(400), 1, {VM(250, 2000, 1000, 20, 1000)},
     {MB(970)}, {PEER}},
    /* MOM on libvirt sees balloon_min 0: balloond's min is not its floor. */
    {"shrink: balloond's min is not MOM's", FREE(1500), 1, {VM(960, 2000, 1000, 500, 1000)},
     {MB(950)}, {PEER}},
    /* keep 15% of 1200 = 180, used 600: floor 780 < 95% = 1140 */
    {"above max: shrunk 5% a round, not clamped", FREE(1500), 1,
     {VM(250, 1000, 1200, 600, 1000)}, {MB(1140)}, {PEER}},
    {"above max, no pressure: left there", FREE(3000), 1, {VM(250, 1000, 1200, 600, 1000)},
     {MB(1200)}, {KEEP}},
    /* StatAvg: used = 1000 - 100 = 900, + 150 kept = 1050 > 1000: no
     * shrink (the current sample alone, used 500, would shrink to 950). */
    {"guest use averaged: no shrink", FREE(1500), 1,
     {VM(250, 2000, 1000, 500, 1000, .n_avg = 3, .avg_actual_bytes = MB(1000),
         .avg_free_bytes = MB(100))},
     {MB(1000)}, {KEEP}},
    /* grow: used avg 1100 - 400 = 700 + 20% of 1000 = 900 < 1050 */
    {"guest use averaged: grow by 5%", FREE(3000), 1,
     {VM(250, 2000, 1000, 0, 1000, .n_avg = 2, .avg_actual_bytes = MB(1100),
         .avg_free_bytes = MB(400))},
     {MB(1050)}, {PEER}},
    {"shrink of 0.2%: skipped", FREE(1500), 1, {VM(250, 2000, 1000, 152, 1000)}, {MB(1000)},
     {KEEP}},
    {"shrink of exactly 0.25%: skipped", FREE(1500), 1,
     {VM(250, 2000, 1000, 0, 1000, .free_bytes = MB(152) + 500000)},
     {MB(1000)}, {KEEP}},
    {"shrink of 0.26%: done", FREE(1500), 1,
     {VM(250, 2000, 1000, 0, 1000, .free_bytes = MB(152) + 600000)},
     {MB(997) + 400000}, {PEER}},
    {"30% host free: grow by 5%", FREE(3000), 1, {VM(250, 2000, 1000, 500, 1000)},
     {MB(1050)}, {PEER}},
    {"exactly 20% host free is no pressure: grow", FREE(2000), 1,
     {VM(250, 2000, 1000, 500, 1000)}, {MB(1050)}, {PEER}},
    /* used 950 + 20% of 1000 */
    {"grow to 20% free in the guest when that is more", FREE(3000), 1,
     {VM(250, 2000, 1000, 50, 1000)}, {MB(1150)}, {PEER}},
    {"grow: clamped to max", FREE(3000), 1, {VM(250, 2000, 1980, 1000, 1000)}, {MB(2000)},
     {PEER}},
    {"grow: at max, nothing", FREE(3000), 1, {VM(250, 2000, 2000, 1000, 1000)}, {MB(2000)},
     {KEEP}},
    {"grow of 0.05%: skipped", FREE(3000), 1, {VM(250, 2000, 1999, 1000, 1000)}, {MB(1999)},
     {KEEP}},
    {"no stats or not running: left alone", FREE(1500), 2,
     {VM(250, 2000, 1000, 500, 1000, .known = false),
      VM(250, 2000, 1000, 500, 1000, .running = false, .target_bytes = MB(1200))},
     {MB(1000), MB(1200)}, {KEEP, KEEP}},
};

static void test_mom(void **state)
{
    run_cases(peer_mom, mom_cases, sizeof(mom_cases) / sizeof(mom_cases[0]));
}

/* Both peers decide every 10 s and hold every target in between. */
static void check_rounds(peer_fn *fn, const struct peer_case *k, uint64_t moved)
{
    struct policy_host h = k->host;
    struct policy_round round = {0};
    struct policy_decision d[NVM];

    h.now_ms = 1000;
    fn(&h, &round, k->n, k->vms, d);
    assert_int_equal(d[0].target_bytes, moved);
    assert_int_equal(round.last_ms, 1000);

    h.now_ms = 10999;
    fn(&h, &round, k->n, k->vms, d);
    for (size_t i = 0; i < k->n; i++) {
        assert_int_equal(d[i].target_bytes, k->vms[i].target_bytes);
        assert_int_equal(d[i].reason, POLICY_STEADY);
    }
    assert_int_equal(round.last_ms, 1000);

    h.now_ms = 11000;
    fn(&h, &round, k->n, k->vms, d);
    assert_int_equal(d[0].target_bytes, moved);
    assert_int_equal(d[0].reason, POLICY_PEER);
    assert_int_equal(round.last_ms, 11000);
}

static void test_rounds(void **state)
{
    check_rounds(peer_proxmox, &pve_cases[1], MB(1060));
    check_rounds(peer_mom, &mom_cases[0], MB(950));
}

/* MOM's monitors: a sample every 5 s at most, the last 10 kept, the
 * mean rounded down. */
static void test_mom_samples(void **state)
{
    struct peer_samples s = {0};

    assert_int_equal(peer_avg_a(&s), 0);
    peer_sample(&s, 1000, 10, 1);
    peer_sample(&s, 5999, 99, 99); /* 4999 ms later: not taken */
    assert_int_equal(s.n, 1);
    for (uint64_t k = 1; k <= 11; k++)
        peer_sample(&s, 1000 + k * 5000, 10 + k, 1 + k);
    /* kept: 12..21 and 3..12 */
    assert_int_equal(s.n, 10);
    assert_int_equal(peer_avg_a(&s), 16); /* 165 / 10 */
    assert_int_equal(peer_avg_b(&s), 7);  /* 75 / 10 */
}

/* The host's mem_free is averaged too: 3000, 3000 and 1500 MB free of
 * 10000 is 25% on average, no pressure (grow), where the current 15%
 * alone would shrink. */
static void test_mom_host_average(void **state)
{
    const struct policy_vm vm[] = {VM(250, 2000, 1000, 500, 1000)};
    struct policy_host h = FREE(3000);
    struct policy_round round = {0};
    struct policy_decision d[1];

    h.now_ms = 1000;
    peer_mom(&h, &round, 1, vm, d);
    assert_int_equal(d[0].target_bytes, MB(1050));
    h.now_ms = 6000;
    peer_mom(&h, &round, 1, vm, d);
    assert_int_equal(d[0].reason, POLICY_STEADY); /* sampled, no round */
    h.now_ms = 11000;
    h.free_bytes = MB(1500);
    peer_mom(&h, &round, 1, vm, d);
    assert_int_equal(round.mom_host.n, 3);
    assert_int_equal(peer_avg_a(&round.mom_host), MB(2500));
    assert_int_equal(d[0].target_bytes, MB(1050));
    assert_int_equal(d[0].reason, POLICY_PEER);
    /* 3000, 3000, 1500, 1500, 1500: 2100 on average (21%), a grow
     * again; with two more, 13500 / 7 = 1928.57 (19.3%): a shrink. */
    h.now_ms = 16000;
    peer_mom(&h, &round, 1, vm, d);
    h.now_ms = 21000;
    peer_mom(&h, &round, 1, vm, d);
    assert_int_equal(peer_avg_a(&round.mom_host), MB(2100));
    assert_int_equal(d[0].target_bytes, MB(1050));
    h.now_ms = 26000;
    peer_mom(&h, &round, 1, vm, d);
    h.now_ms = 31000;
    peer_mom(&h, &round, 1, vm, d);
    assert_int_equal(peer_avg_a(&round.mom_host), 1928571428);
    assert_int_equal(d[0].target_bytes, MB(950));
}

static void test_no_vms(void **state)
{
    const struct policy_host h = GOAL(MB(90));
    struct policy_round round = {0};

    peer_proxmox(&h, &round, 0, NULL, NULL);
    peer_mom(&h, &round, 0, NULL, NULL);
    assert_int_equal(round.last_ms, 1);
}

static void test_static(void **state)
{
    const struct policy_vm vms[] = {VM(250, 2000, 2000, 0, 1000), VM(250, 2000, 700, 0, 1000),
                                    VM(250, 2000, 700, 0, 1000, .running = false)};
    const struct policy_host h = FREE(100);
    struct policy_decision d[3];

    peer_static(&h, 3, vms, d);
    assert_int_equal(d[0].target_bytes, MB(2000));
    assert_int_equal(d[0].reason, POLICY_STEADY);
    for (size_t i = 1; i < 3; i++) {
        assert_int_equal(d[i].target_bytes, MB(2000));
        assert_int_equal(d[i].reason, POLICY_PEER);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proxmox),
        cmocka_unit_test(test_mom),
        cmocka_unit_test(test_rounds),
        cmocka_unit_test(test_mom_samples),
        cmocka_unit_test(test_mom_host_average),
        cmocka_unit_test(test_no_vms),
        cmocka_unit_test(test_static),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
