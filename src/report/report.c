/* report.c: the status snapshot (see report.h). */
#include "report.h"

static void add_u64(json_object *o, const char *key, bool known, uint64_t v)
{
    json_object_object_add(o, key, known ? json_object_new_uint64(v) : NULL);
}

static json_object *report_host(const struct report_view *v)
{
    json_object *h = json_object_new_object();
    const struct host_estimate *e = v->est;

    json_object_object_add(h, "state", json_object_new_string(v->have_host ? host_state_str(e->state)
                                                                           : "unknown"));
    json_object_object_add(h, "cgroup", v->cgroup_dir ? json_object_new_string(v->cgroup_dir) : NULL);
    add_u64(h, "budget_bytes", v->have_host, e->budget_bytes);
    add_u64(h, "reserve_bytes", v->have_host, e->reserve_bytes);
    add_u64(h, "used_bytes", v->have_host, e->used_bytes);
    add_u64(h, "free_bytes", v->have_host, e->free_bytes);
    json_object_object_add(h, "headroom_bytes", json_object_new_int64(e->headroom_bytes));
    json_object_object_add(h, "psi_some_avg10", json_object_new_double(e->psi_some_avg10));
    json_object_object_add(h, "psi_full_avg10", json_object_new_double(e->psi_full_avg10));
    add_u64(h, "mem_total_bytes", v->have_host, v->host->mem.total_kib * 1024);
    add_u64(h, "mem_available_bytes", v->have_host, v->host->mem.avail_kib * 1024);
    add_u64(h, "swap_in_pages_total", v->have_host, v->host->vmstat.pswpin);
    add_u64(h, "swap_out_pages_total", v->have_host, v->host->vmstat.pswpout);
    add_u64(h, "cgroup_oom_kills_total", v->host->has_cgroup, v->host->cgroup.oom_kills);
    return h;
}

static json_object *report_vm_error(const struct report_view *v, const struct vm *vm)
{
    if (vm_no_driver(vm, v->now_ms))
        return json_object_new_string("no balloon stats from the guest since connecting: "
                                      "virtio_balloon is not loaded in it; not managed");
    return vm->last_error[0] ? json_object_new_string(vm->last_error) : NULL;
}

static json_object *report_vm(const struct report_view *v, const struct vm *vm)
{
    json_object *o = json_object_new_object();
    bool sized = vm->size_bytes > 0;
    uint64_t hold_ms = control_hold_left_ms(&vm->ctl, v->now_ms);

    json_object_object_add(o, "name", json_object_new_string(vm->name));
    json_object_object_add(o, "state", json_object_new_string(vm_state_str(vm, v->now_ms)));
    json_object_object_add(o, "runstate", json_object_new_string(vm->runstate));
    json_object_object_add(o, "error", report_vm_error(v, vm));
    json_object_object_add(o, "pid", vm->pid ? json_object_new_int(vm->pid) : NULL);
    add_u64(o, "size_bytes", sized, vm->size_bytes);
    add_u64(o, "min_bytes", sized, vm->min_bytes);
    add_u64(o, "max_bytes", sized, vm->max_bytes);
    json_object_object_add(o, "buffer_pct", json_object_new_int((int)vm->conf.buffer_pct));
    json_object_object_add(o, "shares", json_object_new_int((int)vm->conf.shares));
    json_object_object_add(o, "pinned_bytes", vm->pin_bytes ? json_object_new_uint64(vm->pin_bytes) : NULL);
    json_object_object_add(o, "paused", json_object_new_boolean(vm->paused));
    json_object_object_add(o, "settings", vm->over_lines ? json_object_new_string(vm->over_lines) : NULL);
    add_u64(o, "actual_bytes", vm->obs.have_actual, vm->obs.actual_bytes);
    add_u64(o, "target_bytes", vm->ctl.target_set, vm->ctl.target_bytes);
    add_u64(o, "used_bytes", vm->est.known, vm->est.used_bytes);
    add_u64(o, "available_bytes", vm->est.known, vm->est.avail_bytes);
    add_u64(o, "need_bytes", vm->est.known, vm->est.need_bytes);
    add_u64(o, "rss_bytes", vm->rss_bytes > 0, vm->rss_bytes);
    json_object_object_add(o, "stats", json_object_new_string(vm->est.known ? "ok" : vm->est.why_unknown
                                                                   ? vm->est.why_unknown : "none"));
    json_object_object_add(o, "pressure", vm->est.pressure ? json_object_new_string(vm->est.pressure_why)
                                                           : NULL);
    json_object_object_add(o, "decision", json_object_new_string(policy_reason_str(vm->ctl.reason)));
    json_object_object_add(o, "stalled", json_object_new_boolean(hold_ms > 0));
    json_object_object_add(o, "stall_hold_s", hold_ms ? json_object_new_uint64((hold_ms + 999) / 1000) : NULL);
    json_object_object_add(o, "deflate_on_oom", json_object_new_boolean(vm->obs.deflate_on_oom));
    json_object_object_add(o, "last_change", json_object_new_string(vm->last_change));
    return o;
}

json_object *report_status(const struct report_view *v)
{
    json_object *root = json_object_new_object(), *vms = json_object_new_array();

    json_object_object_add(root, "dry_run", json_object_new_boolean(v->dry_run));
    json_object_object_add(root, "interval_ms", json_object_new_uint64(v->conf->host.interval_ms));
    json_object_object_add(root, "policy", json_object_new_string(policy_kind_str(v->conf->host.policy)));
    json_object_object_add(root, "host", report_host(v));
    for (size_t i = 0; i < v->n_vms; i++)
        json_object_array_add(vms, report_vm(v, v->vms[i]));
    json_object_object_add(root, "vms", vms);
    return root;
}
