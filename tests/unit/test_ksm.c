/* test_ksm.c: KSM counters on fixture trees (FIXTURES, by default
 * tests/fixtures, relative to the repo root), the controller and
 * ksmtuned's algorithm with exact numbers, the knobs on a writable copy of
 * a fixture tree, per-process savings. Nothing here writes the host's own
 * /sys/kernel/mm/ksm: the one test on this host only reads it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "ksm.h"
#include "util.h"

#define GIB_PAGES (GIB / 4096)

/* Fixture path under FIXTURES/ksm; a few live at once. */
static const char *fx(const char *rel)
{
    return fixture_path("ksm", rel);
}

static uint64_t ticks_ms(uint64_t ticks)
{
    return ticks * 1000 / (uint64_t)sysconf(_SC_CLK_TCK);
}

/* ---- parsing ----------------------------------------------------------------- */

static void test_new_without_ksm(void **state)
{
    struct ksm *k = (struct ksm *)(uintptr_t)0x1;

    assert_int_equal(ksm_new(fx("none/sys"), fx("old/proc"), &k), -ENOENT);
    assert_ptr_equal(k, (struct ksm *)(uintptr_t)0x1);
    ksm_free(NULL);
}

static void test_sample_real(void **state)
{
    /* A copy of this project's host (Linux 6.18) just after KSM merged
     * guests and was stopped: see tests/fixtures/ksm/README. */
    struct ksm_counters c;
    struct ksm *k;

    assert_int_equal(ksm_new(fx("real/sys"), fx("real/proc"), &k), 0);
    assert_int_equal(ksm_sample(k, &c), 0);
    assert_int_equal(c.run, 0);
    assert_int_equal(c.pages_to_scan, 100);
    assert_int_equal(c.sleep_ms, 20);
    assert_int_equal(c.pages_shared, 8764);
    assert_int_equal(c.pages_sharing, 61014);
    assert_int_equal(c.pages_unshared, 11856);
    assert_int_equal(c.pages_volatile, 326575);
    assert_int_equal(c.full_scans, 130);
    assert_true(c.has_pages_scanned);
    assert_int_equal(c.pages_scanned, 15150951);
    assert_true(c.has_general_profit);
    assert_int_equal(c.general_profit_bytes, 223787968);
    assert_int_equal(c.advisor, KSM_ADVISOR_NONE);
    assert_int_equal(c.advisor_target_scan_time_s, 200);
    assert_int_equal(c.advisor_max_cpu_pct, 70);
    assert_true(c.has_ksmd_cpu);
    assert_int_equal(c.ksmd_cpu_ms, ticks_ms(3 + 3333));
    ksm_free(k);
}

static void test_sample_old(void **state)
{
    /* Linux 5.15-like: no advisor, no general_profit, no pages_scanned,
     * and no ksmd to be seen (a container's /proc). */
    struct ksm_counters c;
    struct ksm *k;

    assert_int_equal(ksm_new(fx("old/sys"), fx("old/proc"), &k), 0);
    assert_int_equal(ksm_sample(k, &c), 0);
    assert_int_equal(c.run, 1);
    assert_int_equal(c.pages_to_scan, 100);
    assert_int_equal(c.sleep_ms, 20);
    assert_int_equal(c.pages_shared, 310);
    assert_int_equal(c.pages_sharing, 1542);
    assert_int_equal(c.pages_unshared, 2011);
    assert_int_equal(c.pages_volatile, 77);
    assert_int_equal(c.full_scans, 9);
    assert_false(c.has_pages_scanned);
    assert_false(c.has_general_profit);
    assert_int_equal(c.advisor, KSM_ADVISOR_ABSENT);
    assert_false(c.has_ksmd_cpu);
    ksm_free(k);
}

static void test_ksmd_lookup(void **state)
{
    /* decoy/proc holds a user process called ksmd (parent 1000, 1000
     * ticks) and the kernel thread (parent 2, 1234 + 567 ticks). */
    struct ksm_counters c;
    struct ksm *k;

    assert_int_equal(ksm_new(fx("old/sys"), fx("decoy/proc"), &k), 0);
    assert_int_equal(ksm_sample(k, &c), 0);
    assert_true(c.has_ksmd_cpu);
    assert_int_equal(c.ksmd_cpu_ms, ticks_ms(1234 + 567));
    ksm_free(k);

    /* A stat cut short before utime: no ksmd, the sample still works. */
    assert_int_equal(ksm_new(fx("old/sys"), fx("badstat/proc"), &k), 0);
    assert_int_equal(ksm_sample(k, &c), 0);
    assert_false(c.has_ksmd_cpu);
    ksm_free(k);
}

