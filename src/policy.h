/* policy.h: the decision. A pure function from the host's and the VMs'
 * estimates to new balloon targets: no I/O, no clock, no allocation.
 * The daemon and the tests (and later the simulator) call the same code.
 *
 * All sizes are guest logical sizes in bytes (what QMP's balloon command
 * takes and query-balloon's "actual" reports: RAM minus balloon). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum host_state { HOST_PLENTY, HOST_TIGHT, HOST_CRITICAL };

struct policy_host {
    enum host_state state;
    /* What may still be given to guests before the budget's reserve is
     * touched; negative when the host is already into it. */
    int64_t headroom_bytes;
    /* Tight or critical: how much the host wants back to be at plenty. */
    uint64_t reclaim_bytes;
    /* Largest inflation of one VM in one tick while the host has plenty. */
    uint64_t step_bytes;
    /* Target changes smaller than this are not worth a command. */
    uint64_t deadband_bytes;
};

struct policy_vm {
    uint64_t min_bytes;
    uint64_t max_bytes;
    unsigned shares;       /* under contention, more shares are reclaimed later */
    bool running;          /* paused, migrating or shut down VMs are left alone */
    bool known;            /* fresh, believable guest stats */
    uint64_t need_bytes;   /* used + buffer + what the guest cannot see, in logical size */
    bool pressure;         /* swap-in, major faults or available far below the buffer */
    uint64_t grow_bytes;   /* under pressure: at least this above actual */
    bool cooldown;         /* recently deflated for pressure: do not inflate yet */
    bool settling;         /* demand not watched long enough: do not inflate yet */
    uint64_t actual_bytes; /* observed logical size */
    uint64_t target_bytes; /* the target the daemon holds now */
};

enum policy_reason {
    POLICY_STEADY,           /* on target, nothing to do */
    POLICY_NOT_RUNNING,      /* paused or stopped: left alone */
    POLICY_UNKNOWN_STATS,    /* no fresh stats: never inflate blind */
    POLICY_INFLATE_IDLE,     /* unused memory taken back in a bounded step */
    POLICY_INFLATE_RECLAIM,  /* host tight: unused memory taken back at once */
    POLICY_INFLATING,        /* waiting for the guest to reach the last target */
    POLICY_COOLDOWN,         /* deflated for pressure recently: no inflation */
    POLICY_SETTLING,         /* watching the guest's demand before reclaiming */
    POLICY_DEFLATE_NEED,     /* the guest needs more than its target */
    POLICY_DEFLATE_PRESSURE, /* the guest is under pressure: given memory at once */
    POLICY_DEFLATE_DEFERRED, /* needs more, but the host has no headroom now */
    POLICY_CLAMP,            /* the target left [min, max] (settings changed) */
};

struct policy_decision {
    uint64_t target_bytes;
    enum policy_reason reason;
};

/* Decides for n VMs. out[i] belongs to vms[i]. */
void policy_decide(const struct policy_host *host, size_t n, const struct policy_vm *vms,
                   struct policy_decision *out);

const char *policy_reason_str(enum policy_reason r);
const char *host_state_str(enum host_state s);
