/* frontier.c: the density frontier (see frontier.h). */
#include "frontier.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "util.h"

/* Configured guest RAM of every VM. */
static uint64_t configured_bytes(const struct sim_setup *s)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < s->n_vms; i++)
        sum += s->vms[i].guest.size_bytes;
    return sum;
}

/* Guest RAM a guest cannot do without at second t: while it boots, what
 * the boot touches; then the kernel's reserve, the anon demand and the
 * min watermark. No page cache, no buffer: a lower bound on any policy's
 * need. */
static uint64_t floor_bytes(const struct sim_vm_spec *v, struct workload *w, uint64_t t_s)
{
    uint64_t anon, cache;

    if (!workload_at(w, t_s, &anon, &cache))
        return v->guest.boot_touch_bytes;
    return min_u64(v->guest.size_bytes, v->guest.reserve_bytes + anon + v->guest.min_free_bytes);
}

double frontier_ceiling(const struct sim_setup *s, uint64_t seed)
{
    struct workload *w = calloc(s->n_vms ? s->n_vms : 1, sizeof(*w));
    struct hostmodel h;
    uint64_t peak = 0;

    if (!w)
        return -ENOMEM;
    hostmodel_init(&h, &s->host);
    for (size_t i = 0; i < s->n_vms; i++) {
        w[i] = s->vms[i].wl;
        workload_reset(&w[i], seed, i);
    }
    for (uint64_t t = 0; t <= s->duration_s; t++) {
        uint64_t ram = 0;
        size_t running = 0;
        for (size_t i = 0; i < s->n_vms; i++) {
            if (t < s->vms[i].start_s)
                continue;
            running++;
            ram += floor_bytes(&s->vms[i], &w[i], t);
        }
        peak = max_u64(peak, hostmodel_cost(&h, ram, running));
    }
    free(w);
    return peak ? (double)configured_bytes(s) / (double)peak : 0;
}

/* One run at ratio: the verdict, and the numbers behind it. */
static int try_ratio(struct sim_setup *s, enum policy_kind kind, uint64_t seed, double ratio,
                     double pressure_pct, struct frontier_try *t)
{
    struct sim_result res = {0};
    double guest_s = (double)s->n_vms * (double)s->duration_s;
    int r;

    s->host.budget_bytes = (uint64_t)((double)configured_bytes(s) / ratio);
    r = sim_run(s, kind, seed, NULL, NULL, &res);
    if (r < 0)
        return r;
    *t = (struct frontier_try){
        .ratio = ratio,
        .host_oom_kills = res.host_oom_kills,
        .guest_oom_kills = res.guest_oom_kills,
        .pressure_pct = guest_s > 0 ? 100.0 * (double)res.pressure_s / guest_s : 0,
    };
    t->pass = t->host_oom_kills == 0 && t->guest_oom_kills == 0 && t->pressure_pct < pressure_pct;
    sim_result_clear(&res);
    return 0;
}

int frontier_find(struct sim_setup *s, enum policy_kind kind, uint64_t seed, double pressure_pct,
                  struct frontier_cell *out)
{
    uint64_t budget = s->host.budget_bytes;
    struct frontier_try lo, hi, mid;
    int r;

    *out = (struct frontier_cell){0};
    if ((r = try_ratio(s, kind, seed, FRONTIER_LO, pressure_pct, &lo)) < 0)
        goto restore;
    out->runs++;
    if (!lo.pass) {
        out->fail = lo; /* not even without overcommit */
        goto restore;
    }
    if ((r = try_ratio(s, kind, seed, FRONTIER_HI, pressure_pct, &hi)) < 0)
        goto restore;
    out->runs++;
    if (hi.pass) {
        out->hold = hi;
        out->at_hi = true;
        goto restore;
    }
    /* Bisection: lo holds, hi fails. Assumes one crossing (a ratio that
     * fails is not followed by one that holds); the table shows the pair. */
    while (hi.ratio - lo.ratio > FRONTIER_STEP) {
        if ((r = try_ratio(s, kind, seed, (lo.ratio + hi.ratio) / 2, pressure_pct, &mid)) < 0)
            goto restore;
        out->runs++;
        *(mid.pass ? &lo : &hi) = mid;
    }
    out->holds = true;
    out->hold = lo;
    out->fail = hi;
restore:
    s->host.budget_bytes = budget;
    return r;
}