static void test_sample_malformed(void **state)
{
    static const struct {
        const char *tree;
        int r;
    } cases[] = {
        { "bad-truncated/sys", -EINVAL }, /* "15" without '\n': maybe 150 */
        { "bad-value/sys", -EINVAL },     /* pages_volatile "many" */
        { "bad-missing/sys", -ENOENT },   /* no full_scans */
        { "bad-advisor/sys", -EINVAL },   /* advisor_mode with no [mode] */
        { "bad-profit/sys", -EINVAL },    /* general_profit "12x" */
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct ksm_counters c, before;
        struct ksm *k;

        memset(&c, 0xa5, sizeof(c));
        before = c;
        assert_int_equal(ksm_new(fx(cases[i].tree), fx("decoy/proc"), &k), 0);
        assert_int_equal(ksm_sample(k, &c), cases[i].r);
        assert_memory_equal(&c, &before, sizeof(c));
        ksm_free(k);
    }
}

static void test_sample_this_host(void **state)
{
    struct ksm_counters c;
    struct ksm *k;
    int r = ksm_new("/sys", "/proc", &k);

    if (r == -ENOENT)
        skip();
    assert_int_equal(r, 0);
    assert_int_equal(ksm_sample(k, &c), 0);
    assert_true(c.run <= 2);
    assert_true(c.sleep_ms > 0);
    ksm_free(k);
}

/* ---- decide ------------------------------------------------------------------- */

/* Counters for the decide tables: run 1 with pages/sleep, the sharing
 * count, full scans and ksmd's CPU ms. */
#define CNT(run_, pages_, sleep_, sharing_, scans_, cpu_)                                       \
    {                                                                                          \
        .run = run_, .pages_to_scan = pages_, .sleep_ms = sleep_, .pages_sharing = sharing_,   \
        .full_scans = scans_, .has_ksmd_cpu = true, .ksmd_cpu_ms = cpu_,                       \
        .advisor = KSM_ADVISOR_NONE,                                                           \
    }

enum { NO, HAS, USE };

