/* guestmodel.c: see guestmodel.h. */
#include "guestmodel.h"

#include <math.h>

#include "util.h"

/* Measured on the 512 MiB test guest (sim/README.md): MemTotal 468416 KiB,
 * so 54.6 MiB kept by the kernel: 8 MiB of struct page (64 B per 4 KiB
 * page, size/64) and 46.6 MiB of its own. */
#define RESERVE_FIXED_BYTES (46 * MIB + 614 * KIB)
/* Guest RAM a boot leaves touched beyond what the kernel keeps. In the
 * density runs each QEMU's RSS was 236 MiB + what memload held, the same
 * for all four guests whatever they held: the boot leaves no touched
 * pages free worth counting. Of the 236 MiB, 78 are file pages (the
 * kernel image QEMU maps, its libraries: not charged to the budget) and
 * 72 QEMU's own: 86 MiB of guest RAM, 55 the kernel's reserve and 30 in
 * use at idle. */
#define BOOT_TOUCH_BYTES (31 * MIB)
#define BOOT_MS 18000
/* Page cache refills at disk speed, not at once: 200 MiB/s, a virtio disk
 * on an SSD reading a mixed working set (an assumption, not measured). */
#define CACHE_FILL_BYTES_PER_S (200 * MIB)

void guest_params_default(struct guest_params *p, uint64_t size_bytes)
{
    double kib = (double)size_bytes / KIB;

    *p = (struct guest_params){
        .size_bytes = size_bytes,
        .reserve_bytes = RESERVE_FIXED_BYTES + size_bytes / 64,
        /* The kernel's min_free_kbytes: sqrt(16 x lowmem KiB), 2.8 MiB here. */
        .min_free_bytes = (uint64_t)sqrt(16.0 * kib) * KIB,
        .inflate_bytes_per_s = GUEST_INFLATE_BYTES_PER_S,
        .deflate_bytes_per_s = GUEST_DEFLATE_BYTES_PER_S,
        .boot_ms = BOOT_MS,
        .cache_fill_bytes_per_s = CACHE_FILL_BYTES_PER_S,
        .boot_touch_bytes = min_u64(size_bytes, RESERVE_FIXED_BYTES + size_bytes / 64 + BOOT_TOUCH_BYTES),
    };
}

void guest_start(struct guest *g, const struct guest_params *p, uint64_t now_ms)
{
    *g = (struct guest){
        .p = *p,
        .state = GUEST_BOOTING,
        .boot_end_ms = now_ms + p->boot_ms,
        .actual_bytes = p->size_bytes,
        .target_bytes = p->size_bytes,
    };
}

void guest_reset(struct guest *g, uint64_t now_ms)
{
    if (!guest_alive(g))
        return;
    g->state = GUEST_BOOTING;
    g->boot_end_ms = now_ms + g->p.boot_ms;
    g->actual_bytes = g->p.size_bytes;
    g->anon_bytes = g->cache_bytes = 0;
    g->in_oom = false;
}

void guest_kill(struct guest *g)
{
    g->state = GUEST_DEAD;
    g->actual_bytes = g->touched_bytes = 0;
    g->anon_bytes = g->cache_bytes = 0;
}

void guest_set_target(struct guest *g, uint64_t target_bytes, uint64_t at_ms)
{
    g->target_bytes = min_u64(target_bytes, g->p.size_bytes);
    g->target_at_ms = at_ms;
}

uint64_t guest_total_bytes(const struct guest *g)
{
    return g->actual_bytes - min_u64(g->actual_bytes, g->p.reserve_bytes);
}

uint64_t guest_avail_bytes(const struct guest *g)
{
    uint64_t total = guest_total_bytes(g);

    return total - min_u64(total, g->anon_bytes);
}

uint64_t guest_ram_bytes(const struct guest *g)
{
    return min_u64(g->touched_bytes, g->actual_bytes);
}

/* Pages the guest has touched and holds free: freed memory goes back to
 * the head of the free lists and is the first taken again. */
static uint64_t touched_free(const struct guest *g)
{
    uint64_t in_use = g->p.reserve_bytes + g->anon_bytes + g->cache_bytes;

    return g->touched_bytes > in_use ? g->touched_bytes - in_use : 0;
}

/* The balloon moves for the part of the interval after the command. A
 * growing balloon takes free pages, the touched ones first (so QEMU's RSS
 * falls with it only while there are such), then page cache, never what
 * is in use. */
