/* vm.h: one managed VM: its QMP connection and what it reports.
 *
 * Connection life: connect -> greeting -> capabilities -> setup (find the
 * balloon device, turn stats polling on, read the VM's size and run
 * state) -> ready. Any failure closes the connection and retries with a
 * backoff of 1, 2, 4 ... 30 s, so one dead or wedged VM never delays the
 * others. The control state (target, reason) lives here too, but is
 * written by the manager only. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "backend.h"
#include "control.h"
#include "estimate.h"
#include "policy.h"
#include "qmp.h"
#include "util.h"

/* How often the guest driver is asked for stats, in seconds. */
#define VM_STATS_POLL_S 1

enum vm_conn {
    VM_CONNECTING,  /* greeting, capabilities, setup */
    VM_READY,
    VM_NO_BALLOON,  /* connected, but the VM has no balloon device */
    VM_RETRY,       /* waiting to reconnect */
};

struct vm {
    char *name;
    enum vm_conn conn;
    char last_error[160];     /* why the last connection failed, for status */
    pid_t pid;                /* QEMU's, from SO_PEERCRED */
    uint64_t size_bytes;      /* configured RAM (query-memory-size-summary) */
    char runstate[24];
    uint64_t rss_bytes;       /* QEMU's RSS, filled in by the manager */

    /* Samples, newest first; rates come from obs.stats vs obs.prev. */
    struct vm_observed obs;
    uint64_t ready_ms;        /* CLOCK_MONOTONIC of the connection's setup */
    bool no_driver_logged;    /* the manager said so in the event log */

    /* Control, owned by the manager (control.h). */
    struct control ctl;
    char last_change[128];                /* why the target last changed */
    struct vm_estimate est;

    /* The operator's settings (balloonctl), kept in the state file by
     * name, over the config file's. */
    char *over_lines;         /* config lines ("min = 1G\n"), or NULL */
    struct conf_vm over;      /* parsed from over_lines */
    uint64_t pin_bytes;       /* a pinned target; 0: automatic */
    bool paused;              /* balloond leaves the VM alone */
    bool settings_loaded;     /* read from the state file at attach */
    /* The settings in force, resolved every tick (vm_resolve). */
    struct conf_vm conf;
    uint64_t min_bytes, max_bytes;

    /* Connection internals. */
    sd_event *ev;
    struct qmp *qmp;
    char *balloon_path;       /* QOM path of the balloon device */
    sd_event_source *retry;
    uint64_t backoff_ms;
    bool logged_failure;      /* a repeat of the same failure is not logged again */
    /* Whether the serving process may be spoken to (trust.h); NULL: any. */
    bool (*peer_ok)(void *ctx, uid_t uid, gid_t gid);
    void *peer_ctx;
    /* Repeats a peer can cause at will: resets, changing failures. */
    struct ratelimit reset_rl, fail_rl;
    struct ratelimit *churn_rl;  /* shared by all VMs, or NULL: fail_rl */
};

int vm_new(sd_event *ev, const char *name, const char *sock_path, struct vm **out);
void vm_free(struct vm *vm);
/* Starts connecting (now). */
void vm_start(struct vm *vm);
/* Asks for fresh samples; replies update vm->obs as they come. */
void vm_poll(struct vm *vm);
/* target_bytes clamped to the VM's [min_bytes, max_bytes] (at least 1),
 * or 0 while they are not known (max_bytes 0). */
uint64_t vm_target_clamp(const struct vm *vm, uint64_t target_bytes);
/* Sends balloon(vm_target_clamp(target)): every target that leaves the
 * daemon goes through here, so none is 0, below min or above max, what
 * ever the caller computed from a peer's values. Returns 0, -ENOTCONN,
 * or -ERANGE while min and max are not known. */
int vm_send_target(struct vm *vm, uint64_t target_bytes);
bool vm_is_ready(const struct vm *vm);
const char *vm_conn_str(enum vm_conn c);
/* True when the VM is connected but its guest has sent no balloon stats
 * in CONTROL_DRIVER_GRACE_MS: the driver is not loaded. */
bool vm_no_driver(const struct vm *vm, uint64_t now_ms);
/* The state shown: vm_conn_str(), or "no-driver". */
const char *vm_state_str(const struct vm *vm, uint64_t now_ms);
/* Why the VM cannot be given a target now, or NULL when it can. */
const char *vm_why_not_settable(const struct vm *vm, uint64_t now_ms);
/* The settings in force: the operator's over the config file's, with
 * min and max resolved against the VM's size. */
void vm_resolve(struct vm *vm, const struct conf *c);
