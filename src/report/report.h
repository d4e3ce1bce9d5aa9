/* report.h: the one place that turns the daemon's state into a snapshot.
 * `balloonctl status` and its --json, `balloonctl vm show` (one row of
 * it), /metrics (metrics_render() of it) and the event views all read
 * what report_status() builds; nothing else assembles status. */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "estimate.h"
#include "guard.h"
#include "host.h"
#include "policy.h"
#include "vm.h"

struct tune;

struct report_view {
    const struct conf *conf;
    bool dry_run;
    bool have_host;
    const struct host_sample *host;
    const struct host_estimate *est;
    const char *cgroup_dir;   /* NULL: none */
    struct vm *const *vms;
    size_t n_vms;
    const char *only_vm;      /* NULL: every VM; else that VM's row alone */
    const struct tune *tune;  /* the cascade's state and per-VM KSM; NULL: left out */
    /* Target changes since start, by why (NULL: none). */
    const uint64_t *decisions;      /* [POLICY_REASON_COUNT] */
    const uint64_t *guard_actions;  /* [GUARD_ACTION_COUNT] */
    uint64_t now_ms;          /* CLOCK_MONOTONIC, for what lasts (holds) */
};

/* The snapshot (protocol.h names its keys). */
json_object *report_status(const struct report_view *v);
/* The row of v->only_vm in report_status(v) (a new reference), or NULL
 * when there is no such VM. */
json_object *report_vm_row(const struct report_view *v);
