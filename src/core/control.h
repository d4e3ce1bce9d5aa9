/* control.h: one VM's control state, and the pure steps around the policy
 * that the daemon (mgr.c) and the simulator (sim/runner.c) share, so that
 * the simulator replays exactly what the daemon does:
 *
 *   control_guard()   guest protection (guard.h) and its bookkeeping
 *   control_input()   the policy's view of the VM (policy.h)
 *   control_decided() a decision's bookkeeping
 *
 * The caller sends the target to the VM (QMP, or the guest model). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "estimate.h"
#include "guard.h"
#include "policy.h"

/* Target changes below this are noise (a 512 MiB guest's used memory
 * wanders by a few MiB a second while idle). */
#define CONTROL_DEADBAND_BYTES (16ULL << 20)
/* After a deflation for pressure, inputs lag (the guest's stats are a
 * second old, its page cache refills): no inflation for this long. */
#define CONTROL_PRESSURE_COOLDOWN_MS 15000
/* A VM whose guest has sent no balloon stats this long after balloond
 * connected is shown as having no balloon driver. Linux's virtio_balloon
 * sends its first stats when it binds: the test guest, under TCG with a
 * second guest booting beside it, 14 s after QEMU started (test_view.sh);
 * 30 s is twice that. Until stats arrive the VM's target is never changed
 * anyway (a target sent before the driver loads squeezes the guest's
 * boot), so this only decides what the status and the event log say. */
#define CONTROL_DRIVER_GRACE_MS 30000

struct control {
    bool target_set;             /* target_bytes means something */
    uint64_t target_bytes;
    enum policy_reason reason;   /* the latest decision */
    uint64_t last_change_ms;     /* CLOCK_MONOTONIC of the last target change */
    uint64_t pressure_ms;        /* last deflation for pressure */
    uint64_t pressure_wall_s;    /* the same, on the guest stats' clock */
    uint64_t hold_until_ms;      /* no inflation before (after a stall) */
    bool stalled;                /* did not reach a target; held until hold_until_ms */
    bool reset_seen;             /* a RESET not yet handled */
    uint64_t guard_actual_bytes; /* actual at the last guard check */
    struct peer_samples mom;     /* MOM's guest monitor (policy mom only) */
};

/* The VM's settings in force, resolved to bytes. */
struct control_limits {
    uint64_t min_bytes, max_bytes;
    unsigned shares;
    bool pinned;                 /* the operator's pin: only the stall check */
};

/* Runs guard_check(); on an action, updates c (not the target: *target is
 * for the caller, who applies it with control_set_target()) and returns it. */
enum guard_action control_guard(struct control *c, const struct vm_observed *o,
                                uint64_t actual_moved_ms, const struct control_limits *l,
                                uint64_t now_ms, uint64_t *target);
void control_input(const struct control *c, const struct vm_observed *o, const struct vm_estimate *e,
                   const struct control_limits *l, uint64_t now_ms, struct policy_vm *out);
/* Records the decision; true when its target differs from the one held
 * (the caller then logs and calls control_set_target()). */
bool control_decided(struct control *c, const struct policy_decision *d, uint64_t now_ms,
                     uint64_t wall_s);
void control_set_target(struct control *c, uint64_t target_bytes, uint64_t now_ms);
/* What is left of a stalled VM's hold, 0 when it is not held. */
uint64_t control_hold_left_ms(const struct control *c, uint64_t now_ms);
/* The target for a pin of pin_bytes: the pin, but a stalled VM is not
 * asked to shrink to it again before its hold ends. */
uint64_t control_pin_target(const struct control *c, uint64_t pin_bytes, uint64_t now_ms);
/* True when a guest connected since ready_ms has still sent no balloon
 * stats (stats_seen false) after CONTROL_DRIVER_GRACE_MS. */
bool control_no_driver(bool stats_seen, uint64_t ready_ms, uint64_t now_ms);
