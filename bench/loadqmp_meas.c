/* loadqmp_meas.c: what the load server sees of balloond in a window
 * (SIGUSR1 opens it, SIGUSR2 writes the report):
 *   commands     by kind, per VM per second
 *   poll gap     per VM, the spacing of its qom-get guest-stats commands
 *                (one a tick) minus the interval
 *   ticks        a cycle is a run of guest-stats commands with no gap
 *                of a quarter interval between them; its first command
 *                on a grid of intervals is how late the tick ran
 *                (relative to the earliest tick of the window), its
 *                length how long balloond took to poll every VM
 *   deflate      a rise (a PROF_RISE guest's used memory jumping) that
 *                needs more than its target, until a balloon command
 *                raises that target
 *   cpu          the server's own, from getrusage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "loadqmp.h"

struct series {
    int64_t *v;
    size_t n, cap;
};

struct meas {
    uint64_t interval_ms;
    bool on;
    uint64_t start_ms;
    struct rusage ru0;
    uint64_t cmds[CMD_N];
    uint64_t events, in_bytes, out_bytes;
    struct series gap, late, sweep, deflate;
    uint64_t rises, rises_unneeded, rises_missed;
    uint64_t cycle_first_ms, cycle_last_ms, grid0_ms, grid_k;
    bool in_cycle;
};

static const char *const cmd_names[CMD_N] = {"qmp_capabilities", "qom-list", "qom-set", "qom-get",
                                             "query-memory-size-summary", "query-status",
                                             "query-balloon", "balloon", "other"};

static void series_add(struct series *s, int64_t x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        int64_t *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* The p-th percentile (nearest rank) of a sorted series; -1 when empty. */
static int64_t pct(const struct series *s, double p)
{
    size_t k;

    if (s->n == 0)
        return -1;
    k = (size_t)(p / 100.0 * (double)s->n + 0.999999);
    if (k < 1)
        k = 1;
    return s->v[(k > s->n ? s->n : k) - 1];
}

struct meas *meas_new(uint64_t interval_ms)
{
    struct meas *m = calloc(1, sizeof(*m));

    if (m)
        m->interval_ms = interval_ms;
    return m;
}

static void meas_clear(struct meas *m)
{
    struct series keep[4] = {m->gap, m->late, m->sweep, m->deflate};
    uint64_t interval_ms = m->interval_ms;

    *m = (struct meas){.interval_ms = interval_ms};
    m->gap = keep[0];
    m->late = keep[1];
    m->sweep = keep[2];
    m->deflate = keep[3];
    m->gap.n = m->late.n = m->sweep.n = m->deflate.n = 0;
}

void meas_free(struct meas *m)
{
    if (!m)
        return;
    free(m->gap.v);
    free(m->late.v);
    free(m->sweep.v);
    free(m->deflate.v);
    free(m);
}

void meas_start(struct meas *m, uint64_t now_ms)
{
    meas_clear(m);
    m->on = true;
    m->start_ms = now_ms;
    getrusage(RUSAGE_SELF, &m->ru0);
}

void meas_command(struct meas *m, enum meas_cmd c, uint64_t now_ms)
{
    if (m->on && c < CMD_N)
        m->cmds[c]++;
}

void meas_event(struct meas *m)
{
    if (m->on)
        m->events++;
}

void meas_io(struct meas *m, size_t in_bytes, size_t out_bytes)
{
    if (!m->on)
        return;
    m->in_bytes += in_bytes;
    m->out_bytes += out_bytes;
}

/* A guest-stats poll at now_ms: closes the previous cycle after a quiet
 * quarter interval, and places the new one on the grid. */
static void meas_cycle(struct meas *m, uint64_t now_ms)
{
    uint64_t quiet_ms = m->interval_ms / 4;

    if (m->in_cycle && now_ms - m->cycle_last_ms < quiet_ms) {
        m->cycle_last_ms = now_ms;
        return;
    }
    if (m->in_cycle) {
        series_add(&m->sweep, (int64_t)(m->cycle_last_ms - m->cycle_first_ms));
        m->grid_k += (now_ms - m->cycle_first_ms + m->interval_ms / 2) / m->interval_ms;
    } else {
        m->grid0_ms = now_ms;
        m->grid_k = 0;
    }
    series_add(&m->late, (int64_t)now_ms - (int64_t)(m->grid0_ms + m->grid_k * m->interval_ms));
    m->in_cycle = true;
    m->cycle_first_ms = m->cycle_last_ms = now_ms;
}

void meas_poll(struct meas *m, struct guest *g, uint64_t now_ms)
{
    if (m->on) {
        if (g->last_poll_ms >= m->start_ms && g->last_poll_ms)
            series_add(&m->gap, (int64_t)(now_ms - g->last_poll_ms) - (int64_t)m->interval_ms);
        meas_cycle(m, now_ms);
    }
    g->last_poll_ms = now_ms;
}

