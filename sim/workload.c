/* workload.c: see workload.h. */
#include "workload.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define DAY_S 86400.0
#define MEMLOAD_PHASES_MAX 64
/* memload's "as fast as it can" under TCG: in the density runs an
 * alloc:80M took 1.5 s to show in the guest's stats (4 guests, 2 cores). */
#define MEMLOAD_FAST_BYTES_PER_S (50ULL << 20)
/* The AR(1) noise forgets with this weight per second: a time constant
 * of a minute, so use wanders rather than jitters. */
#define NOISE_KEEP (1.0 - 1.0 / 60.0)

void workload_reset(struct workload *w, uint64_t seed, uint64_t index)
{
    w->rng = prng_stream(seed, index);
    w->cursor = 0;
    w->noise = 0;
    w->burst_start_s = w->burst_end_s = w->burst_size = 0;
    w->phase_now = w->phase;
    if (w->kind == WL_DIURNAL && w->phase < 0)
        w->phase_now = prng_unit(&w->rng);
    if (w->kind == WL_BURSTY)
        w->next_burst_s = w->start_s + (uint64_t)(-log(1.0 - prng_unit(&w->rng)) * (double)w->gap_s);
}

static uint64_t lerp(uint64_t a, uint64_t b, uint64_t num, uint64_t den)
{
    if (den == 0)
        return b;
    return b >= a ? a + (uint64_t)((double)(b - a) * (double)num / (double)den)
                  : a - (uint64_t)((double)(a - b) * (double)num / (double)den);
}

static void pwl_at(struct workload *w, uint64_t t_ms, uint64_t *anon, uint64_t *cache)
{
    const struct wl_point *p = w->pts;
    size_t c = w->cursor;

    if (w->period_ms)
        t_ms %= w->period_ms;
    if (c < w->n_pts && t_ms < p[c].t_ms)
        c = 0; /* a loop went round */
    while (c + 1 < w->n_pts && p[c + 1].t_ms <= t_ms)
        c++;
    w->cursor = c;
    if (c + 1 >= w->n_pts || t_ms < p[c].t_ms) {
        *anon = p[c].anon_bytes;
        *cache = p[c].cache_bytes;
        return;
    }
    *anon = lerp(p[c].anon_bytes, p[c + 1].anon_bytes, t_ms - p[c].t_ms, p[c + 1].t_ms - p[c].t_ms);
    *cache = lerp(p[c].cache_bytes, p[c + 1].cache_bytes, t_ms - p[c].t_ms, p[c + 1].t_ms - p[c].t_ms);
}

static uint64_t diurnal_at(struct workload *w, uint64_t t_s)
{
    double day = w->day_s ? (double)w->day_s : DAY_S;
    double x = (1.0 - cos(2.0 * M_PI * ((double)t_s / day - w->phase_now))) / 2.0;
    double v;

    w->noise = w->noise * NOISE_KEEP + prng_range(&w->rng, -1.0, 1.0) * (1.0 - NOISE_KEEP) * 8.0;
    v = (double)w->amp_bytes * x + (double)w->noise_bytes * w->noise;
    return v > 0 ? (uint64_t)v : 0;
}

static uint64_t bursty_at(struct workload *w, uint64_t t_s)
{
    if (t_s >= w->burst_end_s && w->burst_size) {
        w->burst_size = 0; /* freed at once */
        w->next_burst_s = t_s + (uint64_t)(-log(1.0 - prng_unit(&w->rng)) * (double)w->gap_s);
    }
    if (!w->burst_size && t_s >= w->next_burst_s) {
        w->burst_size = (uint64_t)((double)w->burst_bytes * prng_range(&w->rng, 0.5, 1.5));
        w->burst_start_s = t_s;
        w->burst_end_s = t_s + (uint64_t)((double)w->burst_s * prng_range(&w->rng, 0.5, 1.5));
    }
    if (!w->burst_size)
        return 0;
    if (!w->ramp_bytes_per_s)
        return w->burst_size;
    return min_u64(w->burst_size, (t_s - w->burst_start_s + 1) * w->ramp_bytes_per_s);
}

