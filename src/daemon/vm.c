/* vm.c: one VM as the manager keeps it (see vm.h). */
#include "vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int vm_attach(const struct backend_ops *ops, sd_event *ev, const char *name, const char *address,
              const struct backend_attach *a, struct vm **out)
{
    struct vm *vm = calloc(1, sizeof(*vm));
    int r;

    if (!vm)
        return -ENOMEM;
    vm->ops = ops;
    vm->name = strdup(name);
    r = vm->name ? ops->attach(ev, name, address, a, &vm->link, &vm->session) : -ENOMEM;
    if (r < 0) {
        free(vm->name);
        free(vm);
        return r;
    }
    *out = vm;
    return 0;
}

void vm_free(struct vm *vm)
{
    if (!vm)
        return;
    vm->ops->detach(vm->session);
    free(vm->set.over_lines);
    free(vm->name);
    free(vm);
}

bool vm_is_ready(const struct vm *vm)
{
    return vm->link.conn == VM_READY;
}

/* The one resolution of a VM's settings: over (the operator's) over
 * the config file's; min and max against the VM's size. min may come
 * out above max. */
static struct conf_vm resolve(const struct vm *vm, const struct conf_vm *over, const struct conf *c,
                              uint64_t *min_bytes, uint64_t *max_bytes)
{
    struct conf_vm base = conf_vm_get(c, vm->name);
    struct conf_vm merged = conf_vm_merge(over, &base);

    *max_bytes = conf_size_resolve(&merged.max, vm->link.size_bytes);
    *min_bytes = conf_size_resolve(&merged.min, *max_bytes);
    return merged;
}

void vm_resolve(struct vm *vm, const struct conf *c)
{
    uint64_t min, max;

    vm->set.conf = resolve(vm, &vm->set.over, c, &min, &max);
    vm->set.max_bytes = max;
    vm->set.min_bytes = min_u64(min, max);
}

bool vm_settings_fit(const struct vm *vm, const struct conf_vm *over, const struct conf *c)
{
    uint64_t min, max;

    resolve(vm, over, c, &min, &max);
    /* With the size unknown nothing can be compared yet. */
    return !vm->link.size_bytes || min <= max;
}

uint64_t vm_target_clamp(const struct vm *vm, uint64_t target_bytes)
{
    if (vm->set.max_bytes == 0)
        return 0;
    return clamp_u64(target_bytes, max_u64(vm->set.min_bytes, 1), vm->set.max_bytes);
}

int vm_send_target(struct vm *vm, uint64_t target_bytes)
{
    uint64_t sent_bytes = vm_target_clamp(vm, target_bytes);

    if (!vm_is_ready(vm))
        return -ENOTCONN;
    if (sent_bytes == 0) {
        log_warn("vm %s: no target sent: its size is not known yet", vm->name);
        return -ERANGE;
    }
    return vm->ops->set_target(vm->session, sent_bytes);
}

const char *vm_conn_str(enum vm_conn c)
{
    switch (c) {
    case VM_CONNECTING: return "connecting";
    case VM_READY: return "managed";
    case VM_NO_BALLOON: return "no-balloon";
    case VM_RETRY: return "retrying";
    }
    return "?";
}

bool vm_no_driver(const struct vm *vm, uint64_t now_ms)
{
    return vm_is_ready(vm) && control_no_driver(vm->link.obs.stats_seen, vm->link.ready_ms, now_ms);
}

const char *vm_state_str(const struct vm *vm, uint64_t now_ms)
{
    return vm_no_driver(vm, now_ms) ? "no-driver" : vm_conn_str(vm->link.conn);
}

const char *vm_why_not_settable(const struct vm *vm, uint64_t now_ms)
{
    if (!vm_is_ready(vm))
        return vm->ops->why_not_ready(&vm->link);
    if (vm_no_driver(vm, now_ms) && !vm->link.obs.has_balloon)
        return "virtio-mem without a balloon device: no guest stats to decide on "
               "(add -device virtio-balloon-pci for its stats)";
    if (vm_no_driver(vm, now_ms))
        return "the guest's balloon driver is not loaded (no balloon stats from it since connecting)";
    if (!vm->link.size_bytes)
        return "its size is not known yet (QEMU has not answered)";
    return NULL;
}

void vm_stall_why(const struct vm *vm, char *buf, size_t len)
{
    const struct vmem_obs *v = &vm->link.obs.vmem;
    char size[SIZE_FMT_MAX], req[SIZE_FMT_MAX];

    if (vmem_unplug_pending(v))
        snprintf(buf, len, "virtio-mem: the guest unplugged down to %s of the %s asked (its memory is busy); "
                 "not counted as reclaimed, asked again after the hold",
                 size_format(v->size_bytes, size), size_format(v->requested_bytes, req));
    else
        snprintf(buf, len, "the balloon did not inflate to the target (the guest could not free the memory); "
                 "not counted as reclaimed, asked again after the hold");
}

const char *vm_actuators_str(const struct vm *vm)
{
    bool b = vm->link.obs.has_balloon, m = vm->link.obs.vmem.present;

    return b && m ? "balloon+virtio-mem" : m ? "virtio-mem" : b ? "balloon" : "none";
}
