/* backend.h: how the manager finds and drives a VM, whatever speaks to
 * it: QMP today (backend/qmp/), libvirt next. A backend turns what it
 * hears into core observations (observe.h, into vm->obs) and the VM's
 * run state, PID and size (struct vm); it never decides. The manager's
 * loop calls only these, so a new backend is one folder and one table.
 *
 * A virtio-mem actuator plugs in at set_target: the tick decides a
 * target size, the backend moves whatever device the VM has toward it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "util.h"

struct vm;

/* What the manager lends a backend at attach. */
struct backend_attach {
    /* Whether the serving process may be spoken to (trust.h); NULL: any. */
    bool (*peer_ok)(void *ctx, uid_t uid, gid_t gid);
    void *peer_ctx;
    /* Found, gone and failing VMs share one log budget; NULL: the VM's own. */
    struct ratelimit *churn_rl;
};

struct backend_ops {
    const char *name;
    /* A VM found at address (for QMP: its socket's path). Not started. */
    int (*attach)(sd_event *ev, const char *name, const char *address, const struct backend_attach *a,
                  struct vm **out);
    /* Starts (or restarts) speaking to it; failures retry on their own. */
    void (*start)(struct vm *vm);
    /* Gone: frees it, the balloon left where it is. Accepts NULL. */
    void (*detach)(struct vm *vm);
    /* Asks for fresh observations; they arrive on the loop, later. */
    void (*poll)(struct vm *vm);
    /* Sends a target, held within the VM's [min, max]: 0, -ENOTCONN, -ERANGE. */
    int (*set_target)(struct vm *vm, uint64_t target_bytes);
    /* Set up and able to take a target. */
    bool (*is_ready)(const struct vm *vm);
};

/* The QMP backend (backend/qmp/vm.c). */
extern const struct backend_ops backend_qmp;
