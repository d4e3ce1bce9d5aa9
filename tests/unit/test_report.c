/* test_report.c: the status snapshot of a fixed daemon state, rendered
 * whole (the JSON of `balloonctl status --json` and `vm show`, and the
 * /metrics text made from it) and compared byte for byte with
 * tests/golden/report/. A change of a field's name, order or unit shows
 * here; REPORT_GOLDEN_UPDATE=1 rewrites the files (say why in the commit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "metrics.h"
#include "report.h"
#include "tune.h"
#include "util.h"

#define NOW_MS 1000000ull

/* Everything the snapshot reads of a VM, set by hand: the one place that
 * knows struct vm's layout in this test. */
static struct vm *vm_fixture(const char *name, enum vm_conn conn)
{
    struct vm *vm = calloc(1, sizeof(*vm));

    assert_non_null(vm);
    vm->name = strdup(name);
    vm->link.conn = conn;
    snprintf(vm->link.runstate, sizeof(vm->link.runstate), "running");
    return vm;
}

static void vm_fixture_free(struct vm *vm)
{
    free(vm->name);
    free(vm->set.over_lines);
    free(vm);
}

struct fx {
    struct conf *conf;
    struct host_sample hs;
    struct host_estimate he;
    struct vm *vms[3];
    struct tune *tune;  /* off: the cascade's objects, as a --no-host-tuning daemon has them */
    uint64_t decisions[POLICY_REASON_COUNT];
    uint64_t guard_actions[GUARD_ACTION_COUNT];
};

static void fx_web1(struct vm *vm, const struct conf *c)
{
    vm->link.obs.stats_seen = true;
    vm->link.pid = 4242;
    vm->link.size_bytes = 4 * GIB;
    vm->set.over_lines = strdup("min = 1G\n");
    vm->set.over = (struct conf_vm){.min = {.set = true, .bytes = GIB}};
    vm_resolve(vm, c);
    vm->control.rss_bytes = 3 * GIB + 200 * MIB;
    vm->link.obs.have_actual = true;
    vm->link.obs.actual_bytes = 3 * GIB;
    vm->link.obs.deflate_on_oom = true;
    vm->link.obs.has_balloon = true;
    vm->link.obs.free_page_reporting = true;
    vm->control.ctl.target_set = true;
    vm->control.ctl.target_bytes = 3 * GIB;
    vm->control.ctl.reason = POLICY_DEFLATE_PRESSURE;
    vm->control.est = (struct vm_estimate){.known = true, .used_bytes = 2 * GIB, .avail_bytes = GIB,
                                   .need_bytes = 2 * GIB + 400 * MIB, .pressure = true,
                                   .pressure_why = "guest is swapping in"};
    snprintf(vm->control.last_change, sizeof(vm->control.last_change), "2.0G -> 3.0G: deflate for pressure");
}

/* Connected a minute ago, no stats since (no driver), paused, pinned and
 * stalled with 30.5 s of its hold left. */
static void fx_db(struct vm *vm, const struct conf *c)
{
    vm->link.ready_ms = NOW_MS - 60000;
    vm->link.pid = 777;
    vm->link.size_bytes = 2 * GIB;
    vm_resolve(vm, c);
    vm->set.paused = true;
    vm->set.pin_bytes = GIB;
    vm->control.ctl.stalled = true;
    vm->control.ctl.hold_until_ms = NOW_MS + 30500;
    /* 1 GiB of boot RAM and a 1 GiB virtio-mem device that did not
     * unplug the half it was asked to. */
    vm->link.obs.has_balloon = true;
    vm->link.obs.vmem = (struct vmem_obs){.present = true, .base_bytes = GIB, .size_bytes = GIB,
                                          .requested_bytes = GIB / 2, .max_bytes = GIB, .block_bytes = 2 * MIB};
    vm_stall_why(vm, vm->control.stall_why, sizeof(vm->control.stall_why));
    vm->control.ctl.reason = POLICY_PAUSED;
    vm->control.est.why_unknown = "no stats yet";
    snprintf(vm->control.last_change, sizeof(vm->control.last_change), "adopted at its current size");
}

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    f->conf = conf_new_default();
    assert_non_null(f->conf);
    f->conf->host.cgroup = strdup("/sys/fs/cgroup/machine.slice");
    f->hs = (struct host_sample){.mem = {.total_kib = 16 << 20, .avail_kib = 5 << 20},
                                 .vmstat = {.pswpin = 12, .pswpout = 34},
                                 .has_cgroup = true, .cgroup = {.oom_kills = 1}};
    f->he = (struct host_estimate){.budget_bytes = 12 * GIB, .reserve_bytes = 600 * MIB,
                                   .used_bytes = 11 * GIB, .free_bytes = GIB,
                                   .headroom_bytes = -(int64_t)(100 * MIB), .psi_some_avg10 = 12.5,
                                   .psi_full_avg10 = 0.25, .state = HOST_TIGHT};
    f->vms[0] = vm_fixture("web1", VM_READY);
    fx_web1(f->vms[0], f->conf);
    f->vms[1] = vm_fixture("db", VM_READY);
    fx_db(f->vms[1], f->conf);
    f->vms[2] = vm_fixture("gone", VM_RETRY);
    snprintf(f->vms[2]->link.runstate, sizeof(f->vms[2]->link.runstate), "gone");
    snprintf(f->vms[2]->link.last_error, sizeof(f->vms[2]->link.last_error), "connect: Connection refused");
    vm_resolve(f->vms[2], f->conf);
    assert_int_equal(tune_new("/nonexistent", "/nonexistent", &f->conf->host, false, NULL, &f->tune), 0);
    f->decisions[POLICY_INFLATE_IDLE] = 7;
    f->decisions[POLICY_DEFLATE_PRESSURE] = 2;
    f->guard_actions[GUARD_STALL] = 1;
}

