/* vmem.c: see vmem.h. */
#include "vmem.h"

#include "util.h"

/* Blocks for what target asks above base: rounded up, within [0, max]. */
static uint64_t blocks_for(const struct vmem_obs *v, uint64_t target_bytes)
{
    uint64_t above = target_bytes > v->base_bytes ? target_bytes - v->base_bytes : 0;
    uint64_t b = v->block_bytes ? v->block_bytes : 1;

    if (above >= v->max_bytes)
        return v->max_bytes;
    return min_u64((above + b - 1) / b * b, v->max_bytes);
}

void vmem_plan(const struct vmem_obs *v, bool has_balloon, uint64_t target_bytes, struct vmem_plan *out)
{
    if (!v->present) {
        *out = (struct vmem_plan){.requested_bytes = 0, .balloon_bytes = target_bytes};
        return;
    }
    uint64_t req = blocks_for(v, target_bytes);
    /* The balloon's share of the target (it counts base only); at least
     * a page: QEMU takes 0 as "report", not as a size. */
    uint64_t share = target_bytes > req ? target_bytes - req : 0;

    *out = (struct vmem_plan){
        .requested_bytes = req,
        .balloon_bytes = has_balloon ? clamp_u64(share, 4096, v->base_bytes) : v->base_bytes,
    };
}

uint64_t vmem_logical_bytes(const struct vmem_obs *v, bool has_balloon, uint64_t balloon_actual_bytes)
{
    uint64_t balloon = has_balloon ? balloon_actual_bytes : v->base_bytes;

    return v->present ? balloon + v->size_bytes : balloon;
}

uint64_t vmem_size_bytes(const struct vmem_obs *v)
{
    return v->present ? v->base_bytes + v->max_bytes : v->base_bytes;
}

uint64_t vmem_round_target(const struct vmem_obs *v, bool has_balloon, uint64_t target_bytes,
                           uint64_t max_bytes)
{
    if (!v->present || has_balloon)
        return target_bytes;
    return min_u64(v->base_bytes + blocks_for(v, target_bytes), max_u64(max_bytes, v->base_bytes));
}

bool vmem_unplug_pending(const struct vmem_obs *v)
{
    return v->present && v->size_bytes > v->requested_bytes;
}

bool vmem_obs_valid(const struct vmem_obs *v)
{
    uint64_t b = v->block_bytes;

    return b && (b & (b - 1)) == 0 && v->max_bytes % b == 0 && v->size_bytes <= v->max_bytes &&
           v->requested_bytes <= v->max_bytes && v->base_bytes <= UINT64_MAX - v->max_bytes;
}
