/* validate.c: see validate.h. */
#include "validate.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "scenario.h"
#include "util.h"

#define EVENTS_MAX 16
#define TOLERANCE 0.25
#define DEFAULT_LIMIT_BYTES (1312 * MIB)
/* bench/density.sh measures LOAD_SECONDS (170) after the last guest is
 * ready; a run that stops much earlier was interrupted. */
#define COMPLETE_AFTER_READY_S 150

struct real_run {
    double ready_s[DENSITY_VMS];
    /* Per sample while every guest's use stood still, before the first
     * free: what the cgroup charged per VM beyond the guests' use. */
    double charge_mib[512];
    size_t n_charge;
    double prev_used_mib;
    bool freed;
    double end_s;
    unsigned lost;            /* QEMUs not alive at the end */
    long host_oom;            /* from results.md; -1 unknown */
    unsigned guest_oom;       /* console lines, as guest_oom_count */
    size_t n_events;
    struct {
        int vm;
        unsigned free_no;
        long reclaim_s;       /* -1: never */
    } ev[EVENTS_MAX];
};

static int vm_index(const char *name)
{
    for (int i = 0; i < DENSITY_VMS; i++)
        if (strcmp(name, density_vm_names[i]) == 0)
            return i;
    return -1;
}

/* One sample of all four VMs: what the cgroup charges per VM beyond the
 * guests' use, when that use is known and steady (stats lag a second: a
 * growing guest's would be counted as overhead) and nothing was freed yet
 * (freed pages stay charged until ballooned). */
static void charge_sample(struct real_run *run, const double *used, const double *held, double cg)
{
    double sum = 0;

    for (int i = 0; i < DENSITY_VMS; i++) {
        if (used[i] < 0 || held[i] < 0)
            return;
        sum += used[i];
    }
    if (!run->freed && fabs(sum - run->prev_used_mib) < 4 && run->n_charge < ARRAY_SIZE(run->charge_mib))
        run->charge_mib[run->n_charge++] = (cg - sum) / DENSITY_VMS;
    run->prev_used_mib = sum;
}

/* POLICY.csv: t,vm,target,actual,used,avail,rss,pressure,cgroup,held,alive */
static int read_samples(const char *path, struct real_run *run)
{
    char line[512], t_now[32] = "";
    int alive[DENSITY_VMS] = {0};
    double used[DENSITY_VMS], held[DENSITY_VMS], last_held[DENSITY_VMS], cg = 0;
    FILE *f = fopen(path, "re");

    if (!f)
        return -errno;
    for (int i = 0; i < DENSITY_VMS; i++)
        run->ready_s[i] = last_held[i] = -1;
    while (fgets(line, sizeof(line), f)) {
        char *field[11], *p = line;
        size_t n = 0;
        while (n < 11 && p) {
            field[n++] = p;
            p = strchr(p, ',');
            if (p)
                *p++ = '\0';
        }
        int i = n == 11 ? vm_index(field[1]) : -1;
        if (i < 0)
            continue;
        double t = atof(field[0]);
        if (strcmp(t_now, field[0]) != 0) {
            if (*t_now)
                charge_sample(run, used, held, cg);
            snprintf(t_now, sizeof(t_now), "%s", field[0]);
            for (int k = 0; k < DENSITY_VMS; k++)
                used[k] = held[k] = -1;
        }
        used[i] = *field[4] ? atof(field[4]) : -1;
        held[i] = *field[9] ? atof(field[9]) : -1;
        if (held[i] >= 0 && last_held[i] >= 0 && held[i] < last_held[i])
            run->freed = true;
        if (held[i] >= 0)
            last_held[i] = held[i];
        cg = atof(field[8]);
        run->end_s = t;
        if (run->ready_s[i] < 0 && *field[9])
            run->ready_s[i] = t;
        alive[i] = atoi(field[10]);
    }
    fclose(f);
    for (int i = 0; i < DENSITY_VMS; i++) {
        if (run->ready_s[i] < 0)
            run->ready_s[i] = 18; /* never started memload: boot as usual */
        run->lost += !alive[i];
    }
    return 0;
}