static void test_decide(void **state)
{
    static const struct ksm_counters off = CNT(0, 100, 20, 0, 0, 0);
    static const struct ksm_counters at25k = CNT(1, 500, 20, 0, 3, 1000);
    static const struct ksm_counters slow = CNT(1, 100, 200, 0, 3, 1000);
    static const struct ksm_counters at_max = CNT(1, 9000, 20, 0, 3, 1000);
    static const struct ksm_counters sharing = CNT(1, 500, 20, 50000, 3, 1000);
    /* after 500 ms of ksmd CPU: */
    static const struct ksm_counters high = CNT(1, 500, 20, 20000, 3, 1500);     /* 40000/cpu-s */
    static const struct ksm_counters mid = CNT(1, 500, 20, 5000, 3, 1500);       /* 10000/cpu-s */
    static const struct ksm_counters low_done = CNT(1, 500, 20, 100, 5, 1500);   /* 200, 2 ends */
    static const struct ksm_counters low_1pass = CNT(1, 500, 20, 100, 4, 1500);  /* 200, 1 end */
    static const struct ksm_counters slow_mid = CNT(1, 100, 200, 5000, 3, 1500);
    static const struct ksm_counters slow_quiet = CNT(1, 100, 200, 0, 4, 1010);
    static const struct ksm_counters max_high = CNT(1, 9000, 20, 20000, 3, 1500);
    static const struct ksm_counters unmerged = CNT(1, 500, 20, 40000, 5, 1500); /* fell */
    static const struct ksm_counters tiny_cpu = CNT(1, 500, 20, 20000, 3, 1050); /* 50 ms */
    static const struct ksm_counters backwards = CNT(1, 500, 20, 20000, 3, 900);
    static const struct {
        const char *name;
        enum host_state state;
        const struct ksm_counters *prev, *cur;
        uint64_t reclaim_bytes;
        int advisor; /* NO: none, HAS: present, USE: present and preferred */
        enum ksm_mode last;
        /* expected */
        enum ksm_mode mode;
        bool use_advisor;
        uint64_t pages, sleep_ms, target_s, cpu_pct;
        bool yield_known;
        uint64_t yield;
        bool keep_prev;
    } cases[] = {
        { "plenty, first call", HOST_PLENTY, NULL, &off, 0, NO, KSM_MODE_START,
          KSM_MODE_SLOW, false, 100, 200, 0, 0, false, 0, false },
        { "plenty ignores the advisor and the yield", HOST_PLENTY, &at25k, &high, 0, USE,
          KSM_MODE_SCAN, KSM_MODE_SLOW, false, 100, 200, 0, 0, true, 40000, false },
        { "tight from off: the minimum rate, 10000 pages/s", HOST_TIGHT, NULL, &off, 0, NO,
          KSM_MODE_START, KSM_MODE_SCAN, false, 200, 20, 0, 0, false, 0, false },
        { "tight, 4 GiB to reclaim: 1048576 pages / 60 s", HOST_TIGHT, NULL, &off, 4 * GIB,
          NO, KSM_MODE_START, KSM_MODE_SCAN, false, 349, 20, 0, 0, false, 0, false },
        { "tight, 100 GiB to reclaim: 436906 pages/s", HOST_TIGHT, NULL, &off, 100 * GIB,
          NO, KSM_MODE_START, KSM_MODE_SCAN, false, 8738, 20, 0, 0, false, 0, false },
        { "tight, 200 GiB to reclaim: capped at 450000 pages/s", HOST_TIGHT, NULL, &off,
          200 * GIB, NO, KSM_MODE_START, KSM_MODE_SCAN, false, 9000, 20, 0, 0, false, 0,
          false },
        { "tight, high yield doubles 25000 pages/s", HOST_TIGHT, &at25k, &high, 0, NO,
          KSM_MODE_SCAN, KSM_MODE_BOOST, false, 1000, 20, 0, 0, true, 40000, false },
        { "tight, high yield at the cap stays there", HOST_TIGHT, &at_max, &max_high, 0, NO,
          KSM_MODE_BOOST, KSM_MODE_BOOST, false, 9000, 20, 0, 0, true, 40000, false },
        { "tight, middling yield holds 25000 pages/s", HOST_TIGHT, &at25k, &mid, 0, NO,
          KSM_MODE_BOOST, KSM_MODE_SCAN, false, 500, 20, 0, 0, true, 10000, false },
        { "tight, low yield over a whole pass: not paying", HOST_TIGHT, &at25k, &low_done, 0,
          NO, KSM_MODE_SCAN, KSM_MODE_NOT_PAYING, false, 100, 200, 0, 0, true, 200, false },
        { "tight, low yield but no whole pass yet: hold, keep prev", HOST_TIGHT, &at25k,
          &low_1pass, 0, NO, KSM_MODE_SCAN, KSM_MODE_SCAN, false, 500, 20, 0, 0, false, 0,
          true },
        { "tight, pages unmerged count as nothing gained", HOST_TIGHT, &sharing, &unmerged, 0,
          NO, KSM_MODE_SCAN, KSM_MODE_NOT_PAYING, false, 100, 200, 0, 0, true, 0, false },
        { "tight, 50 ms of ksmd CPU is no measurement: keep prev", HOST_TIGHT, &at25k,
          &tiny_cpu, 0, NO, KSM_MODE_SCAN, KSM_MODE_SCAN, false, 500, 20, 0, 0, false, 0,
          true },
        { "tight, ksmd CPU went backwards: unknown", HOST_TIGHT, &at25k, &backwards, 0, NO,
          KSM_MODE_SCAN, KSM_MODE_SCAN, false, 500, 20, 0, 0, false, 0, false },
        { "tight, not paying, still measuring: stays slow", HOST_TIGHT, &slow, &slow_quiet, 0,
          NO, KSM_MODE_NOT_PAYING, KSM_MODE_NOT_PAYING, false, 100, 200, 0, 0, false, 0,
          true },
        { "tight, not paying, then it pays again: back to the floor", HOST_TIGHT, &slow,
          &slow_mid, 0, NO, KSM_MODE_NOT_PAYING, KSM_MODE_SCAN, false, 200, 20, 0, 0, true,
          10000, false },
        { "tight, advisor present, not preferred: own law", HOST_TIGHT, &at25k, &high, 0, HAS,
          KSM_MODE_SCAN, KSM_MODE_BOOST, false, 1000, 20, 0, 0, true, 40000, false },
        { "tight, advisor: 60 s pass, 20% CPU", HOST_TIGHT, NULL, &off, 0, USE,
          KSM_MODE_START, KSM_MODE_ADVISOR, true, 0, 20, 60, 20, false, 0, false },
        { "tight, advisor, 4 GiB to reclaim and high yield: 34 s, 40%", HOST_TIGHT, &at25k,
          &high, 4 * GIB, USE, KSM_MODE_ADVISOR, KSM_MODE_ADVISOR, true, 0, 20, 34, 40, true,
          40000, false },
        { "tight, advisor, low yield: advisor off, slow", HOST_TIGHT, &at25k, &low_done, 0,
          USE, KSM_MODE_ADVISOR, KSM_MODE_NOT_PAYING, false, 100, 200, 0, 0, true, 200,
          false },
        { "critical: fastest, 450000 pages/s", HOST_CRITICAL, NULL, &off, 0, NO,
          KSM_MODE_START, KSM_MODE_FASTEST, false, 9000, 20, 0, 0, false, 0, false },
        { "critical ignores a low yield", HOST_CRITICAL, &at25k, &low_done, 0, NO,
          KSM_MODE_NOT_PAYING, KSM_MODE_FASTEST, false, 9000, 20, 0, 0, true, 200, false },
        { "critical, advisor present, not preferred: own law", HOST_CRITICAL, NULL, &off, 0,
          HAS, KSM_MODE_START, KSM_MODE_FASTEST, false, 9000, 20, 0, 0, false, 0, false },
        { "critical, advisor: 10 s pass, 50% CPU", HOST_CRITICAL, NULL, &off, 0, USE,
          KSM_MODE_START, KSM_MODE_ADVISOR, true, 0, 20, 10, 50, false, 0, false },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct ksm_input in = {
            .state = cases[i].state, .prev = cases[i].prev, .cur = cases[i].cur,
            .interval_ms = 1000, .page_bytes = 4096, .free_bytes = GIB,
            .reclaim_bytes = cases[i].reclaim_bytes, .has_advisor = cases[i].advisor != NO,
            .prefer_advisor = cases[i].advisor == USE,
            .last_mode = cases[i].last,
        };
        struct ksm_decision d;

        memset(&d, 0xa5, sizeof(d));
        ksm_decide(&in, &d);
        print_message("case %zu: %s -> %s, %s\n", i, cases[i].name, ksm_mode_str(d.mode),
                      d.reason);
        assert_int_equal(d.run, 1);
        assert_int_equal(d.mode, cases[i].mode);
        assert_int_equal(d.use_advisor, cases[i].use_advisor);
        assert_int_equal(d.pages_to_scan, cases[i].pages);
        assert_int_equal(d.sleep_ms, cases[i].sleep_ms);
        assert_int_equal(d.advisor_target_scan_time_s, cases[i].target_s);
        assert_int_equal(d.advisor_max_cpu_pct, cases[i].cpu_pct);
        assert_int_equal(d.yield_known, cases[i].yield_known);
        assert_int_equal(d.yield_pages_per_cpu_s, cases[i].yield);
        assert_int_equal(d.keep_prev, cases[i].keep_prev);
        assert_non_null(d.reason);
    }
}

