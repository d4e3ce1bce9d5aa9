/* backend.h: how the manager finds and drives a VM, whatever speaks to
 * it: QMP today (backend/qmp/), libvirt next. A backend keeps a session
 * per VM (its own, opaque to everyone else) and turns what it hears into
 * the VM's link: core observations (observe.h) and the VM's connection,
 * run state, PID and size. It never decides, and it writes nothing else
 * of the VM: the control state belongs to the manager (tick.h), the
 * settings to the operator and the config file (vm.h). The manager's
 * loop calls only these, so a new backend is one folder and one table.
 *
 * A virtio-mem actuator plugs in at set_target: the tick decides a
 * target size, the backend moves whatever device the VM has toward it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "estimate.h"
#include "util.h"

enum vm_conn {
    VM_CONNECTING,  /* greeting, capabilities, setup */
    VM_READY,
    VM_NO_BALLOON,  /* connected, but the VM has no balloon device */
    VM_RETRY,       /* waiting to reconnect */
};
const char *vm_conn_str(enum vm_conn c);

/* What the backend knows of one VM, kept current by the backend alone;
 * the manager reads it. It lives in the manager's VM (vm.h), lent to the
 * backend at attach for the session's life. */
struct vm_link {
    enum vm_conn conn;
    char last_error[160];     /* why the last connection failed, for status */
    pid_t pid;                /* the VM's QEMU process */
    uint64_t size_bytes;      /* configured RAM */
    char runstate[24];        /* QEMU's word: running, paused, ...; gone, disconnected */
    bool out_of_fds;          /* the last connect failed with EMFILE (fdwatch.h) */
    uint64_t ready_ms;        /* CLOCK_MONOTONIC of the connection's setup */
    struct vm_observed obs;   /* samples, newest first (observe.h) */
};

/* A backend's own state of one VM. */
struct session;

/* What the manager lends a backend at attach. */
struct backend_attach {
    /* Whether the serving process may be spoken to (trust.h); NULL: any. */
    bool (*peer_ok)(void *ctx, uid_t uid, gid_t gid);
    void *peer_ctx;
    /* Found, gone and failing VMs share one log budget; NULL: the VM's own. */
    struct ratelimit *churn_rl;
    /* The backend's instance that found the VM (libvirt: its struct lv). */
    void *source;
    /* The answers to poll(round) are in (or failed): the tick decides as
     * soon as every VM it waits for has answered. NULL: nobody waits. */
    void (*answered)(void *ctx, uint64_t round);
    void *answered_ctx;
};

struct backend_ops {
    const char *name;
    /* A VM found at address (for QMP: its socket's path); its news go to
     * link until detach. Not started. */
    int (*attach)(sd_event *ev, const char *name, const char *address, const struct backend_attach *a,
                  struct vm_link *link, struct session **out);
    /* Starts (or restarts) speaking to it; failures retry on their own. */
    void (*start)(struct session *s);
    /* Gone: frees it, the balloon left where it is. Accepts NULL. */
    void (*detach)(struct session *s);
    /* Asks for fresh observations for the tick round; they arrive on the
     * loop, later. True when it asked, and will call attach->answered
     * once for this round; false when there is nothing to wait for (not
     * ready, the last question still unanswered, or a backend that
     * samples every VM at once). */
    bool (*poll)(struct session *s, uint64_t round);
    /* Sends a target the manager has already held within the VM's
     * [min, max] (vm_send_target): 0 or -ENOTCONN. */
    int (*set_target)(struct session *s, uint64_t target_bytes);
    /* Why a VM that is not ready cannot take a target, in the backend's
     * words ("no virtio-balloon device", "QMP does not answer"), from its
     * link (the session may be gone). */
    const char *(*why_not_ready)(const struct vm_link *link);
};

/* The QMP backend (backend/qmp/qmp_vm.c). */
extern const struct backend_ops backend_qmp;
/* The libvirt backend (backend/libvirt/lv.h). */
extern const struct backend_ops backend_libvirt;
