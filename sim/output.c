/* output.c: see output.h. */
#include "output.h"

#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "peers.h"
#include "util.h"

extern char **environ;

#define MIB_D(x) ((double)(x) / (double)MIB)
#define PLOT_VMS 4

void output_header(FILE *f, const struct sim_setup *s, uint64_t seed)
{
    uint64_t configured = 0;

    for (size_t i = 0; i < s->n_vms; i++)
        configured += s->vms[i].guest.size_bytes;
    fprintf(f, "# balloond-sim: %s\n\n", s->name);
    fprintf(f, "%s.\n", s->desc);
    fprintf(f, "%zu VMs, %llu MiB configured, budget %llu MiB (QEMU overhead %llu MiB per VM",
            s->n_vms, (unsigned long long)(configured >> 20),
            (unsigned long long)(s->host.budget_bytes >> 20),
            (unsigned long long)(s->host.qemu_overhead_bytes >> 20));
    if (s->host.ksm_pct)
        fprintf(f, ", KSM saving %u%%", s->host.ksm_pct);
    if (s->host.swap_bytes)
        fprintf(f, ", swap %llu MiB at %llu MiB/s", (unsigned long long)(s->host.swap_bytes >> 20),
                (unsigned long long)(s->host.swap_bytes_per_s >> 20));
    fprintf(f, "), %llu s at 1 s ticks, seed %llu.\n", (unsigned long long)s->duration_s,
            (unsigned long long)seed);
    fprintf(f, "Columns as in bench/results.md (definitions: bench/density.sh's header).\n");
    fprintf(f, "proxmox and mom are re-implementations of Proxmox VE's pvestatd auto-ballooning and oVirt "
               "MOM's balloon.rules (src/core/peers.c), seeing the modelled budget as their host's memory; "
               "%s.\n\n", PEERS_NOT_MODELLED);
}

