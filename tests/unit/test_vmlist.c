/* vmlist: which VMs balloonctl status shows, in what order. A snapshot of
 * six VMs as the daemon sends it (sizes absent or null where unknown),
 * and the names expected after each selection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmlist.h"

#define G "1073741824"
#define M512 "536870912"
#define G2 "2147483648"
#define G3 "3221225472"
#define G4 "4294967296"

static const char snapshot[] =
    "{\"host\": {\"state\": \"plenty\"}, \"vms\": ["
    "{\"name\": \"web10\", \"rss_bytes\": " G ", \"target_bytes\": " M512 ", \"actual_bytes\": " G
    ", \"available_bytes\": 300, \"pressure\": null},"
    "{\"name\": \"db1\", \"rss_bytes\": " G3 ", \"target_bytes\": " G2 ", \"actual_bytes\": " G2
    ", \"available_bytes\": 500, \"pressure\": \"PSI some 30%\"},"
    "{\"name\": \"web2\", \"rss_bytes\": " M512 ", \"target_bytes\": " G4 ", \"actual_bytes\": " M512
    ", \"available_bytes\": 100},"
    "{\"name\": \"web1\", \"rss_bytes\": null, \"target_bytes\": null, \"actual_bytes\": null},"
    "{\"name\": \"batch\", \"rss_bytes\": " G2 ", \"target_bytes\": " G ", \"actual_bytes\": " G3
    ", \"available_bytes\": 50, \"pressure\": \"available 2%\"},"
    "{\"name\": \"db2\", \"rss_bytes\": " G2 ", \"target_bytes\": " G3 ", \"actual_bytes\": " G4
    ", \"available_bytes\": 900}"
    "]}";

/* The names of the VMs left in status, space-separated, into buf. */
static const char *names(json_object *status, char *buf, size_t len)
{
    json_object *vms, *name;
    size_t off = 0;

    buf[0] = '\0';
    assert_true(json_object_object_get_ex(status, "vms", &vms));
    for (size_t i = 0; i < json_object_array_length(vms); i++) {
        assert_true(json_object_object_get_ex(json_object_array_get_idx(vms, i), "name", &name));
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "", json_object_get_string(name));
    }
    return buf;
}

static void test_select(void **state)
{
    static const char *const web[] = {"web*"}, *const dbs_or_batch[] = {"db?", "ba*"}, *const none[] = {"x*"};
    static const struct {
        struct vmlist_opts opts;
        const char *want;
        struct vmlist_counts counts;
    } cases[] = {
        {{VMLIST_SORT_NONE, NULL, 0, 0}, "web10 db1 web2 web1 batch db2", {6, 6, 6}},
        {{VMLIST_SORT_NAME, NULL, 0, 0}, "batch db1 db2 web1 web2 web10", {6, 6, 6}},
        /* Biggest first, unknown last, ties by name. */
        {{VMLIST_SORT_RSS, NULL, 0, 0}, "db1 batch db2 web10 web2 web1", {6, 6, 6}},
        {{VMLIST_SORT_TARGET, NULL, 0, 0}, "web2 db2 db1 batch web10 web1", {6, 6, 6}},
        {{VMLIST_SORT_ACTUAL, NULL, 0, 0}, "db2 batch db1 web10 web2 web1", {6, 6, 6}},
        /* Under pressure first (the least available first), then the rest
         * by what they have available; unknown last. */
        {{VMLIST_SORT_PRESSURE, NULL, 0, 0}, "batch db1 web2 web10 db2 web1", {6, 6, 6}},
        {{VMLIST_SORT_NONE, web, 1, 0}, "web10 web2 web1", {6, 3, 3}},
        {{VMLIST_SORT_NAME, web, 1, 0}, "web1 web2 web10", {6, 3, 3}},
        {{VMLIST_SORT_NAME, dbs_or_batch, 2, 0}, "batch db1 db2", {6, 3, 3}},
        {{VMLIST_SORT_RSS, NULL, 0, 2}, "db1 batch", {6, 6, 2}},
        {{VMLIST_SORT_ACTUAL, web, 1, 2}, "web10 web2", {6, 3, 2}},
        {{VMLIST_SORT_NONE, NULL, 0, 100}, "web10 db1 web2 web1 batch db2", {6, 6, 6}},
        {{VMLIST_SORT_NAME, none, 1, 3}, "", {6, 0, 0}},
    };
    char buf[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *status = json_tokener_parse(snapshot);
        struct vmlist_counts c;
        assert_non_null(status);
        assert_int_equal(vmlist_apply(status, &cases[i].opts, &c), 0);
        printf("  case %zu: %s\n", i, names(status, buf, sizeof(buf)));
        assert_string_equal(names(status, buf, sizeof(buf)), cases[i].want);
        assert_int_equal(c.total, cases[i].counts.total);
        assert_int_equal(c.matching, cases[i].counts.matching);
        assert_int_equal(c.shown, cases[i].counts.shown);
        /* The host part is left as it was. */
        assert_true(json_object_object_get_ex(status, "host", NULL));
        json_object_put(status);
    }
}

static void test_no_vms(void **state)
{
    json_object *status = json_tokener_parse("{\"host\": {}}");
    struct vmlist_opts o = {.sort = VMLIST_SORT_RSS, .top = 3};
    struct vmlist_counts c = {9, 9, 9};

    assert_int_equal(vmlist_apply(status, &o, &c), 0);
    assert_int_equal(c.total, 0);
    assert_int_equal(c.shown, 0);
    json_object_put(status);
}

static void test_sort_parse(void **state)
{
    enum vmlist_sort s = VMLIST_SORT_NONE;

    assert_int_equal(vmlist_sort_parse("rss", &s), 0);
    assert_int_equal(s, VMLIST_SORT_RSS);
    assert_int_equal(vmlist_sort_parse("pressure", &s), 0);
    assert_int_equal(s, VMLIST_SORT_PRESSURE);
    assert_int_equal(vmlist_sort_parse("RSS", &s), -EINVAL);
    assert_int_equal(vmlist_sort_parse("", &s), -EINVAL);
    assert_int_equal(s, VMLIST_SORT_PRESSURE); /* untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_no_vms),
        cmocka_unit_test(test_sort_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
