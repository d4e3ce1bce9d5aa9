/* test_host.c: /proc and cgroup readers on fixture trees (FIXTURES, by
 * default tests/fixtures, relative to the repo root), then on this host. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "host.h"
#include "util.h"

/* Fixture path under FIXTURES/host; a few live at once. */
static const char *fx(const char *rel)
{
    return fixture_path("host", rel);
}

static void assert_psi_line(const struct host_psi_line *got, const struct host_psi_line *want)
{
    assert_float_equal(got->avg10, want->avg10, 1e-6);
    assert_float_equal(got->avg60, want->avg60, 1e-6);
    assert_float_equal(got->avg300, want->avg300, 1e-6);
    assert_int_equal(got->total_us, want->total_us);
}

static void assert_psi(const struct host_psi *got, const struct host_psi *want)
{
    assert_psi_line(&got->some, &want->some);
    assert_psi_line(&got->full, &want->full);
}

/* On error nothing may be written: callers keep their last good sample. */
#define SENTINEL 0xa5

static void test_meminfo(void **state)
{
    static const struct {
        const char *file;
        int r;
        struct host_meminfo want;
    } cases[] = {
        { "proc/meminfo", 0, { 24683656, 24344772, 24349028, 2044, 183436, 0, 0 } },
        { "meminfo/reordered", 0,
          { 8000000, 1500000, 6000000, 200000, 3000000, 2000000, 1000000 } },
        { "meminfo/required-only", 0, { 8000000, 1500000, 6000000, 0, 0, 0, 0 } },
        /* the cut "SwapFree: 10" is ignored, not read as 10 */
        { "meminfo/truncated-optional", 0, { 8000000, 1500000, 6000000, 0, 0, 2000000, 0 } },
        { .file = "meminfo/truncated-required", .r = -EINVAL },
        { .file = "meminfo/no-memtotal", .r = -EINVAL },
        { .file = "meminfo/no-memavailable", .r = -EINVAL },
        { .file = "meminfo/bad-value", .r = -EINVAL },
        { .file = "meminfo/no-value", .r = -EINVAL },
        { .file = "meminfo/overflow", .r = -EINVAL },
        { .file = "meminfo/negative", .r = -EINVAL },
        { .file = "meminfo/empty", .r = -EINVAL },
        { .file = "meminfo/missing", .r = -ENOENT },
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct host_meminfo got, untouched;
        memset(&got, SENTINEL, sizeof(got));
        untouched = got;
        print_message("meminfo: %s\n", cases[i].file);
        assert_int_equal(host_read_meminfo(fx(cases[i].file), &got), cases[i].r);
        if (cases[i].r == 0)
            assert_memory_equal(&got, &cases[i].want, sizeof(got));
        else
            assert_memory_equal(&got, &untouched, sizeof(got));
    }
}

static void test_psi(void **state)
{
    static const struct {
        const char *file;
        int r;
        struct host_psi want;
    } cases[] = {
        { "proc/pressure/memory", 0, { { 0, 0, 0, 0 }, { 0, 0, 0, 0 } } },
        { "psi/busy", 0, { { 12.34, 5.67, 1.01, 987654321 }, { 3.21, 1.23, 0.45, 55555 } } },
        { "psi/full-first", 0, { { 12.34, 5.67, 1.01, 987654321 }, { 3.21, 1.23, 0.45, 55555 } } },
        { "psi/some-only", 0, { { 1.5, 0.75, 0.25, 123456 }, { 0, 0, 0, 0 } } },
        { .file = "psi/missing-field", .r = -EINVAL },
        { .file = "psi/bad-number", .r = -EINVAL },
        { .file = "psi/negative-total", .r = -EINVAL },
        { .file = "psi/over-100", .r = -EINVAL },
        { .file = "psi/truncated", .r = -EINVAL },
        { .file = "psi/unknown-kind", .r = -EINVAL },
        { .file = "psi/full-only", .r = -EINVAL },
        { .file = "psi/trailing-junk", .r = -EINVAL },
        { .file = "psi/duplicate", .r = -EINVAL },
        { .file = "psi/no-space", .r = -EINVAL },
        { .file = "psi/empty", .r = -EINVAL },
        { .file = "psi/missing", .r = -ENOENT },
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct host_psi got, untouched;
        memset(&got, SENTINEL, sizeof(got));
        untouched = got;
        print_message("psi: %s\n", cases[i].file);
        assert_int_equal(host_read_psi(fx(cases[i].file), &got), cases[i].r);
        if (cases[i].r == 0)
            assert_psi(&got, &cases[i].want);
        else
            assert_memory_equal(&got, &untouched, sizeof(got));
    }
}

