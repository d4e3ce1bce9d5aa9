/* test_util.c: the human-size and duration parsers and size_format(). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trust.h"
#include "util.h"

#define SENTINEL 0x5a5a5a5aULL  /* an output left alone on failure */

static void test_size_parse(void **state)
{
    static const struct {
        const char *s;
        int r;
        uint64_t bytes;
    } cases[] = {
        { "512M", 0, 512 * MIB },
        { "4G", 0, 4 * GIB },
        { "1.5G", 0, 1536 * MIB },
        { "0", 0, 0 },
        { "4096", 0, 4096 },
        { "100K", 0, 100 * KIB },
        { "512MiB", 0, 512 * MIB },
        { "512MB", 0, 512 * MIB },
        { "512m", 0, 512 * MIB },
        { "2T", 0, 2048 * GIB },
        { "12Q", -EINVAL, 0 },
        { "", -EINVAL, 0 },
        { "-1", -EINVAL, 0 },
        { "G", -EINVAL, 0 },
        { " 1G", -EINVAL, 0 },
        { "1G ", -EINVAL, 0 },
        { "1GiBs", -EINVAL, 0 },
        { "20%", -EINVAL, 0 },
        { "99999999999G", -ERANGE, 0 },
        { "16777216T", -ERANGE, 0 },  /* 2^64 */
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint64_t bytes = SENTINEL;
        int r = size_parse(cases[i].s, &bytes);

        if (r != cases[i].r)
            fail_msg("size_parse(\"%s\") = %d, expected %d", cases[i].s, r, cases[i].r);
        assert_int_equal(bytes, r == 0 ? cases[i].bytes : SENTINEL);
    }
    assert_int_equal(size_parse(NULL, &(uint64_t){ 0 }), -EINVAL);
}