static int read_events(const char *path, struct real_run *run)
{
    char line[256], vm[32], rec[32];
    unsigned no;
    FILE *f = fopen(path, "re");

    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f) && run->n_events < EVENTS_MAX) {
        if (sscanf(line, "%31[^,],%u,%*[^,],%*[^,],%*[^,],%*[^,],%31s", vm, &no, rec) != 3 ||
            vm_index(vm) < 0)
            continue;
        run->ev[run->n_events].vm = vm_index(vm);
        run->ev[run->n_events].free_no = no;
        run->ev[run->n_events].reclaim_s = strcmp(rec, "never") == 0 ? -1 : atol(rec);
        run->n_events++;
    }
    fclose(f);
    return 0;
}

/* guest_oom_count (tests/lib/guest.sh): console lines reporting a kill. */
static unsigned console_ooms(const char *path)
{
    char line[1024];
    unsigned n = 0;
    FILE *f = fopen(path, "re");

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, "Out of memory") || strstr(line, "oom-kill") || strstr(line, "Killed process");
    fclose(f);
    return n;
}

/* results.md (in dir, or beside it as bench/density.sh leaves it): the
 * cgroup limit, and each policy's host OOM kills. */
static uint64_t read_results(const char *dir, const char *policy, long *host_oom)
{
    char path[4096], line[1024], want[64];
    uint64_t limit = DEFAULT_LIMIT_BYTES;
    unsigned long mib;
    const char *p;
    FILE *f;

    *host_oom = -1;
    snprintf(path, sizeof(path), "%s/results.md", dir);
    f = fopen(path, "re");
    if (!f) {
        snprintf(path, sizeof(path), "%s/../results.md", dir);
        f = fopen(path, "re");
    }
    if (!f)
        return limit;
    snprintf(want, sizeof(want), "| %s | ", policy);
    while (fgets(line, sizeof(line), f)) {
        if ((p = strstr(line, "budget cgroup of ")) && sscanf(p, "budget cgroup of %lu MiB", &mib) == 1)
            limit = mib * MIB;
        if (strncmp(line, want, strlen(want)) == 0 && isdigit((unsigned char)line[strlen(want)]))
            *host_oom = atol(line + strlen(want));
    }
    fclose(f);
    return limit;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* QEMU's own charge in this run: the median per-VM charge beyond use,
 * less what the guest kernel keeps (the model's touched memory is the
 * reserve plus what is in use). */
static uint64_t run_overhead_bytes(struct real_run *run, uint64_t reserve_bytes)
{
    double mib;

    qsort(run->charge_mib, run->n_charge, sizeof(double), cmp_double);
    mib = run->charge_mib[run->n_charge / 2] - (double)reserve_bytes / MIB;
    return mib > 0 ? (uint64_t)(mib * MIB) : 0;
}

static const struct sim_event *sim_event_of(const struct sim_result *r, int vm, unsigned no)
{
    for (size_t i = 0; i < r->n_events; i++)
        if ((int)r->events[i].vm == vm && r->events[i].free_no == no)
            return &r->events[i];
    return NULL;
}

static void fmt_s(long s, char *buf, size_t len)
{
    if (s < 0)
        snprintf(buf, len, "never");
    else
        snprintf(buf, len, "%ld", s);
}

/* Each free event's reclaim time, real against simulated, into real_s
 * and sim_s; true when all are within TOLERANCE. */
static bool compare_reclaims(const struct real_run *run, const struct sim_result *res, char *real_s,
                             size_t real_len, char *sim_s, size_t sim_len)
{
    bool all = true;

    for (size_t i = 0; i < run->n_events; i++) {
        const struct sim_event *e = sim_event_of(res, run->ev[i].vm, run->ev[i].free_no);
        long real = run->ev[i].reclaim_s;
        long sim = e && e->t_reclaimed_s >= 0 ? (long)(e->t_reclaimed_s - (int64_t)e->t_free_s) : -1;
        char a[24], b[24];
        bool ok = (real < 0) == (sim < 0) && (real < 0 || fabs((double)(sim - real)) <= TOLERANCE * (double)real);
        all = all && ok;
        fmt_s(real, a, sizeof(a));
        fmt_s(sim, b, sizeof(b));
        snprintf(real_s + strlen(real_s), real_len - strlen(real_s), "%s%s %s",
                 i ? ", " : "", density_vm_names[run->ev[i].vm], a);
        snprintf(sim_s + strlen(sim_s), sim_len - strlen(sim_s), "%s%s%s", i ? ", " : "", b,
                 ok ? "" : "!");
    }
    return all;
}

/* One policy: prints its row; 1 match, 0 not, <0 error. */
static int validate_policy(const char *dir, const char *policy, uint64_t seed, const char *csv_dir,
                           FILE *out)
{
    struct real_run run = {0};
    struct sim_setup *setup = NULL;
    struct sim_result res = {0};
    struct output_csv *csv = NULL;
    char path[4096], real_s[160] = "", sim_s[160] = "";
    enum policy_kind kind;
    bool ok_reclaim;
    int r;

    snprintf(path, sizeof(path), "%s/%s.csv", dir, policy);
    r = read_samples(path, &run);
    if (r < 0)
        return r == -ENOENT ? 2 : r;
    snprintf(path, sizeof(path), "%s/%s.events.csv", dir, policy);
    read_events(path, &run);
    for (int i = 0; i < DENSITY_VMS; i++) {
        snprintf(path, sizeof(path), "%s/%s.%s.console", dir, policy, density_vm_names[i]);
        run.guest_oom += console_ooms(path);
    }
    double last_ready = 0;
    for (int i = 0; i < DENSITY_VMS; i++)
        last_ready = run.ready_s[i] > last_ready ? run.ready_s[i] : last_ready;
    if (run.end_s < last_ready + COMPLETE_AFTER_READY_S) {
        fprintf(out, "| %s | | | | | | incomplete run (ends at %.0f s): skipped |\n", policy, run.end_s);
        return 2;
    }
    uint64_t limit = read_results(dir, policy, &run.host_oom);
    policy_kind_parse(policy, &kind);
    r = scenario_density(run.ready_s, limit, (uint64_t)run.end_s, &setup);
    if (r == 0 && run.n_charge) {
        uint64_t over = run_overhead_bytes(&run, setup->vms[0].guest.reserve_bytes);
        setup->host.qemu_overhead_bytes = over;
    }
    if (r == 0 && csv_dir)
        r = output_csv_open(csv_dir, setup, kind, &csv);
    if (r == 0)
        r = sim_run(setup, kind, seed, csv ? output_csv_tick : NULL, csv, &res);
    if (csv) {
        int e = output_csv_close(csv, r == 0 ? &res : NULL);
        r = r < 0 ? r : e;
    }
    if (r < 0) {
        sim_setup_free(setup);
        return r;
    }
    ok_reclaim = compare_reclaims(&run, &res, real_s, sizeof(real_s), sim_s, sizeof(sim_s));
    bool real_host = run.host_oom > 0 || run.lost > 0, sim_host = res.host_oom_kills > 0;
    bool real_guest = run.guest_oom > 0, sim_guest = res.guest_oom_kills > 0;
    bool match = real_host == sim_host && real_guest == sim_guest;
    fprintf(out, "| %s | %llu MiB | %s / %s | %s / %s | %s | %s | %s |\n", policy,
            (unsigned long long)(setup->host.qemu_overhead_bytes >> 20), real_host ? "yes" : "no",
            sim_host ? "yes" : "no", real_guest ? "yes" : "no", sim_guest ? "yes" : "no",
            run.n_events ? real_s : "no free seen", run.n_events ? sim_s : "-",
            match && ok_reclaim ? "match" : !match ? "VERDICT DIFFERS" : "RECLAIM OFF");
    sim_result_clear(&res);
    sim_setup_free(setup);
    return match && ok_reclaim;
}

int validate_density(const char *dir, uint64_t seed, const char *csv_dir, FILE *out)
{
    static const char *const policies[] = {"balloond", "proxmox", "mom", "static"};
    int all = 1, found = 0;

    fprintf(out, "# balloond-sim --validate %s (seed %llu)\n\n", dir, (unsigned long long)seed);
    fprintf(out, "Each real run replayed with its own boot times, budget and QEMU overhead (its\n"
                 "cgroup's charge per VM beyond the guests' use while that use stood still).\n"
                 "OOM: real / sim. Reclaim s per free event (real, then sim; '!' = not within 25%%).\n\n");
    fprintf(out, "| policy | QEMU overhead | host OOM | guest OOM | reclaim s real | reclaim s sim | result |\n"
                 "|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
        int r = validate_policy(dir, policies[i], seed, csv_dir, out);
        if (r < 0) {
            fprintf(stderr, "validate %s: %s: %s\n", dir, policies[i], strerror(-r));
            return r;
        }
        if (r == 2)
            continue;
        found++;
        all = all && r == 1;
    }
    if (!found) {
        fprintf(stderr, "validate %s: no POLICY.csv from bench/density.sh there\n", dir);
        return -ENOENT;
    }
    return all;
}