void output_table_head(FILE *f)
{
    fprintf(f, "| policy | host OOM kills | QEMUs lost | guest OOM kills | pressure s | avail<5%% s | "
               "peak budget use | reclaim s: median / worst (reclaimed/events) | balloon changes |\n"
               "|---|---|---|---|---|---|---|---|---|\n");
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

void output_reclaim(const struct sim_result *r, char *buf, size_t len)
{
    int64_t *v = malloc((r->n_events + 1) * sizeof(*v));
    size_t n = 0;

    if (!v) {
        snprintf(buf, len, "?");
        return;
    }
    for (size_t i = 0; i < r->n_events; i++)
        if (r->events[i].t_reclaimed_s >= 0)
            v[n++] = r->events[i].t_reclaimed_s - (int64_t)r->events[i].t_free_s;
    qsort(v, n, sizeof(*v), cmp_i64);
    if (r->n_events == 0)
        snprintf(buf, len, "no free seen");
    else if (n == 0)
        snprintf(buf, len, "never (0/%zu)", r->n_events);
    else if (n < r->n_events)
        snprintf(buf, len, "%g / never (%zu/%zu)", n % 2 ? (double)v[n / 2] : (double)(v[n / 2 - 1] + v[n / 2]) / 2,
                 n, r->n_events);
    else
        snprintf(buf, len, "%g / %lld (%zu/%zu)", n % 2 ? (double)v[n / 2] : (double)(v[n / 2 - 1] + v[n / 2]) / 2,
                 (long long)v[n - 1], n, r->n_events);
    free(v);
}

void output_table_row(FILE *f, const struct sim_result *r)
{
    char rec[64];

    output_reclaim(r, rec, sizeof(rec));
    fprintf(f, "| %s | %llu | %llu | %llu | %llu | %llu | %llu MiB (%llu%%) | %s | %llu |\n",
            policy_kind_str(r->kind), (unsigned long long)r->host_oom_kills,
            (unsigned long long)r->qemus_lost, (unsigned long long)r->guest_oom_kills,
            (unsigned long long)r->pressure_s, (unsigned long long)r->low_avail_s,
            (unsigned long long)(r->peak_bytes >> 20),
            (unsigned long long)(r->limit_bytes ? r->peak_bytes * 100 / r->limit_bytes : 0), rec,
            (unsigned long long)r->changes);
}

/* ---- CSV ----------------------------------------------------------------- */

struct output_csv {
    FILE *vms, *host;
    char events_path[4096];
    const struct sim_setup *setup;
    uint64_t every_s;
};

static FILE *open_in(const char *dir, const char *policy, const char *suffix, char *path, size_t len)
{
    FILE *f;

    snprintf(path, len, "%s/%s%s", dir, policy, suffix);
    f = fopen(path, "we");
    if (!f)
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return f;
}

int output_csv_open(const char *dir, const struct sim_setup *s, enum policy_kind kind,
                    struct output_csv **out)
{
    struct output_csv *c = calloc(1, sizeof(*c));
    char path[4096];
    const char *p = policy_kind_str(kind);

    if (!c)
        return -ENOMEM;
    c->setup = s;
    c->every_s = s->duration_s / OUTPUT_CSV_POINTS + 1;
    c->vms = open_in(dir, p, ".csv", path, sizeof(path));
    c->host = open_in(dir, p, ".host.csv", path, sizeof(path));
    snprintf(c->events_path, sizeof(c->events_path), "%s/%s.events.csv", dir, p);
    if (!c->vms || !c->host) {
        output_csv_close(c, NULL);
        return -EIO;
    }
    fprintf(c->vms, "t,vm,target_mib,actual_mib,used_mib,available_mib,rss_mib,pressure,"
                    "cgroup_usage_mib,held_mib,qemu_alive,reason\n");
    fprintf(c->host, "t,state,usage_mib,limit_mib,sum_actual_mib,sum_rss_mib,sum_used_mib,"
                     "sum_wanted_mib,qemus_alive,vms_pressure\n");
    *out = c;
    return 0;
}

void output_csv_tick(const struct sim *s, void *userdata)
{
    struct output_csv *c = userdata;
    uint64_t sum_actual = 0, sum_rss = 0, sum_used = 0, sum_want = 0, alive = 0, pressure = 0;
    double usage = MIB_D(s->host.usage_bytes);
    uint64_t over = s->setup->host.qemu_overhead_bytes;

    if (s->t_s % c->every_s)
        return;
    for (size_t i = 0; i < s->setup->n_vms; i++) {
        const struct sim_vm *v = &s->vms[i];
        bool up = v->g.state == GUEST_UP, alive_i = guest_alive(&v->g);
        uint64_t rss = alive_i ? guest_ram_bytes(&v->g) + over : 0;

        alive += alive_i;
        pressure += v->estimated && v->est.pressure;
        sum_actual += up ? v->g.actual_bytes : 0;
        sum_rss += rss;
        sum_used += up ? v->g.anon_bytes : 0;
        sum_want += v->wanted ? v->want_anon : 0;
        if (i >= OUTPUT_CSV_VMS)
            continue;
        fprintf(c->vms, "%llu,%s,", (unsigned long long)s->t_s, v->spec->name);
        if (v->ctl.target_set)
            fprintf(c->vms, "%.1f", MIB_D(v->ctl.target_bytes));
        fprintf(c->vms, ",");
        if (up)
            fprintf(c->vms, "%.1f,%.1f,%.1f", MIB_D(v->g.actual_bytes), MIB_D(v->g.anon_bytes),
                    MIB_D(guest_avail_bytes(&v->g)));
        else
            fprintf(c->vms, ",,");
        fprintf(c->vms, ",%.1f,%d,%.1f,", MIB_D(rss), v->estimated && v->est.pressure, usage);
        if (v->wanted)
            fprintf(c->vms, "%.1f", MIB_D(v->want_anon));
        fprintf(c->vms, ",%d,%s\n", alive_i, v->ctl.target_set ? policy_reason_key(v->ctl.reason) : "");
    }
    fprintf(c->host, "%llu,%s,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%llu,%llu\n", (unsigned long long)s->t_s,
            host_state_str(s->he.state), usage, MIB_D(s->setup->host.budget_bytes), MIB_D(sum_actual),
            MIB_D(sum_rss), MIB_D(sum_used), MIB_D(sum_want), (unsigned long long)alive,
            (unsigned long long)pressure);
}

int output_csv_close(struct output_csv *c, const struct sim_result *r)
{
    int err = 0;
    FILE *f;

    if (!c)
        return 0;
    if (c->vms && fclose(c->vms) != 0)
        err = -errno;
    if (c->host && fclose(c->host) != 0)
        err = -errno;
    if (r) {
        f = fopen(c->events_path, "we");
        if (!f) {
            fprintf(stderr, "%s: %s\n", c->events_path, strerror(errno));
            err = -errno;
        } else {
            fprintf(f, "vm,free_no,t_free,freed_mib,actual_at_free_mib,t_reclaimed,reclaim_s\n");
            for (size_t i = 0; i < r->n_events; i++) {
                const struct sim_event *e = &r->events[i];
                fprintf(f, "%s,%u,%llu,%.0f,%.1f,", c->setup->vms[e->vm].name, e->free_no,
                        (unsigned long long)e->t_free_s, MIB_D(e->freed_bytes),
                        MIB_D(e->actual_at_free_bytes));
                if (e->t_reclaimed_s < 0)
                    fprintf(f, "never,never\n");
                else
                    fprintf(f, "%lld,%lld\n", (long long)e->t_reclaimed_s,
                            (long long)(e->t_reclaimed_s - (int64_t)e->t_free_s));
            }
            if (fclose(f) != 0)
                err = -errno;
        }
    }
    free(c);
    return err;
}

/* ---- plots --------------------------------------------------------------- */

static void plot_script(FILE *f, const char *csv_dir, const char *dir, const struct sim_setup *s,
                        const struct sim_result *r)
{
    const char *p = policy_kind_str(r->kind);
    size_t n = s->n_vms < PLOT_VMS ? s->n_vms : PLOT_VMS;

    fprintf(f, "set terminal png size 1400,1050 font ',10'\nset output '%s/%s.png'\n", dir, p);
    fprintf(f, "set datafile separator ','\n");
    fprintf(f, "set multiplot layout 3,2 title \"balloond-sim %s, policy = %s: host OOM kills %llu, "
               "QEMUs lost %llu, guest OOM kills %llu\" noenhanced\n",
            s->name, p, (unsigned long long)r->host_oom_kills, (unsigned long long)r->qemus_lost,
            (unsigned long long)r->guest_oom_kills);
    fprintf(f, "set grid\nset key top right\nset xlabel 't (s)'\nset ylabel 'MiB'\n");
    for (size_t i = 0; i < n; i++) {
        const char *vm = s->vms[i].name;
        fprintf(f, "set title '%s' noenhanced\nset yrange [0:%llu]\n", vm,
                (unsigned long long)(s->vms[i].guest.size_bytes * 11 / 10 >> 20));
        /* One VM's rows (a filter, so that its points join into lines). */
        fprintf(f, "f = \"< grep -F ',%s,' '%s/%s.csv'\"\n", vm, csv_dir, p);
        fprintf(f, "plot f using 1:3 with lines lw 2 dt 2 lc rgb 'red' title 'target', "
                   "f using 1:4 with lines lw 2 lc rgb 'blue' title 'actual', "
                   "f using 1:5 with lines lw 2 lc rgb 'dark-green' title 'used', "
                   "f using 1:7 with lines lw 1 lc rgb 'orange' title 'QEMU RSS', "
                   "f using 1:10 with steps lw 1 lc rgb 'gray50' title 'demand'\n");
    }
    fprintf(f, "set title 'host budget'\nset autoscale y\nset yrange [0:*]\n");
    fprintf(f, "h = '%s/%s.host.csv'\n", csv_dir, p);
    fprintf(f, "plot h using 1:3 skip 1 with lines lw 2 lc rgb 'black' title 'usage', "
               "h using 1:4 skip 1 with lines dt 2 lc rgb 'red' title 'limit', "
               "h using 1:5 skip 1 with lines lw 2 lc rgb 'blue' title 'sum of actual', "
               "h using 1:8 skip 1 with lines lw 1 lc rgb 'gray50' title 'sum of demand'\n");
    fprintf(f, "unset multiplot\n");
}

int output_gnuplot(const char *script_path)
{
    char *argv[] = {"gnuplot", (char *)script_path, NULL};
    pid_t pid;
    int status, e;

    e = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (e) {
        fprintf(stderr, "gnuplot: %s (scripts/deps.sh installs it)\n", strerror(e));
        return -e;
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "gnuplot failed on %s\n", script_path);
        return -EIO;
    }
    return 0;
}

int output_plot(const char *csv_dir, const char *dir, const struct sim_setup *s,
                const struct sim_result *r)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.gp", dir, policy_kind_str(r->kind));
    f = fopen(path, "we");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -errno;
    }
    plot_script(f, csv_dir, dir, s, r);
    if (fclose(f) != 0)
        return -errno;
    return output_gnuplot(path);
}
