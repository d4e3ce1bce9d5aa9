/* mgr_priv.h: the manager's own state, shared by its files: mgr.c (the
 * tick, the control socket, life) and discover.c (the QMP socket
 * directory). Nothing outside src/daemon/mgr*.c and discover.c includes it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "backend.h"
#include "command.h"
#include "ctl.h"
#include "events.h"
#include "estimate.h"
#include "fdwatch.h"
#include "guard.h"
#include "host.h"
#include "lv.h"
#include "metrics.h"
#include "mgr.h"
#include "names.h"
#include "policy.h"
#include "protocol.h"
#include "report.h"
#include "state.h"
#include "tick.h"
#include "trust.h"
#include "tune.h"
#include "util.h"
#include "vm.h"

#define VM_NAME_MAX 64
/* Routine target changes logged one by one, a minute (the rest summed up). */
#define CHANGE_LOG_BURST 120
/* A VM's rescues, resets and stalls logged one by one, a minute. */
#define VM_LOG_BURST 6
/* ... and all VMs' together at most this many a minute: at 5000 VMs the
 * per-VM limit alone let 91 notice lines a second through (issue 12). */
#define URGENT_LOG_BURST 120
/* A managed VM's socket file is stat()ed (type, owner) every this many scans. */
#define DISCOVER_RECHECK_SCANS 10
/* QEMU's RSS (status and /metrics only) is read every this many ticks. */
#define RSS_EVERY_TICKS 10
/* The state file is written at most this often (when something changed). */
#define STATE_SAVE_MS 5000

struct mgr {
    sd_event *ev;
    struct conf *conf;
    struct mgr_options opt;
    struct lv *lv;               /* the libvirt backend; NULL: backend = qmp */
    struct host *host;
    struct state *state;
    struct ctl_server *ctl;
    sd_event_source *tick, *decide, *watch;

    struct vm **vms;
    size_t n_vms, cap_vms;
    struct names names;          /* name -> index into vms */
    bool *seen;                  /* discovery's marks, cap_seen long */
    size_t cap_seen;
    struct tick_vm *tick_vms;    /* the tick's view of vms, cap_tick long */
    size_t cap_tick;
    struct tick_scratch scratch;

    bool have_host;
    bool host_failed;          /* logged once */
    struct fdwatch fdwatch;      /* VMs not connected for want of descriptors */
    struct host_sample hs;
    struct host_estimate he;
    struct policy_round round;   /* for round-based peer policies */
    struct metrics *metrics;
    struct tune *tune;
    struct events *events;
    uint64_t host_at_ms;         /* when hs was sampled, for rates */
    uint64_t saved_ms;           /* when the state file was last saved */
    uint64_t ticks;              /* decided so far */
    uint64_t poll_round;         /* the tick whose answers are awaited */
    unsigned awaiting;           /* answers of poll_round not in yet */
    uint64_t scans;              /* of the socket directory */
    char notified[96];           /* the last STATUS= sent to systemd */
    /* Target changes since start, by why. */
    uint64_t decisions[POLICY_REASON_COUNT];
    uint64_t guard_actions[GUARD_ACTION_COUNT];
    /* Sockets coming and going (30,000 gave 92,147 lines): found, gone
     * and failed connections share one log budget. */
    struct ratelimit churn_rl;
    struct ratelimit change_rl;    /* routine target changes in the journal */
    struct ratelimit urgent_rl;    /* rescues, resets, stalls: all VMs' */
    struct quiet_changes {         /* ... and those not logged one by one */
        uint64_t since_ms;
        uint64_t n[2], bytes[2];   /* [0] grown, [1] squeezed */
        uint64_t urgent;           /* of them: rescues, resets, stalls */
    } quiet;
    struct trust_refused refused;  /* sockets of untrusted owners, logged once */
    struct command_host commands;  /* what balloonctl's commands act on */
};

/* discover.c */
/* One scan of the socket directory: attach what appeared, detach what went. */
void mgr_discover(struct mgr *m);
/* [host] backend = libvirt or both: connects (in the background). */
int mgr_libvirt_open(struct mgr *m);
/* The index of the VM of that name, or -1. */
ssize_t mgr_find(const struct mgr *m, const char *name);
/* Creates the socket directory and watches it (inotify). 0 or -errno. */
int mgr_watch(struct mgr *m);

/* A backend's answers to poll_round are in (backend_attach.answered). */
void mgr_answered(void *ctx, uint64_t round);
