/* report.h: the one place that turns the daemon's state into a snapshot:
 * `balloonctl status`, its --json and the event log all read this. */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "estimate.h"
#include "host.h"
#include "vm.h"

struct report_view {
    const struct conf *conf;
    bool dry_run;
    bool have_host;
    const struct host_sample *host;
    const struct host_estimate *est;
    const char *cgroup_dir;   /* NULL: none */
    struct vm *const *vms;
    size_t n_vms;
    uint64_t now_ms;          /* CLOCK_MONOTONIC, for what lasts (holds) */
};

json_object *report_status(const struct report_view *v);
