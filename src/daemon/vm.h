/* vm.h: one VM as the manager keeps it, in four parts, each written by
 * one owner:
 *   session   the backend's own (opaque; backend.h)
 *   link      what the backend hears: connection, run state, PID, size,
 *             observations (written by the backend only)
 *   control   the target held, its reason, the estimate, QEMU's RSS
 *             (written by the manager: the tick and what it applies)
 *   set       the operator's settings (balloonctl, kept in the state file
 *             by name) and the settings in force (vm_resolve) */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "backend.h"
#include "conf.h"
#include "control.h"
#include "estimate.h"
#include "util.h"

struct vm_control {
    struct control ctl;       /* control.h: the target, its reason, holds */
    struct vm_estimate est;
    char last_change[128];    /* why the target last changed */
    bool no_driver_logged;    /* the event log said so */
    uint64_t rss_bytes;       /* QEMU's RSS, read after the tick */
    uint64_t burst_saved_bytes, burst_saved_t_s; /* last handed to the state file */
    char stall_why[160];      /* what was not reached at the last stall */
    struct ratelimit log_rl;  /* its rescues, resets, stalls in the journal */
};

struct vm_settings {
    char *over_lines;         /* the operator's config lines ("min = 1G\n"), or NULL */
    struct conf_vm over;      /* parsed from over_lines */
    uint64_t pin_bytes;       /* a pinned target; 0: automatic */
    bool paused;              /* balloond leaves the VM alone */
    bool loaded;              /* read from the state file at attach */
    /* In force (vm_resolve): the operator's over the config file's, min
     * and max resolved against the VM's size. */
    struct conf_vm conf;
    uint64_t min_bytes, max_bytes;
};

struct vm {
    char *name;
    const struct backend_ops *ops;
    struct session *session;
    struct vm_link link;
    struct vm_control control;
    struct vm_settings set;
};

/* A VM found at address by a backend; not started. 0 or -errno. */
int vm_attach(const struct backend_ops *ops, sd_event *ev, const char *name, const char *address,
              const struct backend_attach *a, struct vm **out);
/* Detaches the backend and frees the VM. Accepts NULL. */
void vm_free(struct vm *vm);
bool vm_is_ready(const struct vm *vm);
/* The settings in force (vm->set.conf, min_bytes, max_bytes): the
 * operator's over the config file's, with min and max resolved against
 * the VM's size; min is held at max. The manager calls it for every VM
 * before each tick and snapshot (mgr_resolve_all), so a reload, a `vm
 * set` and a size learned all show at once. */
void vm_resolve(struct vm *vm, const struct conf *c);
/* Whether the operator's settings over would resolve with min <= max
 * (true while the VM's size is not known): `vm set` checks a change
 * with this before it takes it. Same resolution as vm_resolve. */
bool vm_settings_fit(const struct vm *vm, const struct conf_vm *over, const struct conf *c);
/* target_bytes clamped to the VM's [min_bytes, max_bytes] (at least 1),
 * or 0 while they are not known (max_bytes 0). */
uint64_t vm_target_clamp(const struct vm *vm, uint64_t target_bytes);
/* Sends vm_target_clamp(target) through the backend: every target that
 * leaves the daemon goes through here, so none is 0, below min or above
 * max, whatever the caller computed from a peer's values. Returns 0,
 * -ENOTCONN, or -ERANGE while min and max are not known. */
int vm_send_target(struct vm *vm, uint64_t target_bytes);
/* True when the VM is connected but its guest has sent no balloon stats
 * in CONTROL_DRIVER_GRACE_MS: the driver is not loaded. */
bool vm_no_driver(const struct vm *vm, uint64_t now_ms);
/* The state shown: vm_conn_str(), or "no-driver". */
const char *vm_state_str(const struct vm *vm, uint64_t now_ms);
/* Why the VM cannot be given a target now, or NULL when it can. */
const char *vm_why_not_settable(const struct vm *vm, uint64_t now_ms);
/* Why the guest did not reach its target, said at a stall (guard.h):
 * virtio-mem blocks the guest did not unplug (its memory is busy), or a
 * balloon that did not inflate. */
void vm_stall_why(const struct vm *vm, char *buf, size_t len);
/* "balloon", "virtio-mem", "balloon+virtio-mem" or "none": what moves
 * the VM's memory. */
const char *vm_actuators_str(const struct vm *vm);
