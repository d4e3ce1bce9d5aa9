/* guestmodel.h: one simulated guest and its QEMU: the balloon moving
 * toward QEMU's target at measured rates, the guest's demand against what
 * it has, page cache given up before anything is OOM-killed, and the
 * pages QEMU holds for it (what the host pays). The numbers and how they
 * were measured: sim/README.md. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "qmp.h"

/* Balloon rates measured on the 512 MiB test guest under TCG
 * (sim/README.md, "Measuring the guest model"). */
#define GUEST_INFLATE_BYTES_PER_S (600ULL << 20)
#define GUEST_DEFLATE_BYTES_PER_S (970ULL << 20)

struct guest_params {
    uint64_t size_bytes;          /* configured RAM */
    uint64_t reserve_bytes;       /* actual - MemTotal: what the guest kernel keeps */
    uint64_t min_free_bytes;      /* min watermark: allocations OOM below it, the balloon stops at it */
    uint64_t inflate_bytes_per_s; /* balloon growing (actual falling) */
    uint64_t deflate_bytes_per_s; /* balloon shrinking (actual rising) */
    uint64_t boot_ms;             /* QEMU start -> balloon driver loaded, stats flowing */
    uint64_t boot_touch_bytes;    /* guest RAM the boot leaves touched (QEMU RSS beyond overhead) */
    uint64_t cache_fill_bytes_per_s; /* page cache grows as fast as the guest reads files */
    /* An OOM kill ends the workload for good (memload is not restarted):
     * the guest falls back to base_bytes in use. Otherwise the workload
     * is restarted and wants its memory again: anon stays at what fits. */
    bool oom_ends_workload;
    uint64_t base_bytes;
};

/* Defaults for a Linux guest of size_bytes, from the measurements on the
 * 512 MiB test guest (sim/README.md), scaled where the kernel scales. */
void guest_params_default(struct guest_params *p, uint64_t size_bytes);

enum guest_state { GUEST_OFF, GUEST_BOOTING, GUEST_UP, GUEST_DEAD };

struct guest {
    struct guest_params p;
    enum guest_state state;
    uint64_t boot_end_ms;
    uint64_t actual_bytes;    /* logical size: RAM - balloon */
    uint64_t target_bytes;    /* QEMU's balloon target (kept across a reset) */
    uint64_t target_at_ms;    /* when it reached QEMU: the balloon moves from then */
    uint64_t anon_bytes;      /* held now (after any OOM kill) */
    uint64_t cache_bytes;
    uint64_t touched_bytes;   /* guest RAM QEMU holds pages for */
    uint64_t oom_kills;
    bool in_oom;              /* demand does not fit: one kill per episode */
    bool workload_dead;       /* killed, with oom_ends_workload */
};

/* QEMU starts and the guest boots. */
void guest_start(struct guest *g, const struct guest_params *p, uint64_t now_ms);
/* The guest reboots: balloon emptied until its driver loads again (QEMU
 * keeps the target), demand gone, QEMU's pages kept. */
void guest_reset(struct guest *g, uint64_t now_ms);
/* The host killed QEMU. */
void guest_kill(struct guest *g);
/* A balloon command reaching QEMU at at_ms. */
void guest_set_target(struct guest *g, uint64_t target_bytes, uint64_t at_ms);
/* Advances the guest over (now_ms - dt_ms, now_ms] wanting anon and cache. */
void guest_step(struct guest *g, uint64_t now_ms, uint64_t dt_ms, uint64_t anon_bytes,
                uint64_t cache_bytes);

static inline bool guest_alive(const struct guest *g)
{
    return g->state == GUEST_BOOTING || g->state == GUEST_UP;
}
uint64_t guest_total_bytes(const struct guest *g);  /* MemTotal */
uint64_t guest_avail_bytes(const struct guest *g);  /* MemAvailable */
/* Guest RAM QEMU holds (its RSS less its own overhead). */
uint64_t guest_ram_bytes(const struct guest *g);
/* The virtio-balloon stats the guest would report now. QEMU 7.2 (the
 * measured one) has no stat-oom-kills or stat-alloc-stalls: unknown. */
void guest_stats(const struct guest *g, uint64_t wall_s, struct qmp_guest_stats *out);
