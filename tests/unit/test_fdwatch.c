/* fdwatch: when the count of VMs without a descriptor is news. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fdwatch.h"

static void test_is_news(void **state)
{
    static const struct {
        size_t told, now;
        bool news;
    } cases[] = {
        {0, 0, false},
        {0, 1, true},      /* the first one */
        {0, 86, true},
        {86, 86, false},
        {86, 0, true},     /* all connected again */
        {86, 95, false},   /* +9: below the minimum */
        {86, 100, false},  /* +14: below a quarter */
        {86, 108, true},   /* +22: a quarter */
        {86, 64, true},    /* -22 */
        {86, 65, false},
        {1, 10, false},    /* +9: a few more VMs starting one by one */
        {1, 11, true},
        {1000, 1249, false},
        {1000, 1250, true},
        {1000, 1, true},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (fdwatch_is_news(cases[i].told, cases[i].now) != cases[i].news)
            fail_msg("told %zu, now %zu: expected %s", cases[i].told, cases[i].now,
                     cases[i].news ? "news" : "no news");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_news),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
