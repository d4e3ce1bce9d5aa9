/* control.c: see control.h. */
#include "control.h"

enum guard_action control_guard(struct control *c, const struct vm_observed *o,
                                uint64_t actual_moved_ms, const struct control_limits *l,
                                uint64_t now_ms, uint64_t *target)
{
    struct guard_in in = {
        .now_ms = now_ms,
        .running = o->running,
        .reset_seen = c->reset_seen,
        .deflate_on_oom = o->deflate_on_oom,
        .pinned = l->pinned,
        .min_bytes = l->min_bytes,
        .max_bytes = l->max_bytes,
        .deadband_bytes = CONTROL_DEADBAND_BYTES,
        .target_bytes = c->target_bytes,
        .target_set_ms = c->last_change_ms,
        .actual_bytes = o->actual_bytes,
        .prev_actual_bytes = c->guard_actual_bytes,
        .actual_moved_ms = actual_moved_ms,
    };
    enum guard_action a = guard_check(&in, target);

    c->reset_seen = false;
    c->guard_actual_bytes = o->actual_bytes;
    /* Stalled for as long as the hold lasts: the target was set to actual
     * at the stall, so "on target" would end it a tick later. */
    if (c->stalled && now_ms >= c->hold_until_ms)
        c->stalled = false;
    if (a == GUARD_STALL) {
        c->stalled = true;
        c->hold_until_ms = now_ms + GUARD_STALL_HOLD_MS;
    } else if (a != GUARD_NONE) {
        c->pressure_ms = now_ms; /* the guest needed memory: cool down */
    }
    return a;
}

void control_input(const struct control *c, const struct vm_observed *o, const struct vm_estimate *e,
                   const struct control_limits *l, uint64_t now_ms, struct policy_vm *out)
{
    *out = (struct policy_vm){
        .min_bytes = l->min_bytes,
        .max_bytes = l->max_bytes,
        .shares = l->shares,
        .running = o->running,
        .known = e->known,
        .need_bytes = e->need_bytes,
        .need_now_bytes = e->need_now_bytes,
        .burst_bytes = e->burst_room_bytes,
        /* A pressure report older than our last answer to pressure was
         * already answered: the guest has not had time to show it. */
        .pressure = e->pressure && o->stats.last_update_s > c->pressure_wall_s,
        .grow_bytes = e->buffer_bytes,
        .cooldown = (c->pressure_ms && now_ms - c->pressure_ms < CONTROL_PRESSURE_COOLDOWN_MS) ||
                    now_ms < c->hold_until_ms,
        .settling = e->settling,
        .actual_bytes = o->actual_bytes,
        .target_bytes = c->target_bytes,
        .used_bytes = e->used_bytes,
        .free_bytes = o->stats.free_bytes,
        .guest_total_bytes = o->stats.total_bytes,
    };
}

bool control_decided(struct control *c, const struct policy_decision *d, uint64_t now_ms,
                     uint64_t wall_s)
{
    c->reason = d->reason;
    if (d->reason == POLICY_DEFLATE_PRESSURE) {
        c->pressure_ms = now_ms;
        c->pressure_wall_s = wall_s;
    }
    return d->target_bytes != c->target_bytes;
}

void control_set_target(struct control *c, uint64_t target_bytes, uint64_t now_ms)
{
    c->target_bytes = target_bytes;
    c->target_set = true;
    c->last_change_ms = now_ms;
}

uint64_t control_hold_left_ms(const struct control *c, uint64_t now_ms)
{
    return c->stalled && now_ms < c->hold_until_ms ? c->hold_until_ms - now_ms : 0;
}

uint64_t control_pin_target(const struct control *c, uint64_t pin_bytes, uint64_t now_ms)
{
    if (c->target_set && pin_bytes < c->target_bytes && control_hold_left_ms(c, now_ms) > 0)
        return c->target_bytes;
    return pin_bytes;
}

bool control_no_driver(bool stats_seen, uint64_t ready_ms, uint64_t now_ms)
{
    return !stats_seen && now_ms >= ready_ms + CONTROL_DRIVER_GRACE_MS;
}
