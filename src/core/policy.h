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

#include "types.h"

/* The entitlement's floor (use + half the buffer, where the estimate's
 * pressure begins) is raised by this much. A guest held exactly on the
 * line reads a MemAvailable a few pages either side of it (the kernel's
 * reserve, which the estimate subtracts, moves with the balloon), and
 * every reading below is pressure: on real guests 31.9 MiB available
 * against a 32 MiB line, 121 guest-seconds of pressure in 680 at 1.60x
 * (bench/frontier.md) and 63 on libvirt at 1.54x, each nudge answered by
 * a 1 MiB deflate. */
#define POLICY_FLOOR_MARGIN_BYTES (8ULL << 20)

struct policy_host {
    enum host_state state;
    /* What may still be given to guests before the budget's reserve is
     * touched; negative when the host is already into it. */
    int64_t headroom_bytes;
    /* The budget's reserve: guests under pressure may grow into it, and
     * no further (past it the budget cgroup OOM-kills a QEMU). */
    uint64_t reserve_bytes;
    /* Tight or critical: how much the host wants back to be at plenty. */
    uint64_t reclaim_bytes;
    /* Largest inflation of one VM in one tick while the host has plenty. */
    uint64_t step_bytes;
    /* Target changes smaller than this are not worth a command. */
    uint64_t deadband_bytes;
    /* What the host looks like to the round-based peers: what their own
     * daemons read from /proc/meminfo, or an emulated host of the
     * budget's size (tick.h: tick_params.peer_budget). */
    uint64_t now_ms;        /* CLOCK_MONOTONIC, given (never read here) */
    uint64_t budget_bytes;  /* MemTotal (Proxmox's memtotal, MOM's mem_available) */
    uint64_t used_bytes;    /* MemTotal - MemAvailable (Proxmox's memused) */
    uint64_t free_bytes;    /* MemFree + Buffers + Cached (MOM's mem_free) */
    unsigned idle_tax_pct;  /* issue 3: idle memory counts for less under contention */
};

/* MOM's monitors keep the last PEER_MOM_SAMPLES samples, one every
 * PEER_MOM_SAMPLE_MS (its shipped mom-balloon.conf: sample-history-length
 * 10, host- and guest-monitor-interval 5 s), and its rules read their
 * average (StatAvg). Two quantities per sample: a VM's balloon_cur and
 * mem_unused, or the host's mem_free (b unused). */
#define PEER_MOM_SAMPLES 10
#define PEER_MOM_SAMPLE_MS 5000
struct peer_samples {
    uint64_t last_ms;       /* when the newest was taken; 0 = none yet */
    unsigned n, head;       /* how many are kept; the next slot */
    uint64_t a[PEER_MOM_SAMPLES], b[PEER_MOM_SAMPLES];
};

/* State that round-based policies keep between calls (zero at start). */
struct policy_round {
    uint64_t last_ms;       /* when the last round ran; 0 = never */
    struct peer_samples mom_host; /* MOM's host monitor: mem_free */
};

struct policy_vm {
    uint64_t min_bytes;
    uint64_t max_bytes;
    unsigned shares;       /* under contention, more shares are reclaimed later */
    bool running;          /* paused, migrating or shut down VMs are left alone */
    bool known;            /* fresh, believable guest stats */
    uint64_t need_bytes;   /* peak used + buffer + what the guest cannot see, in logical size */
    uint64_t need_now_bytes; /* the same from the current use, not the window's peak:
                              * what a tight host reclaims down to */
    uint64_t burst_bytes;  /* room kept for the guest's largest burst (in need_bytes,
                            * not in need_now_bytes); while the host has plenty it is
                            * given back after a tight host took it */
    bool pressure;         /* swap-in, major faults or available far below the buffer */
    uint64_t grow_bytes;   /* under pressure: at least this above actual */
    bool cooldown;         /* recently deflated for pressure: do not inflate yet */
    bool settling;         /* demand not watched long enough: do not inflate yet */
    uint64_t actual_bytes; /* observed logical size */
    uint64_t used_bytes;   /* guest's total - available (active memory) */
    uint64_t free_bytes;   /* guest's MemFree (stat-free-memory), what the peers read */
    uint64_t guest_total_bytes; /* guest's MemTotal */
    uint64_t target_bytes; /* the target the daemon holds now */
    /* MOM's StatAvg of balloon_cur and mem_unused (tick.c keeps the
     * samples); n_avg 0: none yet, the current values stand in. */
    unsigned n_avg;
    uint64_t avg_actual_bytes, avg_free_bytes;
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
    POLICY_PEER,             /* decided by a peer policy (proxmox, mom, static) */
    POLICY_ENTITLED,         /* contention: held to its entitlement (shares, idle tax) */
    POLICY_PINNED,           /* the operator pinned the target (balloonctl vm target) */
    POLICY_PAUSED,           /* the operator paused balloond's management of the VM */
};

struct policy_decision {
    uint64_t target_bytes;
    enum policy_reason reason;
};

/* Per-VM working memory of the policy, owned by the caller and grown on
 * the heap before the call (never a stack array sized by the VM count).
 * Zero-initialised; policy_scratch_free() at the end. */
struct policy_scratch {
    struct policy_claim *claim;
    uint64_t *ent, *holds;
    size_t *idx;
    size_t cap;
};
/* Room for n VMs: 0 or -ENOMEM. */
int policy_scratch_reserve(struct policy_scratch *s, size_t n);
void policy_scratch_free(struct policy_scratch *s);

/* Decides for n VMs (s reserved for n). out[i] belongs to vms[i]. */
void policy_decide(const struct policy_host *host, struct policy_scratch *s, size_t n,
                   const struct policy_vm *vms, struct policy_decision *out);

/* Entitlement under contention, after VMware ESX's idle memory tax: each
 * VM gets at least its min, and supply is shared so that shares per
 * weighted byte are equal (ESX reclaims from the VM with the fewest), where
 * a byte above the VM's active memory weighs k = 1 / (1 - tax) (4 at the
 * default 75%). No VM gets more than its want. out[i] is VM i's. */
struct policy_claim {
    uint64_t min_bytes;
    uint64_t want_bytes;
    uint64_t active_bytes;
    unsigned shares;
};
void policy_entitle(uint64_t supply_bytes, unsigned idle_tax_pct, size_t n,
                    const struct policy_claim *c, uint64_t *out);

/* Any policy: balloond's own, or a peer (peers.h). round is in/out. */
void policy_run(enum policy_kind kind, const struct policy_host *host, struct policy_round *round,
                struct policy_scratch *s, size_t n, const struct policy_vm *vms,
                struct policy_decision *out);

const char *policy_reason_str(enum policy_reason r);
/* A short machine name for the reason ("inflate_idle"), for metrics. */
const char *policy_reason_key(enum policy_reason r);
#define POLICY_REASON_COUNT (POLICY_PAUSED + 1)