static void test_vmstat(void **state)
{
    static const struct {
        const char *file;
        int r;
        struct host_vmstat want;
    } cases[] = {
        { "proc/vmstat", 0, { 0, 0, 1791 } },
        { "vmstat/swapping", 0, { 1000, 2000, 4242 } },
        { "vmstat/no-keys", 0, { 0, 0, 0 } },
        { "vmstat/truncated", 0, { 1000, 2000, 0 } },
        { .file = "vmstat/bad-value", .r = -EINVAL },
        { .file = "vmstat/empty", .r = -EINVAL },
        { .file = "vmstat/missing", .r = -ENOENT },
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct host_vmstat got, untouched;
        memset(&got, SENTINEL, sizeof(got));
        untouched = got;
        print_message("vmstat: %s\n", cases[i].file);
        assert_int_equal(host_read_vmstat(fx(cases[i].file), &got), cases[i].r);
        assert_memory_equal(&got, cases[i].r == 0 ? &cases[i].want : &untouched, sizeof(got));
    }
}

/* A file larger than the buffer is an error, never a silently cut read. */
static void test_vmstat_too_big(void **state)
{
    char path[] = "/tmp/test_host_vmstat.XXXXXX";
    struct host_vmstat got = { 7, 7, 7 };
    int fd = mkstemp(path);
    FILE *f;

    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("pswpin 1\npswpout 2\npgmajfault 3\n", f);
    for (int i = 0; i < 8192; i++) /* 8192 * 12 bytes > 64 KiB */
        fprintf(f, "nr_x%05d 1\n", i);
    fclose(f);
    assert_int_equal(host_read_vmstat(path, &got), -EFBIG);
    assert_int_equal(got.pswpin, 7);
    unlink(path);
}

static void test_proc_rss(void **state)
{
    static const struct {
        pid_t pid;
        int r;
        uint64_t want_bytes;
    } cases[] = {
        { 1234, 0, 402 * 4096 },  /* statm "2000 402 ...": pages */
        { 2, -ENODATA, 0 },      /* kthreadd: all 0 */
        { 3, -EINVAL, 0 },       /* "lots of pages" */
        { 4, -EINVAL, 0 },       /* empty */
        { 999, -ENOENT, 0 },     /* gone */
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint64_t got = 42;
        print_message("rss: pid %d\n", (int)cases[i].pid);
        assert_int_equal(host_read_proc_rss(fx("proc"), cases[i].pid, &got), cases[i].r);
        assert_int_equal(got, cases[i].r == 0 ? cases[i].want_bytes : 42);
    }
}

static void test_cgroup_open(void **state)
{
    static const struct {
        const char *dir;
        int r;
        enum host_cgroup_version version;
    } cases[] = {
        { "cgroup-v1", 0, HOST_CGROUP_V1 },
        { "cgroup-v1-old", 0, HOST_CGROUP_V1 },
        { "cgroup-v2", 0, HOST_CGROUP_V2 },
        { "cgroup-v2-old", 0, HOST_CGROUP_V2 },
        { .dir = "cgroup-none", .r = -ENOENT },
        { .dir = "cgroup-missing", .r = -ENOENT },
        { .dir = "meminfo/reordered", .r = -ENOENT }, /* a file, not a directory */
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct host_cgroup *cg = (struct host_cgroup *)&cases; /* any non-NULL marker */
        const char *dir = fx(cases[i].dir);
        print_message("cgroup open: %s\n", cases[i].dir);
        assert_int_equal(host_cgroup_open(dir, &cg), cases[i].r);
        if (cases[i].r < 0) {
            assert_ptr_equal(cg, &cases);
            continue;
        }
        assert_int_equal(host_cgroup_version(cg), cases[i].version);
        assert_string_equal(host_cgroup_dir(cg), dir);
        host_cgroup_free(cg);
    }
    host_cgroup_free(NULL);
}

static void assert_cgroup_mem(const struct host_cgroup_mem *got, const struct host_cgroup_mem *want)
{
    assert_int_equal(got->limit_bytes, want->limit_bytes);
    assert_int_equal(got->usage_bytes, want->usage_bytes);
    assert_int_equal(got->inactive_file_bytes, want->inactive_file_bytes);
    assert_int_equal(got->oom_kills, want->oom_kills);
    assert_int_equal(got->has_psi, want->has_psi);
    assert_psi(&got->psi, &want->psi);
}

