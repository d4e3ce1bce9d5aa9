/* The manager's name index (names.h): lookups stay right through growth,
 * updates and deletions from the middle of probe runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "names.h"

#define N 5000

static void test_names(void **state)
{
    static char keys[N][16];
    struct names t = {0};

    assert_int_equal(names_get(&t, "x"), -1);
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "vm%zu", i);
        assert_int_equal(names_put(&t, keys[i], i), 0);
    }
    assert_int_equal(t.n, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(names_get(&t, keys[i]), (ssize_t)i);
    /* Every third one goes; the rest must still be found. */
    for (size_t i = 0; i < N; i += 3)
        names_del(&t, keys[i]);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(names_get(&t, keys[i]), i % 3 ? (ssize_t)i : -1);
    /* An update moves an index without a second entry. */
    size_t n = t.n;
    assert_int_equal(names_put(&t, keys[1], 7), 0);
    assert_int_equal(t.n, n);
    assert_int_equal(names_get(&t, keys[1]), 7);
    names_del(&t, "not there");
    assert_int_equal(t.n, n);
    names_free(&t);
    assert_int_equal(names_get(&t, keys[1]), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_names)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
