/* guard.c: see guard.h. */
#include "guard.h"
#include "util.h"

enum guard_action guard_check(const struct guard_in *in, uint64_t *new_target_bytes)
{
    if (in->reset_seen && !in->pinned) {
        uint64_t safe = min_u64(in->max_bytes, GUARD_BOOT_SAFE_BYTES);
        if (safe < in->min_bytes)
            safe = min_u64(in->min_bytes, in->max_bytes);
        if (in->target_bytes >= safe)
            return GUARD_NONE;
        *new_target_bytes = safe;
        return GUARD_RESET;
    }
    if (in->deflate_on_oom && !in->pinned && in->prev_actual_bytes && in->actual_bytes > in->prev_actual_bytes &&
        in->actual_bytes > in->target_bytes + in->deadband_bytes) {
        *new_target_bytes = min_u64(in->actual_bytes, in->max_bytes);
        return GUARD_SELF_DEFLATE;
    }
    if (in->running && in->actual_bytes > in->target_bytes + in->deadband_bytes &&
        in->now_ms - in->target_set_ms >= GUARD_STALL_MS &&
        in->now_ms - in->actual_moved_ms >= GUARD_STALL_MS) {
        *new_target_bytes = in->actual_bytes;
        return GUARD_STALL;
    }
    return GUARD_NONE;
}

const char *guard_action_str(enum guard_action a)
{
    switch (a) {
    case GUARD_NONE: return "none";
    case GUARD_RESET: return "guest reset: raised to a boot-safe size";
    case GUARD_SELF_DEFLATE: return "guest deflated by itself (deflate-on-oom): not fought";
    case GUARD_STALL: return "guest did not reach its target: set to actual";
    }
    return "?";
}

const char *guard_action_key(enum guard_action a)
{
    switch (a) {
    case GUARD_NONE: return "none";
    case GUARD_RESET: return "reset";
    case GUARD_SELF_DEFLATE: return "self_deflate";
    case GUARD_STALL: return "stall";
    }
    return "unknown";
}
