/* workload.h: what one VM's guest wants, second by second: its anonymous
 * memory (what it cannot give up) and its page cache (what it would keep
 * if it had room). Generators for the scenario library, and the CSV
 * trace. Deterministic: any randomness comes from the VM's own PRNG
 * stream (prng_stream(seed, index)), drawn the same way under every
 * policy, so all policies see the very same demand. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prng.h"
#include "trace.h"

enum workload_kind {
    WL_PWL,      /* piecewise linear points (memload schedules, boot profiles) */
    WL_DIURNAL,  /* a daily cycle with noise */
    WL_BURSTY,   /* a base with random bursts that come and go */
    WL_TRACE,    /* a trace_series, as a step function */
};

/* Times in ms after the workload's start. Two points at the same time
 * make a jump (memload's free). */
struct wl_point {
    uint64_t t_ms;
    uint64_t anon_bytes;
    uint64_t cache_bytes;
};

struct workload {
    enum workload_kind kind;
    uint64_t start_s;          /* absolute sim time of the demand's time 0 */
    uint64_t base_bytes;       /* anon always in use (the guest's own kernel and daemons) */
    uint64_t cache_bytes;      /* DIURNAL, BURSTY: page cache wanted */
    /* WL_PWL: not owned; the scenario keeps them. period_ms 0: the last
     * point holds for ever; else the schedule repeats. */
    const struct wl_point *pts;
    size_t n_pts;
    uint64_t period_ms;
    /* WL_DIURNAL: base + amp * (1 - cos(2 pi (t / day_s - phase))) / 2,
     * plus smooth noise of about noise_bytes; day_s 0 is 86400. */
    uint64_t amp_bytes, day_s;
    double phase;              /* fraction of a day; negative: drawn per VM */
    uint64_t noise_bytes;
    /* WL_BURSTY: bursts of burst_bytes (x 0.5..1.5), growing at
     * ramp_bytes_per_s, held for burst_s (x 0.5..1.5), freed at once;
     * gaps exponential with mean gap_s. */
    uint64_t burst_bytes, ramp_bytes_per_s, burst_s, gap_s;
    /* WL_TRACE: not owned. */
    const struct trace_series *series;

    /* Run state, set by workload_reset(). */
    struct prng rng;
    size_t cursor;
    double noise, phase_now;
    uint64_t next_burst_s, burst_start_s, burst_end_s, burst_size;
};

/* Starts the workload over for a run: the PRNG stream of (seed, index). */
void workload_reset(struct workload *w, uint64_t seed, uint64_t index);
/* The demand at absolute second t_s (not decreasing between calls).
 * False while there is none yet (before start, or before a trace's first
 * point). */
bool workload_at(struct workload *w, uint64_t t_s, uint64_t *anon_bytes, uint64_t *cache_bytes);

/* Points from a memload schedule (guest/memload.c's grammar:
 * alloc:SIZE[@RATE], hold:DURATION, free:SIZE|all, idle, loop), on top
 * of base_bytes. A fast alloc runs at memload's measured touch rate
 * under TCG (workload.c). *pts is malloc'd.
 * 0, or -EINVAL with *why. */
int workload_memload(const char *spec, uint64_t base_bytes, struct wl_point **pts, size_t *n,
                     uint64_t *period_ms, const char **why);
