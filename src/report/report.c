/* report.c: the status snapshot (see report.h). */
#include "report.h"

#include <string.h>

#include "protocol.h"
#include "tune.h"

static void add_u64(json_object *o, const char *key, bool known, uint64_t v)
{
    json_object_object_add(o, key, known ? json_object_new_uint64(v) : NULL);
}

static json_object *report_host(const struct report_view *v)
{
    json_object *h = json_object_new_object();
    const struct host_estimate *e = v->est;

    json_object_object_add(h, PROTO_KEY_STATE, json_object_new_string(v->have_host ? host_state_str(e->state)
                                                                           : "unknown"));
    json_object_object_add(h, PROTO_KEY_CGROUP, v->cgroup_dir ? json_object_new_string(v->cgroup_dir) : NULL);
    add_u64(h, PROTO_KEY_BUDGET_BYTES, v->have_host, e->budget_bytes);
    add_u64(h, PROTO_KEY_RESERVE_BYTES, v->have_host, e->reserve_bytes);
    add_u64(h, PROTO_KEY_USED_BYTES, v->have_host, e->used_bytes);
    add_u64(h, PROTO_KEY_FREE_BYTES, v->have_host, e->free_bytes);
    json_object_object_add(h, PROTO_KEY_HEADROOM_BYTES, json_object_new_int64(e->headroom_bytes));
    json_object_object_add(h, PROTO_KEY_PSI_SOME_AVG10, json_object_new_double(e->psi_some_avg10));
    json_object_object_add(h, PROTO_KEY_PSI_FULL_AVG10, json_object_new_double(e->psi_full_avg10));
    add_u64(h, PROTO_KEY_MEM_TOTAL_BYTES, v->have_host, v->host->mem.total_kib * 1024);
    add_u64(h, PROTO_KEY_MEM_AVAILABLE_BYTES, v->have_host, v->host->mem.avail_kib * 1024);
    add_u64(h, PROTO_KEY_SWAP_IN_PAGES_TOTAL, v->have_host, v->host->vmstat.pswpin);
    add_u64(h, PROTO_KEY_SWAP_OUT_PAGES_TOTAL, v->have_host, v->host->vmstat.pswpout);
    add_u64(h, PROTO_KEY_CGROUP_OOM_KILLS_TOTAL, v->host->has_cgroup, v->host->cgroup.oom_kills);
    return h;
}

static json_object *report_vm_error(const struct report_view *v, const struct vm *vm)
{
    if (vm_no_driver(vm, v->now_ms) && !vm->link.obs.has_balloon)
        return json_object_new_string(vm_why_not_settable(vm, v->now_ms));
    if (vm_no_driver(vm, v->now_ms))
        return json_object_new_string("no balloon stats from the guest since connecting: "
                                      "virtio_balloon is not loaded in it; not managed");
    return vm->link.last_error[0] ? json_object_new_string(vm->link.last_error) : NULL;
}

/* The actuators, and what each gave back: the balloon and virtio-mem
 * (size - actual), the guest by itself (free page reporting: the part of
 * its logical size QEMU does not hold resident). */
static void report_actuators(json_object *o, const struct vm *vm)
{
    const struct vm_observed *ob = &vm->link.obs;
    const struct vmem_obs *vm_ = &ob->vmem;
    bool sized = vm->link.size_bytes && ob->have_actual && ob->actual_bytes <= vm->link.size_bytes;
    bool fpr = ob->free_page_reporting && ob->have_actual && vm->control.rss_bytes;

    json_object_object_add(o, PROTO_KEY_ACTUATORS, json_object_new_string(vm_actuators_str(vm)));
    add_u64(o, PROTO_KEY_VMEM_PLUGGED_BYTES, vm_->present, vm_->size_bytes);
    add_u64(o, PROTO_KEY_VMEM_REQUESTED_BYTES, vm_->present, vm_->requested_bytes);
    add_u64(o, PROTO_KEY_VMEM_MAX_BYTES, vm_->present, vm_->max_bytes);
    add_u64(o, PROTO_KEY_VMEM_BLOCK_BYTES, vm_->present, vm_->block_bytes);
    json_object_object_add(o, PROTO_KEY_FREE_PAGE_REPORTING, json_object_new_boolean(ob->free_page_reporting));
    add_u64(o, PROTO_KEY_RECLAIMED_BYTES, sized, sized ? vm->link.size_bytes - ob->actual_bytes : 0);
    add_u64(o, PROTO_KEY_GUEST_RETURNED_BYTES, fpr,
            fpr && ob->actual_bytes > vm->control.rss_bytes ? ob->actual_bytes - vm->control.rss_bytes : 0);
}

