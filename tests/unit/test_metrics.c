/* Metrics: the exposition rendered from a status snapshot, and listen
 * addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static const char *status_json =
    "{\"policy\":\"balloond\",\"host\":{\"state\":\"tight\",\"budget_bytes\":1073741824,"
    "\"reserve_bytes\":67108864,\"used_bytes\":900000000,\"headroom_bytes\":-5,"
    "\"psi_some_avg10\":12.5,\"psi_full_avg10\":0.0,\"cgroup_oom_kills_total\":0,"
    "\"mem_total_bytes\":25769803776,\"mem_available_bytes\":null,"
    "\"swap_in_pages_total\":12,\"swap_out_pages_total\":3456},"
    "\"vms\":[{\"name\":\"web1\",\"state\":\"managed\",\"actual_bytes\":268435456,"
    "\"target_bytes\":268435456,\"used_bytes\":100000000,\"available_bytes\":null,"
    "\"rss_bytes\":300000000,\"pressure\":\"guest is swapping in\",\"stalled\":false},"
    "{\"name\":\"we\\\"ird\",\"state\":\"retrying\",\"actual_bytes\":null,\"pressure\":null,"
    "\"stalled\":true}],"
    "\"decisions_total\":{\"inflate_idle\":7,\"deflate_pressure\":2,\"stall\":1}}";

static void test_render(void **state)
{
    json_object *st = json_tokener_parse(status_json);
    char *text = metrics_render(st);
    static const char *const want[] = {
        "# TYPE balloond_host_budget_bytes gauge\nballoond_host_budget_bytes 1073741824\n",
        "balloond_host_headroom_bytes -5\n",
        "balloond_host_pressure_some_ratio 0.1250\n",
        "balloond_host_state{state=\"plenty\"} 0\nballoond_host_state{state=\"tight\"} 1\n",
        "# TYPE balloond_host_cgroup_oom_kills_total counter\nballoond_host_cgroup_oom_kills_total 0\n",
        "# TYPE balloond_host_memory_total_bytes gauge\nballoond_host_memory_total_bytes 25769803776\n",
        "# TYPE balloond_host_swap_in_pages_total counter\nballoond_host_swap_in_pages_total 12\n",
        "# TYPE balloond_host_swap_out_pages_total counter\nballoond_host_swap_out_pages_total 3456\n",
        "balloond_vm_actual_bytes{vm=\"web1\"} 268435456\n",
        "balloond_vm_rss_bytes{vm=\"web1\"} 300000000\n",
        "balloond_vm_managed{vm=\"web1\"} 1\n",
        "balloond_vm_managed{vm=\"we\\\"ird\"} 0\n",
        "balloond_vm_pressure{vm=\"web1\"} 1\n",
        "balloond_vm_stalled{vm=\"we\\\"ird\"} 1\n",
        "balloond_decisions_total{reason=\"inflate_idle\"} 7\n",
        "balloond_decisions_total{reason=\"stall\"} 1\n",
        "balloond_vms 2\n",
    };

    assert_non_null(text);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!strstr(text, want[i]))
            print_message("missing:\n%s\nin:\n%s\n", want[i], text);
        assert_non_null(strstr(text, want[i]));
    }
    /* Unknown values are left out, not rendered as 0. */
    assert_null(strstr(text, "balloond_vm_available_bytes{vm=\"web1\"}"));
    assert_null(strstr(text, "balloond_host_memory_available_bytes"));
    assert_null(strstr(text, "balloond_vm_actual_bytes{vm=\"we\\\""));
    /* Every sample line belongs to a declared family. */
    for (char *line = text; *line; line = strchr(line, '\n') + 1) {
        char name[128];
        size_t len = strcspn(line, "{ ");
        if (line[0] != '#') {
            char decl[160];
            snprintf(name, sizeof(name), "%.*s", (int)len, line);
            snprintf(decl, sizeof(decl), "# TYPE %s ", name);
            assert_non_null(strstr(text, decl));
        }
        if (!strchr(line, '\n'))
            break;
    }
    free(text);
    json_object_put(st);
}

static void test_render_empty(void **state)
{
    json_object *st = json_object_new_object();
    char *text = metrics_render(st);
    assert_non_null(strstr(text, "balloond_vms 0\n"));
    free(text);
    json_object_put(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_render_empty),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