static void test_cgroup_read(void **state)
{
    static const struct {
        const char *dir;
        int r;
        struct host_cgroup_mem want;
    } cases[] = {
        /* v1's "unlimited" 9223372036854771712 reads as UINT64_MAX */
        { "cgroup-v1", 0, { .limit_bytes = UINT64_MAX, .usage_bytes = 249524224,
                            .inactive_file_bytes = 84832256 } },
        /* total_inactive_file (the subtree) wins over inactive_file */
        { "cgroup-v1-limited", 0, { .limit_bytes = 4 * GIB, .usage_bytes = 3 * GIB,
                                    .inactive_file_bytes = 768 * MIB, .oom_kills = 3 } },
        { "cgroup-v1-old", 0, { .limit_bytes = 2 * GIB, .usage_bytes = 1 * GIB,
                                .inactive_file_bytes = 256 * MIB } },
        { .dir = "cgroup-v1-bad", .r = -EINVAL },
        { .dir = "cgroup-v1-nostat", .r = -ENOENT },
        { "cgroup-v2", 0, { .limit_bytes = UINT64_MAX, .usage_bytes = 3250585600,
                            .inactive_file_bytes = 1 * GIB, .has_psi = true } },
        { "cgroup-v2-limited", 0,
          { .limit_bytes = 8 * GIB, .usage_bytes = 8489271296, .inactive_file_bytes = 512 * MIB,
            .oom_kills = 2, .has_psi = true,
            .psi = { { 22.5, 10.0, 3.0, 4000000 }, { 8.0, 2.5, 0.5, 900000 } } } },
        { "cgroup-v2-old", 0, { .limit_bytes = 4 * GIB, .usage_bytes = 1 * GIB,
                                .inactive_file_bytes = 256 * MIB } },
        { .dir = "cgroup-v2-badmax", .r = -EINVAL }, /* "12 34" */
        { .dir = "cgroup-v2-badpsi", .r = -EINVAL },
        { .dir = "cgroup-v2-noinactive", .r = -EINVAL },
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct host_cgroup *cg = NULL;
        struct host_cgroup_mem got, untouched;
        memset(&got, SENTINEL, sizeof(got));
        untouched = got;
        print_message("cgroup read: %s\n", cases[i].dir);
        assert_int_equal(host_cgroup_open(fx(cases[i].dir), &cg), 0);
        assert_int_equal(host_cgroup_read(cg, &got), cases[i].r);
        if (cases[i].r == 0)
            assert_cgroup_mem(&got, &cases[i].want);
        else
            assert_memory_equal(&got, &untouched, sizeof(got));
        host_cgroup_free(cg);
    }
}

static void test_sample_proc_only(void **state)
{
    static const struct host_meminfo want_mem = {
        24683656, 24344772, 24349028, 2044, 183436, 0, 0,
    };
    struct host *h = NULL;
    struct host_sample s;

    (void)state;
    assert_int_equal(host_new(fx("proc"), NULL, &h), 0);
    assert_string_equal(host_proc_root(h), fx("proc"));
    assert_int_equal(host_sample(h, &s), 0);
    assert_memory_equal(&s.mem, &want_mem, sizeof(want_mem));
    assert_true(s.has_psi);
    assert_int_equal(s.vmstat.pgmajfault, 1791);
    assert_false(s.has_cgroup);
    host_free(h);
    host_free(NULL);
}

static void test_sample_with_cgroup(void **state)
{
    struct host *h = NULL;
    struct host_sample s;

    (void)state;
    assert_int_equal(host_new(fx("proc-nopsi"), fx("cgroup-v2-limited"), &h), 0);
    assert_int_equal(host_sample(h, &s), 0);
    assert_int_equal(s.mem.total_kib, 8000000);
    assert_false(s.has_psi); /* no proc-nopsi/pressure/memory: not an error */
    assert_int_equal(s.vmstat.pswpin, 1000);
    assert_true(s.has_cgroup);
    assert_int_equal(s.cgroup.limit_bytes, 8 * GIB);
    assert_int_equal(s.cgroup.oom_kills, 2);
    assert_true(s.cgroup.has_psi);
    assert_float_equal(s.cgroup.psi.full.avg10, 8.0, 1e-6);
    host_free(h);
}

