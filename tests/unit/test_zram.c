/* test_zram.c: the mm_stat parser on fixture files
 * (tests/fixtures/compress/mm_stat) and the swap header, byte for byte.
 * Creating and removing the device is tested through the rung, in
 * test_compress.c. */
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
#include "zram.h"
#include "util.h"

#define SENTINEL 0xa5

static const char *fx(const char *rel)
{
    return fixture_path("compress", rel);
}

static void test_parse_mm_stat(void **state)
{
    static const struct {
        const char *file;
        int r;
        struct zram_mm_stat want;
    } cases[] = {
        { "mm_stat/real", 0, { 34082816, 13086124, 14094336 } },
        { "mm_stat/seven-fields", 0, { 4096, 74, 12288 } },
        { "mm_stat/three-fields", 0, { 8192, 1024, 20480 } },
        { "host/sys/block/zram1/mm_stat", 0, { 0, 0, 0 } },
        { .file = "mm_stat/two-fields", .r = -EINVAL },
        { .file = "mm_stat/bad-number", .r = -EINVAL },
        { .file = "mm_stat/negative", .r = -EINVAL },
        { .file = "mm_stat/long-token", .r = -EINVAL },
        { .file = "mm_stat/empty", .r = -EINVAL },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct zram_mm_stat got, untouched;

        memset(&got, SENTINEL, sizeof(got));
        untouched = got;
        print_message("mm_stat: %s\n", cases[i].file);
        assert_int_equal(zram_parse_mm_stat(fixture_slurp(fx(cases[i].file)), &got), cases[i].r);
        assert_memory_equal(&got, cases[i].r == 0 ? &cases[i].want : &untouched, sizeof(got));
    }
}

static uint32_t u32_at(const unsigned char *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, sizeof(v));
    return v;
}

static void test_swap_header(void **state)
{
    static unsigned char page[65536], zero[65536];

    assert_int_equal(zram_swap_header(page, 4096, 64 * MIB), 0);
    assert_memory_equal(page, zero, 1024);           /* bootbits */
    assert_int_equal(u32_at(page, 1024), 1);         /* version */
    assert_int_equal(u32_at(page, 1028), 16383);     /* last_page: 16384 pages, 0 is the header */
    assert_int_equal(u32_at(page, 1032), 0);         /* nr_badpages */
    assert_memory_equal(page + 1036, zero, 4086 - 1036);
    assert_memory_equal(page + 4086, "SWAPSPACE2", 10);

    /* 64 KiB pages (arm64, ppc64): the magic moves to the page's end. */
    assert_int_equal(zram_swap_header(page, 65536, 64 * MIB), 0);
    assert_int_equal(u32_at(page, 1028), 1023);
    assert_memory_equal(page + 65526, "SWAPSPACE2", 10);
    assert_memory_equal(page + 4086, zero, 10);

    assert_int_equal(zram_swap_header(page, 4096, 8192), 0);
    assert_int_equal(u32_at(page, 1028), 1);
    memset(page, SENTINEL, 4096);
    assert_int_equal(zram_swap_header(page, 4096, 8191), -EINVAL);  /* the header alone */
    assert_int_equal(zram_swap_header(page, 4096, 0), -EINVAL);
    assert_int_equal(zram_swap_header(page, 4096, (UINT64_C(1) << 32) * 4096 + 4096), -EINVAL);
    assert_int_equal(zram_swap_header(page, 512, 64 * MIB), -EINVAL);
    assert_int_equal(page[0], SENTINEL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_mm_stat),
        cmocka_unit_test(test_swap_header),
    };
    return cmocka_run_group_tests_name("zram", tests, NULL, NULL);
}
