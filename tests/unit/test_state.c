/* The state file: targets survive a restart for the same QEMU process
 * only; a corrupt file is set aside, never trusted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"
#include "util.h"

static char dir[64], path[128];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/balloond-test-state.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.json", dir);
    return 0;
}

static int teardown(void **state)
{
    char bad[160];
    snprintf(bad, sizeof(bad), "%s.bad", path);
    unlink(path);
    unlink(bad);
    rmdir(dir);
    return 0;
}

static void test_roundtrip(void **state)
{
    struct state *st;
    uint64_t t = 0;

    assert_int_equal(state_load(path, &st), 0); /* missing: empty */
    assert_int_equal(state_get(st, "web1", 100, &t), 0);
    state_set(st, "web1", 100, 300ULL << 20);
    state_set(st, "db1", 200, 1ULL << 30);
    assert_int_equal(state_save(st), 0);
    state_free(st);

    assert_int_equal(state_load(path, &st), 0);
    assert_int_equal(state_get(st, "web1", 100, &t), 1);
    assert_int_equal(t, 300ULL << 20);
    assert_int_equal(state_get(st, "db1", 200, &t), 1);
    assert_int_equal(t, 1ULL << 30);
    /* Another QEMU process under the same name: not restored. */
    assert_int_equal(state_get(st, "web1", 101, &t), 0);
    state_forget(st, "db1");
    assert_int_equal(state_save(st), 0);
    state_free(st);

    assert_int_equal(state_load(path, &st), 0);
    assert_int_equal(state_get(st, "db1", 200, &t), 0);
    assert_int_equal(state_get(st, "web1", 100, &t), 1);
    state_free(st);
}

static void test_corrupt(void **state)
{
    static const char *const bad[] = {
        "{ not json",
        "[]",
        "{\"version\": 99, \"vms\": {}}",
        "{\"version\": 1}",
        "{\"version\": 1, \"vms\": []}",
    };
    char aside[160], buf[256];

    snprintf(aside, sizeof(aside), "%s.bad", path);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct state *st;
        uint64_t t;
        assert_int_equal(write_file_atomic(path, bad[i], strlen(bad[i])), 0);
        assert_int_equal(state_load(path, &st), 0);
        assert_int_equal(state_get(st, "web1", 100, &t), 0);
        assert_int_equal(access(path, F_OK), -1); /* set aside ... */
        assert_int_equal(read_file(aside, buf, sizeof(buf)), (int)strlen(bad[i]));
        assert_string_equal(buf, bad[i]); /* ... intact, for the operator */
        state_free(st);
    }
    /* An entry of the wrong shape is ignored, the rest is used. */
    {
        const char *mixed = "{\"version\":1,\"vms\":{\"a\":{\"target_bytes\":\"x\",\"pid\":1},"
                            "\"b\":{\"target_bytes\":-5,\"pid\":2},\"c\":{\"target_bytes\":1048576,\"pid\":3}}}";
        struct state *st;
        uint64_t t;
        assert_int_equal(write_file_atomic(path, mixed, strlen(mixed)), 0);
        assert_int_equal(state_load(path, &st), 0);
        assert_int_equal(state_get(st, "a", 1, &t), 0);
        assert_int_equal(state_get(st, "b", 2, &t), 0);
        assert_int_equal(state_get(st, "c", 3, &t), 1);
        state_free(st);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
    };
    log_setup(LOG_CRIT, false);
    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