static void test_sample_errors(void **state)
{
    static const struct {
        const char *proc, *cgroup;
        int r;
    } cases[] = {
        { "proc-nomeminfo", NULL, -ENOENT },
        { "proc-badpsi", NULL, -EINVAL },       /* a present PSI file must parse */
        { "proc", "cgroup-v2-badpsi", -EINVAL }, /* so must the cgroup's */
        { "proc", "cgroup-v1-nostat", -ENOENT },
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct host *h = NULL;
        struct host_sample got, untouched;
        memset(&got, SENTINEL, sizeof(got));
        untouched = got;
        const char *cgroup = cases[i].cgroup ? fx(cases[i].cgroup) : NULL;
        print_message("sample: %s %s\n", cases[i].proc, cgroup ? cases[i].cgroup : "-");
        assert_int_equal(host_new(fx(cases[i].proc), cgroup, &h), 0);
        assert_int_equal(host_sample(h, &got), cases[i].r);
        assert_memory_equal(&got, &untouched, sizeof(got));
        host_free(h);
    }
}

static void test_new_bad_cgroup(void **state)
{
    struct host *h = (struct host *)&h;

    (void)state;
    assert_int_equal(host_new(fx("proc"), fx("cgroup-none"), &h), -ENOENT);
    assert_ptr_equal(h, &h);
    assert_int_equal(host_new(fx("proc"), fx("cgroup-missing"), &h), -ENOENT);
    assert_ptr_equal(h, &h);
}

static void test_real_proc(void **state)
{
    struct host *h = NULL;
    struct host_sample s;
    uint64_t rss_bytes = 0;

    (void)state;
    assert_int_equal(host_new("/proc", NULL, &h), 0);
    assert_int_equal(host_sample(h, &s), 0);
    assert_true(s.mem.total_kib > 0);
    assert_true(s.mem.free_kib <= s.mem.total_kib);
    assert_true(s.mem.avail_kib <= s.mem.total_kib);
    assert_true(s.mem.buffers_kib + s.mem.cached_kib <= s.mem.total_kib);
    assert_true(s.mem.swap_free_kib <= s.mem.swap_total_kib);
    if (s.has_psi) {
        assert_true(s.psi.some.avg10 >= s.psi.full.avg10);
        assert_true(s.psi.some.total_us >= s.psi.full.total_us);
    }
    assert_int_equal(host_read_proc_rss("/proc", getpid(), &rss_bytes), 0);
    assert_true(rss_bytes > 0);
    assert_true(rss_bytes < s.mem.total_kib * KIB);
    assert_int_equal(rss_bytes % KIB, 0);
    host_free(h);
}

/* This process's memory cgroup, v2 or v1, when the host has one we can read. */
static void test_real_cgroup(void **state)
{
    char line[1024], dir[PATH_MAX];
    FILE *f = fopen("/proc/self/cgroup", "re");
    struct host_cgroup *cg = NULL;
    struct host_cgroup_mem m;

    (void)state;
    assert_non_null(f);
    while (!cg && fgets(line, sizeof(line), f)) {
        char *path = strrchr(line, ':');
        const char *mount = strstr(line, ":memory:") ? "/sys/fs/cgroup/memory"
                            : strncmp(line, "0::", 3) == 0 ? "/sys/fs/cgroup"
                                                           : NULL;
        if (!mount || !path)
            continue;
        path[strcspn(path, "\n")] = '\0';
        snprintf(dir, sizeof(dir), "%s%s", mount, path + 1);
        if (host_cgroup_open(dir, &cg) < 0)
            cg = NULL;
    }
    fclose(f);
    if (!cg)
        skip();
    print_message("real cgroup: %s (v%d)\n", dir, (int)host_cgroup_version(cg));
    assert_int_equal(host_cgroup_read(cg, &m), 0);
    assert_true(m.usage_bytes > 0);
    assert_true(m.limit_bytes > 0);
    host_cgroup_free(cg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meminfo),
        cmocka_unit_test(test_psi),
        cmocka_unit_test(test_vmstat),
        cmocka_unit_test(test_vmstat_too_big),
        cmocka_unit_test(test_proc_rss),
        cmocka_unit_test(test_cgroup_open),
        cmocka_unit_test(test_cgroup_read),
        cmocka_unit_test(test_sample_proc_only),
        cmocka_unit_test(test_sample_with_cgroup),
        cmocka_unit_test(test_sample_errors),
        cmocka_unit_test(test_new_bad_cgroup),
        cmocka_unit_test(test_real_proc),
        cmocka_unit_test(test_real_cgroup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