static json_object *report_vm(const struct report_view *v, const struct vm *vm)
{
    json_object *o = json_object_new_object();
    bool sized = vm->link.size_bytes > 0;
    uint64_t hold_ms = control_hold_left_ms(&vm->control.ctl, v->now_ms);

    json_object_object_add(o, PROTO_KEY_NAME, json_object_new_string(vm->name));
    json_object_object_add(o, PROTO_KEY_STATE, json_object_new_string(vm_state_str(vm, v->now_ms)));
    json_object_object_add(o, PROTO_KEY_RUNSTATE, json_object_new_string(vm->link.runstate));
    json_object_object_add(o, PROTO_KEY_ERROR, report_vm_error(v, vm));
    json_object_object_add(o, PROTO_KEY_PID, vm->link.pid ? json_object_new_int(vm->link.pid) : NULL);
    add_u64(o, PROTO_KEY_SIZE_BYTES, sized, vm->link.size_bytes);
    add_u64(o, PROTO_KEY_MIN_BYTES, sized, vm->set.min_bytes);
    add_u64(o, PROTO_KEY_MAX_BYTES, sized, vm->set.max_bytes);
    json_object_object_add(o, PROTO_KEY_BUFFER_PCT, json_object_new_int((int)vm->set.conf.buffer_pct));
    json_object_object_add(o, PROTO_KEY_SHARES, json_object_new_int((int)vm->set.conf.shares));
    json_object_object_add(o, PROTO_KEY_PINNED_BYTES, vm->set.pin_bytes ? json_object_new_uint64(vm->set.pin_bytes) : NULL);
    json_object_object_add(o, PROTO_KEY_PAUSED, json_object_new_boolean(vm->set.paused));
    json_object_object_add(o, PROTO_KEY_SETTINGS, vm->set.over_lines ? json_object_new_string(vm->set.over_lines) : NULL);
    add_u64(o, PROTO_KEY_ACTUAL_BYTES, vm->link.obs.have_actual, vm->link.obs.actual_bytes);
    add_u64(o, PROTO_KEY_TARGET_BYTES, vm->control.ctl.target_set, vm->control.ctl.target_bytes);
    add_u64(o, PROTO_KEY_USED_BYTES, vm->control.est.known, vm->control.est.used_bytes);
    add_u64(o, PROTO_KEY_AVAILABLE_BYTES, vm->control.est.known, vm->control.est.avail_bytes);
    add_u64(o, PROTO_KEY_NEED_BYTES, vm->control.est.known, vm->control.est.need_bytes);
    add_u64(o, PROTO_KEY_RSS_BYTES, vm->control.rss_bytes > 0, vm->control.rss_bytes);
    json_object_object_add(o, PROTO_KEY_STATS, json_object_new_string(vm->control.est.known ? "ok" : vm->control.est.why_unknown
                                                                   ? vm->control.est.why_unknown : "none"));
    json_object_object_add(o, PROTO_KEY_PRESSURE, vm->control.est.pressure ? json_object_new_string(vm->control.est.pressure_why)
                                                           : NULL);
    json_object_object_add(o, PROTO_KEY_DECISION, json_object_new_string(policy_reason_str(vm->control.ctl.reason)));
    json_object_object_add(o, PROTO_KEY_STALLED, json_object_new_boolean(hold_ms > 0));
    json_object_object_add(o, PROTO_KEY_STALL_HOLD_S, hold_ms ? json_object_new_uint64((hold_ms + 999) / 1000) : NULL);
    json_object_object_add(o, PROTO_KEY_DEFLATE_ON_OOM, json_object_new_boolean(vm->link.obs.deflate_on_oom));
    json_object_object_add(o, PROTO_KEY_LAST_CHANGE, json_object_new_string(vm->control.last_change));
    json_object_object_add(o, PROTO_KEY_STALL_REASON, hold_ms && vm->control.stall_why[0]
                                                          ? json_object_new_string(vm->control.stall_why) : NULL);
    report_actuators(o, vm);
    return o;
}

/* The cascade's objects in host, and each VM's KSM savings, read now. */
static void report_tune(const struct report_view *v, json_object *host, json_object *vms)
{
    size_t row = 0;

    if (!v->tune)
        return;
    tune_report(v->tune, host);
    for (size_t i = 0; i < v->n_vms; i++) {
        uint64_t saved;

        if (v->only_vm && strcmp(v->vms[i]->name, v->only_vm) != 0)
            continue;
        json_object_object_add(json_object_array_get_idx(vms, row++), PROTO_KEY_KSM_SAVED_BYTES,
                               tune_vm_ksm(v->tune, v->vms[i]->link.pid, &saved) == 0
                                   ? json_object_new_uint64(saved)
                                   : NULL);
    }
}

static json_object *report_decisions(const struct report_view *v)
{
    json_object *dec = json_object_new_object();

    for (unsigned r = 0; v->decisions && r < POLICY_REASON_COUNT; r++)
        if (v->decisions[r])
            json_object_object_add(dec, policy_reason_key(r), json_object_new_uint64(v->decisions[r]));
    for (unsigned a = GUARD_RESET; v->guard_actions && a < GUARD_ACTION_COUNT; a++)
        if (v->guard_actions[a])
            json_object_object_add(dec, guard_action_key(a), json_object_new_uint64(v->guard_actions[a]));
    return dec;
}

json_object *report_status(const struct report_view *v)
{
    json_object *root = json_object_new_object(), *vms = json_object_new_array();
    json_object *host = report_host(v);

    json_object_object_add(root, PROTO_KEY_DRY_RUN, json_object_new_boolean(v->dry_run));
    json_object_object_add(root, PROTO_KEY_INTERVAL_MS, json_object_new_uint64(v->conf->host.interval_ms));
    json_object_object_add(root, PROTO_KEY_POLICY, json_object_new_string(policy_kind_str(v->conf->host.policy)));
    json_object_object_add(root, PROTO_KEY_HOST, host);
    for (size_t i = 0; i < v->n_vms; i++)
        if (!v->only_vm || strcmp(v->vms[i]->name, v->only_vm) == 0)
            json_object_array_add(vms, report_vm(v, v->vms[i]));
    report_tune(v, host, vms);
    json_object_object_add(root, PROTO_KEY_VMS, vms);
    json_object_object_add(root, PROTO_KEY_DECISIONS_TOTAL, report_decisions(v));
    return root;
}

json_object *report_vm_row(const struct report_view *v)
{
    json_object *st = report_status(v), *vms, *row = NULL;

    if (json_object_object_get_ex(st, PROTO_KEY_VMS, &vms) && json_object_array_length(vms) > 0)
        row = json_object_get(json_object_array_get_idx(vms, 0));
    json_object_put(st);
    return row;
}