static void test_ksmtuned(void **state)
{
    /* This host: MemTotal 24683656 KiB -> sleep 10 * 16 GiB / 23.5 GiB = 6,
     * raised to 10; thres = 20% = 4936731 KiB. A 2 GiB host sleeps 80 ms;
     * an 8 MiB one has thres KSM_THRES_CONST = 2048 KiB. */
    static const struct {
        const char *name;
        struct ksmtuned_input in;
        uint64_t npages_before;
        unsigned run;
        uint64_t npages, pages, sleep_ms;
        enum ksm_mode mode;
    } cases[] = {
        { "little committed, much free: stop", { 24683656, 22000000, 1000000 }, 300, 0, 300, 0,
          0, KSM_MODE_OFF },
        { "committed near total, free > thres: decay from 0 to the min", { 24683656, 22000000,
          24000000 }, 0, 1, 64, 64, 10, KSM_MODE_SCAN },
        { "free < thres: boost from 0", { 24683656, 1000000, 1000000 }, 0, 1, 300, 300, 10,
          KSM_MODE_BOOST },
        { "boost up to the max", { 24683656, 1000000, 1000000 }, 1100, 1, 1250, 1250, 10,
          KSM_MODE_BOOST },
        { "decay by 50", { 24683656, 4936731, 24000000 }, 300, 1, 250, 250, 10, KSM_MODE_SCAN },
        { "committed + thres == total is not below: no stop", { 24683656, 22000000,
          24683656 - 4936731 }, 300, 1, 250, 250, 10, KSM_MODE_SCAN },
        { "2 GiB host: sleep 80 ms", { 2097152, 300000, 1800000 }, 0, 1, 300, 300, 80,
          KSM_MODE_BOOST },
        { "8 MiB host: thres is the constant 2048 KiB", { 8192, 2000, 7000 }, 0, 1, 300, 300,
          20480, KSM_MODE_BOOST },
    };
    const struct ksmtuned_conf conf = KSMTUNED_CONF_DEFAULT;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint64_t npages = cases[i].npages_before;
        struct ksm_decision d;

        print_message("case %zu: %s\n", i, cases[i].name);
        ksmtuned_decide(&conf, &cases[i].in, &npages, &d);
        assert_int_equal(d.run, cases[i].run);
        assert_int_equal(npages, cases[i].npages);
        assert_int_equal(d.pages_to_scan, cases[i].pages);
        assert_int_equal(d.sleep_ms, cases[i].sleep_ms);
        assert_int_equal(d.mode, cases[i].mode);
        assert_false(d.use_advisor);
    }
}

