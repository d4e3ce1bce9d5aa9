/* guard.h: guest protection that overrides the policy for one VM, checked
 * every tick before the policy runs. Pure: the clock is an argument.
 *
 * - reset:   the guest rebooted; a squeezed guest would boot squeezed
 *            (QEMU keeps the balloon target across a reset), so its
 *            target is raised to a boot-safe size first.
 * - deflate: the guest shrank its balloon by itself (deflate-on-oom):
 *            it needed the memory; the daemon takes the new size as its
 *            target instead of fighting it.
 * - stall:   a target the guest does not reach: actual stands still above
 *            it. The target is set to actual, so the unreached memory is
 *            never counted as reclaimed, and the VM is left alone for a
 *            while. A paused or migrating VM is never judged stalled.
 *
 * A target pinned by the operator is the operator's: of these only the
 * stall check applies to it (a pin the guest cannot reach is not counted
 * as reclaimed either). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* A TCG guest inflates 100 MiB in about a second; one whose balloon has
 * not moved in 10 s while asked to is not going to. */
#define GUARD_STALL_MS 10000
/* How long a stalled VM is not asked to inflate again. */
#define GUARD_STALL_HOLD_MS 60000
/* A Debian guest boots in under 200 MiB; a larger guest's boot (page
 * cache, services) fits 1 GiB. The VM's max caps it. */
#define GUARD_BOOT_SAFE_BYTES (1ULL << 30)

enum guard_action { GUARD_NONE, GUARD_RESET, GUARD_SELF_DEFLATE, GUARD_STALL };

struct guard_in {
    uint64_t now_ms;
    bool running;
    bool reset_seen;          /* a RESET event since the last check */
    bool deflate_on_oom;
    bool pinned;              /* the operator pinned the target */
    uint64_t min_bytes, max_bytes;
    uint64_t deadband_bytes;
    uint64_t target_bytes;
    uint64_t target_set_ms;   /* when the daemon last changed the target */
    uint64_t actual_bytes;
    uint64_t prev_actual_bytes; /* at the previous check; 0 = none */
    uint64_t actual_moved_ms; /* when actual last changed */
};

/* Returns the action and, for any but GUARD_NONE, *new_target_bytes. */
enum guard_action guard_check(const struct guard_in *in, uint64_t *new_target_bytes);
const char *guard_action_str(enum guard_action a);
/* "reset", "self_deflate", "stall", for metrics. */
const char *guard_action_key(enum guard_action a);
#define GUARD_ACTION_COUNT (GUARD_STALL + 1)
