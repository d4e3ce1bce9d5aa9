/* virtio-mem and the balloon sharing a target (core/vmem.c), and the
 * QMP reader of query-memory-devices (qmp_vmem.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "qmp_vmem.h"
#include "vmem.h"

#define M(x) ((uint64_t)(x) << 20)

/* The test guest: 320 MiB of boot RAM, a 1 GiB device of 2 MiB blocks. */
static const struct vmem_obs dev = {.present = true, .base_bytes = M(320), .size_bytes = M(128),
                                    .requested_bytes = M(128), .max_bytes = M(1024), .block_bytes = M(2)};

static void test_plan(void **state)
{
    static const struct {
        const char *what;
        bool present, balloon;
        uint64_t target, want_req, want_balloon;
    } cases[] = {
        {"balloon only: the target", false, true, M(700), 0, M(700)},
        {"both: whole blocks up, the balloon takes the rest", true, true, M(451), M(132), M(319)},
        {"both: on a block, balloon at base (empty)", true, true, M(452), M(132), M(320)},
        {"both: below base, no blocks, the balloon inflates", true, true, M(200), 0, M(200)},
        {"both: at the top, every block", true, true, M(1344), M(1024), M(320)},
        {"virtio-mem alone: blocks rounded up, balloon untouched", true, false, M(451), M(132), M(320)},
        {"virtio-mem alone: below base, nothing plugged", true, false, M(100), 0, M(320)},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vmem_obs v = dev;
        struct vmem_plan p;
        v.present = cases[i].present;
        vmem_plan(&v, cases[i].balloon, cases[i].target, &p);
        print_message("%s\n", cases[i].what);
        if (cases[i].present)
            assert_int_equal(p.requested_bytes, cases[i].want_req);
        assert_int_equal(p.balloon_bytes, cases[i].want_balloon);
        /* Both: the two shares add up to the target exactly. */
        if (cases[i].present && cases[i].balloon && cases[i].target >= M(320))
            assert_int_equal(p.requested_bytes + p.balloon_bytes, cases[i].target);
    }
}

static void test_odd_block(void **state)
{
    struct vmem_obs v = dev;
    struct vmem_plan p;

    v.block_bytes = M(128);
    vmem_plan(&v, true, M(321), &p);
    assert_int_equal(p.requested_bytes, M(128));  /* up: never less than asked */
    assert_int_equal(p.balloon_bytes, M(193));    /* the balloon takes 127 MiB back */
    vmem_plan(&v, false, M(321), &p);
    assert_int_equal(p.requested_bytes, M(128));
}

static void test_logical_and_round(void **state)
{
    struct vmem_obs none = {.base_bytes = M(512)};

    assert_int_equal(vmem_logical_bytes(&dev, true, M(300)), M(428));
    assert_int_equal(vmem_logical_bytes(&dev, false, 0), M(448));
    assert_int_equal(vmem_logical_bytes(&none, true, M(400)), M(400));
    assert_int_equal(vmem_size_bytes(&dev), M(1344));
    assert_int_equal(vmem_size_bytes(&none), M(512));
    /* Virtio-mem alone: up to the next block above base, never below base, within max. */
    assert_int_equal(vmem_round_target(&dev, false, M(451), M(1344)), M(452));
    assert_int_equal(vmem_round_target(&dev, false, M(100), M(1344)), M(320));
    assert_int_equal(vmem_round_target(&dev, false, M(1343), M(1000)), M(1000));
    /* With a balloon, or without the device: as is. */
    assert_int_equal(vmem_round_target(&dev, true, M(451), M(1344)), M(451));
    assert_int_equal(vmem_round_target(&none, false, M(451), M(1344)), M(451));
}

static void test_pending_and_valid(void **state)
{
    struct vmem_obs v = dev;

    assert_false(vmem_unplug_pending(&v));
    v.requested_bytes = M(64);
    assert_true(vmem_unplug_pending(&v));
    assert_true(vmem_obs_valid(&dev));
    v = dev, v.block_bytes = M(3);
    assert_false(vmem_obs_valid(&v));  /* not a power of two */
    v = dev, v.block_bytes = 0;
    assert_false(vmem_obs_valid(&v));
    v = dev, v.size_bytes = M(2048);
    assert_false(vmem_obs_valid(&v));  /* plugged above max: a lie */
    v = dev, v.max_bytes = M(1023);
    assert_false(vmem_obs_valid(&v));
}

/* QEMU 7.2's answer, as seen on the test guest (plus a DIMM). */
static const char reply[] =
    "[{\"type\":\"dimm\",\"data\":{\"id\":\"d0\",\"size\":268435456,\"slot\":0,\"node\":0,"
    "\"memdev\":\"/objects/m0\",\"hotplugged\":false,\"hotpluggable\":true,\"addr\":0}},"
    "{\"type\":\"virtio-mem\",\"data\":{\"memdev\":\"/objects/vmem0\",\"memaddr\":4294967296,"
    "\"block-size\":2097152,\"size\":134217728,\"node\":0,\"max-size\":1073741824,"
    "\"requested-size\":134217728,\"id\":\"vm0\"}}]";

static void test_parse(void **state)
{
    json_object *j = json_tokener_parse(reply);
    struct vmem_obs v;
    char id[QMP_VMEM_ID_MAX];
    uint64_t dimms;
    bool anon;

    assert_int_equal(qmp_vmem_parse(j, &v, id, &dimms, &anon), 0);
    assert_true(v.present);
    assert_string_equal(id, "vm0");
    assert_int_equal(v.size_bytes, M(128));
    assert_int_equal(v.max_bytes, M(1024));
    assert_int_equal(v.block_bytes, M(2));
    assert_int_equal(dimms, M(256));
    assert_false(anon);
    json_object_put(j);
}

static void test_parse_bad(void **state)
{
    static const char *const bad[] = {
        /* block size 3 MiB */
        "[{\"type\":\"virtio-mem\",\"data\":{\"id\":\"a\",\"block-size\":3145728,\"size\":0,"
        "\"max-size\":1073741824,\"requested-size\":0}}]",
        /* plugged above max */
        "[{\"type\":\"virtio-mem\",\"data\":{\"id\":\"a\",\"block-size\":2097152,\"size\":2147483648,"
        "\"max-size\":1073741824,\"requested-size\":0}}]",
        /* sizes as strings */
        "[{\"type\":\"virtio-mem\",\"data\":{\"id\":\"a\",\"block-size\":\"2M\",\"size\":0,"
        "\"max-size\":1073741824,\"requested-size\":0}}]",
        "{\"not\":\"a list\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_object *j = json_tokener_parse(bad[i]);
        struct vmem_obs v;
        char id[QMP_VMEM_ID_MAX];
        uint64_t dimms;
        bool anon;
        assert_int_equal(qmp_vmem_parse(j, &v, id, &dimms, &anon), -EBADMSG);
        json_object_put(j);
    }
    /* Without an id it cannot be addressed: said, not driven. */
    json_object *j = json_tokener_parse("[{\"type\":\"virtio-mem\",\"data\":{\"block-size\":2097152,"
                                        "\"size\":0,\"max-size\":1073741824,\"requested-size\":0}}]");
    struct vmem_obs v;
    char id[QMP_VMEM_ID_MAX];
    uint64_t dimms;
    bool anon;
    assert_int_equal(qmp_vmem_parse(j, &v, id, &dimms, &anon), 0);
    assert_false(v.present);
    assert_true(anon);
    json_object_put(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_odd_block),
        cmocka_unit_test(test_logical_and_round),
        cmocka_unit_test(test_pending_and_valid),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