/* "2.41x", ">= 4x", "< 1x"; the first failure's reason after it. */
static void cell_text(const struct frontier_cell *c, char *buf, size_t len)
{
    const struct frontier_try *f = &c->fail;

    if (c->at_hi) {
        snprintf(buf, len, ">= %.2fx", c->hold.ratio);
        return;
    }
    int n = c->holds ? snprintf(buf, len, "%.2fx (%.2fx: ", c->hold.ratio, f->ratio)
                     : snprintf(buf, len, "< %.2fx (%.2fx: ", FRONTIER_LO, f->ratio);
    if (n < 0 || (size_t)n >= len)
        return;
    snprintf(buf + n, len - (size_t)n, "host OOM %llu, guest OOM %llu, pressure %.2f%%)",
             (unsigned long long)f->host_oom_kills, (unsigned long long)f->guest_oom_kills,
             f->pressure_pct);
}

void frontier_table_head(FILE *f, double pressure_pct)
{
    fprintf(f, "Frontier: the highest overcommit ratio (configured VM memory / host budget, the\n"
               "budget including QEMU's per-VM overhead) with 0 host OOM kills, 0 guest OOM kills\n"
               "and guest pressure below %g%% of guest-seconds; bisection over [%.1f, %.1f] to\n"
               "%.3f. In brackets: the lowest failing ratio tried and why it failed.\n"
               "Ceiling: configured RAM over the peak of what the running guests cannot do\n"
               "without (kernel reserve + anon demand + min watermark, no page cache, no\n"
               "buffer) plus QEMU's overhead: no policy carries more without swapping the\n"
               "working set.\n\n",
            pressure_pct, FRONTIER_LO, FRONTIER_HI, FRONTIER_STEP);
    fprintf(f, "| scenario | ceiling | balloond | proxmox | mom | static |\n|---|---|---|---|---|---|\n");
}

void frontier_table_row(FILE *f, const char *scenario, double ceiling, const struct frontier_cell *cells)
{
    char buf[160];

    fprintf(f, "| %s | %.2fx |", scenario, ceiling);
    for (int k = 0; k < FRONTIER_POLICIES; k++) {
        cell_text(&cells[k], buf, sizeof(buf));
        fprintf(f, " %s |", buf);
    }
    fprintf(f, "\n");
}

/* The frontier of a cell for the plot: 0 when even 1x fails. */
static double plotted(const struct frontier_cell *c)
{
    return c->holds || c->at_hi ? c->hold.ratio : 0;
}

int frontier_plot(const char *dir, size_t n, const char *const *names, const double *ceilings,
                  const struct frontier_cell (*cells)[FRONTIER_POLICIES])
{
    char dat[4096], gp[4096];
    FILE *f;

    snprintf(dat, sizeof(dat), "%s/frontier.dat", dir);
    snprintf(gp, sizeof(gp), "%s/frontier.gp", dir);
    if (!(f = fopen(dat, "we")))
        return fprintf(stderr, "%s: %s\n", dat, strerror(errno)), -errno;
    fprintf(f, "scenario balloond proxmox mom static working-set-ceiling\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s %.3f %.3f %.3f %.3f %.3f\n", names[i], plotted(&cells[i][0]), plotted(&cells[i][1]),
                plotted(&cells[i][2]), plotted(&cells[i][3]), ceilings[i]);
    if (fclose(f) != 0)
        return -errno;
    if (!(f = fopen(gp, "we")))
        return fprintf(stderr, "%s: %s\n", gp, strerror(errno)), -errno;
    fprintf(f, "set terminal pngcairo size 1100,500\nset output '%s/frontier.png'\n"
               "set title 'Density frontier (balloond-sim): highest overcommit ratio without OOM and with "
               "little guest pressure'\n"
               "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8\n"
               "set ylabel 'configured VM memory / host budget'\nset yrange [0:%g]\nset grid ytics\n"
               "set key top right\nset xtics rotate by -20\n"
               "plot '%s' using 2:xtic(1) title columnhead, '' using 3 title columnhead, "
               "'' using 4 title columnhead, '' using 5 title columnhead, "
               "'' using 6 title columnhead fs empty border lc rgb 'black'\n",
            dir, FRONTIER_HI + 0.5, dat);
    if (fclose(f) != 0)
        return -errno;
    return output_gnuplot(gp);
}