/* A rise counts when the guest's target is below what it now uses plus
 * its kernel's reserve plus a 20% buffer (balloond's default): balloond
 * has to raise it. */
void meas_rise(struct meas *m, struct guest *g, uint64_t now_ms)
{
    uint64_t need = g->used_bytes + g->used_bytes / 5 + GUEST_RESERVE_BYTES;

    if (m->on && g->rise_ms >= m->start_ms && g->rise_ms)
        m->rises_missed++; /* the last one was never answered */
    g->rise_ms = 0;
    if (!m->on)
        return;
    m->rises++;
    if (g->target_bytes >= need || g->target_bytes >= g->size_bytes) {
        m->rises_unneeded++;
        return;
    }
    g->rise_ms = now_ms;
    g->rise_target_bytes = g->target_bytes;
}

void meas_balloon(struct meas *m, struct guest *g, uint64_t value_bytes, uint64_t now_ms)
{
    if (g->rise_ms && value_bytes > g->rise_target_bytes) {
        if (m->on)
            series_add(&m->deflate, (int64_t)(now_ms - g->rise_ms));
        g->rise_ms = 0;
    }
}

static double tv_s(struct timeval a, struct timeval b)
{
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_usec - a.tv_usec) / 1e6;
}

static void report_series(FILE *f, const char *name, struct series *s)
{
    qsort(s->v, s->n, sizeof(*s->v), cmp_i64);
    fprintf(f, "%s_n %zu\n%s_p50_ms %lld\n%s_p90_ms %lld\n%s_p99_ms %lld\n%s_max_ms %lld\n", name, s->n, name,
            (long long)pct(s, 50), name, (long long)pct(s, 90), name, (long long)pct(s, 99), name,
            (long long)pct(s, 100));
}

static void report_body(FILE *f, struct meas *m, double window_s, size_t n_vms, size_t n_conn,
                        uint64_t open)
{
    struct rusage ru;
    uint64_t total = 0;

    getrusage(RUSAGE_SELF, &ru);
    fprintf(f, "window_s %.3f\nvms %zu\nconnected %zu\n", window_s, n_vms, n_conn);
    fprintf(f, "server_user_pct %.2f\nserver_sys_pct %.2f\n", 100 * tv_s(m->ru0.ru_utime, ru.ru_utime) / window_s,
            100 * tv_s(m->ru0.ru_stime, ru.ru_stime) / window_s);
    for (int c = 0; c < CMD_N; c++) {
        fprintf(f, "cmd %s %llu\n", cmd_names[c], (unsigned long long)m->cmds[c]);
        total += m->cmds[c];
    }
    fprintf(f, "cmds_total %llu\n", (unsigned long long)total);
    fprintf(f, "cmds_per_vm_s %.3f\n", n_vms ? (double)total / (double)n_vms / window_s : 0.0);
    fprintf(f, "balloon_per_vm_s %.4f\n", n_vms ? (double)m->cmds[CMD_BALLOON] / (double)n_vms / window_s : 0.0);
    fprintf(f, "events %llu\nbytes_in %llu\nbytes_out %llu\n", (unsigned long long)m->events,
            (unsigned long long)m->in_bytes, (unsigned long long)m->out_bytes);
    fprintf(f, "rises %llu\nrises_unneeded %llu\nrises_unanswered %llu\n", (unsigned long long)m->rises,
            (unsigned long long)m->rises_unneeded, (unsigned long long)(m->rises_missed + open));
    if (m->in_cycle)
        series_add(&m->sweep, (int64_t)(m->cycle_last_ms - m->cycle_first_ms));
    report_series(f, "gap", &m->gap);
    /* lateness against the earliest tick of the window */
    qsort(m->late.v, m->late.n, sizeof(*m->late.v), cmp_i64);
    for (size_t i = m->late.n; i-- > 0;)
        m->late.v[i] -= m->late.v[0];
    report_series(f, "late", &m->late);
    report_series(f, "sweep", &m->sweep);
    report_series(f, "deflate", &m->deflate);
}

int meas_report(struct meas *m, const char *path, uint64_t now_ms, uint64_t open, size_t n_vms, size_t n_conn)
{
    char tmp[4200];
    double window_s = m->on && now_ms > m->start_ms ? (double)(now_ms - m->start_ms) / 1000.0 : 0;
    FILE *f;

    if (window_s <= 0)
        return -EINVAL;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f)
        return -errno;
    report_body(f, m, window_s, n_vms, n_conn, open);
    if (fclose(f) != 0 || rename(tmp, path) < 0)
        return -errno;
    m->on = false;
    return 0;
}
