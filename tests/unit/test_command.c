/* test_command.c: the control commands (command.c) on a fixture daemon:
 * two VMs, the built-in config, a real state file and event log, and the
 * snapshot made by report.c from them, reached through struct
 * command_host as the manager does. Each verb's effect, its event, what
 * it keeps in the state file, and its refusals, word for word. */
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
#include "events.h"
#include "protocol.h"
#include "report.h"
#include "state.h"
#include "util.h"

struct fx {
    struct conf *conf;
    struct vm *vms[2];
    struct state *state;
    struct events *events;
    struct host_sample hs;
    struct host_estimate he;
    char path[64];
    int reloads, reload_result;
    struct command_host h;
};

static struct vm *fx_find(void *ctx, const char *name)
{
    struct fx *f = ctx;

    for (size_t i = 0; i < ARRAY_SIZE(f->vms); i++)
        if (strcmp(f->vms[i]->name, name) == 0)
            return f->vms[i];
    return NULL;
}

static const struct conf *fx_conf(void *ctx)
{
    return ((struct fx *)ctx)->conf;
}

static json_object *fx_snapshot(void *ctx, const char *only_vm)
{
    struct fx *f = ctx;
    struct report_view v = {.conf = f->conf, .host = &f->hs, .est = &f->he, .vms = f->vms,
                            .n_vms = ARRAY_SIZE(f->vms), .only_vm = only_vm, .now_ms = now_ms()};

    return only_vm ? report_vm_row(&v) : report_status(&v);
}

static int fx_reload(void *ctx)
{
    struct fx *f = ctx;

    f->reloads++;
    return f->reload_result;
}

/* A connected VM whose guest reports: one that can be given a target. */
static struct vm *fx_vm(const char *name, uint64_t size_bytes)
{
    struct vm *vm = calloc(1, sizeof(*vm));

    assert_non_null(vm);
    vm->name = strdup(name);
    vm->ops = &backend_qmp; /* its words for a VM not ready; no session */
    vm->link.conn = VM_READY;
    vm->link.obs.stats_seen = true;
    vm->link.size_bytes = size_bytes;
    return vm;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->path, sizeof(f->path), "/tmp/balloond-test-command.XXXXXX");
    assert_non_null(mkdtemp(f->path));
    strcat(f->path, "/state.json");
    f->conf = conf_new_default();
    f->events = events_new();
    assert_int_equal(state_load(f->path, &f->state), 0);
    f->vms[0] = fx_vm("web1", 4 * GIB);
    f->vms[1] = fx_vm("db", 2 * GIB);
    f->vms[1]->link.conn = VM_RETRY;
    snprintf(f->vms[1]->link.runstate, sizeof(f->vms[1]->link.runstate), "gone");
    f->h = (struct command_host){.ctx = f, .find_vm = fx_find, .conf = fx_conf,
                                 .snapshot = fx_snapshot, .reload = fx_reload,
                                 .state = f->state, .events = f->events};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    for (size_t i = 0; i < ARRAY_SIZE(f->vms); i++) {
        free(f->vms[i]->name);
        free(f->vms[i]->set.over_lines);
        free(f->vms[i]);
    }
    state_free(f->state);
    events_free(f->events);
    conf_free(f->conf);
    unlink(f->path);
    *strrchr(f->path, '/') = '\0';
    rmdir(f->path);
    free(f);
    return 0;
}

/* Runs "command" with the request's JSON text; returns the data. */
static json_object *run(struct fx *f, const char *cmd, const char *req_text, char **error)
{
    json_object *req = req_text ? json_tokener_parse(req_text) : json_object_new_object();
    json_object *data;

    *error = NULL;
    data = command_run(&f->h, cmd, req, error);
    json_object_put(req);
    return data;
}

static void expect_ok(struct fx *f, const char *cmd, const char *req)
{
    char *error;
    json_object *d = run(f, cmd, req, &error);

    if (!d)
        fail_msg("%s %s: %s", cmd, req ? req : "", error ? error : "?");
    json_object_put(d);
}

static void expect_error(struct fx *f, const char *cmd, const char *req, const char *want)
{
    char *error;
    json_object *d = run(f, cmd, req, &error);

    assert_null(d);
    assert_non_null(error);
    if (strcmp(error, want) != 0)
        fail_msg("%s %s: got '%s', expected '%s'", cmd, req ? req : "", error, want);
    free(error);
}

/* The newest event's text. */
static const char *last_event(struct fx *f)
{
    static char text[EVENT_TEXT_MAX + 80];
    json_object *all = events_since(f->events, 0, EVENTS_MAX), *list, *t, *vm;
    size_t n;

    assert_true(json_object_object_get_ex(all, PROTO_KEY_EVENTS, &list));
    n = json_object_array_length(list);
    if (n == 0) {
        json_object_put(all);
        return "";
    }
    json_object_object_get_ex(json_object_array_get_idx(list, n - 1), PROTO_KEY_TEXT, &t);
    json_object_object_get_ex(json_object_array_get_idx(list, n - 1), PROTO_KEY_VM, &vm);
    snprintf(text, sizeof(text), "%s: %s", vm ? json_object_get_string(vm) : "(host)",
             json_object_get_string(t));
    json_object_put(all);
    return text;
}

