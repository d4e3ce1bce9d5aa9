/* test_sysfs.c: the one reader of /proc, /sys and cgroup files, on
 * fixture files (tests/fixtures/sysfs): complete, cut short, malformed,
 * empty and missing. On error nothing may be written. */
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
#include "sysfs.h"
#include "util.h"

#define SENTINEL 0xa5a5a5a5a5a5a5a5ULL

static const char *fx(const char *rel)
{
    return fixture_path("sysfs", rel);
}

static void test_read_u64(void **state)
{
    static const struct {
        const char *file;
        int r_required, r_optional;  /* with SYSFS_EOL_REQUIRED, _OPTIONAL */
    } cases[] = {
        { "value/ok", 0, 0 },
        { "value/cut", -EINVAL, 0 },          /* "42": may be the start of 420 */
        { "value/two-lines", -EINVAL, -EINVAL },
        { "value/empty", -EINVAL, -EINVAL },
        { "value/blank", -EINVAL, -EINVAL },
        { "value/bad", -EINVAL, -EINVAL },
        { "value/negative", -EINVAL, -EINVAL },
        { "value/too-big", -EINVAL, -EINVAL }, /* 2^64 */
        { "value/too-long", -EFBIG, -EFBIG },  /* over SYSFS_VALUE_MAX */
        { "value/missing", -ENOENT, -ENOENT },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint64_t v = SENTINEL, w = SENTINEL;

        print_message("%s\n", cases[i].file);
        assert_int_equal(sysfs_read_u64(fx(cases[i].file), SYSFS_EOL_REQUIRED, &v),
                         cases[i].r_required);
        assert_true(v == (cases[i].r_required == 0 ? 42 : SENTINEL));
        assert_int_equal(sysfs_read_u64(fx(cases[i].file), SYSFS_EOL_OPTIONAL, &w),
                         cases[i].r_optional);
        assert_true(w == (cases[i].r_optional == 0 ? 42 : SENTINEL));
    }
}

static void test_read_line(void **state)
{
    char buf[SYSFS_VALUE_MAX];

    assert_int_equal(sysfs_read_line(fx("value/ok"), SYSFS_EOL_REQUIRED, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "42");
    assert_int_equal(sysfs_read_line(fx("value/cut"), SYSFS_EOL_OPTIONAL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "42");
    assert_int_equal(sysfs_read_line(fx("value/blank"), SYSFS_EOL_REQUIRED, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    /* A buffer too small for the file is -EFBIG, never a cut value. */
    assert_int_equal(sysfs_read_line(fx("value/ok"), SYSFS_EOL_OPTIONAL, buf, 3), -EFBIG);
}

static void test_read_keys(void **state)
{
    static const char *const keys[] = { "MemTotal", "MemFree", "Zswap" };
    static const struct {
        const char *file;
        int r;
        unsigned found;
        uint64_t want[3];
    } cases[] = {
        { "keys/ok", 0, 7, { 8000000, 1500000, 10240 } },
        /* the cut "MemFree: 15000" is ignored, not read as 15000 */
        { "keys/cut", 0, 1, { 8000000, SENTINEL, SENTINEL } },
        { "keys/bad", -EINVAL, 0, { SENTINEL, SENTINEL, SENTINEL } },
        /* a bad value under a key nobody asked for is not looked at */
        { "keys/bad-unwanted", 0, 3, { 8000000, 1500000, SENTINEL } },
        { "keys/no-colon", 0, 3, { 8000000, 1500000, SENTINEL } }, /* vmstat's form */
        { "keys/empty", -EINVAL, 0, { SENTINEL, SENTINEL, SENTINEL } },
        { "keys/no-line", -EINVAL, 0, { SENTINEL, SENTINEL, SENTINEL } },
        { "keys/missing", -ENOENT, 0, { SENTINEL, SENTINEL, SENTINEL } },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint64_t v[3] = { SENTINEL, SENTINEL, SENTINEL };
        unsigned found = 0xdead;

        print_message("%s\n", cases[i].file);
        assert_int_equal(sysfs_read_keys(fx(cases[i].file), keys, 3, v, &found), cases[i].r);
        assert_int_equal(found, cases[i].r == 0 ? cases[i].found : 0xdead);
        for (size_t k = 0; k < 3; k++)
            assert_true(v[k] == cases[i].want[k]);
    }
}

static void test_read_keys_too_many(void **state)
{
    const char *keys[33];
    uint64_t v[33];
    unsigned found;

    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        keys[i] = "MemTotal";
    /* *found has one bit a key */
    assert_int_equal(sysfs_read_keys(fx("keys/ok"), keys, 33, v, &found), -EINVAL);
}

static void test_path_exists(void **state)
{
    char path[PATH_MAX], name[PATH_MAX];

    assert_int_equal(sysfs_path(path, "%s/%s", "/sys", "kernel"), 0);
    assert_string_equal(path, "/sys/kernel");
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(sysfs_path(path, "/sys/%s", name), -ENAMETOOLONG);
    assert_int_equal(sysfs_exists(fx("value/ok")), 1);
    assert_int_equal(sysfs_exists(fx("value/missing")), 0);
    assert_int_equal(sysfs_exists(fx("value/ok/below")), 0); /* ENOTDIR */
}

static void test_write(void **state)
{
    char root[FIXTURE_TREE_MAX], path[PATH_MAX];
    uint64_t v;

    fixture_tree_copy(fx("value"), "test_sysfs", root);
    snprintf(path, sizeof(path), "%s/too-long", root);
    /* A knob is written whole, over a longer old value. */
    assert_int_equal(sysfs_write(path, "7\n"), 0);
    assert_int_equal(sysfs_read_u64(path, SYSFS_EOL_REQUIRED, &v), 0);
    assert_int_equal(v, 7);
    snprintf(path, sizeof(path), "%s/missing", root);
    assert_int_equal(sysfs_write(path, "1"), -ENOENT);
    assert_int_equal(access(path, F_OK), -1); /* knobs are never created */
    fixture_tree_rm(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_u64),
        cmocka_unit_test(test_read_line),
        cmocka_unit_test(test_read_keys),
        cmocka_unit_test(test_read_keys_too_many),
        cmocka_unit_test(test_path_exists),
        cmocka_unit_test(test_write),
    };
    return cmocka_run_group_tests_name("sysfs", tests, NULL, NULL);
}
