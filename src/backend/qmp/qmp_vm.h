/* qmp_vm.h: the QMP backend's session with one VM (backend.h): its QMP
 * connection and what it reports, written into the VM's link.
 *
 * Connection life: connect -> greeting -> capabilities -> setup (find the
 * balloon device, turn stats polling on, read the VM's size and run
 * state) -> ready. Any failure closes the connection and retries with a
 * backoff of 1, 2, 4 ... 30 s, so one dead or wedged VM never delays the
 * others. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "backend.h"
#include "qmp.h"
#include "qmp_vmem.h"
#include "util.h"

/* How often the guest driver is asked for stats, in seconds. */
#define VM_STATS_POLL_S 1
/* query-status and query-balloon every this many polls (events keep both
 * current in between: BALLOON_CHANGE, STOP, RESUME, SHUTDOWN, RESET,
 * GUEST_PANICKED). */
#define VM_RECHECK_POLLS 30

struct session {
    char *name;
    struct vm_link *link;     /* the manager's: everything heard goes here */
    sd_event *ev;
    struct qmp *qmp;
    char *balloon_path;       /* QOM path of the balloon device */
    char *stats_args;         /* qom-get's arguments for its guest-stats, serialised */
    uint64_t balloon_actual_bytes; /* query-balloon, BALLOON_CHANGE */
    bool have_balloon_actual;
    char vmem_id[QMP_VMEM_ID_MAX]; /* the virtio-mem device driven (link->obs.vmem) */
    uint64_t vmem_sent_bytes; /* the requested-size last sent */
    uint64_t dimm_bytes;      /* DIMMs: RAM the balloon counts, beside -m */
    bool vmem_anon_logged;    /* "a virtio-mem device without an id" was said */
    sd_event_source *retry;
    uint64_t backoff_ms;
    unsigned polls;           /* since the connection was set up */
    bool stats_asked;         /* a guest-stats question is unanswered */
    uint64_t stats_round;     /* the tick round it was asked for; 0: none */
    void (*answered)(void *ctx, uint64_t round);  /* backend_attach */
    void *answered_ctx;
    bool logged_failure;      /* a repeat of the same failure is not logged again */
    /* Whether the serving process may be spoken to (trust.h); NULL: any. */
    bool (*peer_ok)(void *ctx, uid_t uid, gid_t gid);
    void *peer_ctx;
    /* Repeats a peer can cause at will: resets, changing failures. */
    struct ratelimit reset_rl, fail_rl;
    struct ratelimit *churn_rl;  /* shared by all VMs, or NULL: fail_rl */
};

int qmp_vm_new(sd_event *ev, const char *name, const char *sock_path, struct vm_link *link,
               struct session **out);
void qmp_vm_free(struct session *s);
/* Starts connecting (now). */
void qmp_vm_start(struct session *s);
/* Asks for fresh samples for the tick round (0: for no tick); replies
 * update link->obs as they come. True when guest-stats was asked for
 * round (the answered callback follows). */
bool qmp_vm_poll(struct session *s, uint64_t round);
/* Moves the VM toward target_bytes, a target already held within its
 * bounds by the manager (vm_send_target): the balloon, virtio-mem's
 * requested-size, or both (vmem_plan). 0 or -ENOTCONN. */
int qmp_vm_send(struct session *s, uint64_t target_bytes);
