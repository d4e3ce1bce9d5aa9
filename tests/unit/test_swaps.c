/* test_swaps.c: the /proc/swaps parser on fixture files
 * (tests/fixtures/compress/swaps). */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "swaps.h"
#include "util.h"

#define SENTINEL 0xa5

static const char *fx(const char *rel)
{
    return fixture_path("compress", rel);
}

static void test_parse_swaps(void **state)
{
    static const struct {
        const char *file;
        int r;
        struct swaps_info want;
    } cases[] = {
        { "swaps/none", 0, { 0 } },
        { "swaps/disk", 0, { .disk_count = 1, .used_bytes = 20480 * KIB, .max_other_priority = -2 } },
        { "swaps/disk-empty", 0, { .disk_count = 1, .max_other_priority = -2 } },
        { "swaps/file-and-zram", 0,
          { .disk_count = 1, .zram_count = 1, .used_bytes = 12 * KIB, .max_other_priority = 100 } },
        { "swaps/ours", 0,
          { .ours = true, .used_bytes = 1024 * KIB, .ours_size_bytes = 65532 * KIB,
            .ours_used_bytes = 1024 * KIB, .ours_priority = 100 } },
        /* an escaped space in a name; zram12 is not zram1; "zramx" is no zram */
        { "swaps/mixed", 0,
          { .disk_count = 2, .zram_count = 1, .ours = true, .used_bytes = 12 * KIB,
            .ours_size_bytes = 65532 * KIB, .ours_used_bytes = 12 * KIB, .ours_priority = 100,
            .max_other_priority = 7 } },
        { .file = "swaps/truncated", .r = -EINVAL },
        { .file = "swaps/no-newline", .r = -EINVAL },
        { .file = "swaps/bad-used", .r = -EINVAL },
        { .file = "swaps/negative-used", .r = -EINVAL },
        { .file = "swaps/extra-field", .r = -EINVAL },
        { .file = "swaps/missing-field", .r = -EINVAL },
        { .file = "swaps/overflow", .r = -EINVAL },
        { .file = "swaps/bad-priority", .r = -EINVAL },
        { .file = "swaps/no-header", .r = -EINVAL },
        { .file = "swaps/empty", .r = -EINVAL },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct swaps_info got, untouched;

        memset(&got, SENTINEL, sizeof(got));
        untouched = got;
        print_message("swaps: %s\n", cases[i].file);
        assert_int_equal(swaps_parse(fixture_slurp(fx(cases[i].file)), "zram1", &got), cases[i].r);
        assert_memory_equal(&got, cases[i].r == 0 ? &cases[i].want : &untouched, sizeof(got));
    }
}

static void test_parse_swaps_not_ours(void **state)
{
    struct swaps_info got;

    /* Without a device of our own, zram1 is somebody else's. */
    assert_int_equal(swaps_parse(fixture_slurp(fx("swaps/ours")), NULL, &got), 0);
    assert_false(got.ours);
    assert_int_equal(got.zram_count, 1);
    assert_int_equal(got.max_other_priority, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_swaps),
        cmocka_unit_test(test_parse_swaps_not_ours),
    };
    return cmocka_run_group_tests_name("swaps", tests, NULL, NULL);
}