static void fx_done(struct fx *f)
{
    for (size_t i = 0; i < ARRAY_SIZE(f->vms); i++)
        vm_fixture_free(f->vms[i]);
    tune_free(f->tune);
    conf_free(f->conf);
}

static struct report_view fx_view(struct fx *f)
{
    return (struct report_view){
        .conf = f->conf,
        .have_host = true,
        .host = &f->hs,
        .est = &f->he,
        .cgroup_dir = f->conf->host.cgroup,
        .vms = f->vms,
        .n_vms = ARRAY_SIZE(f->vms),
        .tune = f->tune,
        .decisions = f->decisions,
        .guard_actions = f->guard_actions,
        .now_ms = NOW_MS,
    };
}

static json_object *fx_status(struct fx *f)
{
    struct report_view v = fx_view(f);

    return report_status(&v);
}

/* text against tests/golden/report/name, or the file rewritten. */
static void golden(const char *name, const char *text)
{
    const char *path = fixture_path("../golden/report", name);
    const char *want;

    if (getenv("REPORT_GOLDEN_UPDATE")) {
        fixture_put(path, text);
        return;
    }
    want = fixture_slurp(path);
    if (strcmp(want, text) != 0)
        fail_msg("%s differs; got:\n%s", path, text);
}

static void test_status_json(void **state)
{
    struct fx f;
    json_object *st;

    fx_init(&f);
    st = fx_status(&f);
    golden("status.json", json_object_to_json_string_ext(st, JSON_C_TO_STRING_PRETTY));
    json_object_put(st);
    fx_done(&f);
}

static void test_metrics_text(void **state)
{
    struct fx f;
    json_object *st;
    char *text;

    fx_init(&f);
    st = fx_status(&f);
    text = metrics_render(st);
    golden("metrics.txt", text);
    free(text);
    json_object_put(st);
    fx_done(&f);
}

/* vm show is the VM's row of the very same snapshot. */
static void test_vm_row(void **state)
{
    struct fx f;
    struct report_view v;
    json_object *st, *vms, *row;

    fx_init(&f);
    st = fx_status(&f);
    assert_true(json_object_object_get_ex(st, "vms", &vms));
    v = fx_view(&f);
    v.only_vm = "db";
    row = report_vm_row(&v);
    assert_non_null(row);
    assert_string_equal(json_object_to_json_string(row),
                        json_object_to_json_string(json_object_array_get_idx(vms, 1)));
    json_object_put(row);
    v.only_vm = "nope";
    assert_null(report_vm_row(&v));
    json_object_put(st);
    fx_done(&f);
}

/* Nothing sampled yet: unknown, not zero. */
static void test_no_host(void **state)
{
    struct fx f;
    struct report_view v;
    json_object *st, *host, *x;

    fx_init(&f);
    v = (struct report_view){.conf = f.conf, .host = &f.hs, .est = &f.he, .now_ms = NOW_MS};
    f.hs.has_cgroup = false;
    st = report_status(&v);
    assert_true(json_object_object_get_ex(st, "host", &host));
    assert_true(json_object_object_get_ex(host, "state", &x));
    assert_string_equal(json_object_get_string(x), "unknown");
    assert_true(json_object_object_get_ex(host, "budget_bytes", &x));
    assert_null(x);
    assert_true(json_object_object_get_ex(host, "cgroup_oom_kills_total", &x));
    assert_null(x);
    json_object_put(st);
    fx_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_json),
        cmocka_unit_test(test_metrics_text),
        cmocka_unit_test(test_vm_row),
        cmocka_unit_test(test_no_host),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