static void test_unmerge_fits(void **state)
{
    assert_true(ksm_unmerge_fits(0, 4096, 0));
    assert_true(ksm_unmerge_fits(256, 4096, MIB));
    assert_false(ksm_unmerge_fits(257, 4096, MIB));
    assert_false(ksm_unmerge_fits(UINT64_MAX, 4096, UINT64_MAX));
}

/* ---- apply and restore, on a writable copy ------------------------------------ */

struct tree {
    char dir[FIXTURE_TREE_MAX];  /* /tmp/test_ksm.XXXXXX */
    char sys[128];
    char proc[128];
};

static void tree_copy(struct tree *t, const char *name)
{
    fixture_tree_copy(fx(name), "test_ksm", t->dir);
    snprintf(t->sys, sizeof(t->sys), "%s/sys", t->dir);
    snprintf(t->proc, sizeof(t->proc), "%s/proc", t->dir);
}

static void tree_remove(struct tree *t)
{
    fixture_tree_rm(t->dir);
}

static const char *knob(const struct tree *t, const char *name)
{
    static char buf[4][128];
    static unsigned next;
    char path[PATH_MAX], *b = buf[next++ % ARRAY_SIZE(buf)];

    snprintf(path, sizeof(path), "%s/kernel/mm/ksm/%s", t->sys, name);
    if (read_file(path, b, sizeof(buf[0])) < 0)
        snprintf(b, sizeof(buf[0]), "(unreadable)");
    return b;
}

static void knob_put(const struct tree *t, const char *name, const char *value)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/kernel/mm/ksm/%s", t->sys, name);
    fixture_put(path, value);
}