static void test_vm_set(void **state)
{
    struct fx *f = *state;
    struct vm *vm = f->vms[0];
    struct state_settings s;

    expect_ok(f, PROTO_CMD_VM_SET, "{\"vm\":\"web1\",\"settings\":[\"min=1G\",\"buffer=30\"]}");
    assert_string_equal(vm->set.over_lines, "min = 1G\nbuffer = 30\n");
    vm_resolve(vm, f->conf); /* as the manager does before the next tick or snapshot */
    assert_int_equal(vm->set.min_bytes, GIB);
    assert_int_equal(vm->set.conf.buffer_pct, 30);
    assert_string_equal(last_event(f), "web1: settings changed by the operator: min = 1G; buffer = 30");
    /* A key given again replaces its line; the others stay. */
    expect_ok(f, PROTO_CMD_VM_SET, "{\"vm\":\"web1\",\"settings\":[\"min=2G\"]}");
    assert_string_equal(vm->set.over_lines, "buffer = 30\nmin = 2G\n");
    vm_resolve(vm, f->conf);
    assert_int_equal(vm->set.min_bytes, 2 * GIB);
    assert_int_equal(state_get_settings(f->state, "web1", &s), 1);
    assert_string_equal(s.lines, "buffer = 30\nmin = 2G\n");
    free(s.lines);
}

static const struct {
    const char *req, *error;
} set_refusals[] = {
    {"{\"vm\":\"web1\"}", "vm set needs key=value arguments (min, max, buffer, shares)"},
    {"{\"vm\":\"web1\",\"settings\":[\"min\"]}", "\"min\": expected key=value (min, max, buffer, shares)"},
    {"{\"vm\":\"web1\",\"settings\":[\"min=1G\\n[host]\"]}",
     "\"min=1G\n[host]\": expected key=value (min, max, buffer, shares)"},
    /* an ini comment, or a key in disguise, would be kept as a line of its own */
    {"{\"vm\":\"web1\",\"settings\":[\";x=1\"]}", "\";x=1\": expected key=value (min, max, buffer, shares)"},
    {"{\"vm\":\"web1\",\"settings\":[\" min=1G\"]}",
     "\" min=1G\": expected key=value (min, max, buffer, shares)"},
    {"{\"vm\":\"web1\",\"settings\":[\"colour=red\"]}", "[vm web1] colour: unknown key"},
    {"{\"vm\":\"web1\",\"settings\":[\"interval=1s\"]}",
     "[vm web1] interval: not allowed here; it belongs in [host]"},
    {"{\"vm\":\"web1\",\"settings\":[\"buffer=401\"]}", "[vm web1] buffer: \"401\" is out of range (0..400)"},
    {"{\"vm\":\"web1\",\"settings\":[\"min=5G\"]}", "vm web1: min would be larger than max"},
    {"{\"vm\":\"web1\",\"settings\":[\"a=1\",\"a=1\",\"a=1\",\"a=1\",\"a=1\",\"a=1\",\"a=1\",\"a=1\","
     "\"a=1\",\"a=1\",\"a=1\",\"a=1\",\"a=1\",\"a=1\",\"a=1\",\"a=1\",\"a=1\"]}",
     "vm set: 17 arguments, at most 16 are taken"},
};

static void test_vm_set_refused(void **state)
{
    struct fx *f = *state;

    for (size_t i = 0; i < ARRAY_SIZE(set_refusals); i++)
        expect_error(f, PROTO_CMD_VM_SET, set_refusals[i].req, set_refusals[i].error);
    /* Nothing of a refused set is kept. */
    assert_null(f->vms[0]->set.over_lines);
    assert_string_equal(last_event(f), "");
}

static void test_vm_target(void **state)
{
    struct fx *f = *state;
    struct state_settings s;

    expect_error(f, PROTO_CMD_VM_TARGET, "{\"vm\":\"web1\",\"size\":\"lots\"}",
                 "\"lots\" is not a size (use e.g. 512M or 4G)");
    expect_error(f, PROTO_CMD_VM_TARGET, "{\"vm\":\"web1\"}", "\"\" is not a size (use e.g. 512M or 4G)");
    expect_error(f, PROTO_CMD_VM_TARGET, "{\"vm\":\"web1\",\"size\":\"32M\"}",
                 "vm web1: a target must be between 64M and the VM's size 4G");
    expect_error(f, PROTO_CMD_VM_TARGET, "{\"vm\":\"web1\",\"size\":\"5G\"}",
                 "vm web1: a target must be between 64M and the VM's size 4G");
    expect_error(f, PROTO_CMD_VM_TARGET, "{\"vm\":\"db\",\"size\":\"1G\"}",
                 "vm db: not connected: its QEMU process is gone");
    assert_int_equal(f->vms[0]->set.pin_bytes, 0);
    expect_ok(f, PROTO_CMD_VM_TARGET, "{\"vm\":\"web1\",\"size\":\"3G\"}");
    assert_int_equal(f->vms[0]->set.pin_bytes, 3 * GIB);
    assert_string_equal(last_event(f), "web1: target pinned to 3G by the operator");
    assert_int_equal(state_get_settings(f->state, "web1", &s), 1);
    assert_int_equal(s.pin_bytes, 3 * GIB);
    free(s.lines);
}