static void balloon_step(struct guest *g, uint64_t now_ms, uint64_t dt_ms)
{
    uint64_t from = max_u64(now_ms - dt_ms, g->target_at_ms);
    uint64_t ms = now_ms > from ? now_ms - from : 0;
    uint64_t floor, d, total, room;

    if (g->target_bytes > g->actual_bytes) {
        d = g->p.deflate_bytes_per_s * ms / 1000;
        g->actual_bytes = min_u64(g->target_bytes, g->actual_bytes + d);
        return;
    }
    floor = g->p.reserve_bytes + g->anon_bytes + g->p.min_free_bytes;
    if (g->target_bytes >= g->actual_bytes || floor >= g->actual_bytes)
        return;
    d = min_u64(g->p.inflate_bytes_per_s * ms / 1000,
                g->actual_bytes - max_u64(g->target_bytes, floor));
    g->touched_bytes -= min_u64(d, touched_free(g));
    g->actual_bytes -= d;
    total = guest_total_bytes(g);
    room = total - min_u64(total, g->p.min_free_bytes);
    g->cache_bytes = min_u64(g->cache_bytes, room - min_u64(room, g->anon_bytes));
    g->touched_bytes = min_u64(g->touched_bytes, g->actual_bytes);
}

/* Demand against what the guest has: cache gives way first, then an OOM
 * kill (one per episode) leaves anon at what fits, or at the guest's base
 * when the kill ended the workload. Cache grows at the guest's read rate. New pages come from
 * the touched free ones first (measured: the density run's budget use
 * follows max(boot, kernel + use) per guest). */
static void demand_step(struct guest *g, uint64_t anon, uint64_t cache, uint64_t dt_ms)
{
    uint64_t fill = g->p.cache_fill_bytes_per_s * dt_ms / 1000;

    uint64_t total = guest_total_bytes(g);
    uint64_t room = total - min_u64(total, g->p.min_free_bytes);

    if (g->workload_dead)
        anon = min_u64(anon, g->p.base_bytes);
    if (anon > room) {
        if (!g->in_oom)
            g->oom_kills++;
        g->in_oom = true;
        anon = room;
        if (g->p.oom_ends_workload) {
            g->workload_dead = true;
            anon = min_u64(room, g->p.base_bytes);
        }
    } else {
        g->in_oom = false;
    }
    g->anon_bytes = anon;
    g->cache_bytes = min_u64(min_u64(cache, g->cache_bytes + fill), room - anon);
    g->touched_bytes = max_u64(g->touched_bytes, g->p.reserve_bytes + g->anon_bytes + g->cache_bytes);
    g->touched_bytes = min_u64(g->touched_bytes, g->actual_bytes);
}

void guest_step(struct guest *g, uint64_t now_ms, uint64_t dt_ms, uint64_t anon_bytes,
                uint64_t cache_bytes)
{
    if (g->state == GUEST_BOOTING) {
        uint64_t left = g->boot_end_ms > now_ms ? g->boot_end_ms - now_ms : 0;
        uint64_t boot = g->p.boot_touch_bytes -
                        (uint64_t)((double)g->p.boot_touch_bytes * (double)left / (double)(g->p.boot_ms ? g->p.boot_ms : 1));
        g->touched_bytes = max_u64(g->touched_bytes, min_u64(boot, g->actual_bytes));
        if (left)
            return;
        /* The driver loads and starts on QEMU's target from now on. */
        g->state = GUEST_UP;
        g->target_at_ms = max_u64(g->target_at_ms, g->boot_end_ms);
    }
    if (g->state != GUEST_UP)
        return;
    balloon_step(g, now_ms, dt_ms);
    demand_step(g, anon_bytes, cache_bytes, dt_ms);
}

void guest_stats(const struct guest *g, uint64_t wall_s, struct qmp_guest_stats *out)
{
    uint64_t total = guest_total_bytes(g), avail = guest_avail_bytes(g);

    *out = (struct qmp_guest_stats){
        .last_update_s = wall_s,
        .swap_in_bytes = 0,
        .swap_out_bytes = 0,
        .major_faults = 0,
        .minor_faults = 0,
        .free_bytes = avail - min_u64(avail, g->cache_bytes),
        .total_bytes = total,
        .avail_bytes = avail,
        .disk_caches_bytes = g->cache_bytes,
        .oom_kills = QMP_UNKNOWN,
        .alloc_stalls = QMP_UNKNOWN,
    };
}