static void test_size_or_pct_parse(void **state)
{
    static const struct {
        const char *s;
        int r;
        bool is_pct;
        unsigned pct;
        uint64_t bytes;
    } cases[] = {
        { "20%", 0, true, 20, 0 },
        { "0%", 0, true, 0, 0 },
        { "100%", 0, true, 100, 0 },
        { "4G", 0, false, 0, 4 * GIB },
        { "512MiB", 0, false, 0, 512 * MIB },
        { "101%", -ERANGE, false, 0, 0 },
        { "%", -EINVAL, false, 0, 0 },
        { "-5%", -EINVAL, false, 0, 0 },
        { "abc%", -EINVAL, false, 0, 0 },
        { "2.5%", -EINVAL, false, 0, 0 },
        { "12Q", -EINVAL, false, 0, 0 },
        { "", -EINVAL, false, 0, 0 },
        { "99999999999G", -ERANGE, false, 0, 0 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint64_t bytes = SENTINEL;
        unsigned pct = 777;
        bool is_pct = !cases[i].is_pct;
        int r = size_or_pct_parse(cases[i].s, &bytes, &pct, &is_pct);

        if (r != cases[i].r)
            fail_msg("size_or_pct_parse(\"%s\") = %d, expected %d", cases[i].s, r, cases[i].r);
        if (r < 0)
            continue;
        assert_int_equal(is_pct, cases[i].is_pct);
        if (is_pct)
            assert_int_equal(pct, cases[i].pct);
        else
            assert_int_equal(bytes, cases[i].bytes);
    }
}

static void test_duration_parse(void **state)
{
    static const struct {
        const char *s;
        int r;
        uint64_t ms;
    } cases[] = {
        { "1s", 0, 1000 },
        { "500ms", 0, 500 },
        { "2m", 0, 120000 },
        { "2min", 0, 120000 },
        { "1h", 0, 3600000 },
        { "10", 0, 10000 },
        { "1.5s", 0, 1500 },
        { "0", 0, 0 },
        { "abc", -EINVAL, 0 },
        { "", -EINVAL, 0 },
        { "-1s", -EINVAL, 0 },
        { "5x", -EINVAL, 0 },
        { "1 s", -EINVAL, 0 },
        { "1e20s", -ERANGE, 0 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint64_t ms = SENTINEL;
        int r = duration_parse(cases[i].s, &ms);

        if (r != cases[i].r)
            fail_msg("duration_parse(\"%s\") = %d, expected %d", cases[i].s, r, cases[i].r);
        assert_int_equal(ms, r == 0 ? cases[i].ms : SENTINEL);
    }
}

static void test_size_format(void **state)
{
    static const struct {
        uint64_t bytes;
        const char *s;
    } cases[] = {
        { 0, "0" },
        { 512, "512" },
        { 1023, "1023" },
        { KIB, "1K" },
        { 1536, "1.5K" },
        { 512 * MIB, "512M" },
        { 1536 * MIB, "1.5G" },
        { 4 * GIB, "4G" },
        { 2048 * GIB, "2T" },
        { UINT64_MAX, "16777216T" },
    };
    char buf[SIZE_FMT_MAX];

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        assert_string_equal(size_format(cases[i].bytes, buf), cases[i].s);
}

/* What size_format() prints for an exact size, size_parse() reads back. */
static void test_size_round_trip(void **state)
{
    static const uint64_t sizes[] = { 0, 4096, 100 * KIB, 512 * MIB, 1536 * MIB, 4 * GIB, 2048 * GIB };
    char buf[SIZE_FMT_MAX];

    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        uint64_t back = SENTINEL;

        assert_int_equal(size_parse(size_format(sizes[i], buf), &back), 0);
        assert_int_equal(back, sizes[i]);
    }
}

static void test_parse_u64(void **state)
{
    uint64_t v = SENTINEL;

    assert_int_equal(parse_u64("18446744073709551615", &v), 0);
    assert_int_equal(v, UINT64_MAX);
    v = SENTINEL;
    assert_int_equal(parse_u64("18446744073709551616", &v), -ERANGE);
    assert_int_equal(parse_u64("-1", &v), -EINVAL);
    assert_int_equal(parse_u64("1x", &v), -EINVAL);
    assert_int_equal(parse_u64("", &v), -EINVAL);
    assert_int_equal(v, SENTINEL);
}

/* At most burst per interval; the count of the held back goes out with
 * the next one that passes, and is then reset. */
static void test_ratelimit(void **state)
{
    struct ratelimit rl = RATELIMIT_INIT;
    uint64_t held = SENTINEL, t = 5000;
    unsigned passed = 0;

    for (int i = 0; i < 1000; i++)
        passed += ratelimit_pass(&rl, t + (uint64_t)i, &held);
    assert_int_equal(passed, 10);
    assert_int_equal(held, 0);             /* the tenth: none held back before it */
    assert_false(ratelimit_pass(&rl, t + 9999, &held));
    assert_true(ratelimit_pass(&rl, t + 10000, &held));
    assert_int_equal(held, 991);
    assert_true(ratelimit_pass(&rl, t + 10001, &held));
    assert_int_equal(held, 0);
    /* A clock at 0 (a test's) still starts an interval. */
    rl = (struct ratelimit){.interval_ms = 10, .burst = 1};
    assert_true(ratelimit_pass(&rl, 0, NULL));
    assert_false(ratelimit_pass(&rl, 1, NULL));
    assert_true(ratelimit_pass(&rl, 11, &held));
    assert_int_equal(held, 1);
}

/* Only a regular file, and only up to the cap: a FIFO or a device would
 * block or never end. */
static void test_read_regular_file(void **state)
{
    char dir[] = "/tmp/balloond-test-util.XXXXXX", fifo[64], file[64], *text = NULL;
    size_t len = SENTINEL;

    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    snprintf(file, sizeof(file), "%s/file", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(read_regular_file(fifo, 100, &text, &len), -EINVAL);
    assert_int_equal(read_regular_file("/dev/zero", 100, &text, &len), -EINVAL);
    assert_int_equal(read_regular_file(dir, 100, &text, &len), -EINVAL);
    assert_int_equal(write_file_atomic(file, "0123456789", 10), 0);
    assert_int_equal(read_regular_file(file, 9, &text, &len), -EFBIG);
    assert_null(text);
    assert_int_equal(len, SENTINEL);
    assert_int_equal(read_regular_file(file, 10, &text, &len), 0);
    assert_int_equal(len, 10);
    assert_string_equal(text, "0123456789");
    free(text);
    /* The buffer is sized by fstat: a file longer than fstat said (here
     * /proc, whose files say 0) is still read whole, and still capped. */
    text = NULL;
    assert_int_equal(read_regular_file("/proc/self/status", 1 << 20, &text, &len), 0);
    assert_true(len > 100 && strlen(text) == len && strncmp(text, "Name:", 5) == 0);
    free(text);
    text = NULL;
    len = SENTINEL;
    assert_int_equal(read_regular_file("/proc/self/status", 10, &text, &len), -EFBIG);
    assert_null(text);
    assert_int_equal(len, SENTINEL);
    unlink(fifo);
    unlink(file);
    rmdir(dir);
}

/* Descriptors are handed out lowest first: one within the reserve of the
 * limit means fewer than the reserve are left. */
/* One read(2) of a /proc file: the real statm of this process, whole;
 * too small a buffer is -EFBIG, never a cut line taken as the value. */
static void test_read_file_once(void **state)
{
    char buf[256], tiny[4];
    int n = read_file_once("/proc/self/statm", buf, sizeof(buf));

    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(buf));
    assert_int_equal(buf[n - 1], '\n');
    assert_int_equal(read_file_once("/proc/self/statm", tiny, sizeof(tiny)), -EFBIG);
    assert_int_equal(read_file_once("/proc/self/no-such-file", buf, sizeof(buf)), -ENOENT);
}

static void test_fd_headroom(void **state)
{
    struct rlimit old, rl;

    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    rl = old;
    rl.rlim_cur = 100;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_true(fd_headroom_ok(3, UTIL_FD_RESERVE_VMS));
    assert_true(fd_headroom_ok(100 - UTIL_FD_RESERVE_VMS - 1, UTIL_FD_RESERVE_VMS));
    assert_false(fd_headroom_ok(100 - UTIL_FD_RESERVE_VMS, UTIL_FD_RESERVE_VMS));
    /* Control clients may still come where VMs are refused. */
    assert_true(fd_headroom_ok(100 - UTIL_FD_RESERVE_VMS, UTIL_FD_RESERVE_CLIENTS));
    assert_false(fd_headroom_ok(100 - UTIL_FD_RESERVE_CLIENTS, UTIL_FD_RESERVE_CLIENTS));
    assert_false(fd_headroom_ok(99, UTIL_FD_RESERVE_CLIENTS));
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

/* qemu_user / qemu_group: names or numbers; root is always trusted; a
 * bad list leaves the ids as they were. */
static void test_trust(void **state)
{
    struct trust_ids ids = {0};
    char bad[96];

    assert_int_equal(trust_parse("root, 4242 65000", false, &ids, bad, sizeof(bad)), 0);
    assert_int_equal(ids.n_uids, 3);
    assert_int_equal(trust_parse("4243", true, &ids, bad, sizeof(bad)), 0);
    assert_true(trust_ok(&ids, 0, 99));
    assert_true(trust_ok(&ids, 4242, 99));
    assert_true(trust_ok(&ids, 1000, 4243));
    assert_false(trust_ok(&ids, 1000, 1000));
    assert_int_equal(trust_parse("4242 no-such-user-here", false, &ids, bad, sizeof(bad)), -EINVAL);
    assert_string_equal(bad, "no such user \"no-such-user-here\"");
    assert_int_equal(trust_parse("1 2 3 4 5 6 7 8 9", false, &ids, bad, sizeof(bad)), -E2BIG);
    assert_int_equal(ids.n_uids, 3);
    assert_false(trust_ok(&(struct trust_ids){0}, (uid_t)-1, (gid_t)-1));
}

static void test_listen(void **state)
{
    static const struct {
        const char *s;
        int ret;
    } cases[] = {
        {"127.0.0.1:9781", 0}, {"0.0.0.0:1", 0}, {"[::1]:9781", 0}, {"[::]:65535", 0},
        {"127.0.0.1", -EINVAL}, {"127.0.0.1:0", -EINVAL}, {"127.0.0.1:65536", -EINVAL},
        {"localhost:9781", -EINVAL}, {":9781", -EINVAL}, {"::1:9781", -EINVAL}, {"1.2.3.4:x", -EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("  %-18s -> %d\n", cases[i].s, listen_parse(cases[i].s, NULL, NULL));
        assert_int_equal(listen_parse(cases[i].s, NULL, NULL), cases[i].ret);
    }
}

/* grow_reserve: doubles from first until need fits; enough is left alone;
 * an impossible size is refused with the array unchanged. */
static void test_grow_reserve(void **state)
{
    uint64_t *a = NULL;
    size_t cap = 0;

    (void)state;
    assert_int_equal(grow_reserve(&a, &cap, 5, sizeof(*a), 4), 0);
    assert_int_equal(cap, 8);
    a[7] = 42;
    uint64_t *before = a;
    assert_int_equal(grow_reserve(&a, &cap, 8, sizeof(*a), 4), 0);
    assert_ptr_equal(a, before);
    assert_int_equal(grow_reserve(&a, &cap, 33, sizeof(*a), 4), 0);
    assert_int_equal(cap, 64);
    assert_int_equal(a[7], 42);
    assert_int_equal(grow_reserve(&a, &cap, SIZE_MAX / 4, sizeof(*a), 4), -ENOMEM);
    assert_int_equal(cap, 64);
    assert_int_equal(a[7], 42);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_reserve),
        cmocka_unit_test(test_size_parse),
        cmocka_unit_test(test_size_or_pct_parse),
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_size_format),
        cmocka_unit_test(test_size_round_trip),
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_ratelimit),
        cmocka_unit_test(test_read_regular_file),
        cmocka_unit_test(test_read_file_once),
        cmocka_unit_test(test_fd_headroom),
        cmocka_unit_test(test_trust),
        cmocka_unit_test(test_listen),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