static void test_vm_auto_pause_resume(void **state)
{
    struct fx *f = *state;
    struct vm *vm = f->vms[0];
    struct state_settings s;

    vm->set.pin_bytes = GIB;
    expect_ok(f, PROTO_CMD_VM_AUTO, "{\"vm\":\"web1\"}");
    assert_int_equal(vm->set.pin_bytes, 0);
    assert_string_equal(last_event(f), "web1: unpinned: automatic management again");
    expect_ok(f, PROTO_CMD_VM_PAUSE, "{\"vm\":\"web1\"}");
    assert_true(vm->set.paused);
    assert_string_equal(last_event(f), "web1: management paused by the operator");
    assert_int_equal(state_get_settings(f->state, "web1", &s), 1);
    assert_true(s.paused);
    free(s.lines);
    /* Pausing a paused VM says nothing new. */
    expect_ok(f, PROTO_CMD_VM_PAUSE, "{\"vm\":\"web1\"}");
    expect_ok(f, PROTO_CMD_VM_AUTO, "{\"vm\":\"web1\"}");
    assert_string_equal(last_event(f), "web1: management paused by the operator");
    expect_ok(f, PROTO_CMD_VM_RESUME, "{\"vm\":\"web1\"}");
    assert_false(vm->set.paused);
    assert_string_equal(last_event(f), "web1: management resumed by the operator");
}

static void test_vm_show(void **state)
{
    struct fx *f = *state;
    char *error;
    json_object *row = run(f, PROTO_CMD_VM_SHOW, "{\"vm\":\"db\"}", &error), *v;

    assert_non_null(row);
    assert_true(json_object_object_get_ex(row, PROTO_KEY_NAME, &v));
    assert_string_equal(json_object_get_string(v), "db");
    assert_true(json_object_object_get_ex(row, PROTO_KEY_STATE, &v));
    assert_string_equal(json_object_get_string(v), "retrying");
    json_object_put(row);
    expect_error(f, PROTO_CMD_VM_SHOW, "{\"vm\":\"nope\"}", "no VM named \"nope\"");
}

static void test_events(void **state)
{
    struct fx *f = *state;
    char *error;
    json_object *d, *list, *next;

    for (int i = 0; i < 5; i++)
        events_add(f->events, LOG_INFO, NULL, "event %d", i);
    d = run(f, PROTO_CMD_EVENTS, "{\"since\":2,\"max\":2}", &error);
    assert_non_null(d);
    assert_true(json_object_object_get_ex(d, PROTO_KEY_EVENTS, &list));
    assert_int_equal(json_object_array_length(list), 2);
    assert_true(json_object_object_get_ex(d, PROTO_KEY_NEXT, &next));
    assert_int_equal(json_object_get_uint64(next), 4);
    json_object_put(d);
    /* max is clamped to at least one; a since of the wrong type is 0. */
    d = run(f, PROTO_CMD_EVENTS, "{\"since\":\"x\",\"max\":0}", &error);
    json_object_object_get_ex(d, PROTO_KEY_EVENTS, &list);
    assert_int_equal(json_object_array_length(list), 1);
    json_object_put(d);
}

static void test_status_reload_and_refusals(void **state)
{
    struct fx *f = *state;
    char *error;
    json_object *d = run(f, PROTO_CMD_STATUS, NULL, &error), *vms;

    assert_non_null(d);
    assert_true(json_object_object_get_ex(d, PROTO_KEY_VMS, &vms));
    assert_int_equal(json_object_array_length(vms), 2);
    json_object_put(d);
    expect_ok(f, PROTO_CMD_RELOAD, NULL);
    f->reload_result = -22;
    expect_error(f, PROTO_CMD_RELOAD, NULL,
                 "the config file is not valid; the running configuration is kept (see the log)");
    assert_int_equal(f->reloads, 2);
    expect_error(f, "dance", NULL, "unknown command \"dance\"");
    expect_error(f, "vm-dance", "{\"vm\":\"web1\"}", "unknown command \"vm-dance\"");
    expect_error(f, PROTO_CMD_VM_PAUSE, NULL, "vm-pause needs a VM name");
    expect_error(f, PROTO_CMD_VM_PAUSE, "{\"vm\":7}", "vm-pause needs a VM name");
    expect_error(f, PROTO_CMD_VM_PAUSE, "{\"vm\":\"nope\"}", "no VM named \"nope\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vm_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_set_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_auto_pause_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_show, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_reload_and_refusals, setup, teardown),
    };

    log_setup(LOG_CRIT, false);
    return cmocka_run_group_tests_name("command", tests, NULL, NULL);
}
