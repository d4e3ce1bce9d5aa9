/* qmp_vmem.h: the QMP backend's side of virtio-mem (core/vmem.h): reading
 * query-memory-devices, the MEMORY_DEVICE_SIZE_CHANGE event, and qom-set
 * of the device's requested-size. The session (qmp_vm.h) calls these; the
 * logical size it reports is the balloon's actual plus the plugged size. */
#pragma once
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "vmem.h"

struct session;

/* The id QEMU needs to address a device: /machine/peripheral/<id>. */
#define QMP_VMEM_ID_MAX 64

/* Reads a query-memory-devices reply: the first virtio-mem device with an
 * id (into *v, id[]; base_bytes left to the caller) and the DIMMs' total
 * (*dimm_bytes). 0 (v->present false when there is none), or -EBADMSG
 * when the reply is not a list, or the device's numbers are not
 * well-formed (vmem_obs_valid). *anon: a virtio-mem device without an id
 * was seen (it cannot be driven). */
int qmp_vmem_parse(json_object *ret, struct vmem_obs *v, char id[QMP_VMEM_ID_MAX], uint64_t *dimm_bytes,
                   bool *anon);
/* Asks query-memory-devices; the reply updates the link (size, plugged,
 * requested) and the logical size. */
void qmp_vmem_poll(struct session *s);
/* MEMORY_DEVICE_SIZE_CHANGE: the guest plugged or unplugged. */
void qmp_vmem_event(struct session *s, json_object *data);
/* Sends requested_bytes (a multiple of the block size, within max). */
int qmp_vmem_request(struct session *s, uint64_t requested_bytes);
/* The logical size into the link's observations: the balloon's actual
 * (base without a balloon) plus the plugged size. */
void qmp_vmem_observe(struct session *s);
