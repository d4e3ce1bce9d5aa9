/* loadqmp_guest.c: a guest as balloond sees it through QMP: a size, a
 * balloon that moves toward its target at a driver's pace, and
 * virtio-balloon stats refreshed once a second from a demand profile.
 *
 * Profiles (used memory, a fraction of the size, t in seconds):
 *   idle       8%, a little noise
 *   growing    10% -> 70% over 10 minutes, then again (a slow leak)
 *   shrinking  70% -> 10% over 10 minutes, then again
 *   cyclic     40% +- 25%, a 2 minute sine (a daily load in fast motion)
 *   rise       12% for 25 s, then 70% at once for 15 s (a burst: the
 *              deflate latency is measured on these steps)
 * Each guest starts at its own point of its profile. */
#include <math.h>
#include <stdio.h>

#include "loadqmp.h"

#define UNKNOWN_U64 18446744073709551615ULL
#define RISE_PERIOD_S 40.0
#define RISE_LOW_S 25.0

static const char *const profile_names[PROF_N] = {"idle", "growing", "shrinking", "cyclic", "rise"};

const char *guest_profile_name(enum profile p)
{
    return p < PROF_N ? profile_names[p] : "?";
}

/* A small deterministic generator: the same seed, the same guests. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void guest_init(struct guest *g, unsigned idx, uint64_t seed)
{
    uint64_t r = mix(seed * 1000003 + idx);

    *g = (struct guest){0};
    /* 512 MiB .. 2 GiB in steps of 128 MiB */
    g->size_bytes = (512 + 128 * (r % 13)) * MIB;
    g->actual_bytes = g->size_bytes;
    g->target_bytes = g->size_bytes;
    g->prof = (enum profile)(idx % PROF_N);
    g->phase_s = (double)(mix(r) % 600000) / 1000.0;
}

static double frac(double x)
{
    return x - floor(x);
}

/* Used memory at t, a fraction of the size. */
static double profile_used(enum profile p, double t)
{
    switch (p) {
    case PROF_IDLE:
        return 0.08 + 0.005 * sin(t / 7.0);
    case PROF_GROWING:
        return 0.10 + 0.60 * frac(t / 600.0);
    case PROF_SHRINKING:
        return 0.70 - 0.60 * frac(t / 600.0);
    case PROF_CYCLIC:
        return 0.40 + 0.25 * sin(2 * M_PI * t / 120.0);
    case PROF_RISE:
        return frac(t / RISE_PERIOD_S) * RISE_PERIOD_S < RISE_LOW_S ? 0.12 : 0.70;
    default:
        return 0.1;
    }
}

/* Inflating stops where the guest has nothing left to give: a driver
 * that cannot allocate a page waits and retries. */
static uint64_t guest_floor(const struct guest *g)
{
    return g->used_bytes + GUEST_RESERVE_BYTES + 16 * MIB;
}

bool guest_move(struct guest *g, uint64_t dt_ms)
{
    uint64_t step = (GUEST_BALLOON_RATE_BPS / 1000 * dt_ms) & ~4095ULL; /* whole pages */
    uint64_t goal = g->target_bytes, before = g->actual_bytes;

    if (goal < g->actual_bytes) {
        uint64_t floor_bytes = guest_floor(g);
        if (goal < floor_bytes)
            goal = floor_bytes & ~4095ULL;
        if (goal > g->actual_bytes)
            goal = g->actual_bytes;
        g->actual_bytes = g->actual_bytes - goal > step ? g->actual_bytes - step : goal;
    } else if (goal > g->actual_bytes) {
        g->actual_bytes = goal - g->actual_bytes > step ? g->actual_bytes + step : goal;
    }
    if (g->actual_bytes != before)
        g->event_due = true;
    return g->actual_bytes != before;
}

/* What a guest wanting want_bytes shows with its present total: beyond
 * ~98% of total it is under pressure (swapping, major faults). */
static void guest_fill(struct guest *g, uint64_t want_bytes, double dt_s)
{
    uint64_t cap = g->total_bytes - g->total_bytes / 50;
    uint64_t old_used = g->used_bytes;

    g->used_bytes = want_bytes < cap ? want_bytes : cap;
    g->avail_bytes = g->total_bytes - g->used_bytes;
    g->cache_bytes = g->avail_bytes / 2 < g->size_bytes / 10 ? g->avail_bytes / 2 : g->size_bytes / 10;
    g->free_bytes = g->avail_bytes - g->cache_bytes * 4 / 5;
    g->minor_faults += (uint64_t)(200 * dt_s);
    if (g->used_bytes > old_used)
        g->minor_faults += (g->used_bytes - old_used) / 4096;
    if (want_bytes > cap) {
        g->major_faults += (uint64_t)(500 * dt_s);
        g->swap_out_bytes += want_bytes - cap;
        g->swap_in_bytes += (want_bytes - cap) / 4;
    }
}

bool guest_stats_update(struct guest *g, uint64_t now_ms, uint64_t wall_s)
{
    double t = (double)now_ms / 1000.0 + g->phase_s;
    double before = profile_used(g->prof, t - GUEST_STATS_MS / 1000.0);
    double now = profile_used(g->prof, t);
    uint64_t want = (uint64_t)(now * (double)g->size_bytes);

    g->total_bytes = g->actual_bytes > GUEST_RESERVE_BYTES + 64 * MIB ? g->actual_bytes - GUEST_RESERVE_BYTES
                                                                      : 64 * MIB;
    guest_fill(g, want, GUEST_STATS_MS / 1000.0);
    g->last_update_s = wall_s;
    g->stats_next_ms = now_ms + GUEST_STATS_MS;
    return g->prof == PROF_RISE && now - before > 0.25;
}

int guest_stats_json(const struct guest *g, char *buf, size_t len)
{
    if (!g->stats_on || g->last_update_s == 0)
        return snprintf(buf, len,
                        "{\"stats\": {\"stat-swap-out\": %llu, \"stat-available-memory\": %llu, "
                        "\"stat-free-memory\": %llu, \"stat-minor-faults\": %llu, "
                        "\"stat-major-faults\": %llu, \"stat-total-memory\": %llu, "
                        "\"stat-swap-in\": %llu, \"stat-disk-caches\": %llu}, \"last-update\": 0}",
                        UNKNOWN_U64, UNKNOWN_U64, UNKNOWN_U64, UNKNOWN_U64, UNKNOWN_U64, UNKNOWN_U64,
                        UNKNOWN_U64, UNKNOWN_U64);
    return snprintf(buf, len,
                    "{\"stats\": {\"stat-swap-out\": %llu, \"stat-available-memory\": %llu, "
                    "\"stat-free-memory\": %llu, \"stat-minor-faults\": %llu, "
                    "\"stat-major-faults\": %llu, \"stat-total-memory\": %llu, "
                    "\"stat-swap-in\": %llu, \"stat-disk-caches\": %llu, \"stat-htlb-pgalloc\": 0, "
                    "\"stat-htlb-pgfail\": 0}, \"last-update\": %llu}",
                    (unsigned long long)g->swap_out_bytes, (unsigned long long)g->avail_bytes,
                    (unsigned long long)g->free_bytes, (unsigned long long)g->minor_faults,
                    (unsigned long long)g->major_faults, (unsigned long long)g->total_bytes,
                    (unsigned long long)g->swap_in_bytes, (unsigned long long)g->cache_bytes,
                    (unsigned long long)g->last_update_s);
}