/* Backdate a knob's mtime, to see later whether it was written. */
static void knob_age(const struct tree *t, const char *name)
{
    char path[PATH_MAX];
    struct timespec ts[2] = { { 1000, 0 }, { 1000, 0 } };

    snprintf(path, sizeof(path), "%s/kernel/mm/ksm/%s", t->sys, name);
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static bool knob_written(const struct tree *t, const char *name)
{
    char path[PATH_MAX];
    struct stat st;

    snprintf(path, sizeof(path), "%s/kernel/mm/ksm/%s", t->sys, name);
    assert_int_equal(stat(path, &st), 0);
    return st.st_mtim.tv_sec != 1000;
}

static void test_apply_restore(void **state)
{
    static const char *const all[] = { "run", "pages_to_scan", "sleep_millisecs", "advisor_mode",
                                       "advisor_target_scan_time", "advisor_max_cpu" };
    const struct ksm_decision scan = { .run = 1, .pages_to_scan = 349, .sleep_ms = 20 };
    const struct ksm_decision adv = { .run = 1, .use_advisor = true, .sleep_ms = 20,
                                      .advisor_target_scan_time_s = 17,
                                      .advisor_max_cpu_pct = 40 };
    const struct ksm_decision slow = { .run = 1, .pages_to_scan = 100, .sleep_ms = 200 };
    const struct ksm_decision bad_run = { .run = 2, .pages_to_scan = 100, .sleep_ms = 20 };
    struct tree t;
    struct ksm *k;

    tree_copy(&t, "real");
    knob_put(&t, "run", "0\n");
    assert_int_equal(ksm_new(t.sys, t.proc, &k), 0);
    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        knob_age(&t, all[i]);

    /* Only what differs is written: sleep is 20 already. */
    assert_int_equal(ksm_apply(k, &scan), 0);
    assert_string_equal(knob(&t, "run"), "1\n");
    assert_string_equal(knob(&t, "pages_to_scan"), "349\n");
    assert_false(knob_written(&t, "sleep_millisecs"));
    assert_false(knob_written(&t, "advisor_mode"));
    knob_age(&t, "run");
    knob_age(&t, "pages_to_scan");
    assert_int_equal(ksm_apply(k, &scan), 0);
    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        assert_false(knob_written(&t, all[i]));

    /* The advisor: its two knobs, then the mode; pages_to_scan is the
     * kernel's then (writing it would be -EINVAL). */
    assert_int_equal(ksm_apply(k, &adv), 0);
    assert_string_equal(knob(&t, "advisor_target_scan_time"), "17\n");
    assert_string_equal(knob(&t, "advisor_max_cpu"), "40\n");
    assert_string_equal(knob(&t, "advisor_mode"), "scan-time\n");
    assert_false(knob_written(&t, "pages_to_scan"));

    /* Off again, slow. run=2 is never written by apply. */
    assert_int_equal(ksm_apply(k, &slow), 0);
    assert_string_equal(knob(&t, "advisor_mode"), "none\n");
    assert_string_equal(knob(&t, "pages_to_scan"), "100\n");
    assert_string_equal(knob(&t, "sleep_millisecs"), "200\n");
    knob_age(&t, "run");
    assert_int_equal(ksm_apply(k, &bad_run), -EINVAL);
    assert_false(knob_written(&t, "run"));

    /* Everything back as it was found (advisor_mode as the word sysfs
     * takes), and only once. */
    assert_int_equal(ksm_restore(k), 0);
    assert_string_equal(knob(&t, "run"), "0\n");
    assert_string_equal(knob(&t, "pages_to_scan"), "100\n");
    assert_string_equal(knob(&t, "sleep_millisecs"), "20\n");
    assert_string_equal(knob(&t, "advisor_mode"), "none\n");
    assert_string_equal(knob(&t, "advisor_target_scan_time"), "200\n");
    assert_string_equal(knob(&t, "advisor_max_cpu"), "70\n");
    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        knob_age(&t, all[i]);
    assert_int_equal(ksm_restore(k), 0);
    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        assert_false(knob_written(&t, all[i]));
    ksm_free(k);
    tree_remove(&t);
}

static void test_apply_old_kernel(void **state)
{
    const struct ksm_decision adv = { .run = 1, .use_advisor = true, .sleep_ms = 20,
                                      .advisor_target_scan_time_s = 60,
                                      .advisor_max_cpu_pct = 20 };
    const struct ksm_decision stop = { .run = 0 };
    struct tree t;
    struct ksm *k;

    tree_copy(&t, "old");
    assert_int_equal(ksm_new(t.sys, t.proc, &k), 0);
    assert_int_equal(ksm_apply(k, &adv), -EOPNOTSUPP);
    assert_string_equal(knob(&t, "run"), "1\n");
    /* ksmtuned's stop: run=0, the rest left as it is */
    assert_int_equal(ksm_apply(k, &stop), 0);
    assert_string_equal(knob(&t, "run"), "0\n");
    assert_string_equal(knob(&t, "pages_to_scan"), "100\n");
    assert_int_equal(ksm_restore(k), 0);
    assert_string_equal(knob(&t, "run"), "1\n");
    ksm_free(k);
    tree_remove(&t);
}

static void test_restore_unmerge(void **state)
{
    /* old: pages_sharing 1542 (6168 KiB); MemAvailable 6000000 KiB. */
    const struct ksm_decision on = { .run = 1, .pages_to_scan = 100, .sleep_ms = 20 };
    struct tree t;
    struct ksm *k;
    char path[PATH_MAX];
    FILE *f;

    tree_copy(&t, "old");
    knob_put(&t, "run", "2\n");
    assert_int_equal(ksm_new(t.sys, t.proc, &k), 0);
    assert_int_equal(ksm_apply(k, &on), 0);
    assert_string_equal(knob(&t, "run"), "1\n");
    assert_int_equal(ksm_restore(k), 0);
    assert_string_equal(knob(&t, "run"), "2\n");

    /* Now only 6000 KiB available: unmerging 6168 KiB would not fit. */
    snprintf(path, sizeof(path), "%s/meminfo", t.proc);
    assert_non_null(f = fopen(path, "w"));
    fputs("MemTotal:        8000000 kB\nMemFree:            3000 kB\nMemAvailable:       6000 kB\n",
          f);
    fclose(f);
    assert_int_equal(ksm_apply(k, &on), 0);
    assert_int_equal(ksm_restore(k), -ENOMEM);
    assert_string_equal(knob(&t, "run"), "0\n");

    /* A restore goes on past a knob it cannot write, and says so. */
    knob_put(&t, "run", "1\n");
    knob_put(&t, "sleep_millisecs", "20\n");
    assert_int_equal(ksm_apply(k, &(struct ksm_decision){ .run = 0, .pages_to_scan = 300,
                                                           .sleep_ms = 50 }), 0);
    snprintf(path, sizeof(path), "%s/kernel/mm/ksm/pages_to_scan", t.sys);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(ksm_restore(k), -ENOENT);
    assert_string_equal(knob(&t, "sleep_millisecs"), "20\n");
    assert_string_equal(knob(&t, "run"), "1\n");
    ksm_free(k);
    tree_remove(&t);
}

/* ---- per-process savings ---------------------------------------------------------- */

static void test_proc_savings(void **state)
{
    static const struct {
        const char *proc;
        pid_t pid;
        int r;
        uint64_t merging;
        int64_t profit;
    } cases[] = {
        { "real/proc", 4242, 0, 0, 0 },
        { "old/proc", 4242, 1, 812, -1 },    /* Linux 6.1: ksm_stat, no profit */
        { "old/proc", 4243, 1, 77, -1 },     /* Linux 5.19: no ksm_stat */
        { "old/proc", 9999, -ENOENT, 0, 0 }, /* no such process */
        { "badproc/proc", 4242, -EINVAL, 0, 0 }, /* "81" cut short */
        { "badproc/proc", 4243, -EINVAL, 0, 0 }, /* profit "12abc" */
        { "badproc/proc", 4244, 0, 5, -4096 },   /* KSM costs it more than it saves */
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint64_t merging = 0xa5a5;
        int64_t profit = -1;

        print_message("case %zu: %s %d\n", i, cases[i].proc, (int)cases[i].pid);
        assert_int_equal(ksm_proc_savings(fx(cases[i].proc), cases[i].pid, &merging, &profit),
                         cases[i].r);
        assert_int_equal(merging, cases[i].r >= 0 ? cases[i].merging : 0xa5a5);
        assert_int_equal(profit, cases[i].r == 0 ? cases[i].profit : -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_without_ksm),
        cmocka_unit_test(test_sample_real),
        cmocka_unit_test(test_sample_old),
        cmocka_unit_test(test_ksmd_lookup),
        cmocka_unit_test(test_sample_malformed),
        cmocka_unit_test(test_sample_this_host),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_ksmtuned),
        cmocka_unit_test(test_unmerge_fits),
        cmocka_unit_test(test_apply_restore),
        cmocka_unit_test(test_apply_old_kernel),
        cmocka_unit_test(test_restore_unmerge),
        cmocka_unit_test(test_proc_savings),
    };

    log_setup(LOG_CRIT, false);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
