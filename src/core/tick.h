/* tick.h: one control tick's decision, the same for the daemon (mgr.c)
 * and the simulator (sim/runner.c): the order of the steps, the gates,
 * the policy's view of the host. Pure: the clocks are arguments, the host
 * estimate and the VMs' observations are given; the caller applies the
 * actions it returns (logs them, keeps them in the state file, sends them
 * to QEMU or to the guest model).
 *
 * Per VM, in this order:
 *   reset     a guest that rebooted gets its boot-safe size at once
 *             (unless paused or pinned: then it waits like the rest);
 *   ready     connected, actual and size known; else left out;
 *   driver    no stats ever: the driver is not loaded, left alone (not
 *             even adopted);
 *   adopt     a VM's first target: the one saved before a restart, or
 *             the size it has now;
 *   paused    the operator paused it: left alone;
 *   guard     guest protection (guard.h);
 *   pin       the operator's pin;
 *   policy    everything else, all together (policy.h).
 *
 * A run of a peer (proxmox, mom, static) is that peer: no guard, and its
 * targets are held as it set them (within the VM's size, 1 byte at
 * least: QEMU's own bounds), not within balloond's [min, max]. The
 * operator's pause and pin still apply. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "estimate.h"
#include "guard.h"
#include "policy.h"

/* Samples are asked for at the start of a tick and decided on as soon as
 * every VM has answered, at most this much later: a TCG guest's QEMU
 * answers in 1-20 ms, a busy one in 100 ms, 5000 VMs of the scale
 * benchmark all within 100 ms. A VM that has not answered by then is
 * decided on its previous sample, never waited for. The simulator takes
 * the bound as its delay (its one source of timing, sim/README.md). */
#define TICK_DECIDE_DELAY_MS 300

/* How far a VM got in the tick. */
enum tick_step {
    TICK_SKIPPED,    /* not ready: nothing known to decide on */
    TICK_RESET,      /* handled as a reset (guard) */
    TICK_NO_DRIVER,  /* no balloon stats yet */
    TICK_PAUSED,
    TICK_GUARDED,    /* the guard acted */
    TICK_PINNED,
    TICK_POLICY,     /* decided by the policy (estimated this tick) */
};

/* One VM, as the tick sees it. obs, ctl and est are the caller's; the
 * tick updates ctl (the control bookkeeping, the target held), est (for
 * VMs the policy decided) and the consumed reset in ctl. */
struct tick_vm {
    bool ready;                 /* the backend can set a target */
    bool paused;                /* the operator paused its management */
    uint64_t pin_bytes;         /* the operator's pin; 0: automatic */
    uint64_t min_bytes, max_bytes; /* the settings in force */
    unsigned shares, buffer_pct;
    bool have_saved;            /* a target saved before a restart (same QEMU) */
    uint64_t saved_bytes;
    bool have_saved_burst;      /* and the burst learned then (estimate.h) */
    uint64_t saved_burst_bytes, saved_burst_t_s;
    struct vm_observed *obs;
    struct control *ctl;
    struct vm_estimate *est;
    enum tick_step step;        /* out */
};

struct tick_params {
    enum policy_kind kind;
    uint64_t step_bytes;        /* [host] step */
    unsigned idle_tax_pct;
    bool dry_run;               /* decide, but hold no new target */
    uint64_t now_ms;            /* CLOCK_MONOTONIC */
    uint64_t wall_s;            /* the guest stats' clock */
    /* A peer (proxmox, mom) sees a host emulated at the budget's size
     * (budget, used, free of it) instead of /proc/meminfo, as a benchmark
     * whose budget cgroup stands for a smaller host needs. */
    bool peer_budget;
};

enum tick_kind { TICK_ADOPT, TICK_GUARD, TICK_PIN, TICK_POLICY_SET };

/* A target change, in the order made. Policy decisions come last. */
struct tick_action {
    size_t vm;                  /* index into the caller's array */
    enum tick_kind kind;
    enum guard_action guard;    /* TICK_GUARD */
    enum policy_reason reason;  /* TICK_PIN, TICK_POLICY_SET */
    bool restored;              /* TICK_ADOPT: the saved target */
    bool moves;                 /* TICK_ADOPT: the target is not the balloon's
                                 * size (a bound, or a saved target): sent */
    uint64_t from_bytes, target_bytes;
    bool held;                  /* the target is held (not a dry run) */
};

/* Grows with the VM count, on the heap: no stack arrays sized by it.
 * Zero-initialised; tick_scratch_free() at the end. */
struct tick_scratch {
    struct policy_vm *pv;
    struct policy_decision *out;
    size_t *active;
    struct tick_action *acts;
    size_t n_acts, cap;
    struct policy_scratch policy;
};
void tick_scratch_free(struct tick_scratch *s);

/* target_bytes within [max(min, 1), max], or 0 while max is not known:
 * every target that leaves the daemon goes through here. */
uint64_t tick_clamp(uint64_t min_bytes, uint64_t max_bytes, uint64_t target_bytes);

/* Decides for n VMs; the actions are in s->acts[0 .. s->n_acts). round
 * is the peer policies' state (in/out). 0, or -ENOMEM (nothing decided). */
int tick_decide(const struct tick_params *p, const struct host_estimate *he, struct policy_round *round,
                struct tick_vm *vms, size_t n, struct tick_scratch *s);