bool workload_at(struct workload *w, uint64_t t_s, uint64_t *anon_bytes, uint64_t *cache_bytes)
{
    uint64_t extra = 0, cache = w->cache_bytes;

    if (w->kind == WL_TRACE)
        return trace_series_at(w->series, &w->cursor, t_s, anon_bytes, cache_bytes) == 1;
    if (t_s < w->start_s)
        return false;
    switch (w->kind) {
    case WL_PWL:
        if (w->n_pts)
            pwl_at(w, (t_s - w->start_s) * 1000, &extra, &cache);
        break;
    case WL_DIURNAL:
        extra = diurnal_at(w, t_s);
        break;
    case WL_BURSTY:
        extra = bursty_at(w, t_s);
        break;
    case WL_TRACE:
        break;
    }
    *anon_bytes = w->base_bytes + extra;
    *cache_bytes = cache;
    return true;
}

/* ---- memload schedules ----------------------------------------------- */

static int push(struct wl_point *pts, size_t *n, uint64_t t_ms, uint64_t held)
{
    if (*n == MEMLOAD_PHASES_MAX * 2 + 1)
        return -EINVAL;
    pts[(*n)++] = (struct wl_point){t_ms, held, 0};
    return 0;
}

/* One phase; advances *t_ms and *held. 1 when the schedule ends here. */
static int memload_phase(char *ph, struct wl_point *pts, size_t *n, uint64_t *t_ms,
                         uint64_t *held, uint64_t *period_ms, const char **why)
{
    char *arg = strchr(ph, ':');
    uint64_t v, rate = 0, ms;

    if (arg)
        *arg++ = '\0';
    if (strcmp(ph, "idle") == 0 || strcmp(ph, "loop") == 0) {
        if (strcmp(ph, "loop") == 0)
            *period_ms = *t_ms ? *t_ms : 1;
        return 1;
    }
    if (!arg) {
        *why = "a phase other than idle and loop needs an argument";
        return -EINVAL;
    }
    if (strcmp(ph, "alloc") == 0) {
        char *at = strchr(arg, '@');
        if (at)
            *at++ = '\0';
        if (size_parse(arg, &v) < 0 || (at && (size_parse(at, &rate) < 0 || rate == 0))) {
            *why = "alloc:SIZE[@RATE] needs sizes";
            return -EINVAL;
        }
        *t_ms += v * 1000 / (rate ? rate : MEMLOAD_FAST_BYTES_PER_S);
        *held += v;
    } else if (strcmp(ph, "hold") == 0) {
        if (duration_parse(arg, &ms) < 0) {
            *why = "hold:DURATION needs a duration (500ms, 30s, 2m)";
            return -EINVAL;
        }
        *t_ms += ms;
        return push(pts, n, *t_ms, *held);
    } else if (strcmp(ph, "free") == 0) {
        if (strcmp(arg, "all") == 0)
            v = *held;
        else if (size_parse(arg, &v) < 0) {
            *why = "free:SIZE|all needs a size";
            return -EINVAL;
        }
        *held -= min_u64(*held, v);
    } else {
        *why = "unknown phase (alloc, hold, free, idle, loop)";
        return -EINVAL;
    }
    return push(pts, n, *t_ms, *held);
}

int workload_memload(const char *spec, uint64_t base_bytes, struct wl_point **pts, size_t *n,
                     uint64_t *period_ms, const char **why)
{
    struct wl_point p[MEMLOAD_PHASES_MAX * 2 + 1];
    char buf[1024], *save = NULL, *ph;
    uint64_t t_ms = 0, held = 0;
    size_t k = 0;
    int r = 0;

    *why = "schedule too long";
    if (strlen(spec) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, spec);
    *period_ms = 0;
    push(p, &k, 0, 0);
    for (ph = strtok_r(buf, ",", &save); ph && r == 0; ph = strtok_r(NULL, ",", &save))
        r = memload_phase(ph, p, &k, &t_ms, &held, period_ms, why);
    if (r < 0)
        return r;
    for (size_t i = 0; i < k; i++)
        p[i].anon_bytes += base_bytes;
    *pts = malloc(k * sizeof(**pts));
    if (!*pts)
        return -ENOMEM;
    memcpy(*pts, p, k * sizeof(**pts));
    *n = k;
    return 0;
}
