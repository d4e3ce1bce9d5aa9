/* qmp_vmem.c: see qmp_vmem.h. */
#include "qmp_vmem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "observe.h"
#include "qmp_vm.h"
#include "util.h"

static int parse_vmem(json_object *data, struct vmem_obs *v)
{
    *v = (struct vmem_obs){
        .present = true,
        .size_bytes = qmp_u64(data, "size"),
        .requested_bytes = qmp_u64(data, "requested-size"),
        .max_bytes = qmp_u64(data, "max-size"),
        .block_bytes = qmp_u64(data, "block-size"),
    };
    return vmem_obs_valid(v) ? 0 : -EBADMSG;
}

int qmp_vmem_parse(json_object *ret, struct vmem_obs *v, char id[QMP_VMEM_ID_MAX], uint64_t *dimm_bytes,
                   bool *anon)
{
    struct vmem_obs found = {0};
    uint64_t dimms = 0;
    size_t n;

    if (!json_object_is_type(ret, json_type_array))
        return -EBADMSG;
    *anon = false;
    n = json_object_array_length(ret);
    for (size_t i = 0; i < n; i++) {
        json_object *dev = json_object_array_get_idx(ret, i), *data;
        const char *type = qmp_str(dev, "type"), *dev_id;
        if (!type || !json_object_object_get_ex(dev, "data", &data))
            continue;
        if (strcmp(type, "dimm") == 0) {
            uint64_t sz = qmp_u64(data, "size");
            if (sz != QMP_UNKNOWN && sz < (1ULL << 52))
                dimms += sz;
        } else if (strcmp(type, "virtio-mem") == 0 && !found.present) {
            dev_id = qmp_str(data, "id");
            if (!dev_id || !*dev_id || strlen(dev_id) >= QMP_VMEM_ID_MAX) {
                *anon = true;
                continue;
            }
            if (parse_vmem(data, &found) < 0)
                return -EBADMSG;
            snprintf(id, QMP_VMEM_ID_MAX, "%s", dev_id);
        }
    }
    *v = found;
    *dimm_bytes = dimms;
    return 0;
}

void qmp_vmem_observe(struct session *vm)
{
    struct vm_observed *o = &vm->link->obs;

    if (o->has_balloon && !vm->have_balloon_actual) {
        observe_no_actual(o);
        return;
    }
    observe_actual(o, vmem_logical_bytes(&o->vmem, o->has_balloon, vm->balloon_actual_bytes), now_ms());
}

static void on_devices(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;
    struct vmem_obs v;
    char id[QMP_VMEM_ID_MAX];
    uint64_t dimms;
    bool anon;

    if (m->type != QMP_MSG_RETURN || qmp_vmem_parse(m->ret, &v, id, &dimms, &anon) < 0) {
        log_limited(&vm->fail_rl, LOG_WARNING, "vm %s: query-memory-devices unreadable; virtio-mem left alone",
                    vm->name);
        return;
    }
    /* Only the device found at setup is driven; another one is not
     * taken for it. */
    if (!v.present || strcmp(id, vm->vmem_id) != 0)
        return;
    v.base_bytes = vm->link->obs.vmem.base_bytes;
    vm->link->obs.vmem = v;
    qmp_vmem_observe(vm);
}

void qmp_vmem_poll(struct session *vm)
{
    qmp_command(vm->qmp, "query-memory-devices", NULL, on_devices, vm);
}

void qmp_vmem_event(struct session *vm, json_object *data)
{
    const char *id = qmp_str(data, "id");
    uint64_t size = qmp_u64(data, "size");
    struct vmem_obs *v = &vm->link->obs.vmem;

    if (!v->present || !id || strcmp(id, vm->vmem_id) != 0 || size == QMP_UNKNOWN || size > v->max_bytes)
        return;
    v->size_bytes = size;
    qmp_vmem_observe(vm);
}

static void on_requested(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;

    if (m->type == QMP_MSG_ERROR) {
        log_limited(&vm->fail_rl, LOG_WARNING, "vm %s: virtio-mem %s refused requested-size %llu MiB: %s (%s)",
                    vm->name, vm->vmem_id, (unsigned long long)(vm->vmem_sent_bytes >> 20), m->err_class,
                    m->err_desc);
        return;
    }
    vm->link->obs.vmem.requested_bytes = vm->vmem_sent_bytes;
}

int qmp_vmem_request(struct session *vm, uint64_t requested_bytes)
{
    json_object *args = json_object_new_object();
    char path[32 + QMP_VMEM_ID_MAX];

    snprintf(path, sizeof(path), "/machine/peripheral/%s", vm->vmem_id);
    json_object_object_add(args, "path", json_object_new_string(path));
    json_object_object_add(args, "property", json_object_new_string("requested-size"));
    json_object_object_add(args, "value", json_object_new_uint64(requested_bytes));
    vm->vmem_sent_bytes = requested_bytes;
    return qmp_command(vm->qmp, "qom-set", args, on_requested, vm);
}
