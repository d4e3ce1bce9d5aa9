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

#include "command.h"
#include "state.h"
#include "vm.h"
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

/* A learned burst survives a restart with the target, for the same QEMU
 * process only, and a new target keeps it (a restarted daemon that forgot
 * it squeezed r2 of test_restart.sh from 399 to 297 MiB). */
static void test_burst(void **state)
{
    struct state *st;
    uint64_t b = 0, t = 0;

    assert_int_equal(state_load(path, &st), 0);
    state_set_burst(st, "web1", 100, 150ULL << 20, 1700000000); /* no target yet: ignored */
    assert_int_equal(state_get_burst(st, "web1", 100, &b, &t), 0);
    state_set(st, "web1", 100, 400ULL << 20);
    state_set_burst(st, "web1", 100, 150ULL << 20, 1700000000);
    state_set(st, "web1", 100, 380ULL << 20);
    assert_int_equal(state_save(st), 0);
    state_free(st);

    assert_int_equal(state_load(path, &st), 0);
    assert_int_equal(state_get_burst(st, "web1", 100, &b, &t), 1);
    assert_int_equal(b, 150ULL << 20);
    assert_int_equal(t, 1700000000);
    assert_int_equal(state_get(st, "web1", 100, &t), 1);
    assert_int_equal(t, 380ULL << 20);
    assert_int_equal(state_get_burst(st, "web1", 101, &b, &t), 0);
    /* Another QEMU under the name starts afresh. */
    state_set(st, "web1", 101, 512ULL << 20);
    assert_int_equal(state_get_burst(st, "web1", 101, &b, &t), 0);
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

/* A file over the 1 MiB cap is set aside like any bad one, intact,
 * not read as empty and then overwritten by the next save. */
static void test_too_large(void **state)
{
    const size_t len = (1 << 20) + 4096;
    char aside[160], *big = malloc(len + 1), *back = malloc(2 << 20);
    struct state *st;

    assert_non_null(big);
    assert_non_null(back);
    memset(big, ' ', len);
    memcpy(big, "{\"version\":1,\"vms\":{}}", 22);
    big[len] = '\0';
    snprintf(aside, sizeof(aside), "%s.bad", path);
    assert_int_equal(write_file_atomic(path, big, len), 0);
    assert_int_equal(state_load(path, &st), 0);
    state_set(st, "web1", 100, 300ULL << 20);
    assert_int_equal(state_save(st), 0);
    state_free(st);
    assert_int_equal(read_file(aside, back, 2 << 20), (int)len);
    assert_memory_equal(back, big, len);
    free(back);
    free(big);
}

/* The operator's settings read back pass the CLI's own checks: a pin of
 * 1 MiB (balloonctl vm target refuses below 64 MiB) is dropped. */
static struct vm *load_settings_of(const char *text)
{
    struct vm *vm = calloc(1, sizeof(*vm));
    struct state *st;

    assert_non_null(vm);
    vm->name = strdup("s2");
    assert_int_equal(write_file_atomic(path, text, strlen(text)), 0);
    assert_int_equal(state_load(path, &st), 0);
    command_load_settings(st, vm);
    state_free(st);
    return vm;
}

static void free_vm(struct vm *vm)
{
    free(vm->set.over_lines);
    free(vm->name);
    free(vm);
}

static void test_settings_bounds(void **state)
{
    struct vm *vm;

    vm = load_settings_of("{\"version\":1,\"vms\":{},\"settings\":{\"s2\":{\"pin_bytes\":1048576}}}");
    assert_int_equal(vm->set.pin_bytes, 0);
    free_vm(vm);
    vm = load_settings_of("{\"version\":1,\"vms\":{},\"settings\":{\"s2\":{\"pin_bytes\":268435456}}}");
    assert_int_equal(vm->set.pin_bytes, 256 * MIB);
    free_vm(vm);
    vm = load_settings_of("{\"version\":1,\"vms\":{},\"settings\":{\"s2\":{\"paused\":\"false\","
                          "\"lines\":\"min = 1M\\nbuffer = 900\\n\"}}}");
    assert_false(vm->set.paused);
    assert_null(vm->set.over_lines); /* buffer 900 > 400: the config parser refuses it */
    free_vm(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_bounds, setup, teardown),
    };
    log_setup(LOG_CRIT, false);
    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
